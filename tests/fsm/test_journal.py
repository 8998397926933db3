"""Journal rules on their own: the prefix check of check 14 and where a completion was delivered."""

from __future__ import annotations

from fsm import journal
from fsm.model import COMMAND, NOTIFICATION, Entry

INPUT = Entry(0, COMMAND, "Input", None, (), None)
RUN = Entry(1, COMMAND, "Run", None, (1,), None)
RUN_DONE = Entry(2, NOTIFICATION, "Run", None, (), 1)


def test_check_14_looks_at_entry_1_too() -> None:
    # behaviour.md check 14: every entry in 1..=from exists, and every command there has its completions.
    assert not journal.prefix_is_complete([INPUT, RUN], 1)
    assert journal.prefix_is_complete([INPUT, RUN, RUN_DONE], 1)


def test_a_completion_is_delivered_only_by_a_notification_carrying_it() -> None:
    assert journal.is_delivered([INPUT, RUN, RUN_DONE], 1)
    assert not journal.is_delivered([INPUT, RUN], 1)
    assert not journal.is_delivered([INPUT, RUN, RUN_DONE], 2)
