"""The clock yields what falls due, in order, and never runs a step itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsm import Engine, dump_world
from fsm.clock import EXPIRE, EXPIRE_JOURNAL, SLEEP, START, Clock, Due
from fsm.lifecycle import COMPLETED
from fsm.model import Invocation

HOUR = 3_600_000


def completed(inv_id: str, completed_ms: int, journal_s: int = 60, status_s: int = 7_200) -> Invocation:
    inv = Invocation(inv_id, "S", "run", None, COMPLETED, journal_s, status_s)
    inv.completed_ms = completed_ms
    return inv


def test_timers_come_in_due_order_and_one_due_with_the_cleaner_goes_first() -> None:
    records: dict[str, Invocation] = {}
    clock = Clock(0, HOUR, records.get)
    clock.schedule_sleep("b", 2 * HOUR, 1)
    clock.schedule_start("a", HOUR)  # due exactly when the cleaner runs
    seen = []
    for due in clock.until(3 * HOUR):
        seen.append((clock.now_ms, due))
    assert seen == [(HOUR, (START, "a", 0)), (2 * HOUR, (SLEEP, "b", 1))]
    assert clock.now_ms == 3 * HOUR and clock.next_cleanup_ms == 4 * HOUR


def test_a_timer_due_at_a_cleaner_run_goes_before_that_run_s_expiries() -> None:
    records = {"x": completed("x", 0)}  # its 60 s journal retention is due at the first run
    clock = Clock(0, HOUR, records.get)
    clock.schedule_retention(records["x"], 0)
    clock.schedule_sleep("s", HOUR, 2)
    clock.schedule_start("a", HOUR)
    assert list(clock.until(HOUR)) == [(SLEEP, "s", 2), (START, "a", 0), (EXPIRE_JOURNAL, "x", 0)]


def test_the_cleaner_yields_expiries_due_by_its_run_only() -> None:
    records = {"x": completed("x", 0), "y": completed("y", HOUR // 2)}
    clock = Clock(0, HOUR, records.get)
    for inv in records.values():
        clock.schedule_retention(inv, inv.completed_ms or 0)
    first = list(clock.until(HOUR))  # both journals (60 s) are due at the first run; no status yet
    assert first == [(EXPIRE_JOURNAL, "x", 0), (EXPIRE_JOURNAL, "y", 0)]
    assert list(clock.until(2 * HOUR)) == [(EXPIRE, "x", 0)]  # x's 2 h status: due at 2 h, y's at 2.5 h
    assert list(clock.until(3 * HOUR)) == [(EXPIRE, "y", 0)]


def test_an_out_of_order_completion_goes_to_the_heap_and_is_still_on_time() -> None:
    records = {"late": completed("late", 5 * HOUR), "early": completed("early", 0)}
    clock = Clock(5 * HOUR, HOUR, records.get)
    clock.schedule_retention(records["late"], 5 * HOUR)
    clock.schedule_retention(records["early"], 0)  # older than the queue's tail: the heap keeps it in order
    assert list(clock.until(6 * HOUR)) == [
        (EXPIRE_JOURNAL, "early", 0),
        (EXPIRE, "early", 0),
        (EXPIRE_JOURNAL, "late", 0),
    ]


def test_an_invocation_gone_or_no_longer_completed_is_skipped() -> None:
    records = {"x": completed("x", 0)}
    clock = Clock(0, HOUR, records.get)
    clock.schedule_retention(records["x"], 0)
    del records["x"]  # purged meanwhile
    assert list(clock.until(3 * HOUR)) == []


def test_pending_sleeps_lists_only_sleep_timers_by_due_time() -> None:
    nothing: dict[str, Invocation] = {}
    clock = Clock(0, HOUR, nothing.get)
    clock.schedule_sleep("a", 500, 2)
    clock.schedule_start("b", 100)
    clock.schedule_sleep("a", 200, 1)
    assert clock.pending_sleeps() == {"a": [(200, 1), (500, 2)]}


class CountingClock(Clock):
    """Counts the cleaner runs that actually happen."""

    runs = 0

    def _cleaner(self) -> Iterator[Due]:
        self.runs += 1
        yield from super()._cleaner()


def test_cleaner_runs_with_nothing_to_do_are_skipped_however_far_the_clock_moves() -> None:
    records = {"x": completed("x", 0, journal_s=10 * 3600, status_s=20 * 3600)}
    clock = CountingClock(0, HOUR, records.get)
    clock.schedule_retention(records["x"], 0)
    clock.schedule_sleep("s", 3 * HOUR + 5, 1)
    far = 1_000 * HOUR + 17  # without the skip: a thousand runs
    assert list(clock.until(far)) == [(SLEEP, "s", 1), (EXPIRE_JOURNAL, "x", 0), (EXPIRE, "x", 0)]
    # one run at 10 h for the journal, one at the status's expiry; none for the empty hours between
    assert clock.runs == 2
    assert clock.now_ms == far and clock.next_cleanup_ms == (far // HOUR + 1) * HOUR


def test_one_long_move_ends_where_many_short_ones_do() -> None:
    def world() -> Engine:
        e = Engine(seed=3)
        e.register_service("Short", journal_retention_s=1_800, completion_retention_s=7_200)
        e.register_service("Long", journal_retention_s=86_400)
        e.register_deployment(["Short", "Long"])
        for service in ("Short", "Long", "Short"):
            inv = e.call(service, "run")
            e.sleep(e.call(service, "run"), 5 * HOUR + 7)
            e.advance(1_234_567)
            e.complete(inv)
        return e

    stepped, jumped = world(), world()
    for _ in range(30):
        stepped.advance(HOUR)
    jumped.advance(30 * HOUR)
    assert dump_world(jumped) == dump_world(stepped)


NOBODY: dict[str, Invocation] = {}


def test_timers_due_at_one_instant_come_in_the_order_they_were_scheduled() -> None:
    clock = Clock(0, HOUR, NOBODY.get)
    clock.schedule_start("b", 10)
    clock.schedule_sleep("b", 10, 1)
    clock.schedule_start("a", 10)
    assert list(clock.until(10)) == [(START, "b", 0), (SLEEP, "b", 1), (START, "a", 0)]


def test_moving_ends_at_the_target_whatever_fell_due_before_it() -> None:
    clock = Clock(0, HOUR, NOBODY.get)
    clock.schedule_sleep("s", 10, 1)
    assert list(clock.until(20)) == [(SLEEP, "s", 1)] and clock.now_ms == 20  # nothing left: the cleaner is later
    clock.schedule_sleep("t", 2 * HOUR, 1)
    assert list(clock.until(HOUR + 5)) == [] and clock.now_ms == HOUR + 5  # a cleaner run, then a later timer
    assert clock.next_cleanup_ms == 2 * HOUR


def test_idle_until_the_first_timer_or_cleaner_run() -> None:
    clock = Clock(0, HOUR, NOBODY.get)
    clock.schedule_sleep("s", 100, 1)
    assert clock.idle_until(99) and not clock.idle_until(100)


def test_expiries_of_a_loaded_world_out_of_order_fall_due_at_the_first_run_at_or_after_them() -> None:
    # behaviour.md section 1: the cleaner runs every hour; an expiry due at a run is done by that run.
    records = {"late": completed("late", 5 * HOUR), "a": completed("a", 4 * HOUR), "b": completed("b", 9 * HOUR // 2)}
    for inv in records.values():
        inv.completion_retention_s = 2 * 3_600
    clock = Clock(5 * HOUR, HOUR, records.get)
    for name in ("late", "a", "b"):  # a and b are older than the queue's tail: they go to the heap
        clock.schedule_retention(records[name], records[name].completed_ms or 0)
    at_6 = [(EXPIRE_JOURNAL, "a", 0), (EXPIRE_JOURNAL, "b", 0), (EXPIRE, "a", 0), (EXPIRE_JOURNAL, "late", 0)]
    assert list(clock.until(6 * HOUR)) == at_6  # a's status is due at 6 h exactly
    assert list(clock.until(7 * HOUR)) == [(EXPIRE, "b", 0), (EXPIRE, "late", 0)]  # b's at 6.5 h, late's at 7 h


def test_the_cleaner_runs_on_the_hour() -> None:
    assert Clock(90 * 60_000, HOUR, NOBODY.get).next_cleanup_ms == 2 * HOUR


def test_a_journal_already_gone_or_kept_as_long_as_the_status_expires_only_with_it() -> None:
    gone = completed("gone", 0)  # journal 60 s, status 2 h
    gone.journal = None  # purged, or never retained: nothing left to expire but the status
    same = completed("same", 0, journal_s=3_600, status_s=3_600)  # a plain call: both retentions equal
    records = {"gone": gone, "same": same}
    clock = Clock(0, HOUR, records.get)
    for inv in records.values():
        clock.schedule_retention(inv, 0)
    assert list(clock.until(HOUR)) == [(EXPIRE, "same", 0)]
    assert list(clock.until(2 * HOUR)) == [(EXPIRE, "gone", 0)]


def test_an_expiry_in_the_heap_bounds_the_skip() -> None:
    records = {"late": completed("late", 2 * HOUR), "early": completed("early", 0)}
    clock = CountingClock(0, HOUR, records.get)
    clock.schedule_retention(records["late"], 2 * HOUR)  # the queue: due at 2 h + 60 s
    clock.schedule_retention(records["early"], 0)  # older than the queue's tail: the heap, due at 60 s
    assert list(clock.until(HOUR)) == [(EXPIRE_JOURNAL, "early", 0)]  # the 1 h run is not skipped
    assert clock.runs == 1


def test_heap_expiries_alone_bound_the_skip_by_their_due_times() -> None:
    x = completed("x", 0, journal_s=10 * 3600, status_s=20 * 3600)
    x.completed_ms = None  # a loaded world without completion times: its expiries go to the heap
    clock = CountingClock(0, HOUR, {"x": x}.get)
    clock.schedule_retention(x, 0)
    assert list(clock.until(1_000 * HOUR)) == [(EXPIRE_JOURNAL, "x", 0), (EXPIRE, "x", 0)]
    assert clock.runs == 2  # at 10 h and 20 h, none of the empty ones


@pytest.mark.parametrize("target_ms", [2 * HOUR - 1, 2 * HOUR, 2 * HOUR + 1])
def test_a_timer_beyond_the_target_leaves_the_next_run_just_after_the_target(target_ms: int) -> None:
    nobody: dict[str, Invocation] = {}
    clock = Clock(0, HOUR, nobody.get)
    clock.schedule_sleep("s", 5 * HOUR, 1)
    assert list(clock.until(target_ms)) == []
    assert clock.next_cleanup_ms == (target_ms // HOUR + 1) * HOUR
