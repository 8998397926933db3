"""Import and export of a whole engine as the ``world`` object of cases-format.md.

``dump_world(load_world(w)) == w`` for every world in that format: the model's own extra
fields (clock, timers, retry counts, ...) are written only when they carry information, and
unknown fields are ignored on import, so the format can grow. Snapshots are lossless: a loaded
world answers every later request as the dumped engine would, new ids included, because the
world also carries where the id generator stands (``id_generator``, once it has moved from
seed 0's start) and the inboxes' queue order (``inbox_order``, when it is not the listing order).
A world that breaks the format raises :class:`fsm.errors.SnapshotError` naming the field, e.g.
``invocations[2].status``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .engine import DEFAULT_EPOCH_MS, Engine
from .errors import LifecycleError, SnapshotError, wrong_type
from .ids import IdError, IdGenerator, parse_deployment_id, parse_invocation_id
from .journal import awaited_by, entry_type_problem
from .lifecycle import COMPLETED, LIVE_STATES, RUNNING, SCHEDULED, SUSPENDED
from .model import (
    COMMAND,
    FAILURE,
    MAX_TIME_MS,
    NOTIFICATION,
    SERVICE,
    SERVICE_TYPES,
    SUCCESS,
    Entry,
    Invocation,
    text_problem,
)
from .retry import RetryPolicy

World = dict[str, Any]


def _need(obj: Any, key: str, where: str, kinds: type | tuple[type, ...], *, optional: bool = False) -> Any:
    if not isinstance(obj, dict):
        raise SnapshotError(where, "must be an object")
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise SnapshotError(f"{where}.{key}", "is missing")
    value = obj[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise SnapshotError(f"{where}.{key}", f"must be {_kind_names(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise SnapshotError(f"{where}.{key}", f"must be {_kind_names(kinds)}, got {type(value).__name__}")
    if isinstance(value, str) and (problem := text_problem(value)) is not None:
        raise SnapshotError(f"{where}.{key}", problem)
    return value


def _kind_names(kinds: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", list: "a list", dict: "an object", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in (kinds if isinstance(kinds, tuple) else (kinds,)))


def _non_negative(value: int | None, where: str) -> int | None:
    if value is not None and value < 0:
        raise SnapshotError(where, f"must be >= 0, got {value}")
    return value


def _time(value: int | None, where: str) -> int | None:
    """An instant: from 0 to the latest time the model keeps."""
    if value is not None and not 0 <= value <= MAX_TIME_MS:
        raise SnapshotError(where, f"must be from 0 to {MAX_TIME_MS}, got {value}")
    return value


def load_world(world: Any, *, seed: int | str | None = 0) -> Engine:
    """A new engine holding exactly this world."""
    loader = WorldLoader(world, seed=seed)
    for raw in _need(world, "invocations", "world", list):
        loader.add(raw)
    return loader.finish()


class WorldLoader:
    """Builds an engine from a world given in parts, so a big one is never held whole: the header
    (the world without its ``invocations``), then each invocation record, then :meth:`finish`.
    Checks as :func:`load_world` does, naming ``world.invocations[i]`` by the order of arrival."""

    def __init__(self, header: Any, *, seed: int | str | None = 0) -> None:
        if not isinstance(header, dict):
            raise SnapshotError("world", "must be an object")
        now_ms = _time(_need(header, "now_ms", "world", int, optional=True), "world.now_ms")
        self.engine = engine = Engine(seed=seed, now_ms=DEFAULT_EPOCH_MS if now_ms is None else now_ms)
        _load_registry(engine, header)
        self._unavailable: list[int] = []
        for i, partition in enumerate(_need(header, "unavailable_partitions", "world", list, optional=True) or []):
            if not isinstance(partition, int) or not 0 <= partition < engine.partitions:
                raise SnapshotError(
                    f"world.unavailable_partitions[{i}]", f"must be a partition below {engine.partitions}"
                )
            self._unavailable.append(partition)
        self._order = _need(header, "inbox_order", "world", list, optional=True)
        self._position = header.get("id_generator")  # longer than any name: read without the names' limit
        if self._position is not None and not isinstance(self._position, str):
            raise SnapshotError("world.id_generator", f"must be a string, got {type(self._position).__name__}")
        self._invocations: list[Invocation] = []
        self._sleeps: dict[str, list[tuple[int, int]]] = {}
        self._seen: set[str] = set()

    def add(self, raw: Any) -> None:
        """The next invocation record."""
        inv, timers = _load_invocation(self.engine, raw, f"world.invocations[{len(self._invocations)}]", self._seen)
        self._invocations.append(inv)
        if timers:
            self._sleeps[inv.id] = timers

    def finish(self) -> Engine:
        """The engine, once every record was added (keys, inboxes and timers checked together)."""
        engine = self.engine
        engine.restore(self._invocations, self._sleeps, self._order)
        for partition in self._unavailable:
            engine.set_partition_available(partition, False)
        if self._position is not None:
            try:
                engine.ids.move_to(self._position)
            except ValueError as exc:
                raise SnapshotError("world.id_generator", str(exc)) from None
        return engine


def _load_registry(engine: Engine, world: dict[str, Any]) -> None:
    for i, raw in enumerate(_need(world, "services", "world", list)):
        where = f"world.services[{i}]"
        name = _need(raw, "name", where, str)
        kind = _need(raw, "type", where, str)
        if kind not in SERVICE_TYPES:
            raise SnapshotError(f"{where}.type", f"must be one of {', '.join(SERVICE_TYPES)}, got {kind!r}")
        if name in engine.services:
            raise SnapshotError(f"{where}.name", f"the service '{name}' is listed twice")
        retention = _non_negative(_need(raw, "journal_retention_s", where, int), f"{where}.journal_retention_s")
        completion = _non_negative(
            _need(raw, "completion_retention_s", where, int, optional=True), f"{where}.completion_retention_s"
        )
        assert retention is not None
        raw_policy = raw.get("retry_policy")
        policy = None if raw_policy is None else _load_policy(raw_policy, f"{where}.retry_policy")
        engine.register_service(name, kind, retention, completion, policy)
    for i, raw in enumerate(_need(world, "deployments", "world", list)):
        where = f"world.deployments[{i}]"
        dep_id = _need(raw, "id", where, str)
        services = _need(raw, "services", where, list)
        protocol = _need(raw, "protocol", where, list)
        for j, service in enumerate(services):
            if not isinstance(service, str) or service not in engine.services:
                raise SnapshotError(f"{where}.services[{j}]", f"{service!r} is not a listed service")
        if len(protocol) != 2 or not all(isinstance(p, int) and not isinstance(p, bool) for p in protocol):
            raise SnapshotError(f"{where}.protocol", "must be [min, max] integers")
        if not 1 <= protocol[0] <= protocol[1]:
            raise SnapshotError(f"{where}.protocol", f"must have 1 <= min <= max, got {protocol}")
        name = _need(raw, "name", where, str, optional=True)
        try:
            parse_deployment_id(dep_id)
        except IdError as exc:
            raise SnapshotError(f"{where}.id", f"{dep_id!r} is not a deployment id ({exc.reason})") from None
        try:
            engine.register_deployment(services, (protocol[0], protocol[1]), dep_id, name)
        except LifecycleError as exc:  # what only the registry knows: an id listed twice
            raise SnapshotError(where, exc.message) from None


def _load_journal(raw: list[Any], where: str) -> list[Entry]:
    entries = []
    issued: set[int] = set()
    answered: set[int] = set()
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        index = _need(item, "index", at, int)
        if index != i:
            raise SnapshotError(
                f"{at}.index", f"journal indexes must be 0, 1, 2, ... in order; got {index} at position {i}"
            )
        kind = _need(item, "kind", at, str)
        if kind not in (COMMAND, NOTIFICATION):
            raise SnapshotError(f"{at}.kind", f"must be 'command' or 'notification', got {kind!r}")
        entry_type = _need(item, "type", at, str)
        problem = entry_type_problem(kind, entry_type)
        if problem is not None:
            raise SnapshotError(f"{at}.type", problem)
        name = _need(item, "name", at, str, optional=True)
        ids = _need(item, "completion_ids", at, list, optional=True) or []
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in ids):
            raise SnapshotError(f"{at}.completion_ids", "must be non-negative integers")
        completion_id = _need(item, "completion_id", at, int, optional=True)
        if kind == NOTIFICATION and ids:
            raise SnapshotError(f"{at}.completion_ids", "only commands await completions")
        if kind == COMMAND and completion_id is not None:
            raise SnapshotError(f"{at}.completion_id", "only notifications carry a completion")
        for cid in ids:  # each completion id is issued by one command ...
            if cid in issued:
                raise SnapshotError(f"{at}.completion_ids", f"completion id {cid} is already issued by another command")
            issued.add(cid)
        if completion_id is not None:  # ... and answered at most once, after its command
            if completion_id not in issued:
                raise SnapshotError(f"{at}.completion_id", f"no command before it issued completion id {completion_id}")
            if completion_id in answered:
                raise SnapshotError(f"{at}.completion_id", f"completion id {completion_id} is already answered")
            answered.add(completion_id)
        entries.append(Entry(index, kind, entry_type, name, tuple(ids), completion_id))
    if entries and (entries[0].kind != COMMAND or entries[0].type != "Input"):
        raise SnapshotError(f"{where}[0]", "entry 0 must be the Input command")
    return entries


def _load_invocation(engine: Engine, raw: Any, where: str, seen: set[str]) -> tuple[Invocation, list[tuple[int, int]]]:
    """One invocation record and its pending sleep timers [(due_ms, completion id)]."""
    inv_id = _need(raw, "id", where, str)
    try:
        parse_invocation_id(inv_id)
    except IdError as exc:
        raise SnapshotError(f"{where}.id", f"{inv_id!r} is not an invocation id ({exc.reason})") from None
    if inv_id in seen:
        raise SnapshotError(f"{where}.id", f"the invocation '{inv_id}' is listed twice")
    seen.add(inv_id)
    target = _need(raw, "target", where, dict)
    service_name = _need(target, "service", f"{where}.target", str)
    handler = _need(target, "handler", f"{where}.target", str)
    key = _need(target, "key", f"{where}.target", str, optional=True)
    service = engine.services.get(service_name)
    if service is None:
        raise SnapshotError(f"{where}.target.service", f"{service_name!r} is not a listed service")
    if (service.type == SERVICE) != (key is None):
        raise SnapshotError(
            f"{where}.target.key", f"a {service.type} {'takes no' if key is not None else 'needs a'} key"
        )
    status = _need(raw, "status", where, str)
    if status not in LIVE_STATES:
        raise SnapshotError(f"{where}.status", f"must be one of {', '.join(LIVE_STATES)}, got {status!r}")
    completion = _need(raw, "completion", where, str, optional=True)
    if (status == COMPLETED) != (completion is not None) or completion not in (None, SUCCESS, FAILURE):
        raise SnapshotError(f"{where}.completion", "is 'success' or 'failure' for completed invocations, else null")
    retained = raw.get("journal_retained", True)
    if not isinstance(retained, bool):
        raise SnapshotError(f"{where}.journal_retained", "must be a boolean")
    journal = _load_journal(_need(raw, "journal", where, list, optional=True) or [], f"{where}.journal")
    if not retained and journal:
        raise SnapshotError(f"{where}.journal", "must be empty when journal_retained is false")
    if not retained and status != COMPLETED:
        raise SnapshotError(
            f"{where}.journal_retained", f"only a completed invocation can lose its journal, not a {status} one"
        )
    if retained and not journal:
        raise SnapshotError(f"{where}.journal", "a retained journal starts with the Input command")
    journal_retention = _need(raw, "journal_retention_s", where, int, optional=True)
    completion_retention = _need(raw, "completion_retention_s", where, int, optional=True)
    inv = Invocation(
        inv_id,
        service_name,
        handler,
        key,
        status,
        service.effective_journal_retention_s if journal_retention is None else journal_retention,
        service.effective_completion_retention_s if completion_retention is None else completion_retention,
    )
    inv.completion = completion
    inv.journal = journal if retained else None
    inv.next_completion_id = 1 + max((c for e in journal for c in (*e.completion_ids, e.completion_id or 0)), default=0)
    pinned = _need(raw, "pinned", where, dict, optional=True)
    if pinned is not None:
        if status == SCHEDULED:
            raise SnapshotError(f"{where}.pinned", "a scheduled invocation has not started: it is pinned to nothing")
        inv.pinned_deployment = _need(pinned, "deployment_id", f"{where}.pinned", str)
        _check_id(parse_deployment_id, inv.pinned_deployment, f"{where}.pinned.deployment_id", "a deployment id")
        inv.pinned_protocol = _need(pinned, "protocol", f"{where}.pinned", int)
        if inv.pinned_protocol < 1:
            raise SnapshotError(f"{where}.pinned.protocol", f"must be >= 1, got {inv.pinned_protocol}")
    if status == SCHEDULED and len(journal) != 1:
        raise SnapshotError(f"{where}.journal", "a scheduled invocation has not started: its journal is the Input only")
    inv.due_ms = _time(_need(raw, "due_ms", where, int, optional=True), f"{where}.due_ms")
    if inv.due_ms is not None and status != SCHEDULED:
        raise SnapshotError(f"{where}.due_ms", f"only a scheduled invocation is due to start, not a {status} one")
    inv.completed_ms = _time(_need(raw, "completed_ms", where, int, optional=True), f"{where}.completed_ms")
    inv.created_ms = _time(_need(raw, "created_ms", where, int, optional=True), f"{where}.created_ms")
    if inv.completed_ms is not None and status != COMPLETED:
        raise SnapshotError(f"{where}.completed_ms", f"only a completed invocation has completed, not a {status} one")
    if inv.completed_ms is not None and inv.completed_ms > engine.now_ms:
        raise SnapshotError(
            f"{where}.completed_ms", f"{inv.completed_ms} is after the world's now_ms ({engine.now_ms})"
        )
    inv.retry_count = _non_negative(_need(raw, "retry_count", where, int, optional=True), f"{where}.retry_count") or 0
    inv.last_failure = _need(raw, "last_failure", where, str, optional=True)
    inv.next_attempt_ms = _time(_need(raw, "next_attempt_ms", where, int, optional=True), f"{where}.next_attempt_ms")
    if inv.next_attempt_ms is not None and status != RUNNING:
        raise SnapshotError(f"{where}.next_attempt_ms", f"only a running invocation backs off, not a {status} one")
    if inv.next_attempt_ms is not None and inv.next_attempt_ms <= engine.now_ms:
        raise SnapshotError(
            f"{where}.next_attempt_ms", f"{inv.next_attempt_ms} is not after the world's now_ms ({engine.now_ms})"
        )
    inv.completion_failure = _need(raw, "completion_failure", where, str, optional=True)
    if inv.completion_failure is not None and completion != FAILURE:
        raise SnapshotError(f"{where}.completion_failure", "only an invocation that completed with failure has one")
    inv.idempotency_key = _need(raw, "idempotency_key", where, str, optional=True)
    inv.restarted_from = _need(raw, "restarted_from", where, str, optional=True)
    if inv.restarted_from is not None:
        _check_id(parse_invocation_id, inv.restarted_from, f"{where}.restarted_from", "an invocation id")
    inv.awaiting = _need(raw, "awaiting", where, int, optional=True) if status == SUSPENDED else None
    if inv.awaiting is not None:  # what suspend() accepts: a completion a command awaits, not yet delivered
        command, delivered = awaited_by(journal, inv.awaiting)
        if command is None or delivered:
            raise SnapshotError(f"{where}.awaiting", f"no command awaits completion id {inv.awaiting}")
    timers = []
    for j, timer in enumerate(_need(raw, "timers", where, list, optional=True) or []):
        due = _time(_need(timer, "due_ms", f"{where}.timers[{j}]", int), f"{where}.timers[{j}].due_ms")
        assert due is not None
        cid = _need(timer, "completion_id", f"{where}.timers[{j}]", int)
        command, _ = awaited_by(journal, cid)
        if retained and (command is None or command.type != "Sleep"):
            raise SnapshotError(f"{where}.timers[{j}].completion_id", f"no Sleep command issued completion id {cid}")
        if not retained and status != COMPLETED:
            raise SnapshotError(f"{where}.timers[{j}]", "only a Sleep of the journal sets a timer")
        timers.append((due, cid))
    return inv, timers


def _check_id(parse: Callable[[str], object], value: str, where: str, what: str) -> None:
    """A field that must hold an id: its parser's reason, named at ``where``, when it does not."""
    try:
        parse(value)
    except IdError as exc:
        raise SnapshotError(where, f"{value!r} is not {what} ({exc.reason})") from None


def dump_entry(entry: Entry) -> dict[str, Any]:
    """One journal entry in the world format."""
    out: dict[str, Any] = {"index": entry.index, "kind": entry.kind, "type": entry.type}
    if entry.name is not None:
        out["name"] = entry.name
    if entry.completion_ids:
        out["completion_ids"] = list(entry.completion_ids)
    if entry.completion_id is not None:
        out["completion_id"] = entry.completion_id
    return out


def dump_invocation(
    engine: Engine, inv: Invocation, timers: dict[str, list[tuple[int, int]]] | None = None
) -> dict[str, Any]:
    """One invocation in the world format (the model's extra fields only where they say something)."""
    service = engine.services[inv.service]
    out: dict[str, Any] = {
        "id": inv.id,
        "target": {"service": inv.service, "handler": inv.handler, "key": inv.key},
        "status": inv.state,
        "completion": inv.completion,
        "pinned": None
        if inv.pinned_deployment is None
        else {"deployment_id": inv.pinned_deployment, "protocol": inv.pinned_protocol},
        "journal_retained": inv.journal is not None,
        "journal": [dump_entry(e) for e in inv.journal or ()],
    }
    if inv.journal_retention_s != service.effective_journal_retention_s:
        out["journal_retention_s"] = inv.journal_retention_s
    if inv.completion_retention_s != service.effective_completion_retention_s:
        out["completion_retention_s"] = inv.completion_retention_s
    for name in (
        "due_ms",
        "completed_ms",
        "created_ms",
        "idempotency_key",
        "restarted_from",
        "awaiting",
        "last_failure",
        "next_attempt_ms",
        "completion_failure",
    ):
        value = getattr(inv, name)
        if value is not None:
            out[name] = value
    if inv.retry_count:
        out["retry_count"] = inv.retry_count
    if timers and inv.id in timers:
        out["timers"] = [{"due_ms": due, "completion_id": cid} for due, cid in sorted(timers[inv.id])]
    return out


def _dump_policy(policy: RetryPolicy) -> dict[str, Any]:
    return {
        "initial_interval_ms": policy.initial_interval_ms,
        "factor": policy.factor,
        "max_interval_ms": policy.max_interval_ms,
        "max_attempts": policy.max_attempts,
        "on_max_attempts": policy.on_max_attempts.value,
    }


def _load_policy(raw: Any, where: str) -> RetryPolicy:
    if not isinstance(raw, dict):
        raise SnapshotError(where, "must be an object")
    fields = {}
    for name, kinds in (
        ("initial_interval_ms", int),
        ("factor", (int, float)),
        ("max_interval_ms", int),
        ("max_attempts", int),
        ("on_max_attempts", str),
    ):
        value = _need(raw, name, where, kinds, optional=True)
        if value is not None:
            fields[name] = value
    try:
        return RetryPolicy(**fields)
    except LifecycleError as exc:  # the policy's own check names the field: "Invalid argument 'x': ..."
        field = exc.message.split("'")[1]
        raise SnapshotError(f"{where}.{field}", exc.message.split(": ", 1)[1]) from None


def dump_world(engine: Engine) -> World:
    """The engine's whole state in the world format."""
    if not isinstance(engine, Engine):
        raise wrong_type("engine", f"must be an fsm.Engine, got {type(engine).__name__}")
    timers = engine.pending_sleeps()
    header = dump_header(engine)
    world: World = {
        "deployments": header.pop("deployments"),
        "services": header.pop("services"),
        "invocations": [dump_invocation(engine, inv, timers) for inv in engine.invocations.values()],
    }
    world.update(header)
    return world


def dump_world_lines(engine: Engine) -> Iterator[str]:
    """The world as JSON lines, for worlds too big to hold twice: the header (the world without its
    ``invocations``), then one line per invocation, each line ending in a newline.
    :func:`load_world_lines` reads it back."""
    if not isinstance(engine, Engine):
        raise wrong_type("engine", f"must be an fsm.Engine, got {type(engine).__name__}")
    yield json.dumps(dump_header(engine)) + "\n"
    timers = engine.pending_sleeps()
    for inv in engine.invocations.values():
        yield json.dumps(dump_invocation(engine, inv, timers)) + "\n"


def load_world_lines(lines: Iterable[str | bytes], *, seed: int | str | None = 0) -> Engine:
    """The engine of :func:`dump_world_lines`' lines (blank lines are skipped); a line that is not
    JSON is named by its number."""
    loader: WorldLoader | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise SnapshotError(f"line {number}", f"is not JSON: {exc}") from None
        if loader is None:
            loader = WorldLoader(raw, seed=seed)
        else:
            loader.add(raw)
    if loader is None:
        raise SnapshotError("world", "has no header line")
    return loader.finish()


def dump_header(engine: Engine) -> World:
    """The world without its invocations, as :func:`dump_world` writes it."""
    world: World = dump_registry(engine)
    if engine.now_ms != DEFAULT_EPOCH_MS:
        world["now_ms"] = engine.now_ms
    if engine.unavailable_partitions:
        world["unavailable_partitions"] = sorted(engine.unavailable_partitions)
    order = _inbox_order(engine)
    if order is not None:
        world["inbox_order"] = order
    position = engine.ids.position
    if position != _seed_0_start():
        world["id_generator"] = position
    return world


def dump_registry(engine: Engine) -> World:
    """The world's ``deployments`` and ``services``, as :func:`dump_world` writes them."""
    return {
        "deployments": [
            {
                "id": d.id,
                "services": list(d.services),
                "protocol": [d.protocol_min, d.protocol_max],
                **({"name": d.name} if d.name is not None else {}),
            }
            for d in engine.deployments.values()
        ],
        "services": [
            {
                "name": s.name,
                "type": s.type,
                "journal_retention_s": s.journal_retention_s,
                **(
                    {"completion_retention_s": s.completion_retention_s} if s.completion_retention_s is not None else {}
                ),
                **({"retry_policy": _dump_policy(s.retry_policy)} if s.retry_policy is not None else {}),
            }
            for s in engine.services.values()
        ],
    }


def _inbox_order(engine: Engine) -> list[str] | None:
    """Every inboxed invocation in its inbox's queue order, inboxes by service and key; None when
    each inbox queues in the listing order."""
    queued = [inv_id for _, inbox in sorted(engine.inboxes.items()) for inv_id in inbox]
    inboxed = set(queued)
    rank = {inv_id: i for i, inv_id in enumerate(engine.invocations) if inv_id in inboxed}
    for inbox in engine.inboxes.values():
        ranks = [rank[inv_id] for inv_id in inbox]
        if ranks != sorted(ranks):
            return queued
    return None


@functools.cache
def _seed_0_start() -> str:
    return IdGenerator(0).position
