from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from transitions import MachineError

from fsm import lifecycle
from fsm.errors import IllegalTransition
from fsm.lifecycle import ADMIN, GUARDS, MACHINE, RULES, STATES, TABLE, TRIGGERS, Accept, Rule, fire, next_state


class Record:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


GUARD_CASES = [
    dict(zip(GUARDS, values, strict=True)) for values in itertools.product([False, True], repeat=len(GUARDS))
]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_compiled_table_agrees_with_the_machine(state: str, trigger: str) -> None:
    """For every (state, trigger, guard values), the fast path and `transitions` end in the same state."""
    for facts in GUARD_CASES:
        fast, slow = Record(state), Record(state)
        try:
            fire(fast, trigger, **facts)
            fast_result: str | None = fast.state
        except IllegalTransition:
            fast_result = None
        try:
            moved = MACHINE.events[trigger].trigger(slow, **facts)
            slow_result = slow.state if moved else None
        except MachineError:
            slow_result = None
        assert fast_result == slow_result, (state, trigger, facts)
        assert next_state(state, trigger, facts) == fast_result


def test_machine_is_module_level_without_models_or_auto_transitions() -> None:
    assert MACHINE.models == []
    assert "to_running" not in MACHINE.events


def test_every_state_and_trigger_is_in_the_table() -> None:
    sources = {state for state, _ in TABLE}
    assert sources == set(STATES)  # every state has a way out (no traps), free included
    assert {trigger for _, trigger in TABLE} == set(TRIGGERS)


def test_guards_are_tried_in_table_order() -> None:
    assert next_state("free", "invoke", {"delayed": True, "key_locked": True}) == "scheduled"
    assert next_state("free", "invoke", {"key_locked": True}) == "inboxed"
    assert next_state("free", "invoke") == "running"
    assert next_state("running", "fail_attempt", {"retries_exhausted": True}) == "completed"
    assert next_state("running", "fail_attempt", {"retries_exhausted": True, "pause_on_max_attempts": True}) == "paused"


def test_illegal_transition_spells_out_the_allowed_states() -> None:
    with pytest.raises(IllegalTransition) as caught:
        fire(Record("completed"), "suspend", "inv_x")
    assert caught.value.message == (
        "Cannot 'suspend' the invocation 'inv_x' in state 'completed': 'suspend' is allowed from running."
    )
    assert (caught.value.http_status, caught.value.reason) == (409, "ILLEGAL_TRANSITION")


def test_a_table_that_leaves_a_state_unreachable_fails_at_definition() -> None:
    rules = tuple(r for r in RULES if r.dest != "paused")
    with pytest.raises(ValueError, match=r"unreachable from 'free': \['paused'\]"):
        lifecycle.build_machine(rules)


def test_a_table_with_an_unknown_guard_fails_at_definition() -> None:
    rules = (*RULES, Rule("wake", ("paused",), "running", ("sunny",)))
    with pytest.raises(ValueError, match="unknown guard 'sunny'"):
        lifecycle.check_definition(rules)


def test_an_admin_trigger_the_rules_forbid_fails_at_definition() -> None:
    rules = tuple(
        replace(r, sources=("running", "suspended")) if r.trigger == "kill" and "paused" in r.sources else r
        for r in RULES
    )
    with pytest.raises(ValueError, match=r"ADMIN\['cancel'\]|ADMIN\['kill'\]\['paused'\] fires 'kill'"):
        lifecycle.check_definition(rules)


def test_admin_table_covers_every_live_state() -> None:
    for operation, row in ADMIN.items():
        assert set(row) == set(lifecycle.LIVE_STATES), operation
        for state, outcome in row.items():
            if isinstance(outcome, Accept) and outcome.trigger:
                assert next_state(state, outcome.trigger) is not None, (operation, state)


def test_guards_are_side_effect_free_for_may_triggers() -> None:
    record = Record("free")
    assert MACHINE.events["invoke"].trigger(record, key_locked=True)
    assert record.state == "inboxed"
    # conditions read only the facts given: calling them changes nothing
    guard = lifecycle.Guard("delayed")
    assert guard(delayed=True) and not guard()
