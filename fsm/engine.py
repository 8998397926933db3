"""The engine: one object holding a whole Restate-like world, driven on a virtual clock.

Its public face composes the rooms; each does one job:

- :mod:`fsm.registry`  services and deployments;
- :mod:`fsm.clock`     virtual time: due calls, sleep timers, retention, the hourly cleaner;
- :mod:`fsm.world`     invocations, key locks and inboxes, and where a trigger fires;
- :mod:`fsm.steps`     what a deployment does while it runs a handler;
- :mod:`fsm.admin`     the admin operations, restart-as-new among them;
- :mod:`fsm.invariants` what must always hold.

Every state change is a trigger of the one lifecycle (:mod:`fsm.lifecycle`). ``engine.machine`` is
this engine's own `transitions` Machine: register callbacks on it and they fire for this engine's
invocations, in `transitions`' order::

    engine.machine.on_enter_suspended(lambda event: print(event.model.id, "suspended"))

Until ``machine`` is first read, triggers take the compiled fast path (the same definition,
without `transitions`' per-trigger cost); from then on they fire through the Machine.

Nothing reads the wall clock: time moves only through :meth:`Engine.advance`. The engine is not
thread-safe; a server guards it with its own lock.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from transitions import Machine

from .admin import Admin, RestartResult
from .clock import RETRY, SLEEP, START
from .errors import LifecycleError, invalid_argument, wrong_type
from .ids import IdGenerator
from .invariants import check_invariants
from .lifecycle import LIFECYCLE, Lifecycle
from .model import (
    DEFAULT_JOURNAL_RETENTION_S,
    DEFAULT_MAX_PROTOCOL,
    SERVICE,
    Deployment,
    Entry,
    Invocation,
    Service,
    check_bool,
    check_duration,
    check_int,
    check_time,
)
from .observers import AnswerEvent, Observer
from .registry import Registry
from .restart import Decision
from .retry import OnMaxAttempts, RetryPolicy
from .steps import DEFAULT_MAX_ATTEMPTS, Steps
from .world import World

#: Where the virtual clock starts unless told otherwise (2026-11-27T00:00:00Z), in ms.
DEFAULT_EPOCH_MS = 1_795_737_600_000
#: Restate's default number of partitions.
DEFAULT_PARTITIONS = 24
#: Restate's `worker.cleanup-interval`: expired invocations are removed only when it runs.
DEFAULT_CLEANUP_INTERVAL_MS = 3_600_000

#: The admin operations whose answers observers receive (AnswerEvent).
_ANSWERED = frozenset({"cancel", "kill", "purge", "purge_journal", "pause", "resume", "restart_as_new"})

#: The operations that fire triggers; with a machine in use, each raises its callbacks' errors at its end.
_FIRING = (
    "call", "advance", "advance_to", "append_command", "complete_command", "suspend", "sleep", "fail_attempt",
    "complete", "cancel", "kill", "purge", "purge_journal", "pause", "resume", "restart_as_new",
)  # fmt: skip


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
        lifecycle: Lifecycle | None = None,
        machine: Machine | None = None,
        partition_keys: Sequence[int] | None = None,
    ) -> None:
        """``lifecycle`` is the definition to run (default: behaviour.md's). ``machine`` is a Machine from
        ``lifecycle.new_machine()`` to fire through from the start, shared with other engines that are
        given it (their callbacks too): for many short-lived engines observed alike, one Machine
        instead of one each. Without it, an engine builds its own on first access to ``machine``.
        ``partition_keys`` ``(low, high)`` confines the partition keys of new unkeyed invocations to
        ``[low, high)``: the engine is one shard of a bigger world (the simulator's shards).
        """
        check_time("now_ms", now_ms)
        check_int("partitions", partitions, 1)
        check_int("max_protocol", max_protocol, 1)
        check_int("cleanup_interval_ms", cleanup_interval_ms, 1)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
            raise wrong_type("seed", f"must be an integer, a string or None, got {type(seed).__name__}")
        if lifecycle is not None and not isinstance(lifecycle, Lifecycle):
            raise wrong_type("lifecycle", f"must be an fsm.lifecycle.Lifecycle, got {type(lifecycle).__name__}")
        self.lifecycle = LIFECYCLE if lifecycle is None else lifecycle
        if machine is not None and not self.lifecycle.built(machine):
            raise invalid_argument("machine", "must come from lifecycle.new_machine() of this engine's lifecycle")
        keys: tuple[int, int] | None = None
        if partition_keys is not None:
            if (
                isinstance(partition_keys, (str, bytes))
                or len(partition_keys) != 2
                or not all(isinstance(k, int) and not isinstance(k, bool) for k in partition_keys)
                or not 0 <= partition_keys[0] < partition_keys[1] <= 1 << 64
            ):
                raise invalid_argument(
                    "partition_keys", f"must be (low, high) with 0 <= low < high <= 2**64, got {partition_keys!r}"
                )
            keys = (partition_keys[0], partition_keys[1])
        self.ids = IdGenerator(seed, keys)
        self.partitions = partitions
        self.max_protocol = max_protocol
        self.cleanup_interval_ms = cleanup_interval_ms
        self._registry = Registry()
        self._world = World(
            self.lifecycle,
            self.ids,
            self._registry,
            now_ms=now_ms,
            cleanup_interval_ms=cleanup_interval_ms,
            partitions=partitions,
            max_protocol=max_protocol,
        )
        self._clock = self._world.clock
        self._steps = Steps(self._world)
        self._admin = Admin(self._world)
        if machine is not None:
            self._use_machine(machine)

    def fork(self) -> Engine:
        """An independent engine in exactly this one's state, to try something on without touching this one.

        The same invocations, journals, locks, inboxes, timers, registry, partitions and id generator
        position: both answer every later call alike (new ids included). The fork fires through the
        same machine when this engine does (callbacks on it see both), is tracked when this one is,
        and has no observers. ~30 us for a handful of invocations; cheaper than replaying the calls.
        """
        twin = Engine.__new__(type(self))
        twin.lifecycle = self.lifecycle
        twin.ids = self.ids.copy()
        twin.partitions = self.partitions
        twin.max_protocol = self.max_protocol
        twin.cleanup_interval_ms = self.cleanup_interval_ms
        twin._registry = self._registry.copy()
        twin._world = self._world.copy(twin.ids, twin._registry)
        twin._clock = twin._world.clock
        twin._steps = Steps(twin._world)
        twin._admin = Admin(twin._world)
        return twin

    # --- the machine ------------------------------------------------------------------------

    @property
    def machine(self) -> Machine:
        """This engine's `transitions` Machine (built on first access); callbacks on it fire.

        From the first access on, every trigger of this engine fires through it (``model=None``,
        ``send_event=True``: callbacks receive ``EventData``, whose ``model`` is the invocation).
        """
        machine = self._world.machine
        return machine if machine is not None else self._use_machine(None)

    def _use_machine(self, machine: Machine | None) -> Machine:
        built = self._world.use_machine(machine)
        self.__class__ = _MachineEngine  # the same engine; its firing operations now settle callbacks
        return built

    # --- watching ---------------------------------------------------------------------------

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer`` with every :class:`~fsm.observers.TransitionEvent` and
        :class:`~fsm.observers.AnswerEvent` from now on, in order, after each operation; returns a
        function that unsubscribes it.

        The first subscription moves this engine onto its `transitions` Machine (events are recorded
        by a callback on it); an engine nobody subscribes to keeps its compiled fast path.
        """
        self._world.observers.subscribe(observer)
        callbacks = self.machine.after_state_change
        if self._world.record_transition not in callbacks:  # recorded once, however many observe
            callbacks.append(self._world.record_transition)
        return functools.partial(self.unsubscribe, observer)

    def unsubscribe(self, observer: Observer) -> None:
        """Stop calling ``observer`` (LookupError if it was not subscribed)."""
        self._world.observers.unsubscribe(observer)

    # --- reading ----------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self._clock.now_ms

    @property
    def services(self) -> dict[str, Service]:
        return self._registry.services

    @property
    def deployments(self) -> dict[str, Deployment]:
        """Deployments in registration order."""
        return self._registry.deployments

    @property
    def invocations(self) -> dict[str, Invocation]:
        """Invocations in creation order (read them; change them through the operations)."""
        return self._world.invocations

    @property
    def lock_holders(self) -> dict[tuple[str, str], str]:
        return self._world.lock_holders

    @property
    def inboxes(self) -> dict[tuple[str, str], deque[str]]:
        return self._world.inboxes

    @property
    def unavailable_partitions(self) -> set[int]:
        return self._world.unavailable_partitions

    @property
    def idempotency(self) -> dict[tuple[str, str, str | None, str], str]:
        return self._world.idempotency

    def restarted_as(self, invocation_id: str) -> list[str]:
        """The stored invocations restarted from this one, oldest first (lineage, the other way round)."""
        if not isinstance(invocation_id, str):
            raise wrong_type("invocation_id", f"must be a string, got {type(invocation_id).__name__}")
        return list(self._world.restarted_as.get(invocation_id, ()))

    def get_invocation(self, invocation_id: Any) -> Invocation | None:
        """The invocation, or None if absent (no parsing, no routing: a plain lookup)."""
        return self._world.get_invocation(invocation_id)

    def service_type(self, service: Any) -> str | None:
        return self._registry.service_type(service)

    def get_deployment(self, ref: Any) -> Deployment | None:
        """The deployment with this id, else the one with this name (None if neither; 409 if the name
        is shared). Restate's own requests (restart, resume) still take ids only."""
        return self._registry.find_deployment(ref)

    def latest_deployment(self, service: Any) -> Deployment | None:
        """The newest registered deployment that serves ``service``."""
        return self._registry.latest_deployment(service)

    def is_exclusive(self, service: Any, handler: Any) -> bool:
        return self._registry.is_exclusive(service, handler)

    def partition_of(self, partition_key: int) -> int:
        """The partition owning a partition key (the u64 range split evenly, as Restate does)."""
        return self._world.partition_of(partition_key)

    def routing_error(self, partition_key: int) -> str | None:
        """Why a request for this partition key cannot be routed, or None when it can."""
        return self._world.routing_error(partition_key)

    def lookup(self, invocation_id: Any) -> Invocation:
        """The invocation, or the error Restate gives: 400 malformed id, 503 routing, 404 absent."""
        return self._world.lookup(invocation_id)

    def parse_id(self, invocation_id: Any) -> int:
        """The partition key of a well-formed invocation id, or Restate's 400 for a malformed one."""
        return self._world.parse_id(invocation_id)

    def pending_sleeps(self) -> dict[str, list[tuple[int, int]]]:
        """Sleep timers not yet fired: invocation id -> [(due_ms, completion id)], by due time."""
        return self._clock.pending_sleeps()

    def check_invariants(self) -> None:
        """Raise AssertionError if the world is inconsistent (used by tests and exploration)."""
        check_invariants(self._world)

    # --- what changed, for a store ------------------------------------------------------------------

    def track_changes(self) -> None:
        """Note, from now on, which invocations each operation changes, creates or removes. A store
        calls it once (having written the whole world); untracked engines pay nothing."""
        self._world.track_changes()

    def take_changes(self) -> set[str]:
        """The ids of invocations changed, created or removed since the last call: write those that
        are still in :attr:`invocations`, delete the others. A superset (a refused step may list its
        target). World-wide state (clock, registry, partitions, ids) a store compares itself."""
        return self._world.take_changes()

    def sleeps_of(self, invocation_ids: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
        """:meth:`pending_sleeps` of these invocations only."""
        return self._clock.pending_sleeps(set(invocation_ids))

    # --- the world around the invocations ---------------------------------------------------------

    def register_service(
        self,
        name: str,
        type: str = SERVICE,
        journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S,
        completion_retention_s: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Service:
        """Add a service, or update the retention and retry policy of one (its type cannot change).

        A completed call keeps its status for ``completion_retention_s`` (Restate's idempotency
        retention, 24 h when None) and its journal for the shorter of the two retentions. A failed
        attempt backs off and ends as ``retry_policy`` says (None: Restate's default, see
        :mod:`fsm.retry`).
        """
        return self._registry.register_service(name, type, journal_retention_s, completion_retention_s, retry_policy)

    def register_deployment(
        self,
        services: list[str] | tuple[str, ...],
        protocol: tuple[int, int] = (5, 7),
        deployment_id: str | None = None,
        name: str | None = None,
    ) -> str:
        """Register a deployment serving registered ``services``; it becomes their latest."""
        return self._registry.register_deployment(
            services, protocol, deployment_id, name, lambda: self.ids.deployment_id(self._clock.now_ms)
        )

    def remove_deployment(self, ref: str) -> None:
        """Forget a deployment, named by id or by name; invocations pinned to it stay pinned to it."""
        self._registry.remove_deployment(ref)

    def remove_service(self, name: str) -> None:
        """Forget a service that no deployment serves and no invocation targets."""
        invocations = self._world.invocations.values()
        self._registry.remove_service(name, lambda service: any(inv.service == service for inv in invocations))

    def set_partition_available(self, partition: int, available: bool) -> None:
        """Make a partition unreachable (requests routed to it answer 503) or reachable again."""
        check_int("partition", partition)
        if partition >= self.partitions:
            raise invalid_argument("partition", f"must be below {self.partitions}")
        check_bool("available", available)
        if available:
            self._world.unavailable_partitions.discard(partition)
        else:
            self._world.unavailable_partitions.add(partition)

    def restore(
        self,
        invocations: Sequence[Invocation],
        sleeps: Mapping[str, Sequence[tuple[int, int]]],
        inbox_order: Sequence[str] | None = None,
    ) -> None:
        """Adopt the invocations of a loaded world (:func:`fsm.load_world`), in order, with their timers;
        inboxes queue as ``inbox_order`` lists their invocations (None: in the order of ``invocations``).

        Refuses (:class:`fsm.errors.SnapshotError`, naming ``invocations[i]``) a world whose keys are
        held twice or whose inboxed invocations wait for no holder; then changes nothing.
        """
        self._world.restore(invocations, sleeps, inbox_order)

    # --- time -----------------------------------------------------------------------------------

    def advance(self, ms: int) -> None:
        """Move the virtual clock forward, firing due calls, sleep timers and cleaner runs in order."""
        check_duration("ms", ms, self._clock.now_ms)
        self.advance_to(self._clock.now_ms + ms)

    def advance_to(self, target_ms: int) -> None:
        check_time("target_ms", target_ms)
        if target_ms < self._clock.now_ms:
            raise invalid_argument("target_ms", f"the clock only moves forward (now {self._clock.now_ms})")
        clock = self._clock
        if clock.idle_until(target_ms):  # the common case in a simulation: no generator to build
            clock.now_ms = target_ms
            return
        steps, world = self._steps, self._world
        for kind, invocation_id, completion_id in clock.until(target_ms):
            if kind == SLEEP:
                steps.sleep_ended(invocation_id, completion_id)
            elif kind == START:
                steps.start_due(invocation_id)
            elif kind == RETRY:
                steps.retry_due(invocation_id)
            else:
                world.expire(kind, invocation_id)

    # --- handler steps (what a deployment does) ------------------------------------------------

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
        return self._steps.call(service, handler, key, delay_ms=delay_ms, idempotency_key=idempotency_key)

    def append_command(self, invocation_id: str, type: str, name: str | None = None) -> Entry:
        """Journal a command; it awaits as many new completion ids as its type does (section 4)."""
        return self._steps.append_command(invocation_id, type, name)

    def complete_command(self, invocation_id: str, completion_id: int) -> Entry:
        """Deliver the completion ``completion_id``; wakes a suspended invocation awaiting it."""
        return self._steps.complete_command(invocation_id, completion_id)

    def suspend(self, invocation_id: str, awaiting: int | None = None) -> None:
        """Suspend while a completion is missing (the newest pending one unless ``awaiting`` says)."""
        self._steps.suspend(invocation_id, awaiting)

    def sleep(self, invocation_id: str, duration_ms: int) -> Entry:
        """Journal a Sleep, suspend on it, and complete it when the clock reaches its end."""
        return self._steps.sleep(invocation_id, duration_ms)

    def fail_attempt(
        self,
        invocation_id: str,
        max_attempts: int | None = None,
        on_max_attempts: OnMaxAttempts | str | None = None,
        *,
        failure: str | None = None,
    ) -> str:
        """A failed attempt. Until its service's retry policy (:mod:`fsm.retry`; Restate's default
        unless registered with one) runs out of attempts the invocation backs off: it stays running,
        its handler steps answer 409 ``BACKING_OFF`` until the clock reaches ``next_attempt_ms``. Then
        it pauses or is killed, as ``on_max_attempts`` says. ``max_attempts`` and ``on_max_attempts``
        override the policy for this call; ``failure`` becomes ``last_failure``. Returns the new state.
        """
        return self._steps.fail_attempt(invocation_id, max_attempts, on_max_attempts, failure=failure)

    def complete(self, invocation_id: str, success: bool = True, *, failure: str | None = None) -> None:
        """The handler returned (or failed terminally, with ``failure`` as its reason): journal the
        Output and complete."""
        self._steps.complete(invocation_id, success, failure=failure)

    # --- admin operations (Restate's answers) ----------------------------------------------------

    def cancel(self, invocation_id: str) -> int:
        """200 and forgotten if not started; 202 and a cancel signal appended otherwise."""
        return self._admin.cancel(invocation_id)

    def kill(self, invocation_id: str) -> int:
        """200: forgotten if not started, else completed with failure 'killed'."""
        return self._admin.kill(invocation_id)

    def purge(self, invocation_id: str) -> int:
        """200 and forgotten if completed; 409 otherwise."""
        return self._admin.purge(invocation_id)

    def purge_journal(self, invocation_id: str) -> int:
        """200 and the journal dropped if completed; 409 otherwise."""
        return self._admin.purge_journal(invocation_id)

    def pause(self, invocation_id: str) -> int:
        """202 for a running invocation (it pauses); 200 if suspended or already paused."""
        return self._admin.pause(invocation_id)

    def resume(self, invocation_id: str, deployment: str | None = None) -> int:
        """Resume a suspended or paused invocation, optionally on another deployment.

        ``deployment`` is ``keep`` (the default), ``latest`` or a deployment id; changing it needs
        a pinned invocation that is suspended or paused.
        """
        return self._admin.resume(invocation_id, deployment)

    def explain_restart_as_new(
        self, invocation_id: str, from_: int | str | None = None, deployment: str | None = None
    ) -> Decision:
        """Which check decides, and what a success would create; changes nothing."""
        return self._admin.explain_restart_as_new(invocation_id, from_, deployment)

    def restart_as_new(
        self, invocation_id: str, from_: int | str | None = None, deployment: str | None = None
    ) -> RestartResult:
        """Create a new invocation from a completed one (behaviour.md sections 3-5)."""
        return self._admin.restart_as_new(invocation_id, from_, deployment)


class _MachineEngine(Engine):
    """An engine that fires through its machine: each firing operation refuses to run inside a
    callback, and raises what its callbacks raised once the step and all it set off are done."""


def _settling(name: str) -> Callable[..., Any]:
    operation = getattr(Engine, name)
    answered = name in _ANSWERED

    @functools.wraps(operation)
    def settled(self: Engine, *args: Any, **kwargs: Any) -> Any:
        world = self._world
        if world.in_callbacks:
            raise RuntimeError(
                f"engine.{name}() was called from a callback of engine.machine: callbacks observe a step "
                "while it happens, before its effects are written. Record what you need and call the "
                "engine after the operation returns."
            )
        observers = world.observers
        target = _text(args[0] if args else kwargs.get("invocation_id")) if answered else ""
        try:
            result = operation(self, *args, **kwargs)
        except LifecycleError as err:
            if answered and observers:
                observers.pending.append(
                    AnswerEvent(name, target, err.http_status, err.reason, err.message, world.clock.now_ms)
                )
            raise
        else:
            if answered and observers:
                status = result if isinstance(result, int) else 200  # restart_as_new answers 200 with its result
                observers.pending.append(AnswerEvent(name, target, status, None, None, world.clock.now_ms))
            return result
        finally:
            try:
                world.raise_callback_errors()
            finally:
                observers.deliver()

    return settled


def _text(raw: Any) -> str:
    return raw if isinstance(raw, str) else repr(raw)


for _name in _FIRING:
    setattr(_MachineEngine, _name, _settling(_name))

__all__ = ["DEFAULT_EPOCH_MS", "DEFAULT_MAX_ATTEMPTS", "Engine", "LifecycleError", "RestartResult"]
