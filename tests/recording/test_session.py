"""recording.session: its one pure helper and the order of its pools."""

from __future__ import annotations

from recording.driver import Target
from recording.session import INITIAL_POOLS, one


def test_one_asks_for_a_single_invocation_and_passes_the_arguments_on() -> None:
    calls: list[tuple[int, str, str | None]] = []

    def make(n: int, service: str, key_prefix: str | None = None) -> list[Target]:
        calls.append((n, service, key_prefix))
        return [("inv_first", ("Locker", "k")), ("inv_second", None)][:n]

    assert one(make, "Locker", key_prefix="Q") == ("inv_first", ("Locker", "k"))
    assert calls == [(1, "Locker", "Q")]


def test_the_pools_are_the_admin_operation_states_in_recording_order() -> None:
    # the order of this dict is the order of admin_ops.jsonl (suspended_proto5 comes after, made on D4)
    assert list(INITIAL_POOLS) == [
        "scheduled",
        "inboxed",
        "running",
        "backing_off",
        "suspended_sleep",
        "suspended_vo_holder",
        "suspended_workflow",
        "paused",
        "paused_by_operation",
        "completed_success",
        "completed_failure",
        "completed_workflow",
        "killed_while_sleeping",
        "completed_noret",
        "journal_purged",
        "purged",
    ]
    assert min(INITIAL_POOLS.values()) == 1
