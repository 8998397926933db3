"""The clock yields what falls due, in order, and never runs a step itself."""

from __future__ import annotations

from collections.abc import Iterator

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
