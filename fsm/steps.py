"""Handler steps: what a deployment does while it runs an invocation, and what time does to it.

A call enters (``invoke``), the handler journals commands (``append_command``), receives their
completions (``complete_command``, which wakes a suspended invocation awaiting it: ``wake``),
suspends (``suspend``; a Sleep is a command and a suspension), fails attempts (``fail_attempt``)
and completes (``complete``). The clock adds two: a delayed call falls due (``due``) and a Sleep
ends (its completion arrives). Each step validates everything first, then writes the invocation's
own data, fires its trigger (:mod:`fsm.world`) and writes what the step sets off.
"""

from __future__ import annotations

from typing import Any

from .errors import FailedPrecondition, IllegalTransition, NotFound, invalid_argument
from .ids import key_partition_key
from .journal import (
    COMPLETIONS_AWAITED,
    NOTIFICATION_TYPE,
    SHARED_ENTRIES,
    EntryFields,
    awaited_by,
    check_command_type,
    completed_ids,
)
from .journal import shared_entry as _shared
from .lifecycle import COMPLETED, PAUSED, RUNNING, SCHEDULED, SUSPENDED
from .model import (
    CANCELED_FAILURE,
    COMMAND,
    DEFAULT_FAILURE,
    FAILURE,
    MAX_JOURNAL_ENTRIES,
    MAX_TIME_MS,
    NOTIFICATION,
    SERVICE,
    SUCCESS,
    TERMINAL_FAILURE,
    Entry,
    Invocation,
    check_bool,
    check_duration,
    check_int,
    check_length,
    check_name,
    check_text,
)
from .retry import DEFAULT_RETRY_POLICY as DEFAULT_POLICY
from .retry import OnMaxAttempts
from .world import World

#: Restate's default retry policy pauses after this many attempts.
DEFAULT_MAX_ATTEMPTS = DEFAULT_POLICY.max_attempts


class Steps:
    """The handler steps and the clock's steps over one world."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._table = world.lifecycle.table
        self._allowed = world.lifecycle.allowed

    def _running(self, invocation_id: Any, trigger: str) -> Invocation:
        """The invocation, if ``trigger`` is defined from its state (else :class:`IllegalTransition`)."""
        world = self._world
        # lookup()'s fast path inlined: every handler step starts here.
        inv = world.invocations.get(invocation_id) if isinstance(invocation_id, str) else None
        if inv is None or world.unavailable_partitions:
            inv = world.lookup(invocation_id)
        if (inv.state, trigger) not in self._table:
            raise IllegalTransition(inv.id, trigger, inv.state, self._allowed.get(trigger, ()))
        if inv.next_attempt_ms is not None and trigger != "complete_command":  # completions still arrive
            raise FailedPrecondition(
                409,
                "BACKING_OFF",
                f"The invocation '{inv.id}' is backing off after {inv.retry_count} failed attempt(s): its next "
                f"attempt starts at {inv.next_attempt_ms} ms, {inv.next_attempt_ms - world.clock.now_ms} ms from "
                "now. Advance the clock to it first.",
            )
        return inv

    # --- a call enters --------------------------------------------------------------------------

    def call(
        self,
        service: Any,
        handler: Any,
        key: Any = None,
        *,
        delay_ms: Any = 0,
        idempotency_key: Any = None,
    ) -> str:
        """A new invocation: scheduled if delayed, inboxed if its key is held, else running.

        A repeated idempotency key for the same target returns the existing invocation.
        """
        world = self._world
        check_name("handler", handler)
        if not isinstance(service, str):
            check_name("service", service)  # a WrongType naming it
        found = world.registry.services.get(service)
        if found is None:
            raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{service}' does not exist")
        if found.type == SERVICE:
            if key is not None:
                raise invalid_argument("key", f"the service '{service}' is not keyed; pass no key")
        elif not isinstance(key, str):
            raise invalid_argument("key", f"the {found.type} '{service}' needs a string key")
        else:
            check_length("key", key)
        check_duration("delay_ms", delay_ms, self._world.clock.now_ms)
        if idempotency_key is not None:
            check_name("idempotency_key", idempotency_key)
            existing = world.idempotency.get((service, handler, key, idempotency_key))
            if existing is not None and existing in world.invocations:
                return existing
        inv = world.new_invocation(service, handler, key, key_partition_key(key) if key is not None else None)
        inv.idempotency_key = idempotency_key
        if delay_ms > 0:
            inv.due_ms = world.clock.now_ms + delay_ms
        world.enter(inv, "invoke", delayed=delay_ms > 0)
        if idempotency_key is not None:
            world.idempotency[(service, handler, key, idempotency_key)] = inv.id
        return inv.id

    def start_due(self, invocation_id: str) -> None:
        """The clock: a delayed call's time came; it starts, or queues for its key."""
        world = self._world
        inv = world.invocations.get(invocation_id)
        if inv is None or inv.state != SCHEDULED:
            return  # cancelled or killed meanwhile
        inv.due_ms = None
        world.step(inv, "due", {"key_locked": True} if world.key_locked(inv) else None)
        world.started_or_queued(inv)

    # --- the journal ----------------------------------------------------------------------------

    def append_command(self, invocation_id: Any, type: Any, name: Any = None) -> Entry:
        """Journal a command; it awaits as many new completion ids as its type does (section 4)."""
        check_command_type("type", check_name("type", type))
        if name is not None:
            check_text("name", name)
        inv = self._running(invocation_id, "append_command")
        _check_room(inv, "append_command")
        return self._append(inv, type, name)

    def _append(self, inv: Invocation, type: str, name: str | None) -> Entry:
        if inv.pinned_deployment is None:
            self._world.pin(inv)
        journal = inv.journal
        assert journal is not None
        count = COMPLETIONS_AWAITED.get(type, 0)
        first = inv.next_completion_id
        inv.next_completion_id = first + count
        awaited = (first,) if count == 1 else tuple(range(first, first + count))
        fields: EntryFields = (len(journal), COMMAND, type, name, awaited, None)
        entry = SHARED_ENTRIES.get(fields) or _shared(fields)
        journal.append(entry)
        inv.last_failure = None  # progress: Restate forgets the last failure once a new command is stored
        self._world.step(inv, "append_command")
        return entry

    def complete_command(self, invocation_id: Any, completion_id: Any) -> Entry:
        """Deliver the completion ``completion_id``; wakes a suspended invocation awaiting it."""
        check_int("completion_id", completion_id, 1)
        inv = self._running(invocation_id, "complete_command")
        journal = inv.journal
        assert journal is not None
        command, delivered = awaited_by(journal, completion_id)
        _check_deliverable(inv, completion_id, command, delivered)
        assert command is not None
        _check_room(inv, "complete_command")
        if inv.pinned_deployment is None:
            self._world.pin(inv)
        return self._deliver(inv, completion_id, command)

    def sleep_ended(self, invocation_id: str, completion_id: int) -> None:
        """The clock: a Sleep's time is up, its completion arrives (unless it already did)."""
        inv = self._world.invocations.get(invocation_id)
        if inv is not None:
            self._world.note_change(inv)  # its timer is gone, whatever happens next
        if inv is None or inv.journal is None or inv.state not in (RUNNING, SUSPENDED, PAUSED):
            return  # gone, or ended meanwhile
        command, delivered = awaited_by(inv.journal, completion_id)
        if not delivered:
            _check_deliverable(inv, completion_id, command, delivered)
            assert command is not None
            self._deliver(inv, completion_id, command)

    def _deliver(self, inv: Invocation, completion_id: int, command: Entry) -> Entry:
        """Journal the notification of ``completion_id``; wake the invocation if it awaited it."""
        journal = inv.journal
        assert journal is not None
        note_type = command.type
        kinds = NOTIFICATION_TYPE.get(note_type)
        if kinds is not None:
            position = command.completion_ids.index(completion_id)
            if position < len(kinds):
                note_type = kinds[position]
        fields: EntryFields = (len(journal), NOTIFICATION, note_type, None, (), completion_id)
        entry = SHARED_ENTRIES.get(fields) or _shared(fields)
        journal.append(entry)
        world = self._world
        world.step(inv, "complete_command")
        if inv.state == SUSPENDED and (inv.awaiting is None or inv.awaiting == completion_id):
            inv.awaiting = None
            world.step(inv, "wake")
        return entry

    # --- suspending -----------------------------------------------------------------------------

    def suspend(self, invocation_id: Any, awaiting: Any = None) -> None:
        """Suspend while a completion is missing (the newest pending one unless ``awaiting`` says)."""
        if awaiting is not None:
            check_int("awaiting", awaiting, 1)
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
            command, delivered = awaited_by(journal, awaiting)
            if command is None or delivered:
                raise FailedPrecondition(
                    409, "NOTHING_TO_AWAIT", f"Completion {awaiting} of the invocation '{inv.id}' is not pending."
                )
        self._suspend(inv, awaiting)

    def _suspend(self, inv: Invocation, awaiting: int) -> None:
        if inv.pinned_deployment is None:
            self._world.pin(inv)
        inv.awaiting = awaiting
        self._world.step(inv, "suspend")

    def sleep(self, invocation_id: Any, duration_ms: Any) -> Entry:
        """Journal a Sleep, suspend on it, and complete it when the clock reaches its end."""
        check_duration("duration_ms", duration_ms, self._world.clock.now_ms)
        inv = self._running(invocation_id, "append_command")  # running: so it can append, then suspend
        _check_room(inv, "sleep")
        entry = self._append(inv, "Sleep", None)
        completion_id = entry.completion_ids[0]
        clock = self._world.clock
        clock.schedule_sleep(inv.id, clock.now_ms + duration_ms, completion_id)
        self._suspend(inv, completion_id)
        return entry

    # --- ending ---------------------------------------------------------------------------------

    def fail_attempt(
        self, invocation_id: Any, max_attempts: Any = None, on_max_attempts: Any = None, *, failure: Any = None
    ) -> str:
        """A failed attempt: back off by the service's retry policy, or when attempts run out pause or
        kill (its ``on_max_attempts``). ``max_attempts``/``on_max_attempts`` override the policy for
        this call; ``failure`` is the attempt's error (the invocation's ``last_failure``)."""
        if failure is not None:
            check_text("failure", failure)
        world = self._world
        inv = self._running(invocation_id, "fail_attempt")
        service = world.registry.services.get(inv.service)
        base = service.retry_policy if service is not None and service.retry_policy is not None else DEFAULT_POLICY
        policy = base.with_overrides(max_attempts, on_max_attempts)
        facts = {
            "retries_exhausted": policy.exhausted(inv.retry_count + 1),
            "pause_on_max_attempts": policy.on_max_attempts == OnMaxAttempts.PAUSE,
        }
        dest = world.resolve(inv, "fail_attempt", facts)
        world.pin(inv)
        inv.retry_count += 1
        inv.last_failure = DEFAULT_FAILURE if failure is None else failure
        if dest == COMPLETED:
            world.stage_completion(inv, FAILURE, inv.last_failure)
        elif dest == RUNNING:  # backing off: the next attempt starts when the policy says
            clock = world.clock
            inv.next_attempt_ms = min(clock.now_ms + policy.delay_ms(inv.retry_count), MAX_TIME_MS)
            clock.schedule_retry(inv.id, inv.next_attempt_ms)
        world.move(inv, "fail_attempt", dest, facts)
        if dest == COMPLETED:
            world.completed(inv)
        return dest

    def retry_due(self, invocation_id: str) -> None:
        """The clock: a backing-off invocation's next attempt starts (unless it moved on meanwhile)."""
        inv = self._world.invocations.get(invocation_id)
        if inv is not None and inv.next_attempt_ms == self._world.clock.now_ms:
            inv.next_attempt_ms = None
            self._world.note_change(inv)

    def complete(self, invocation_id: Any, success: Any = True, *, failure: Any = None) -> None:
        """The handler returned (or failed terminally): journal the Output and complete.

        A failure's reason is ``failure``, else ``[409] canceled`` when a cancel signal was journaled
        (the handler gave up on it), else ``[500] terminal error``.
        """
        check_bool("success", success)
        if failure is not None:
            check_text("failure", failure)
        world = self._world
        inv = self._running(invocation_id, "complete")
        _check_room(inv, "complete")
        if inv.pinned_deployment is None:
            world.pin(inv)
        journal = inv.journal
        assert journal is not None
        fields: EntryFields = (len(journal), COMMAND, "Output", None, (), None)
        journal.append(SHARED_ENTRIES.get(fields) or _shared(fields))
        if success:
            world.stage_completion(inv, SUCCESS)
        else:
            if failure is None:
                canceled = any(e.type == "Signal" and e.name == "cancel" for e in journal)
                failure = CANCELED_FAILURE if canceled else TERMINAL_FAILURE
            world.stage_completion(inv, FAILURE, failure)
        world.step(inv, "complete")
        world.completed(inv)


def _check_room(inv: Invocation, step: str) -> None:
    """409 when a handler step would grow the journal past :data:`MAX_JOURNAL_ENTRIES`."""
    if inv.journal is not None and len(inv.journal) >= MAX_JOURNAL_ENTRIES:
        raise FailedPrecondition(
            409,
            "JOURNAL_FULL",
            f"The journal of the invocation '{inv.id}' holds {len(inv.journal)} entries, the most a step may "
            f"grow it to ({MAX_JOURNAL_ENTRIES}); {step} would add one more.",
        )


def _check_deliverable(inv: Invocation, completion_id: int, command: Entry | None, delivered: bool) -> None:
    """409 unless a command awaits ``completion_id`` and no notification delivered it yet."""
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
