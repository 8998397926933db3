"""The engine: one object holding a whole Restate-like world, driven on a virtual clock.

It holds services, deployments (in registration order), invocations, virtual-object key locks
with FIFO inboxes, journals, retention, and timers. Nothing reads the wall clock: time moves
only through :meth:`Engine.advance`. Every state change goes through the lifecycle table
(:func:`fsm.lifecycle.fire`); the effects of a change (locks, inboxes, journals, retention)
are written out here, next to the operation that causes them.

Three groups of methods:

- admin operations, answering as Restate's admin API does: :meth:`restart_as_new`,
  :meth:`cancel`, :meth:`kill`, :meth:`purge`, :meth:`purge_journal`, :meth:`pause`,
  :meth:`resume`;
- the world around them: :meth:`register_service`, :meth:`register_deployment`,
  :meth:`remove_deployment`, :meth:`call`, :meth:`advance`, :meth:`set_partition_available`;
- what a deployment does while it runs a handler: :meth:`append_command`,
  :meth:`complete_command`, :meth:`sleep`, :meth:`suspend`, :meth:`fail_attempt`,
  :meth:`complete`.

The engine is not thread-safe; a server guards it with its own lock.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Any

from . import restart as restart_rules
from .errors import (
    FailedPrecondition,
    IllegalTransition,
    InvalidArgument,
    LifecycleError,
    NotFound,
    Unavailable,
    invalid_argument,
)
from .ids import IdError, IdGenerator, key_partition_key, parse_deployment_id, parse_invocation_id
from .journal import COMPLETIONS_AWAITED, NOTIFICATION_TYPE, awaited_by, completed_ids
from .lifecycle import (
    ADMIN,
    COMPLETED,
    FREE,
    HOLDS_LOCK,
    INBOXED,
    RUNNING,
    SCHEDULED,
    SUSPENDED,
    TABLE,
    Accept,
    Table,
    fire,
)
from .model import (
    COMMAND,
    DEFAULT_JOURNAL_RETENTION_S,
    DEFAULT_MAX_PROTOCOL,
    FAILURE,
    NOTIFICATION,
    SERVICE,
    SERVICE_TYPES,
    SUCCESS,
    VIRTUAL_OBJECT,
    Deployment,
    Entry,
    Invocation,
    Service,
)
from .requests import KEEP, parse_deployment

#: Where the virtual clock starts unless told otherwise (2026-11-27T00:00:00Z), in ms.
DEFAULT_EPOCH_MS = 1_795_737_600_000
#: Restate's default number of partitions.
DEFAULT_PARTITIONS = 24
#: Restate's `worker.cleanup-interval`: expired invocations are removed only when it runs.
DEFAULT_CLEANUP_INTERVAL_MS = 3_600_000
#: Restate's default retry policy pauses after this many attempts.
DEFAULT_MAX_ATTEMPTS = 70

_TIMER_DUE = 0
_TIMER_SLEEP = 1
_EXPIRE_JOURNAL = 0
_EXPIRE_STATUS = 1


@dataclass(frozen=True)
class RestartResult:
    """The answer of a successful restart-as-new."""

    new_invocation_id: str
    restarted_from: str
    copied_indexes: list[int]
    pinned_deployment_id: str | None
    pinned_protocol: int | None
    status: str


def _check_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid_argument(what, "must be a non-empty string")
    return value


def _check_int(what: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid_argument(what, f"must be an integer >= {low}, got {value!r}")
    return value


#: Journal entries are immutable, and invocations on the same path journal equal ones (same index,
#: type and completion ids): they share one object, so a journal is mostly a list of pointers and the
#: GC has fewer objects to track. Only unnamed entries, and only this many distinct ones.
#: Keyed by the entry's fields: a plain tuple equals (and hashes as) the ``Entry`` with those fields,
#: so a step looks its entry up from a cheap tuple and builds an ``Entry`` only the first time.
EntryFields = tuple[int, str, str, str | None, tuple[int, ...], int | None]
_SHARED_ENTRIES: dict[EntryFields, Entry] = {}
SHARED_ENTRIES_MAX = 4096


def _shared(fields: EntryFields) -> Entry:
    """The shared entry with these fields (callers try ``_SHARED_ENTRIES.get`` first, inline)."""
    found = _SHARED_ENTRIES.get(fields)
    if found is not None:
        return found
    entry = Entry._make(fields)
    if entry.name is None and len(_SHARED_ENTRIES) < SHARED_ENTRIES_MAX:
        _SHARED_ENTRIES[entry] = entry
    return entry


def _unguarded(table: Table) -> dict[tuple[str, str], str]:
    """(state, trigger) -> where ``fire`` leads when every fact is false: the first guard-free branch.

    Most firings pass no true fact, so the engine moves them with one dict lookup instead of a
    ``fire`` call. Only branches held in plain tuples qualify: a table that watches its branches
    being tried (exploration's recording table) must see every firing, so it goes through ``fire``.
    """
    quick: dict[tuple[str, str], str] = {}
    for key, branches in table.items():
        if type(branches) is tuple:
            for guards, _unless, dest in branches:
                if not guards:
                    quick[key] = dest
                    break
    return quick


class Engine:
    """A Restate-like world: embed it, drive it, and ask it what Restate would answer."""

    def __init__(
        self,
        *,
        seed: int | str | None = 0,
        now_ms: int = DEFAULT_EPOCH_MS,
        partitions: int = DEFAULT_PARTITIONS,
        max_protocol: int = DEFAULT_MAX_PROTOCOL,
        cleanup_interval_ms: int = DEFAULT_CLEANUP_INTERVAL_MS,
        table: Table | None = None,
    ) -> None:
        self.now_ms = _check_int("now_ms", now_ms)
        self.partitions = _check_int("partitions", partitions, 1)
        self.max_protocol = _check_int("max_protocol", max_protocol, 1)
        self.cleanup_interval_ms = _check_int("cleanup_interval_ms", cleanup_interval_ms, 1)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
            raise invalid_argument("seed", f"must be an integer, a string or None, got {type(seed).__name__}")
        self.ids = IdGenerator(seed)
        self.table = TABLE if table is None else table
        self.services: dict[str, Service] = {}
        self.deployments: dict[str, Deployment] = {}  # registration order
        self.invocations: dict[str, Invocation] = {}  # creation order
        self.lock_holders: dict[tuple[str, str], str] = {}
        self.inboxes: dict[tuple[str, str], deque[str]] = {}
        self.unavailable_partitions: set[int] = set()
        self.idempotency: dict[tuple[str, str, str | None, str], str] = {}
        self._timers: list[tuple[int, int, int, str, int]] = []  # due, seq, kind, invocation, completion id
        self._expiries: list[tuple[int, int, int, str]] = []  # due, seq, kind, invocation (re-checked when due)
        #: The common case of ``_expiries`` in ~8 bytes per completed invocation instead of ~150: per
        #: (kind, retention_s), the ids in completion order, so in due order; the due is recomputed from
        #: ``completed_ms`` (see :meth:`schedule_retention`).
        self._expiry_queues: dict[tuple[int, int], deque[str]] = {}
        self._expiry_tails: dict[tuple[int, int], int] = {}  # the newest completed_ms in each queue
        self._seq = 0
        self._next_cleanup_ms = self._cleanup_after(self.now_ms)

    @property
    def table(self) -> Table:
        """The compiled lifecycle; exploration may pass a modified one to test a rule change."""
        return self._table

    @table.setter
    def table(self, table: Table) -> None:
        self._table = table
        self._quick = _unguarded(table)

    def _step(self, inv: Invocation, trigger: str) -> str:
        """``fire`` with no true fact: one lookup in the common case, ``fire`` for the rest."""
        dest = self._quick.get((inv.state, trigger))
        if dest is None:
            return fire(inv, trigger, inv.id, self._table)
        inv.state = dest
        return dest

    # --- reading ------------------------------------------------------------------------

    def get_invocation(self, invocation_id: Any) -> Invocation | None:
        """The invocation, or None if absent (no parsing, no routing: a plain lookup)."""
        return self.invocations.get(invocation_id) if isinstance(invocation_id, str) else None

    def service_type(self, service: Any) -> str | None:
        found = self.services.get(service) if isinstance(service, str) else None
        return found.type if found else None

    def get_deployment(self, deployment_id: Any) -> Deployment | None:
        return self.deployments.get(deployment_id) if isinstance(deployment_id, str) else None

    def latest_deployment(self, service: Any) -> Deployment | None:
        """The newest registered deployment that serves ``service``."""
        for deployment in reversed(self.deployments.values()):
            if service in deployment.services:
                return deployment
        return None

    def partition_of(self, partition_key: int) -> int:
        """The partition owning a partition key (the u64 range split evenly, as Restate does)."""
        if not isinstance(partition_key, int) or isinstance(partition_key, bool) or not 0 <= partition_key < 1 << 64:
            raise invalid_argument("partition_key", f"must be a u64, got {partition_key!r}")
        return (partition_key * self.partitions) >> 64

    def routing_error(self, partition_key: int) -> str | None:
        """Why a request for this partition key cannot be routed, or None when it can."""
        if not self.unavailable_partitions:
            return None
        partition = self.partition_of(partition_key)
        if partition in self.unavailable_partitions:
            return f"partition {partition} has no known leader"
        return None

    def lookup(self, invocation_id: Any) -> Invocation:
        """The invocation, or the error Restate gives: 400 malformed id, 503 routing, 404 absent."""
        inv = self.invocations.get(invocation_id) if isinstance(invocation_id, str) else None
        if inv is not None and not self.unavailable_partitions:
            return inv  # the fast path: a stored id is well-formed
        partition_key = self.parse_id(invocation_id)
        reason = self.routing_error(partition_key)
        if reason is not None:
            raise Unavailable(
                503, "PARTITION_UNAVAILABLE", f"Error when routing the request internally. Reason: {reason}"
            )
        if inv is None:
            raise NotFound(404, "INVOCATION_NOT_FOUND", f"The requested invocation '{invocation_id}' does not exist")
        return inv

    def parse_id(self, invocation_id: Any) -> int:
        """The partition key of a well-formed invocation id, or Restate's 400 for a malformed one."""
        if not isinstance(invocation_id, str):
            raise invalid_argument("invocation_id", f"must be a string, got {type(invocation_id).__name__}")
        try:
            return parse_invocation_id(invocation_id).partition_key
        except IdError as exc:
            raise InvalidArgument(
                400, "INVALID_INVOCATION_ID", f"The request field 'invocation_id' is invalid. Reason: {exc.reason}"
            ) from None

    def is_exclusive(self, service: Any, handler: Any) -> bool:
        """Virtual-object handlers are exclusive: one invocation per key at a time."""
        found = self.services.get(service) if isinstance(service, str) else None
        return found is not None and found.type == VIRTUAL_OBJECT

    # --- the world ------------------------------------------------------------------------

    def register_service(
        self,
        name: str,
        type: str = SERVICE,
        journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S,
        completion_retention_s: int | None = None,
    ) -> Service:
        """Add a service, or update the retention of one (its type cannot change)."""
        _check_name("name", name)
        if type not in SERVICE_TYPES:
            raise invalid_argument("type", f"must be one of {', '.join(SERVICE_TYPES)}, got {type!r}")
        _check_int("journal_retention_s", journal_retention_s)
        if completion_retention_s is not None:
            _check_int("completion_retention_s", completion_retention_s)
        existing = self.services.get(name)
        if existing is not None and existing.type != type:
            raise FailedPrecondition(
                409, "SERVICE_TYPE_CHANGED", f"The service '{name}' is a {existing.type}; it cannot become a {type}."
            )
        service = Service(name, type, journal_retention_s, completion_retention_s)
        self.services[name] = service
        return service

    def register_deployment(
        self,
        services: list[str] | tuple[str, ...],
        protocol: tuple[int, int] = (5, 7),
        deployment_id: str | None = None,
        name: str | None = None,
    ) -> str:
        """Register a deployment serving registered ``services``; it becomes their latest."""
        if isinstance(services, str) or not isinstance(services, (list, tuple)) or not services:
            raise invalid_argument("services", "must be a non-empty list of service names")
        for service in services:
            _check_name("services[]", service)
            if service not in self.services:
                raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{service}' does not exist")
        if not isinstance(protocol, (list, tuple)) or len(protocol) != 2:
            raise invalid_argument("protocol", "must be a pair [min, max]")
        low = _check_int("protocol[0]", protocol[0], 1)
        high = _check_int("protocol[1]", protocol[1], 1)
        if low > high:
            raise invalid_argument("protocol", f"min {low} is greater than max {high}")
        if deployment_id is None:
            deployment_id = self.ids.deployment_id(self.now_ms)
        else:
            try:
                parse_deployment_id(deployment_id)
            except (IdError, TypeError, AttributeError) as exc:
                raise invalid_argument("deployment_id", f"{getattr(exc, 'reason', exc)}") from None
        if deployment_id in self.deployments:
            raise FailedPrecondition(
                409, "DEPLOYMENT_EXISTS", f"The deployment '{deployment_id}' is already registered."
            )
        if name is not None and not isinstance(name, str):
            raise invalid_argument("name", "must be a string")
        self.deployments[deployment_id] = Deployment(deployment_id, tuple(services), low, high, name)
        return deployment_id

    def remove_deployment(self, deployment_id: str) -> None:
        """Forget a deployment; invocations pinned to it stay pinned to it (as in Restate)."""
        _check_name("deployment_id", deployment_id)
        if deployment_id not in self.deployments:
            try:
                parse_deployment_id(deployment_id)
            except (IdError, AttributeError, TypeError) as exc:
                raise invalid_argument("deployment_id", str(getattr(exc, "reason", exc))) from None
        if self.deployments.pop(deployment_id, None) is None:
            raise NotFound(404, "DEPLOYMENT_NOT_FOUND", f"The requested deployment '{deployment_id}' does not exist")

    def remove_service(self, name: str) -> None:
        """Forget a service that no deployment serves and no invocation targets."""
        _check_name("name", name)
        if name not in self.services:
            raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{name}' does not exist")
        serving = [d.id for d in self.deployments.values() if name in d.services]
        if serving:
            raise FailedPrecondition(
                409,
                "SERVICE_IN_USE",
                f"The service '{name}' is still served by {', '.join(serving)}; remove those first.",
            )
        if any(inv.service == name for inv in self.invocations.values()):
            raise FailedPrecondition(409, "SERVICE_IN_USE", f"Invocations of the service '{name}' still exist.")
        del self.services[name]

    def pending_sleeps(self) -> dict[str, list[tuple[int, int]]]:
        """Sleep timers not yet fired: invocation id -> [(due_ms, completion id)], by due time."""
        out: dict[str, list[tuple[int, int]]] = {}
        for due, _, kind, inv_id, cid in sorted(self._timers):
            if kind == _TIMER_SLEEP:
                out.setdefault(inv_id, []).append((due, cid))
        return out

    def set_partition_available(self, partition: int, available: bool) -> None:
        """Make a partition unreachable (requests routed to it answer 503) or reachable again."""
        _check_int("partition", partition)
        if partition >= self.partitions:
            raise invalid_argument("partition", f"must be below {self.partitions}")
        if available:
            self.unavailable_partitions.discard(partition)
        else:
            self.unavailable_partitions.add(partition)

    def call(
        self,
        service: str,
        handler: str,
        key: str | None = None,
        *,
        delay_ms: int = 0,
        idempotency_key: str | None = None,
    ) -> str:
        """A new invocation: scheduled if delayed, inboxed if its key is held, else running.

        A repeated idempotency key for the same target returns the existing invocation.
        """
        _check_name("handler", handler)
        found = self.services.get(service) if isinstance(service, str) else None
        if found is None:
            raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{service}' does not exist")
        if found.type == SERVICE:
            if key is not None:
                raise invalid_argument("key", f"the service '{service}' is not keyed; pass no key")
        elif not isinstance(key, str):
            raise invalid_argument("key", f"the {found.type} '{service}' needs a string key")
        _check_int("delay_ms", delay_ms)
        if idempotency_key is not None:
            _check_name("idempotency_key", idempotency_key)
            existing = self.idempotency.get((service, handler, key, idempotency_key))
            if existing is not None and existing in self.invocations:
                return existing
        partition_key = key_partition_key(key) if key is not None else None
        inv = self._new_invocation(found, handler, key, partition_key)
        inv.idempotency_key = idempotency_key
        if idempotency_key is not None:
            self.idempotency[(service, handler, key, idempotency_key)] = inv.id
        if delay_ms > 0:
            inv.due_ms = self.now_ms + delay_ms
        self._enter(inv, delayed=delay_ms > 0)
        return inv.id

    def _new_invocation(self, service: Service, handler: str, key: str | None, partition_key: int | None) -> Invocation:
        inv_id = self.ids.invocation_id(self.now_ms, partition_key)
        while inv_id in self.invocations:  # astronomically unlikely; keeps ids unique anyway
            inv_id = self.ids.invocation_id(self.now_ms, partition_key)
        return Invocation(
            inv_id,
            service.name,
            handler,
            key,
            FREE,
            service.journal_retention_s,
            service.effective_completion_retention_s,
        )

    def _key_locked(self, inv: Invocation) -> bool:
        return (
            inv.key is not None
            and self.is_exclusive(inv.service, inv.handler)
            and ((inv.service, inv.key) in self.lock_holders)
        )

    def _enter(self, inv: Invocation, delayed: bool) -> None:
        """Fire ``invoke`` for a new record and apply its effects."""
        key_locked = inv.key is not None and self._key_locked(inv)
        if delayed or key_locked:
            state = fire(inv, "invoke", inv.id, self._table, delayed=delayed, key_locked=key_locked)
        else:
            state = self._step(inv, "invoke")
        self.invocations[inv.id] = inv
        if state == SCHEDULED:
            assert inv.due_ms is not None
            self._push_timer(inv.due_ms, _TIMER_DUE, inv.id, 0)
        else:
            self._started_or_queued(inv)

    def _started_or_queued(self, inv: Invocation) -> None:
        if inv.state == INBOXED:
            assert inv.key is not None
            self.inboxes.setdefault((inv.service, inv.key), deque()).append(inv.id)
        elif inv.key is not None and self.is_exclusive(inv.service, inv.handler):
            self.lock_holders[(inv.service, inv.key)] = inv.id

    # --- the virtual clock ------------------------------------------------------------------

    def _cleanup_after(self, now_ms: int) -> int:
        return (now_ms // self.cleanup_interval_ms + 1) * self.cleanup_interval_ms

    def _push_timer(self, due_ms: int, kind: int, invocation_id: str, completion_id: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (due_ms, self._seq, kind, invocation_id, completion_id))

    def _push_expiry(self, due_ms: int, kind: int, invocation_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._expiries, (due_ms, self._seq, kind, invocation_id))

    def advance(self, ms: int) -> None:
        """Move the virtual clock forward, firing due calls, sleep timers and cleaner runs in order."""
        _check_int("ms", ms)
        self.advance_to(self.now_ms + ms)

    def advance_to(self, target_ms: int) -> None:
        _check_int("target_ms", target_ms)
        if target_ms < self.now_ms:
            raise invalid_argument("target_ms", f"the clock only moves forward (now {self.now_ms})")
        timers = self._timers
        while True:
            cleanup_ms = self._next_cleanup_ms
            if timers and timers[0][0] <= cleanup_ms:  # a timer due no later than the cleaner goes first
                due_ms = timers[0][0]
                if due_ms > target_ms:
                    break
                self.now_ms = due_ms
                _, _, kind, inv_id, completion_id = heapq.heappop(timers)
                self._on_timer(kind, inv_id, completion_id)
            else:
                if cleanup_ms > target_ms:
                    break
                self.now_ms = cleanup_ms
                self._run_cleaner()
                self._next_cleanup_ms += self.cleanup_interval_ms
        self.now_ms = target_ms

    def _on_timer(self, kind: int, inv_id: str, completion_id: int) -> None:
        inv = self.invocations.get(inv_id)
        if inv is None:
            return  # cancelled or killed meanwhile
        if kind == _TIMER_DUE:
            if inv.state == SCHEDULED:
                fire(inv, "due", inv.id, self._table, key_locked=self._key_locked(inv))
                inv.due_ms = None
                self._started_or_queued(inv)
        elif kind == _TIMER_SLEEP and inv.journal is not None and (inv.state == RUNNING or inv.state == SUSPENDED):
            command, delivered = awaited_by(inv.journal, completion_id)
            if not delivered:
                self._deliver(inv, completion_id, command, delivered)

    def _run_cleaner(self) -> None:
        """Restate's cleaner: drops expired journals and forgets expired completed invocations.

        Every expiry due by now is applied; their order does not matter (each touches one invocation,
        and its journal's expiry and its own lead to the same end).
        """
        now = self.now_ms
        while self._expiries and self._expiries[0][0] <= now:
            _, _, kind, inv_id = heapq.heappop(self._expiries)
            self._expire(kind, self.invocations.get(inv_id))
        for (kind, retention_s), queue in self._expiry_queues.items():
            while queue:
                inv = self.invocations.get(queue[0])
                if inv is not None and inv.state == COMPLETED:
                    assert inv.completed_ms is not None
                    if inv.completed_ms + retention_s * 1000 > now:
                        break
                queue.popleft()
                self._expire(kind, inv)

    def _expire(self, kind: int, inv: Invocation | None) -> None:
        if inv is None or inv.state != COMPLETED:
            return  # gone meanwhile (purged, or forgotten by its other expiry)
        if kind == _EXPIRE_STATUS:
            fire(inv, "expire", inv.id, self.table)
            self._forget(inv)
        elif inv.journal is not None:
            fire(inv, "expire_journal", inv.id, self.table)
            inv.journal = None

    def _schedule_retention(self, inv: Invocation, completed_ms: int) -> None:
        """Queue the cleaner's work for a completed invocation (also used by snapshot import)."""
        if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
            self._queue_expiry(inv, completed_ms, _EXPIRE_JOURNAL, inv.journal_retention_s)
        self._queue_expiry(inv, completed_ms, _EXPIRE_STATUS, inv.completion_retention_s)

    def _queue_expiry(self, inv: Invocation, completed_ms: int, kind: int, retention_s: int) -> None:
        """Append to the (kind, retention) queue when that keeps it in due order, else use the heap.

        The engine completes invocations in clock order, so it always appends; a snapshot import may
        not (its ``completed_ms`` are in any order, or absent), and those go to the heap.
        """
        key = (kind, retention_s)
        tail = self._expiry_tails.get(key)
        if completed_ms == inv.completed_ms and (tail is None or completed_ms >= tail):
            queue = self._expiry_queues.get(key)
            if queue is None:
                queue = self._expiry_queues[key] = deque()
            queue.append(inv.id)
            if tail != completed_ms:
                self._expiry_tails[key] = completed_ms
        else:
            self._push_expiry(completed_ms + retention_s * 1000, kind, inv.id)

    # --- what a deployment does while running a handler -----------------------------------

    def _running(self, invocation_id: str, step: str, allowed: tuple[str, ...] = (RUNNING,)) -> Invocation:
        # lookup()'s fast path inlined: every handler step starts here.
        inv = self.invocations.get(invocation_id) if isinstance(invocation_id, str) else None
        if inv is None or self.unavailable_partitions:
            inv = self.lookup(invocation_id)
        if inv.state not in allowed:
            raise IllegalTransition(inv.id, step, inv.state, allowed)
        return inv

    def _pin(self, inv: Invocation) -> None:
        """The first attempt pins the latest deployment and the highest protocol both speak.

        Called once a step is known to succeed, so a refused step leaves the invocation as it was.
        Callers test ``inv.pinned_deployment is None`` first: after the first step it is a no-op.
        """
        if inv.pinned_deployment is not None:
            return
        deployment = self.latest_deployment(inv.service)
        if deployment is None:
            return
        protocol = min(deployment.protocol_max, self.max_protocol)
        if protocol >= deployment.protocol_min:
            inv.pinned_deployment = deployment.id
            inv.pinned_protocol = protocol

    def append_command(self, invocation_id: str, type: str, name: str | None = None) -> Entry:
        """Journal a command; it awaits as many new completion ids as its type does (section 4)."""
        _check_name("type", type)
        if name is not None and not isinstance(name, str):
            raise invalid_argument("name", "must be a string")
        return self._append_command(self._running(invocation_id, "append_command"), type, name)

    def _append_command(self, inv: Invocation, type: str, name: str | None) -> Entry:
        if inv.pinned_deployment is None:
            self._pin(inv)
        journal = inv.journal
        assert journal is not None
        count = COMPLETIONS_AWAITED.get(type, 0)
        first = inv.next_completion_id
        inv.next_completion_id = first + count
        awaited = (first,) if count == 1 else tuple(range(first, first + count))
        fields: EntryFields = (len(journal), COMMAND, type, name, awaited, None)
        entry = _SHARED_ENTRIES.get(fields) or _shared(fields)
        journal.append(entry)
        return entry

    def complete_command(self, invocation_id: str, completion_id: int) -> Entry:
        """Deliver the completion ``completion_id``; wakes a suspended invocation awaiting it."""
        _check_int("completion_id", completion_id, 1)
        inv = self._running(invocation_id, "complete_command", (RUNNING, SUSPENDED))
        journal = inv.journal
        assert journal is not None
        command, delivered = awaited_by(journal, completion_id)
        entry = self._deliver(inv, completion_id, command, delivered)
        if inv.pinned_deployment is None:
            self._pin(inv)
        return entry

    def _deliver(self, inv: Invocation, completion_id: int, command: Entry | None, delivered: bool) -> Entry:
        """Journal the notification of ``completion_id``; the caller found (``awaited_by``) its command."""
        if command is None:
            raise FailedPrecondition(
                409, "UNKNOWN_COMPLETION", f"No command of the invocation '{inv.id}' awaits completion {completion_id}."
            )
        if delivered:
            raise FailedPrecondition(
                409,
                "ALREADY_COMPLETED_COMMAND",
                f"Completion {completion_id} of the invocation '{inv.id}' was already delivered.",
            )
        journal = inv.journal
        assert journal is not None
        note_type = command.type
        kinds = NOTIFICATION_TYPE.get(note_type)
        if kinds is not None:
            position = command.completion_ids.index(completion_id)
            if position < len(kinds):
                note_type = kinds[position]
        fields: EntryFields = (len(journal), NOTIFICATION, note_type, None, (), completion_id)
        entry = _SHARED_ENTRIES.get(fields) or _shared(fields)
        journal.append(entry)
        if inv.state == SUSPENDED and (inv.awaiting is None or inv.awaiting == completion_id):
            self._step(inv, "wake")
            inv.awaiting = None
        return entry

    def suspend(self, invocation_id: str, awaiting: int | None = None) -> None:
        """Suspend while a completion is missing (the newest pending one unless ``awaiting`` says)."""
        if awaiting is not None:
            _check_int("awaiting", awaiting, 1)
        inv = self._running(invocation_id, "suspend")
        journal = inv.journal
        assert journal is not None
        if awaiting is None:
            done = completed_ids(journal)
            pending = [cid for e in journal if e.kind == COMMAND for cid in e.completion_ids if cid not in done]
            if not pending:
                raise FailedPrecondition(
                    409,
                    "NOTHING_TO_AWAIT",
                    f"The invocation '{inv.id}' awaits no missing completion: it cannot suspend.",
                )
            awaiting = pending[-1]
        else:
            self._refuse_unless_pending(inv, awaiting)
        self._suspend(inv, awaiting)

    @staticmethod
    def _refuse_unless_pending(inv: Invocation, awaiting: int) -> None:
        """409 NOTHING_TO_AWAIT unless a command awaits ``awaiting`` and no notification delivered it."""
        assert inv.journal is not None
        command, delivered = awaited_by(inv.journal, awaiting)
        if command is None or delivered:
            raise FailedPrecondition(
                409, "NOTHING_TO_AWAIT", f"Completion {awaiting} of the invocation '{inv.id}' is not pending."
            )

    def _suspend(self, inv: Invocation, awaiting: int) -> None:
        if inv.pinned_deployment is None:
            self._pin(inv)
        self._step(inv, "suspend")
        inv.awaiting = awaiting

    def sleep(self, invocation_id: str, duration_ms: int) -> Entry:
        """Journal a Sleep, suspend on it, and complete it when the clock reaches its end."""
        _check_int("duration_ms", duration_ms)
        inv = self._running(invocation_id, "append_command")
        entry = self._append_command(inv, "Sleep", None)
        completion_id = entry.completion_ids[0]
        self._push_timer(self.now_ms + duration_ms, _TIMER_SLEEP, inv.id, completion_id)
        self._refuse_unless_pending(inv, completion_id)  # what suspend() checks, without its second lookup
        self._suspend(inv, completion_id)
        return entry

    def fail_attempt(
        self, invocation_id: str, max_attempts: int = DEFAULT_MAX_ATTEMPTS, on_max_attempts: str = "pause"
    ) -> str:
        """A failed attempt: back off, or when attempts run out pause (default) or kill."""
        _check_int("max_attempts", max_attempts, 1)
        if on_max_attempts not in ("pause", "kill"):
            raise invalid_argument("on_max_attempts", "must be 'pause' or 'kill'")
        inv = self._running(invocation_id, "fail_attempt")
        self._pin(inv)
        inv.retry_count += 1
        state = fire(
            inv,
            "fail_attempt",
            inv.id,
            self.table,
            retries_exhausted=inv.retry_count >= max_attempts,
            pause_on_max_attempts=on_max_attempts == "pause",
        )
        if state == COMPLETED:
            self._on_completed(inv, FAILURE)
        return state

    def complete(self, invocation_id: str, success: bool = True) -> None:
        """The handler returned (or failed terminally): journal the Output and complete."""
        if not isinstance(success, bool):
            raise invalid_argument("success", "must be a boolean")
        inv = self._running(invocation_id, "complete")
        if inv.pinned_deployment is None:
            self._pin(inv)
        journal = inv.journal
        assert journal is not None
        fields: EntryFields = (len(journal), COMMAND, "Output", None, (), None)
        journal.append(_SHARED_ENTRIES.get(fields) or _shared(fields))
        self._step(inv, "complete")
        self._on_completed(inv, SUCCESS if success else FAILURE)

    # --- effects shared by several transitions ----------------------------------------------

    def _on_completed(self, inv: Invocation, completion: str) -> None:
        inv.completion = completion
        inv.completed_ms = self.now_ms
        inv.awaiting = None
        if inv.key is not None:
            self._release(inv)
        if inv.completion_retention_s == 0:
            fire(inv, "expire", inv.id, self.table)
            self._forget(inv)
            return
        if inv.journal_retention_s == 0:
            inv.journal = None
        self._schedule_retention(inv, self.now_ms)

    def _release(self, inv: Invocation) -> None:
        """The key's holder ended: the first invocation in the key's inbox starts."""
        if inv.key is None:
            return
        lock = (inv.service, inv.key)
        if self.lock_holders.get(lock) != inv.id:
            return
        del self.lock_holders[lock]
        inbox = self.inboxes.get(lock)
        while inbox:
            nxt = self.invocations.get(inbox.popleft())
            if nxt is not None and nxt.state == INBOXED:
                fire(nxt, "dequeue", nxt.id, self.table)
                self.lock_holders[lock] = nxt.id
                break
        if inbox is not None and not inbox:
            del self.inboxes[lock]

    def _forget(self, inv: Invocation) -> None:
        """The record reached ``free``: remove it and everything that points at it."""
        self.invocations.pop(inv.id, None)
        if inv.key is not None:
            lock = (inv.service, inv.key)
            inbox = self.inboxes.get(lock)
            if inbox is not None and inv.id in inbox:
                inbox.remove(inv.id)
                if not inbox:
                    del self.inboxes[lock]
        if inv.idempotency_key is not None:
            self.idempotency.pop((inv.service, inv.handler, inv.key, inv.idempotency_key), None)

    # --- admin operations ---------------------------------------------------------------------

    def _admin(self, operation: str, invocation_id: str) -> tuple[Invocation, Accept]:
        inv = self.lookup(invocation_id)
        outcome = ADMIN[operation][inv.state]
        if isinstance(outcome, Accept):
            return inv, outcome
        raise FailedPrecondition(outcome.status, outcome.reason, outcome.template.format(id=invocation_id))

    def cancel(self, invocation_id: str) -> int:
        """200 and forgotten if not started; 202 and a cancel signal appended otherwise."""
        inv, outcome = self._admin("cancel", invocation_id)
        before = inv.state
        assert outcome.trigger is not None
        fire(inv, outcome.trigger, inv.id, self.table)
        if inv.state == FREE:
            self._forget(inv)
        else:
            journal = inv.journal
            assert journal is not None
            journal.append(Entry(len(journal), NOTIFICATION, "Signal", "cancel"))
            if before == SUSPENDED:
                inv.awaiting = None
        return outcome.status

    def kill(self, invocation_id: str) -> int:
        """200: forgotten if not started, else completed with failure 'killed'."""
        inv, outcome = self._admin("kill", invocation_id)
        assert outcome.trigger is not None
        fire(inv, outcome.trigger, inv.id, self.table)
        if inv.state == FREE:
            self._forget(inv)
        else:
            self._on_completed(inv, FAILURE)
        return outcome.status

    def purge(self, invocation_id: str) -> int:
        inv, outcome = self._admin("purge", invocation_id)
        fire(inv, "purge", inv.id, self.table)
        self._forget(inv)
        return outcome.status

    def purge_journal(self, invocation_id: str) -> int:
        inv, outcome = self._admin("purge_journal", invocation_id)
        fire(inv, "purge_journal", inv.id, self.table)
        inv.journal = None
        return outcome.status

    def pause(self, invocation_id: str) -> int:
        """202 for a running invocation (it pauses); 200 if suspended or already paused."""
        inv, outcome = self._admin("pause", invocation_id)
        if outcome.trigger is not None:
            fire(inv, outcome.trigger, inv.id, self.table)
        return outcome.status

    def resume(self, invocation_id: str, deployment: str | None = None) -> int:
        """Resume a suspended or paused invocation, optionally on another deployment.

        ``deployment`` is ``keep`` (the default), ``latest`` or a deployment id; changing it needs
        a pinned invocation that is suspended or paused.
        """
        if not isinstance(invocation_id, str) or invocation_id not in self.invocations:
            self.parse_id(invocation_id)  # a malformed id is refused before the deployment is read
        if deployment is not None and not isinstance(deployment, str):
            raise invalid_argument("deployment", f"must be a string, got {type(deployment).__name__}")
        selector = KEEP if deployment is None else parse_deployment(deployment)
        inv, outcome = self._admin("resume", invocation_id)
        if selector is not KEEP:
            if inv.state == RUNNING or inv.pinned_deployment is None:
                raise restart_rules.cannot_change_deployment(invocation_id)
            target = restart_rules.resolve_deployment(self, inv.service, selector)
            if target is None:
                raise restart_rules.deployment_not_found(invocation_id, "resume")
            assert inv.pinned_protocol is not None
            if not target.supports(inv.pinned_protocol):
                raise restart_rules.incompatible_deployment(invocation_id, inv.pinned_protocol, target)
            inv.pinned_deployment = target.id
        if outcome.trigger is not None:
            fire(inv, outcome.trigger, inv.id, self.table)
            inv.awaiting = None
        return outcome.status

    def explain_restart_as_new(
        self, invocation_id: str, from_: int | str | None = None, deployment: str | None = None
    ) -> restart_rules.Decision:
        """Which check decides, and what a success would create; changes nothing."""
        if not isinstance(invocation_id, str):
            raise invalid_argument("invocation_id", f"must be a string, got {type(invocation_id).__name__}")
        if deployment is not None and not isinstance(deployment, str):
            raise invalid_argument("deployment", f"must be a string, got {type(deployment).__name__}")
        return restart_rules.decide(self, invocation_id, from_, deployment)

    def restart_as_new(
        self, invocation_id: str, from_: int | str | None = None, deployment: str | None = None
    ) -> RestartResult:
        """Create a new invocation from a completed one (behaviour.md sections 3-5)."""
        decision = self.explain_restart_as_new(invocation_id, from_, deployment)
        if decision.error is not None:
            raise decision.error
        plan = decision.plan
        assert plan is not None
        old = self.invocations[plan.restarted_from]
        service = self.services[old.service]
        inv = self._new_invocation(service, old.handler, old.key, plan.partition_key)
        inv.journal_retention_s = old.journal_retention_s
        inv.completion_retention_s = old.completion_retention_s
        inv.journal = list(plan.journal)
        inv.next_completion_id = 1 + max((c for e in plan.journal for c in e.completion_ids), default=0)
        inv.pinned_deployment = plan.pinned_deployment
        inv.pinned_protocol = plan.pinned_protocol
        inv.restarted_from = old.id
        self._enter(inv, delayed=False)
        return RestartResult(
            inv.id, old.id, list(plan.copied_indexes), inv.pinned_deployment, inv.pinned_protocol, inv.state
        )

    # --- consistency ------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Raise AssertionError if the world is inconsistent (used by tests and exploration)."""
        holders: dict[tuple[str, str], str] = {}
        for inv_id, inv in self.invocations.items():
            assert inv.id == inv_id, f"{inv_id} stored under another id"
            assert inv.state not in (FREE,), f"{inv_id} is free but still stored"
            if inv.state in HOLDS_LOCK and inv.key is not None and self.is_exclusive(inv.service, inv.handler):
                lock = (inv.service, inv.key)
                assert lock not in holders, f"two holders of {lock}: {holders.get(lock)} and {inv_id}"
                holders[lock] = inv_id
            if inv.state == INBOXED:
                assert inv.key is not None and inv_id in self.inboxes.get((inv.service, inv.key), ()), (
                    f"{inv_id} is inboxed but not in its key's inbox"
                )
                assert (inv.service, inv.key) in self.lock_holders, f"{inv_id} is inboxed behind no holder"
            if inv.journal is not None:
                assert [e.index for e in inv.journal] == list(range(len(inv.journal))), f"{inv_id} journal not dense"
            if inv.state != COMPLETED:
                assert inv.journal is not None, f"{inv_id} lost its journal while {inv.state}"
        assert holders == self.lock_holders, f"lock table {self.lock_holders} != holders {holders}"
        for lock, inbox in self.inboxes.items():
            assert inbox, f"empty inbox kept for {lock}"
            for inv_id in inbox:
                queued = self.invocations.get(inv_id)
                assert queued is not None and queued.state == INBOXED, f"{inv_id} in inbox {lock} but not inboxed"


__all__ = ["Engine", "RestartResult", "LifecycleError", "DEFAULT_EPOCH_MS"]
