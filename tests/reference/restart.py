"""Restart-as-new in the reference model: behaviour.md sections 3-5, the sixteen checks in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import (
    COMMAND,
    COMPLETED,
    INBOXED,
    NOTIFICATION,
    SCHEDULED,
    STARTED,
    WORKFLOW,
    Entry,
    Invocation,
    Refusal,
    Restarted,
    cannot_change_deployment,
    incompatible,
)

if TYPE_CHECKING:
    from .model import World

U32_MAX = 2**32 - 1


def parse_from(raw: int | str | None) -> int:
    """Section 3/4 check 1: `from` is a u32 read as Rust reads one (an int is read as its decimal text)."""
    if raw is None:
        return 0  # section 3: default 0
    text = str(raw)
    detail = None
    if text == "":
        detail = "cannot parse integer from empty string"
    else:
        digits = text[1:] if text[0] == "+" else text  # Rust accepts one leading '+'
        value = 0
        if digits == "":
            detail = "invalid digit found in string"
        for c in digits:
            if c not in "0123456789":
                detail = "invalid digit found in string"
                break
            value = value * 10 + int(c)
            if value > U32_MAX:
                detail = "number too large to fit in target type"
                break
        if detail is None:
            return value
    raise Refusal(400, "INVALID_QUERY_STRING", f"Failed to deserialize query string: from: {detail}", 1)


def unsupported(invocation_id: str, check: int) -> Refusal:
    return Refusal(
        422,
        "UNSUPPORTED",
        f"Restarting the invocation '{invocation_id}' is not supported. Restarting workflows is not supported, "
        "and restarting invocations created using the old service protocol.",
        check,
    )


def input_gone(invocation_id: str, check: int) -> Refusal:
    return Refusal(
        410,
        "INPUT_NOT_AVAILABLE",
        f"The invocation '{invocation_id}' cannot be restarted because the input is not available. This "
        "indicates that the journal was already purged, or not retained at all.",
        check,
    )


def entry(journal: list[Entry], index: int) -> Entry | None:
    return next((e for e in journal if e.index == index), None)


def prefix_complete(journal: list[Entry], upto: int) -> bool:
    """Check 14: entries 1..=upto exist, and each command among them has all its completions."""
    delivered = {e.completion_id for e in journal if e.kind == NOTIFICATION and e.completion_id is not None}
    for index in range(1, upto + 1):
        found = entry(journal, index)
        if found is None:
            return False
        if found.kind == COMMAND and not all(c in delivered for c in found.completion_ids):
            return False
    return True


def copy_prefix(journal: list[Entry], upto: int) -> tuple[list[Entry], list[int]]:
    """Section 5: entries 0..=upto at the same indexes, then later completions of prefix commands."""
    prefix = [e for e in journal if e.index <= upto]
    awaited = {c for e in prefix if e.kind == COMMAND for c in e.completion_ids}
    later = [e for e in journal if e.index > upto and e.kind == NOTIFICATION and e.completion_id in awaited]
    copied = prefix + later
    renumbered = [Entry(i, e.kind, e.type, e.name, e.completion_ids, e.completion_id) for i, e in enumerate(copied)]
    return renumbered, [e.index for e in copied]


def restart_as_new(
    world: World, raw: str, raw_from: int | str | None, raw_deployment: str | None, new_id: str | None
) -> Restarted:
    """Sections 3-5. ``new_id`` None: a dry run (nothing created)."""
    from_ = parse_from(raw_from)  # check 1
    key = world.parse_invocation_id(raw, check=2)  # check 2
    selector = world.parse_deployment(raw_deployment, "latest", check=3)  # check 3; section 3: default latest
    world.route(key, check=4)  # check 4
    old = world.find(raw, check=5)  # check 5
    if old.state in (SCHEDULED, INBOXED):  # check 6
        raise Refusal(
            425, "NOT_STARTED", f"The invocation '{raw}' cannot be restarted because it's not running yet.", 6
        )
    if old.state in STARTED:  # check 7
        raise Refusal(409, "STILL_RUNNING", f"The invocation '{raw}' is still running.", 7)
    assert old.state == COMPLETED
    if old.journal is None:  # check 8 (section 9.8: before check 9)
        raise input_gone(raw, 8)
    if world.services[old.service].type == WORKFLOW:  # check 9
        raise unsupported(raw, 9)
    protocol = old.pinned_protocol
    if protocol is not None and protocol < 4:  # check 10 (section 7: protocols 1-3 use the old journal)
        if from_ > 0:
            raise unsupported(raw, 10)
        if selector != "latest":  # keep or an id; the id is not even looked up
            raise cannot_change_deployment(raw, 10)
        first = entry(old.journal, 0)
        if first is None or first.type != "Input":
            raise input_gone(raw, 10)
        # a plain new call: only entry 0 copied, not pinned
        return create(world, old, raw, new_id, [first], [0], None, None, 10)
    if from_ > 0 and (protocol is None or protocol < 6):  # check 11 (section 7: prefixes from protocol 6)
        raise unsupported(raw, 11)
    target = old.pinned_deployment  # keep: the pinned one, even if deleted since (section 5)
    if selector != "keep":
        target = world.resolve(old.service, selector)
        if target is None:  # check 12
            raise Refusal(
                400,
                "DEPLOYMENT_NOT_FOUND",
                f"The given deployment was not found when trying to restart as new the invocation '{raw}'.",
                12,
            )
        if protocol is not None:  # check 13
            found = world.deployments[target]
            if not found.low <= protocol <= found.high:
                raise incompatible(raw, protocol, target, found, 13)
    # check 14; for from = u32::MAX Restate's loop bound overflows and the loop is empty (check 15 text)
    if from_ != U32_MAX and not prefix_complete(old.journal, from_):
        raise Refusal(
            400,
            "INCOMPLETE_PREFIX",
            f"The prefix of the journal '{raw}' up to 'from' (included) contains some Commands without "
            "respective Completions.",
            14,
        )
    if from_ >= len(old.journal):  # check 15
        raise Refusal(
            400,
            "JOURNAL_INDEX_OUT_OF_RANGE",
            f"The given index is out of range of currently stored journal for invocation '{raw}'.",
            15,
        )
    journal, copied = copy_prefix(old.journal, from_)
    if old.pinned_deployment is None:  # section 5: never pinned -> not pinned; the selector was only checked
        return create(world, old, raw, new_id, journal, copied, None, None, 16)
    return create(world, old, raw, new_id, journal, copied, target, protocol, 16)


def create(
    world: World,
    old: Invocation,
    raw: str,
    new_id: str | None,
    journal: list[Entry],
    copied: list[int],
    pinned: str | None,
    protocol: int | None,
    check: int,
) -> Restarted:
    """Section 5: a new invocation (the old one untouched), started at once: running or inboxed."""
    if new_id is None:
        return Restarted(check, None, raw, tuple(copied), pinned, protocol, None)
    assert new_id not in world.invocations, "the engine reused an id"
    inv = Invocation(
        new_id, old.service, old.handler, old.key, COMPLETED, old.journal_retention_s, old.completion_retention_s
    )
    inv.journal = journal
    inv.next_completion_id = 1 + max((c for e in journal for c in e.completion_ids), default=0)
    inv.pinned_deployment, inv.pinned_protocol = pinned, protocol
    inv.restarted_from = old.id  # the idempotency key is not copied
    world.invocations[new_id] = inv
    world.start_or_queue(inv)
    return Restarted(check, new_id, raw, tuple(copied), pinned, protocol, inv.state)
