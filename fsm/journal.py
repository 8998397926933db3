"""Journal rules: which completions a command awaits, the prefix check, and the prefix copy.

Pure functions over lists of :class:`fsm.model.Entry`; the restart checks and the engine
both call them, so the rule that decides check 14 is the same one that builds the copy.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from enum import StrEnum
from operator import itemgetter

from .errors import invalid_argument
from .model import COMMAND, NOTIFICATION, Entry

#: behaviour.md section 4: how many completion ids each command awaits.
COMPLETIONS_AWAITED: dict[str, int] = {
    "Input": 0,
    "Output": 0,
    "SetState": 0,
    "ClearState": 0,
    "ClearAllState": 0,
    "GetEagerState": 0,
    "GetEagerStateKeys": 0,
    "SendSignal": 0,
    "CompleteAwakeable": 0,
    "GetLazyState": 1,
    "GetLazyStateKeys": 1,
    "GetPromise": 1,
    "PeekPromise": 1,
    "CompletePromise": 1,
    "Sleep": 1,
    "Run": 1,
    "AttachInvocation": 1,
    "GetInvocationOutput": 1,
    "OneWayCall": 1,
    "Call": 2,  # the callee's invocation id, then its result
}

#: Notification types, by the command they complete (a Call's first id is the callee's id).
NOTIFICATION_TYPE: dict[str, tuple[str, ...]] = {
    "Call": ("CallInvocationId", "Call"),
    "OneWayCall": ("CallInvocationId",),
}

#: The command types a journal holds (Restate's, as behaviour.md section 4 lists them).
COMMAND_TYPES: tuple[str, ...] = tuple(COMPLETIONS_AWAITED)
#: The notification types: a completion of a command that awaits one, a Call's callee id, a signal.
NOTIFICATION_TYPES: tuple[str, ...] = (
    *(t for t, n in COMPLETIONS_AWAITED.items() if n and t not in NOTIFICATION_TYPE),
    *dict.fromkeys(k for kinds in NOTIFICATION_TYPE.values() for k in kinds),
    "Signal",
)


class EntryType(StrEnum):
    """Every journal entry type (a member equals its value: ``EntryType.RUN == "Run"``)."""

    INPUT = "Input"
    OUTPUT = "Output"
    SET_STATE = "SetState"
    CLEAR_STATE = "ClearState"
    CLEAR_ALL_STATE = "ClearAllState"
    GET_EAGER_STATE = "GetEagerState"
    GET_EAGER_STATE_KEYS = "GetEagerStateKeys"
    SEND_SIGNAL = "SendSignal"
    COMPLETE_AWAKEABLE = "CompleteAwakeable"
    GET_LAZY_STATE = "GetLazyState"
    GET_LAZY_STATE_KEYS = "GetLazyStateKeys"
    GET_PROMISE = "GetPromise"
    PEEK_PROMISE = "PeekPromise"
    COMPLETE_PROMISE = "CompletePromise"
    SLEEP = "Sleep"
    RUN = "Run"
    ATTACH_INVOCATION = "AttachInvocation"
    GET_INVOCATION_OUTPUT = "GetInvocationOutput"
    ONE_WAY_CALL = "OneWayCall"
    CALL = "Call"
    CALL_INVOCATION_ID = "CallInvocationId"
    SIGNAL = "Signal"


def entry_type_problem(kind: str, type: str) -> str | None:
    """Why ``type`` is not an entry type of ``kind`` (command or notification), or None; the message
    suggests the nearest one (``'run'`` -> ``did you mean 'Run'?``) and lists them all."""
    allowed = COMMAND_TYPES if kind == COMMAND else NOTIFICATION_TYPES
    if type in allowed:
        return None
    near = [t for t in allowed if t.lower() == type.lower()] or difflib.get_close_matches(type, allowed, 1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"{type!r} is not a {kind} type; {hint}one of {', '.join(allowed)}"


def check_command_type(what: str, type: str) -> str:
    """A command type a handler may append: any but the Input (a journal's first entry) and the
    Output (its last, written by completing)."""
    problem = entry_type_problem(COMMAND, type)
    if problem is None and type == "Input":
        problem = "the Input command starts a journal; a handler cannot append another"
    if problem is None and type == "Output":
        problem = "the Output command ends a journal: complete the invocation instead"
    if problem is not None:
        raise invalid_argument(what, problem)
    return type


def entry_at(journal: Sequence[Entry], index: int) -> Entry | None:
    """The entry with this index (journals are normally dense, so this is usually O(1))."""
    if 0 <= index < len(journal) and journal[index].index == index:
        return journal[index]
    for entry in journal:
        if entry.index == index:
            return entry
    return None


def completed_ids(journal: Sequence[Entry]) -> set[int]:
    return {e.completion_id for e in journal if e.kind == NOTIFICATION and e.completion_id is not None}


def awaited_by(journal: Sequence[Entry], completion_id: int) -> tuple[Entry | None, bool]:
    """The first command awaiting ``completion_id``, and whether a notification delivered it.

    The engine asks this on every delivered completion, so: the command scan stops at the first
    match, and "delivered" is first answered by :func:`is_delivered`'s C-level membership test.
    """
    command: Entry | None = None
    for entry in journal:
        if entry.kind == COMMAND and completion_id in entry.completion_ids:
            command = entry
            break
    return command, is_delivered(journal, completion_id)


_COMPLETION_ID = itemgetter(5)  # Entry.completion_id, read without a Python-level loop


def is_delivered(journal: Sequence[Entry], completion_id: int) -> bool:
    """Whether a notification in ``journal`` carries ``completion_id``.

    Usually no entry carries it at all, which ``in`` over a ``map`` settles in C; only a hit needs
    the check that it is a notification.
    """
    if completion_id not in map(_COMPLETION_ID, journal):
        return False
    return any(e.completion_id == completion_id and e.kind == NOTIFICATION for e in journal)


def prefix_is_complete(journal: Sequence[Entry], upto: int) -> bool:
    """Check 14: every entry 1..=upto exists, and every command in it has all its completions.

    ``upto`` = 4294967295 is not handled here: Restate's loop bound overflows for it and the
    check passes vacuously (see fsm.restart); callers pass it only after that decision.
    """
    done: set[int] | None = None
    for index in range(1, upto + 1):
        entry = entry_at(journal, index)
        if entry is None:
            return False
        if entry.kind == COMMAND and entry.completion_ids:
            if done is None:
                done = completed_ids(journal)
            if not all(cid in done for cid in entry.completion_ids):
                return False
    return True


def copy_prefix(journal: Sequence[Entry], upto: int) -> tuple[list[Entry], list[int]]:
    """Section 5: entries 0..=upto verbatim, then later completions of commands in the prefix.

    Returns the new journal (renumbered densely) and the old indexes it was copied from.
    """
    prefix = [e for e in journal if e.index <= upto]
    awaited = {cid for e in prefix if e.kind == COMMAND for cid in e.completion_ids}
    later = [e for e in journal if e.index > upto and e.kind == NOTIFICATION and e.completion_id in awaited]
    copied = prefix + later
    return [e if e.index == i else e.renumbered(i) for i, e in enumerate(copied)], [e.index for e in copied]


def journal_length(journal: Sequence[Entry]) -> int:
    return len(journal)


#: Journal entries are immutable, and invocations on the same path journal equal ones (same index,
#: type and completion ids): they share one object, so a journal is mostly a list of pointers and the
#: GC has fewer objects to track. Only unnamed entries, and only this many distinct ones.
#: Keyed by the entry's fields: a plain tuple equals (and hashes as) the ``Entry`` with those fields,
#: so a step looks its entry up from a cheap tuple and builds an ``Entry`` only the first time.
EntryFields = tuple[int, str, str, str | None, tuple[int, ...], int | None]
SHARED_ENTRIES: dict[EntryFields, Entry] = {}
SHARED_ENTRIES_MAX = 4096


def shared_entry(fields: EntryFields) -> Entry:
    """The shared entry with these fields (hot callers try ``SHARED_ENTRIES.get`` first, inline)."""
    found = SHARED_ENTRIES.get(fields)
    if found is not None:
        return found
    entry = Entry._make(fields)
    if entry.name is None and len(SHARED_ENTRIES) < SHARED_ENTRIES_MAX:
        SHARED_ENTRIES[entry] = entry
    return entry
