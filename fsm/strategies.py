"""Hypothesis strategies for users' own tests, and a factory of invocations in any state.

Import them from :mod:`fsm.testing` (which also holds the stateful base).

Why here: the world format, the journal rules and the restart parameters have constraints that
are easy to get subtly wrong in a hand-written generator (entry 0 is the Input, only a completed
invocation can lose its journal, one holder per virtual-object key, ...). These strategies
produce only valid data, in the canonical form ``fsm.snapshot.dump_world`` writes, so
``dump_world(load_world(w)) == w`` holds for every generated ``w``.

- :func:`journals`: journals in the world format (commands, their completions, signals);
- :func:`worlds`: whole worlds that :func:`fsm.snapshot.load_world` accepts;
- :func:`restart_requests`: restart-as-new requests, well-formed and malformed;
- :func:`make_invocation`: an engine holding one invocation in a chosen state, built through the
  engine's own operations (never by setting fields), and :func:`invocations` to draw them.

Hypothesis is a test dependency: import this module from tests only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from .engine import DEFAULT_EPOCH_MS, DEFAULT_PARTITIONS, Engine
from .ids import U64_MAX, U128_MAX, encode_deployment_id, encode_invocation_id
from .journal import COMPLETIONS_AWAITED, NOTIFICATION_TYPE
from .lifecycle import COMPLETED, HOLDS_LOCK, INBOXED, LIVE_STATES, PAUSED, RUNNING, SCHEDULED, SUSPENDED
from .model import COMMAND, FAILURE, NOTIFICATION, SERVICE, SERVICE_TYPES, SUCCESS, VIRTUAL_OBJECT

U32_MAX = (1 << 32) - 1
#: Command types a generated journal uses (every kind of completion count: 0, 1 and 2).
COMMAND_TYPES: tuple[str, ...] = tuple(t for t in COMPLETIONS_AWAITED if t != "Input")
SERVICE_NAMES: tuple[str, ...] = ("Greeter", "Counter", "Checkout", "Mailer")
KEYS: tuple[str, ...] = ("a", "b")  # few keys: locks and inboxes get exercised

#: Invocation ids that do not parse, each for a different one of Restate's reasons.
MALFORMED_INVOCATION_IDS: tuple[str, ...] = (
    "",
    "abc",
    "xyz_1abc",
    "inv_",
    "inv_2aaaa",
    "inv_1short",
    "dp_16cRnGpcnx76y3EtKOfifDP",
    "inv_1!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9x",
)
#: Deployment parameters that do not parse (check 3).
MALFORMED_DEPLOYMENTS: tuple[str, ...] = (
    "",
    "KEEP",
    "dp_bad",
    "dp_",
    "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9",
    "dp_16cRnGpcnx76y3EtKOfifDPx",
)
#: ``from`` values that do not parse (check 1), as the query string carries them.
MALFORMED_FROMS: tuple[str, ...] = ("", "abc", "-1", "1.5", "4294967296", " 1", "+")


# --- journals ------------------------------------------------------------------------------------


@st.composite
def journals(draw: st.DrawFn, max_entries: int = 8, *, complete: bool | None = None) -> list[dict[str, Any]]:
    """A journal in the world format: Input, then commands, their completions and signals.

    Completion ids are numbered from 1 in command order, as the engine numbers them. With
    ``complete=True`` every awaited completion is delivered; with ``False`` at least one is not
    (when a command awaits any); ``None`` draws either.
    """
    entries: list[dict[str, Any]] = [{"index": 0, "kind": COMMAND, "type": "Input"}]
    pending: list[tuple[int, str]] = []  # (completion id, notification type)
    next_id = 1
    length = draw(st.integers(0, max_entries - 1))
    while len(entries) < length + 1:
        move = draw(st.sampled_from(("command", "complete", "signal")))
        index = len(entries)
        if move == "command":
            kind = draw(st.sampled_from(COMMAND_TYPES))
            ids = list(range(next_id, next_id + COMPLETIONS_AWAITED[kind]))
            next_id += len(ids)
            entry: dict[str, Any] = {"index": index, "kind": COMMAND, "type": kind}
            if draw(st.booleans()):
                entry["name"] = draw(st.sampled_from(("step", "fetch", "x")))
            if ids:
                entry["completion_ids"] = ids
            names = NOTIFICATION_TYPE.get(kind, ())
            pending += [(cid, names[i] if i < len(names) else kind) for i, cid in enumerate(ids)]
            entries.append(entry)
        elif move == "complete" and pending:
            position = draw(st.integers(0, len(pending) - 1))
            cid, note = pending.pop(position)
            entries.append({"index": index, "kind": NOTIFICATION, "type": note, "completion_id": cid})
        elif move == "signal":
            entries.append({"index": index, "kind": NOTIFICATION, "type": "Signal", "name": "cancel"})
    if complete:
        for cid, note in pending:
            entries.append({"index": len(entries), "kind": NOTIFICATION, "type": note, "completion_id": cid})
    elif complete is False and not pending:
        entries.append({"index": len(entries), "kind": COMMAND, "type": "Run", "completion_ids": [next_id]})
    return entries


# --- worlds --------------------------------------------------------------------------------------


def _ids(draw: st.DrawFn, count: int, make: Any, *bounds: int) -> list[str]:
    values = draw(
        st.lists(st.tuples(*(st.integers(0, b) for b in bounds)), min_size=count, max_size=count, unique=True)
    )
    return [make(*v) for v in values]


@st.composite
def worlds(
    draw: st.DrawFn, max_services: int = 3, max_deployments: int = 2, max_invocations: int = 5, max_journal: int = 6
) -> dict[str, Any]:
    """A world ``load_world`` accepts, in the form ``dump_world`` writes.

    Lock rules hold (one holder per virtual-object key among running/suspended/paused, an inboxed
    invocation behind a holder); only completed invocations may have lost their journal.
    """
    names = draw(st.lists(st.sampled_from(SERVICE_NAMES), min_size=1, max_size=max_services, unique=True))
    services = []
    for name in names:
        service: dict[str, Any] = {
            "name": name,
            "type": draw(st.sampled_from(SERVICE_TYPES)),
            "journal_retention_s": draw(st.sampled_from((0, 60, 3600, 86_400))),
        }
        completion = draw(st.none() | st.sampled_from((0, 600, 86_400)))
        if completion is not None:
            service["completion_retention_s"] = completion
        services.append(service)
    kinds = {s["name"]: s["type"] for s in services}

    count = draw(st.integers(0, max_deployments))
    deployments = []
    for dep_id in _ids(draw, count, encode_deployment_id, U128_MAX):
        low = draw(st.integers(1, 7))
        deployment: dict[str, Any] = {
            "id": dep_id,
            "services": draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)),
            "protocol": [low, draw(st.integers(low, 7))],
        }
        if draw(st.booleans()):
            deployment["name"] = draw(st.sampled_from(("v1", "v2", "canary")))
        deployments.append(deployment)
    known = [d["id"] for d in deployments]

    count = draw(st.integers(0, max_invocations))
    invocations: list[dict[str, Any]] = []
    holders: set[tuple[str, str]] = set()
    for inv_id in _ids(draw, count, encode_invocation_id, U64_MAX, U128_MAX):
        name = draw(st.sampled_from(names))
        key = None if kinds[name] == SERVICE else draw(st.sampled_from(KEYS))
        status = draw(st.sampled_from(LIVE_STATES))
        lock = (name, key) if key is not None and kinds[name] == VIRTUAL_OBJECT else None
        if status in HOLDS_LOCK and lock is not None:
            if lock in holders:
                status = INBOXED
            else:
                holders.add(lock)
        retained = status != COMPLETED or draw(st.booleans())
        inv: dict[str, Any] = {
            "id": inv_id,
            "target": {"service": name, "handler": draw(st.sampled_from(("run", "greet"))), "key": key},
            "status": status,
            "completion": draw(st.sampled_from((SUCCESS, FAILURE))) if status == COMPLETED else None,
            "pinned": None,
            "journal_retained": retained,
            "journal": draw(journals(max_journal)) if retained else [],
        }
        if draw(st.booleans()):
            pinned_to = encode_deployment_id(draw(st.integers(0, U128_MAX)))  # maybe removed since
            use_known = bool(known) and draw(st.booleans())
            if use_known:
                pinned_to = draw(st.sampled_from(known))
            inv["pinned"] = {"deployment_id": pinned_to, "protocol": draw(st.integers(1, 7))}
        if status == SCHEDULED and draw(st.booleans()):
            inv["due_ms"] = DEFAULT_EPOCH_MS + draw(st.integers(1, 10_000))
        if status == COMPLETED and draw(st.booleans()):
            inv["completed_ms"] = DEFAULT_EPOCH_MS - draw(st.integers(0, 100_000))
        if status == RUNNING and draw(st.booleans()):
            inv["retry_count"] = draw(st.integers(1, 5))
        if draw(st.integers(0, 4)) == 0:
            inv["idempotency_key"] = draw(st.sampled_from(("once", "twice")))
        invocations.append(inv)
    for inv in invocations:  # an inboxed invocation needs a holder of its key
        target = inv["target"]
        if inv["status"] == INBOXED and (
            kinds[target["service"]] != VIRTUAL_OBJECT or (target["service"], target["key"]) not in holders
        ):
            inv["status"] = SCHEDULED
        if inv["status"] == SCHEDULED:  # it has not started: nothing journaled past its Input, no pin
            inv["journal"] = inv["journal"][:1]
            inv["pinned"] = None

    world: dict[str, Any] = {"deployments": deployments, "services": services, "invocations": invocations}
    if draw(st.booleans()):
        world["now_ms"] = DEFAULT_EPOCH_MS + draw(st.integers(1, 10**9))
    unavailable = draw(st.lists(st.integers(0, DEFAULT_PARTITIONS - 1), max_size=2, unique=True))
    if unavailable:
        world["unavailable_partitions"] = sorted(unavailable)
    return world


# --- restart requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RestartRequest:
    """One restart-as-new request with its raw parameters, as a client sends them."""

    invocation_id: str
    from_: int | str | None = None
    deployment: str | None = None

    def send(self, engine: Engine) -> Any:
        """``engine.restart_as_new`` with these parameters (raises the refusal, if any)."""
        return engine.restart_as_new(self.invocation_id, self.from_, self.deployment)


def restart_requests(
    invocation_ids: Sequence[str] = (), deployment_ids: Sequence[str] = (), journal_length: int = 8
) -> st.SearchStrategy[RestartRequest]:
    """Requests aimed mostly at the given ids, with malformed and absent ones mixed in.

    ``from``: absent, an index up to ``journal_length``, 4294967295, an integer out of u32 range,
    or a raw string (valid or not). ``deployment``: absent, keep/latest (any spelling Restate
    accepts), one of ``deployment_ids``, an unknown well-formed id, or a malformed one.
    """
    targets: st.SearchStrategy[str] = (
        st.sampled_from(MALFORMED_INVOCATION_IDS)
        | st.builds(encode_invocation_id, st.integers(0, U64_MAX), st.integers(0, U128_MAX))
        | st.text(max_size=40)
    )
    if invocation_ids:
        targets = st.sampled_from(list(invocation_ids)) | targets
    froms: st.SearchStrategy[int | str | None] = (
        st.none()
        | st.integers(0, journal_length)
        | st.just(U32_MAX)
        | st.integers(-3, -1)
        | st.integers(U32_MAX + 1, U32_MAX + 3)
        | st.sampled_from(MALFORMED_FROMS)
        | st.integers(0, journal_length).map(str)
    )
    deployments: st.SearchStrategy[str | None] = (
        st.none()
        | st.sampled_from(("keep", "Keep", "latest", "Latest"))
        | st.builds(encode_deployment_id, st.integers(0, U128_MAX))
        | st.sampled_from(MALFORMED_DEPLOYMENTS)
    )
    if deployment_ids:
        deployments = st.sampled_from(list(deployment_ids)) | deployments
    return st.builds(RestartRequest, targets, froms, deployments)


@dataclass(frozen=True)
class Call:
    """One call as a client makes it: ``engine.call(service, handler, key, delay_ms=..., idempotency_key=...)``."""

    service: str
    handler: str = "run"
    key: str | None = None
    delay_ms: int = 0
    idempotency_key: str | None = None

    def send(self, engine: Engine) -> str:
        """Make the call (raises the refusal, if any); the invocation id."""
        return engine.call(
            self.service, self.handler, self.key, delay_ms=self.delay_ms, idempotency_key=self.idempotency_key
        )


def calls(services: Sequence[str] = SERVICE_NAMES, keys: Sequence[str] = KEYS) -> st.SearchStrategy[Call]:
    """Calls aimed mostly at ``services``: keyed or not, delayed or not, some idempotent, a few malformed
    (an unknown service, an empty handler, a key where none belongs) for the refusals."""
    good = st.builds(
        Call,
        st.sampled_from(list(services)),
        st.sampled_from(("run", "greet")),
        st.none() | st.sampled_from(list(keys)),
        st.sampled_from((0, 0, 0, 1_000, 60_000)),
        st.none() | st.sampled_from(("once", "twice")),
    )
    bad = st.builds(Call, st.sampled_from(("Nope", "")), st.sampled_from(("run", "")), st.none() | st.just("k"))
    return st.one_of(good, good, good, bad)


#: The admin operations that take an invocation id alone.
ADMIN_OPERATIONS: tuple[str, ...] = ("cancel", "kill", "purge", "purge_journal", "pause", "resume")


@dataclass(frozen=True)
class AdminRequest:
    """One admin operation on an invocation: ``getattr(engine, operation)(invocation_id)``."""

    operation: str
    invocation_id: str

    def send(self, engine: Engine) -> int:
        """Send it (raises the refusal, if any); the status of the answer."""
        status: int = getattr(engine, self.operation)(self.invocation_id)
        return status


def admin_requests(invocation_ids: Sequence[str] = ()) -> st.SearchStrategy[AdminRequest]:
    """Admin operations aimed mostly at ``invocation_ids``, with malformed and absent ids mixed in."""
    targets: st.SearchStrategy[str] = st.sampled_from(MALFORMED_INVOCATION_IDS) | st.builds(
        encode_invocation_id, st.integers(0, U64_MAX), st.integers(0, U128_MAX)
    )
    if invocation_ids:
        targets = st.sampled_from(list(invocation_ids)) | st.sampled_from(list(invocation_ids)) | targets
    return st.builds(AdminRequest, st.sampled_from(ADMIN_OPERATIONS), targets)


@st.composite
def worlds_with_requests(draw: st.DrawFn, /, **world_bounds: int) -> tuple[dict[str, Any], RestartRequest]:
    """A world and a restart request aimed (mostly) at it."""
    world = draw(worlds(**world_bounds))
    ids = [inv["id"] for inv in world["invocations"]]
    deps = [d["id"] for d in world["deployments"]]
    length = max((len(inv["journal"]) for inv in world["invocations"]), default=1)
    return world, draw(restart_requests(ids, deps, length))


# --- invocations in any state ----------------------------------------------------------------------


def make_invocation(
    state: str,
    *,
    service_type: str = SERVICE,
    protocol: tuple[int, int] | None = (5, 7),
    commands: Sequence[str] = ("Run",),
    completion: str = SUCCESS,
    journal_retained: bool = True,
    seed: int = 0,
) -> tuple[Engine, str]:
    """An engine holding an invocation in ``state``, reached through the engine's operations.

    The world has one service ``svc`` of ``service_type`` and, unless ``protocol`` is None, one
    deployment speaking that range (the invocation pins to it when it first runs). Before its
    last transition the invocation journals ``commands``, each with its completions delivered;
    ``completion`` and ``journal_retained`` shape a completed one. An inboxed invocation needs a
    virtual object: a first invocation (the engine's other one) holds the key.

    >>> engine, inv = make_invocation("suspended")
    >>> engine.invocations[inv].state
    'suspended'
    """
    if state not in LIVE_STATES:
        raise ValueError(f"state must be one of {', '.join(LIVE_STATES)}, got {state!r}")
    if state == INBOXED and service_type != VIRTUAL_OBJECT:
        raise ValueError("only an invocation of a virtual object can be inboxed: pass service_type='virtual_object'")
    if completion not in (SUCCESS, FAILURE):
        raise ValueError(f"completion must be {SUCCESS!r} or {FAILURE!r}")
    if not journal_retained and state != COMPLETED:
        raise ValueError("only a completed invocation can lose its journal")
    engine = Engine(seed=seed)
    engine.register_service("svc", service_type)
    if protocol is not None:
        engine.register_deployment(["svc"], protocol)
    key = None if service_type == SERVICE else "k"
    if state == SCHEDULED:
        return engine, engine.call("svc", "run", key, delay_ms=60_000)
    if state == INBOXED:
        engine.call("svc", "run", key)
        return engine, engine.call("svc", "run", key)
    inv = engine.call("svc", "run", key)
    for kind in commands:
        entry = engine.append_command(inv, kind)
        for cid in entry.completion_ids:
            engine.complete_command(inv, cid)
    if state == SUSPENDED:
        engine.append_command(inv, "Run")
        engine.suspend(inv)
    elif state == PAUSED:
        engine.pause(inv)
    elif state == COMPLETED:
        engine.complete(inv, completion == SUCCESS)
        if not journal_retained:
            engine.purge_journal(inv)
    return engine, inv


@st.composite
def invocations(draw: st.DrawFn, states: Sequence[str] = LIVE_STATES) -> tuple[Engine, str]:
    """``make_invocation`` with a drawn state, service type, protocol, journal and completion."""
    state = draw(st.sampled_from(list(states)))
    service_type = VIRTUAL_OBJECT if state == INBOXED else draw(st.sampled_from(SERVICE_TYPES))
    low = draw(st.integers(1, 6))
    protocol = draw(st.none() | st.just((low, draw(st.integers(low, 7)))))
    commands = draw(st.lists(st.sampled_from(("Run", "Sleep", "Call", "SetState")), max_size=3))
    retained = state != COMPLETED or draw(st.booleans())
    return make_invocation(
        state,
        service_type=service_type,
        protocol=protocol,
        commands=commands,
        completion=draw(st.sampled_from((SUCCESS, FAILURE))),
        journal_retained=retained,
        seed=draw(st.integers(0, 2**16)),
    )


__all__ = [
    "ADMIN_OPERATIONS",
    "COMMAND_TYPES",
    "MALFORMED_DEPLOYMENTS",
    "MALFORMED_FROMS",
    "MALFORMED_INVOCATION_IDS",
    "AdminRequest",
    "Call",
    "RestartRequest",
    "admin_requests",
    "calls",
    "invocations",
    "journals",
    "make_invocation",
    "restart_requests",
    "worlds",
    "worlds_with_requests",
]
