"""The reference model's handler steps and clock, over :class:`tests.reference.model.World`.

Handler steps are the engine API's (behaviour.md section 1 names their transitions, not their
refusals); the clock is section 1's timers and hourly cleaner.
"""

from __future__ import annotations

import difflib

from .model import World
from .records import (
    AWAITS,
    COMMAND,
    COMMAND_TYPES,
    COMPLETED,
    NOTIFICATION,
    NOTIFICATION_TYPES,
    PAUSED,
    RUNNING,
    SCHEDULED,
    STATES,
    SUSPENDED,
    Entry,
    Invocation,
    Refusal,
)

#: Engine API: the states each handler step is allowed from (section 1: only a running handler
#: journals, suspends, fails or returns; a completion can also arrive while it is suspended or
#: paused, and a paused invocation keeps it in its journal for after resume).
STEP_FROM = {
    "append_command": (RUNNING,),
    "complete_command": (RUNNING, SUSPENDED, PAUSED),
    "suspend": (RUNNING,),
    "fail_attempt": (RUNNING,),
    "complete": (RUNNING,),
}


def check_command_type(type: str) -> None:
    """Section 4's command types; a handler appends neither the Input (first) nor the Output (last).

    The model's own API (not Restate's): a type outside section 4 is refused with the nearest one
    suggested, compared case-insensitively first.
    """
    if type in ("Input", "Output"):
        problem = (
            "the Input command starts a journal; a handler cannot append another"
            if type == "Input"
            else "the Output command ends a journal: complete the invocation instead"
        )
    elif type not in COMMAND_TYPES:
        near = [t for t in COMMAND_TYPES if t.lower() == type.lower()] or difflib.get_close_matches(
            type, COMMAND_TYPES, 1
        )
        hint = f"did you mean {near[0]!r}? " if near else ""
        problem = f"{type!r} is not a command type; {hint}one of {', '.join(COMMAND_TYPES)}"
    else:
        return
    raise Refusal(400, "INVALID_ARGUMENT", f"Invalid argument 'type': {problem}")


class Reference(World):
    """The whole reference world: section 1's lifecycle, section 2's operations, steps and the clock."""

    # --- handler steps (engine API, over section 1's transitions) ----------------------------------

    def step_target(self, raw: str, step: str) -> Invocation:
        inv = self.lookup(raw)
        allowed = STEP_FROM[step]
        if inv.state not in allowed:
            raise Refusal(
                409,
                "ILLEGAL_TRANSITION",
                f"Cannot '{step}' the invocation '{inv.id}' in state '{inv.state}': "
                f"'{step}' is allowed from {', '.join(s for s in STATES if s in allowed)}.",
            )
        if inv.next_attempt_ms is not None and step != "complete_command":
            raise Refusal(
                409,
                "BACKING_OFF",
                f"The invocation '{inv.id}' is backing off after {inv.retry_count} failed attempt(s): its next "
                f"attempt starts at {inv.next_attempt_ms} ms, {inv.next_attempt_ms - self.now_ms} ms from now. "
                "Advance the clock to it first.",
            )
        return inv

    def append(self, inv: Invocation, type: str, name: str | None) -> Entry:
        assert inv.journal is not None
        self.pin(inv)
        count = AWAITS.get(type, 0)  # section 4: completion ids awaited per command
        ids = tuple(range(inv.next_completion_id, inv.next_completion_id + count))
        inv.next_completion_id += count
        entry = Entry(len(inv.journal), COMMAND, type, name, ids)
        inv.journal.append(entry)
        return entry

    def append_command(self, raw: str, type: str, name: str | None = None) -> Entry:
        check_command_type(type)  # arguments before state, as every engine call
        return self.append(self.step_target(raw, "append_command"), type, name)

    def awaited(self, inv: Invocation, completion_id: int) -> tuple[Entry | None, bool]:
        """The command awaiting ``completion_id``, and whether a notification already delivered it."""
        assert inv.journal is not None
        command = next((e for e in inv.journal if e.kind == COMMAND and completion_id in e.completion_ids), None)
        done = any(e.kind == NOTIFICATION and e.completion_id == completion_id for e in inv.journal)
        return command, done

    def deliver(self, inv: Invocation, completion_id: int, command: Entry) -> Entry:
        """Journal the completion; section 1: suspended --the awaited completion arrives--> running."""
        assert inv.journal is not None
        kinds = NOTIFICATION_TYPES.get(command.type, ())
        position = command.completion_ids.index(completion_id)
        note = kinds[position] if position < len(kinds) else command.type
        entry = Entry(len(inv.journal), NOTIFICATION, note, None, (), completion_id)
        inv.journal.append(entry)
        if inv.state == SUSPENDED and inv.awaiting in (None, completion_id):
            inv.state, inv.awaiting = RUNNING, None
        return entry

    def complete_command(self, raw: str, completion_id: int) -> Entry:
        inv = self.step_target(raw, "complete_command")
        command, done = self.awaited(inv, completion_id)
        if command is None:
            raise Refusal(
                409,
                "UNKNOWN_COMPLETION",
                f"No command of the invocation '{inv.id}' awaits completion {completion_id}.",
            )
        if done:
            raise Refusal(
                409,
                "ALREADY_COMPLETED_COMMAND",
                f"Completion {completion_id} of the invocation '{inv.id}' was already delivered.",
            )
        self.pin(inv)
        return self.deliver(inv, completion_id, command)

    def suspend(self, raw: str, awaiting: int | None = None) -> None:
        """Section 1: running --awaits a completion not yet there--> suspended."""
        inv = self.step_target(raw, "suspend")
        assert inv.journal is not None
        if awaiting is None:
            pending = [
                c for e in inv.journal if e.kind == COMMAND for c in e.completion_ids if not self.awaited(inv, c)[1]
            ]
            if not pending:
                raise Refusal(
                    409,
                    "NOTHING_TO_AWAIT",
                    f"The invocation '{inv.id}' awaits no missing completion: it cannot suspend.",
                )
            awaiting = pending[-1]  # engine API: the newest missing completion
        else:
            command, done = self.awaited(inv, awaiting)
            if command is None or done:
                raise Refusal(
                    409, "NOTHING_TO_AWAIT", f"Completion {awaiting} of the invocation '{inv.id}' is not pending."
                )
        self.pin(inv)
        inv.state, inv.awaiting = SUSPENDED, awaiting

    def sleep(self, raw: str, duration_ms: int) -> Entry:
        """A Sleep command, a suspension on it, and a timer that delivers it (section 1)."""
        inv = self.step_target(raw, "append_command")
        entry = self.append(inv, "Sleep", None)
        self.add_timer(self.now_ms + duration_ms, "sleep", inv.id, entry.completion_ids[0])
        inv.state, inv.awaiting = SUSPENDED, entry.completion_ids[0]
        return entry

    def fail_attempt(self, raw: str, max_attempts: int = 70, on_max_attempts: str = "pause") -> str:
        """Section 1: retries exhausted -> paused (pause policy) or completed (kill policy); else backing off."""
        inv = self.step_target(raw, "fail_attempt")
        self.pin(inv)
        inv.retry_count += 1
        if inv.retry_count >= max_attempts:
            if on_max_attempts == "pause":
                inv.state = PAUSED
            else:
                self.complete_with(inv, "failure")
                return COMPLETED
            return inv.state
        # Restate's default retry policy: 500 ms, doubling, at most 60 s between attempts.
        inv.next_attempt_ms = self.now_ms + min(500 * 2 ** (inv.retry_count - 1), 60_000)
        self.add_timer(inv.next_attempt_ms, "retry", inv.id, 0)
        return inv.state

    def complete(self, raw: str, success: bool = True) -> None:
        """Section 1: running --handler returns / terminal error--> completed (the Output journaled)."""
        inv = self.step_target(raw, "complete")
        self.pin(inv)
        assert inv.journal is not None
        inv.journal.append(Entry(len(inv.journal), COMMAND, "Output"))
        self.complete_with(inv, "success" if success else "failure")

    # --- the clock ------------------------------------------------------------------------------------

    def pending_sleeps(self) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        for due, _, kind, inv_id, completion_id in sorted(self.timers):
            if kind == "sleep":
                out.setdefault(inv_id, []).append((due, completion_id))
        return out

    def advance(self, ms: int) -> None:
        """Fire what falls due up to now + ms, in time order (engine API: a timer due at the instant of
        a cleaner run goes first)."""
        target = self.now_ms + ms
        while True:
            timer = min(self.timers) if self.timers else None
            if timer is not None and timer[0] <= self.next_cleaner_ms:
                if timer[0] > target:
                    break
                self.timers.remove(timer)
                self.now_ms = timer[0]
                self.fire(timer[2], timer[3], timer[4])
            else:
                if self.next_cleaner_ms > target:
                    break
                self.now_ms = self.next_cleaner_ms
                self.clean()
                self.next_cleaner_ms += self.interval_ms
        self.now_ms = target

    def fire(self, kind: str, invocation_id: str, completion_id: int) -> None:
        inv = self.invocations.get(invocation_id)
        if kind == "retry":  # the backoff is over: the next attempt may run
            if inv is not None and inv.next_attempt_ms == self.now_ms:
                inv.next_attempt_ms = None
            return
        if kind == "start":
            if inv is not None and inv.state == SCHEDULED:  # section 1: scheduled --due--> inboxed | running
                inv.due_ms = None
                self.start_or_queue(inv)
                self.clock_log.append((self.now_ms, "start", invocation_id))
            return
        # A Sleep's completion arrives while the invocation has started and not ended (kept while paused)
        if inv is None or inv.journal is None or inv.state not in (RUNNING, SUSPENDED, PAUSED):
            return
        command, done = self.awaited(inv, completion_id)
        if command is not None and not done:
            self.deliver(inv, completion_id, command)  # a timer is not an attempt: it pins nothing
            self.clock_log.append((self.now_ms, "sleep", invocation_id))

    def clean(self) -> None:
        """Section 1: the hourly cleaner drops what expired by now (expiry is lazy: only when it runs).

        A retention ends at completion + retention; a run at that very instant finds it expired.
        """
        for inv in list(self.invocations.values()):
            if inv.state != COMPLETED:
                continue
            assert inv.completed_ms is not None
            if inv.completed_ms + inv.completion_retention_s * 1000 <= self.now_ms:
                self.forget(inv)  # completed --completion retention expired--> free
                self.clock_log.append((self.now_ms, "expire", inv.id))
            elif inv.journal is not None and inv.completed_ms + inv.journal_retention_s * 1000 <= self.now_ms:
                inv.journal = None  # completed --journal retention expired--> completed, journal gone
                self.clock_log.append((self.now_ms, "expire_journal", inv.id))
