"""The world every room acts on, and the one place where a trigger fires.

:class:`World` holds the invocations (creation order), virtual-object key locks and their FIFO
inboxes, idempotency keys, unreachable partitions, and the registry and clock it was given. Its
:meth:`World.resolve`, ``step`` and ``move`` are how every room changes an invocation's state:

- ``resolve(inv, trigger, facts)`` runs the definition's conditions (guards, checks, refusals)
  and says where the trigger leads, changing nothing: validation;
- ``move(inv, trigger, dest, facts)`` commits it;
- ``step(inv, trigger, facts=None)`` is both, for steps whose invocation-local data needs no
  decision first.

Two paths, one definition. Until someone asks for :attr:`World.machine`, ``step`` and ``move`` take
the compiled fast path (:class:`fsm.lifecycle.Lifecycle`'s table: a dict lookup for most steps).
The first access builds this world's own `transitions` ``Machine`` and from then on every move
fires ``machine.events[trigger].trigger(inv, **facts)``, so callbacks registered on it run in
`transitions`' documented order. A step writes the invocation's own data first (a journal entry,
a completion, a pin), then fires, then writes what the step sets off in the world (locks, inboxes,
timers, retention, steps of other invocations): callbacks see the step's data and the state move;
``event.kwargs`` carries the step's facts and inputs.

A callback that raises cannot leave an invocation half-moved: the engine finishes the move the
definition decided (as SCXML finishes a transition whose executable content fails), writes the
rest of the step and everything it sets off, and the operation then re-raises the first exception
(see :meth:`World.raise_callback_errors`). The world stays consistent; callbacks of that trigger
after the raising one do not run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from transitions import Machine

from .clock import EXPIRE, Clock
from .errors import (
    InvalidArgument,
    LifecycleChanged,
    NotFound,
    SnapshotError,
    Unavailable,
    invalid_argument,
    wrong_type,
)
from .ids import IdError, IdGenerator, parse_invocation_id
from .lifecycle import COMPLETED, FREE, HOLDS_LOCK, INBOXED, LIVE_STATES, NO_FACTS, SCHEDULED, Lifecycle
from .model import Invocation
from .observers import Observers, TransitionEvent
from .registry import Registry


class Step(Protocol):
    """Resolve and move in one call."""

    def __call__(self, inv: Invocation, trigger: str, facts: Mapping[str, Any] | None = ..., /) -> str: ...


class Move(Protocol):
    """Commit a resolved move."""

    def __call__(self, inv: Invocation, trigger: str, dest: str, facts: Mapping[str, Any] = ..., /) -> None: ...


class World:
    """Invocations, locks, inboxes and partitions over a registry and a clock; fires triggers."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        ids: IdGenerator,
        registry: Registry,
        *,
        now_ms: int,
        cleanup_interval_ms: int,
        partitions: int,
        max_protocol: int,
    ) -> None:
        self.lifecycle = lifecycle
        self.ids = ids
        self.registry = registry
        self.partitions = partitions
        self.max_protocol = max_protocol
        self.invocations: dict[str, Invocation] = {}  # creation order
        self.clock = Clock(now_ms, cleanup_interval_ms, self.invocations.get)
        self.lock_holders: dict[tuple[str, str], str] = {}
        self.inboxes: dict[tuple[str, str], deque[str]] = {}
        self.unavailable_partitions: set[int] = set()
        self.idempotency: dict[tuple[str, str, str | None, str], str] = {}
        #: Lineage the other way round: an invocation's id -> the ids restarted from it (still stored).
        self.restarted_as: dict[str, list[str]] = {}
        #: (exception, trigger, invocation id, source, dest) of callbacks that raised in this operation
        self.callback_errors: list[tuple[Exception, str, str, str, str]] = []
        self.in_callbacks = False
        #: Who watches this world, and the events of the operation in progress (fsm.observers).
        self.observers = Observers()
        self._machine: Machine | None = None
        self.resolve = lifecycle.resolve
        self.step: Step = lifecycle.fire  # the compiled fast path, until the machine is asked for
        self.move: Move = self._move_fast
        #: The ids of invocations changed since the last :meth:`take_changes`, once tracked (None: not).
        self.changed: set[str] | None = None

    def copy(self, ids: IdGenerator, registry: Registry) -> World:
        """An independent world in this one's state over ``ids`` and ``registry`` (copies too).

        It fires through the same machine when this one does (a machine holds no per-model state),
        is tracked when this one is (with the changes not yet taken), and has no observers.
        """
        twin = World(
            self.lifecycle,
            ids,
            registry,
            now_ms=self.clock.now_ms,
            cleanup_interval_ms=self.clock.cleanup_interval_ms,
            partitions=self.partitions,
            max_protocol=self.max_protocol,
        )
        invocations = twin.invocations
        for inv_id, inv in self.invocations.items():
            invocations[inv_id] = inv.copy()
        twin.clock = self.clock.copy(invocations.get)
        twin.lock_holders = dict(self.lock_holders)
        twin.inboxes = {key: deque(queue) for key, queue in self.inboxes.items()}
        twin.unavailable_partitions = set(self.unavailable_partitions)
        twin.idempotency = dict(self.idempotency)
        twin.restarted_as = {inv_id: list(ids_) for inv_id, ids_ in self.restarted_as.items()}
        if self._machine is not None:
            twin.use_machine(self._machine)
        if self.changed is not None:
            twin.track_changes()
            assert twin.changed is not None
            twin.changed.update(self.changed)
        return twin

    # --- firing -------------------------------------------------------------------------------

    @property
    def machine(self) -> Machine | None:
        """This world's `transitions` Machine, or None while the fast path runs."""
        return self._machine

    def use_machine(self, machine: Machine | None = None) -> Machine:
        """Fire every trigger through a Machine from now on: ``machine``, or one built for this world."""
        if self._machine is None:
            self._machine = self.lifecycle.new_machine() if machine is None else machine
            self.step = self._step_machine
            self.move = self._move_machine
            if self.changed is not None:
                self._track(self.changed)
        return self._machine

    # --- what changed (for a store) -------------------------------------------------------------

    def track_changes(self) -> None:
        """From now on, note every invocation an operation changes, creates or removes.

        Every change to an invocation comes with a step or a move of it (handler steps, admin
        operations, the clock, the inbox passing a key on), or is one of its timers running out,
        or a loaded world: those are where the ids are noted. Untracked worlds pay nothing.
        """
        if self.changed is None:
            self.changed = set()
            self._track(self.changed)

    def _track(self, changed: set[str]) -> None:
        step, move = self.step, self.move

        def tracked_step(inv: Invocation, trigger: str, facts: Mapping[str, Any] | None = None, /) -> str:
            changed.add(inv.id)
            return step(inv, trigger, facts)

        def tracked_move(inv: Invocation, trigger: str, dest: str, facts: Mapping[str, Any] = NO_FACTS, /) -> None:
            changed.add(inv.id)
            move(inv, trigger, dest, facts)

        self.step, self.move = tracked_step, tracked_move

    def take_changes(self) -> set[str]:
        """The ids noted since the last call (a superset: a refused step may note its target)."""
        if self.changed is None:
            raise RuntimeError("call track_changes() first")
        if not self.changed:
            return set()
        taken = set(self.changed)
        self.changed.clear()
        return taken

    def note_change(self, inv: Invocation) -> None:
        """A change that is no step or move (a retry or sleep timer's end)."""
        if self.changed is not None:
            self.changed.add(inv.id)

    def record_transition(self, event: Any) -> None:
        """A callback for ``after_state_change`` of this world's machine: one TransitionEvent per trigger.

        Only while this world fires (a machine shared by several engines calls every engine's
        recorder), and only while someone watches.
        """
        if self.in_callbacks and self.observers:
            moved = event.transition
            dest = moved.source if moved.dest is None else moved.dest
            self.observers.pending.append(
                TransitionEvent(event.model.id, event.event.name, moved.source, dest, self.clock.now_ms)
            )

    @staticmethod
    def _move_fast(inv: Invocation, trigger: str, dest: str, facts: Mapping[str, Any] = NO_FACTS) -> None:
        inv.state = dest

    def _step_machine(self, inv: Invocation, trigger: str, facts: Mapping[str, Any] | None = None) -> str:
        facts = NO_FACTS if facts is None else facts
        dest = self.resolve(inv, trigger, facts)
        self._move_machine(inv, trigger, dest, facts)
        return dest

    def _move_machine(self, inv: Invocation, trigger: str, dest: str, facts: Mapping[str, Any] = NO_FACTS) -> None:
        assert self._machine is not None
        source = inv.state
        self.in_callbacks = True
        try:
            moved = self._machine.events[trigger].trigger(inv, **facts)
        except Exception as exc:  # a callback raised: finish the move, report it when the operation ends
            inv.state = dest
            self.callback_errors.append((exc, trigger, inv.id, source, dest))
            return
        finally:
            self.in_callbacks = False
        if not moved or inv.state != dest:
            inv.state = dest
            problem = LifecycleChanged(
                f"'{trigger}' of the invocation '{inv.id}' did not lead from '{source}' to '{dest}' as the "
                f"definition does (the machine {'refused it' if not moved else f'led to {inv.state!r}'}): "
                "engine.machine takes callbacks, not conditions or transitions. To change the lifecycle, "
                "build the engine with Engine(lifecycle=fsm.lifecycle.Lifecycle(rules))."
            )
            self.callback_errors.append((problem, trigger, inv.id, source, dest))

    def raise_callback_errors(self) -> None:
        """Raise the first exception a callback raised during this operation (the others as notes)."""
        if not self.callback_errors:
            return
        errors, self.callback_errors = self.callback_errors, []
        first, trigger, inv_id, source, dest = errors[0]
        first.add_note(
            f"Raised by a callback of '{trigger}' on the invocation '{inv_id}' ({source} -> {dest}). The engine "
            "finished that step and everything it set off, so the world is consistent; the callbacks of that "
            "trigger after the raising one did not run."
        )
        for other, trigger, inv_id, source, dest in errors[1:]:
            first.add_note(f"Also raised, by a callback of '{trigger}' on '{inv_id}' ({source} -> {dest}): {other!r}")
        raise first

    # --- reading ------------------------------------------------------------------------------

    def get_invocation(self, invocation_id: Any) -> Invocation | None:
        return self.invocations.get(invocation_id) if isinstance(invocation_id, str) else None

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

    def parse_id(self, invocation_id: Any) -> int:
        """The partition key of a well-formed invocation id, or Restate's 400 for a malformed one."""
        if not isinstance(invocation_id, str):
            raise wrong_type("invocation_id", f"must be a string, got {type(invocation_id).__name__}")
        try:
            return parse_invocation_id(invocation_id).partition_key
        except IdError as exc:
            raise InvalidArgument(
                400, "INVALID_INVOCATION_ID", f"The request field 'invocation_id' is invalid. Reason: {exc.reason}"
            ) from None

    def lookup(self, invocation_id: Any) -> Invocation:
        """The invocation, or the error Restate gives: 400 malformed id, 503 routing, 404 absent."""
        inv = self.invocations.get(invocation_id) if isinstance(invocation_id, str) else None
        if inv is not None and not self.unavailable_partitions:
            return inv  # the fast path: a stored id is well-formed
        reason = self.routing_error(self.parse_id(invocation_id))
        if reason is not None:
            raise Unavailable(
                503, "PARTITION_UNAVAILABLE", f"Error when routing the request internally. Reason: {reason}"
            )
        if inv is None:
            raise NotFound(404, "INVOCATION_NOT_FOUND", f"The requested invocation '{invocation_id}' does not exist")
        return inv

    def key_locked(self, inv: Invocation) -> bool:
        """Whether an exclusive handler's key is held (by another invocation)."""
        return (
            inv.key is not None
            and self.registry.is_exclusive(inv.service, inv.handler)
            and (inv.service, inv.key) in self.lock_holders
        )

    # --- effects shared by several steps --------------------------------------------------------

    def new_invocation(self, service: str, handler: str, key: str | None, partition_key: int | None) -> Invocation:
        """A new record (state ``free``) with a fresh id and the service's retention."""
        found = self.registry.services[service]
        now_ms = self.clock.now_ms
        inv_id = self.ids.invocation_id(now_ms, partition_key)
        while inv_id in self.invocations:  # astronomically unlikely; keeps ids unique anyway
            inv_id = self.ids.invocation_id(now_ms, partition_key)
        inv = Invocation(
            inv_id,
            service,
            handler,
            key,
            FREE,
            found.effective_journal_retention_s,
            found.effective_completion_retention_s,
        )
        inv.created_ms = now_ms
        return inv

    def enter(self, inv: Invocation, trigger: str, delayed: bool = False) -> str:
        """Fire ``invoke`` or ``restarted`` for a new record, then store it and schedule or start it."""
        key_locked = inv.key is not None and self.key_locked(inv)
        if delayed or key_locked:
            state = self.step(inv, trigger, {"delayed": delayed, "key_locked": key_locked})
        else:
            state = self.step(inv, trigger)
        self.invocations[inv.id] = inv
        if state == SCHEDULED:
            assert inv.due_ms is not None
            self.clock.schedule_start(inv.id, inv.due_ms)
        else:
            self.started_or_queued(inv)
        return state

    def started_or_queued(self, inv: Invocation) -> None:
        """An inboxed invocation joins its key's inbox; a started exclusive one takes its key."""
        if inv.state == INBOXED:
            assert inv.key is not None
            self.inboxes.setdefault((inv.service, inv.key), deque()).append(inv.id)
        elif inv.key is not None and self.registry.is_exclusive(inv.service, inv.handler):
            self.lock_holders[(inv.service, inv.key)] = inv.id

    def pin(self, inv: Invocation) -> None:
        """The first attempt pins the latest deployment and the highest protocol both speak.

        Called once a step is known to succeed, so a refused step leaves the invocation as it was.
        """
        if inv.pinned_deployment is not None:
            return
        deployment = self.registry.latest_deployment(inv.service)
        if deployment is None:
            return
        protocol = min(deployment.protocol_max, self.max_protocol)
        if protocol >= deployment.protocol_min:
            inv.pinned_deployment = deployment.id
            inv.pinned_protocol = protocol

    def stage_completion(self, inv: Invocation, completion: str, failure: str | None = None) -> None:
        """The invocation's own side of ending: written before the move to ``completed``.

        ``failure`` says why a failed one failed (killed, canceled, its last attempt's error).
        """
        inv.completion = completion
        inv.completion_failure = failure
        inv.completed_ms = self.clock.now_ms
        inv.awaiting = None
        inv.next_attempt_ms = None

    def completed(self, inv: Invocation) -> None:
        """What ending sets off, after the move: the key passes on, retention starts."""
        if inv.key is not None:
            self.release(inv)
        if inv.completion_retention_s == 0:
            self.step(inv, "expire")
            self.forget(inv)
            return
        if inv.journal_retention_s == 0:
            inv.journal = None
        self.clock.schedule_retention(inv, self.clock.now_ms)

    def release(self, inv: Invocation) -> None:
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
                self.step(nxt, "dequeue")
                self.lock_holders[lock] = nxt.id
                break
        if inbox is not None and not inbox:
            del self.inboxes[lock]

    def forget(self, inv: Invocation) -> None:
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
        if inv.restarted_from is not None:
            children = self.restarted_as.get(inv.restarted_from)
            if children is not None and inv.id in children:
                children.remove(inv.id)
                if not children:
                    del self.restarted_as[inv.restarted_from]

    def expire(self, kind: str, invocation_id: str) -> None:
        """The cleaner's work for one invocation: forget it, or drop its journal (if it is still due)."""
        inv = self.invocations.get(invocation_id)
        if inv is None or inv.state != COMPLETED:
            return  # gone meanwhile (purged, or forgotten by its other expiry)
        if kind == EXPIRE:
            self.step(inv, "expire")
            self.forget(inv)
        elif inv.journal is not None:
            inv.journal = None
            self.step(inv, "expire_journal")

    # --- a loaded world -----------------------------------------------------------------------------

    def restore(
        self,
        invocations: Sequence[Invocation],
        sleeps: Mapping[str, Sequence[tuple[int, int]]],
        inbox_order: Sequence[str] | None = None,
    ) -> None:
        """Adopt loaded invocations in order: locks and inboxes rebuilt, timers and retention scheduled.

        Each inbox queues its invocations in the order ``inbox_order`` lists them (every inboxed
        invocation once), or in the order of ``invocations`` when it is None. Everything is checked
        before anything is stored; a refusal names ``invocations[i]`` or ``inbox_order``.
        """
        if not isinstance(invocations, (list, tuple)):
            raise wrong_type("invocations", "must be a list of fsm.model.Invocation records")
        for i, inv in enumerate(invocations):
            if not isinstance(inv, Invocation):
                raise wrong_type(f"invocations[{i}]", f"must be an fsm.model.Invocation, got {type(inv).__name__}")
            if inv.state not in LIVE_STATES:
                raise SnapshotError(f"invocations[{i}].status", f"must be one of {', '.join(LIVE_STATES)}")
            if inv.service not in self.registry.services:
                raise SnapshotError(f"invocations[{i}].target.service", f"{inv.service!r} is not a registered service")
        if not isinstance(sleeps, Mapping) or not all(
            isinstance(timers, (list, tuple))
            and all(
                isinstance(t, tuple) and len(t) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in t)
                for t in timers
            )
            for timers in sleeps.values()
        ):
            raise wrong_type("sleeps", "must map invocation ids to lists of (due_ms, completion id) pairs")
        holders: dict[tuple[str, str], str] = dict(self.lock_holders)
        inboxed: list[tuple[tuple[str, str], str]] = []
        seen: set[str] = set()
        for i, inv in enumerate(invocations):
            if inv.id in self.invocations or inv.id in seen:
                raise SnapshotError(f"invocations[{i}].id", f"the invocation '{inv.id}' is listed twice")
            seen.add(inv.id)
            exclusive = inv.key is not None and self.registry.is_exclusive(inv.service, inv.handler)
            if inv.state in HOLDS_LOCK and exclusive:
                assert inv.key is not None
                lock = (inv.service, inv.key)
                if lock in holders:
                    raise SnapshotError(
                        f"invocations[{i}]",
                        f"two invocations hold the key {inv.key!r} of {inv.service}: {holders[lock]} and {inv.id}",
                    )
                holders[lock] = inv.id
        for i, inv in enumerate(invocations):
            if inv.state != INBOXED:
                continue
            if inv.key is None or not self.registry.is_exclusive(inv.service, inv.handler):
                raise SnapshotError(
                    f"invocations[{i}].status",
                    f"only an invocation of a virtual object can be inboxed; {inv.service} is a "
                    f"{self.registry.service_type(inv.service)}",
                )
            lock = (inv.service, inv.key)
            if lock not in holders:
                raise SnapshotError(
                    f"invocations[{i}]",
                    f"the inboxed invocation {inv.id} waits for key {inv.key!r} of {inv.service}, which nobody holds",
                )
            inboxed.append((lock, inv.id))
        if inbox_order is not None:
            inboxed = _in_order(inboxed, inbox_order)
        for inv in invocations:
            self.invocations[inv.id] = inv
            if inv.idempotency_key is not None:
                self.idempotency[(inv.service, inv.handler, inv.key, inv.idempotency_key)] = inv.id
            if inv.state == SCHEDULED and inv.due_ms is not None:
                self.clock.schedule_start(inv.id, inv.due_ms)
            if inv.next_attempt_ms is not None:
                self.clock.schedule_retry(inv.id, inv.next_attempt_ms)
            if inv.restarted_from is not None:
                self.restarted_as.setdefault(inv.restarted_from, []).append(inv.id)
            if inv.state == COMPLETED:
                self.clock.schedule_retention(inv, self.clock.now_ms if inv.completed_ms is None else inv.completed_ms)
            for due_ms, completion_id in sleeps.get(inv.id, ()):
                self.clock.schedule_sleep(inv.id, due_ms, completion_id)
        self.lock_holders.update(holders)
        for lock, inv_id in inboxed:
            self.inboxes.setdefault(lock, deque()).append(inv_id)
        if self.changed is not None:
            self.changed.update(inv.id for inv in invocations)


def _in_order(inboxed: list[tuple[tuple[str, str], str]], order: Sequence[str]) -> list[tuple[tuple[str, str], str]]:
    """``inboxed`` sorted as ``order`` lists the ids, which must be exactly theirs, each once."""
    if not isinstance(order, (list, tuple)) or not all(isinstance(i, str) for i in order):
        raise wrong_type("inbox_order", "must be a list of invocation ids")
    lock_of = dict((inv_id, lock) for lock, inv_id in inboxed)
    if len(set(order)) != len(order) or set(order) != set(lock_of):
        missing, extra = sorted(set(lock_of) - set(order)), sorted(set(order) - set(lock_of))
        problem = f"lists {', '.join(extra)}, which is not inboxed" if extra else f"leaves out {', '.join(missing)}"
        if not extra and not missing:
            problem = "lists an invocation twice"
        raise SnapshotError("inbox_order", f"must list every inboxed invocation once; it {problem}")
    return [(lock_of[inv_id], inv_id) for inv_id in order]
