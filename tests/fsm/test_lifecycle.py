"""The one definition: its machine, its compiled form, and the checks that reject a broken table."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
from transitions import Machine, MachineError

from fsm import lifecycle, restart
from fsm.errors import FailedPrecondition, IllegalTransition
from fsm.lifecycle import (
    GUARDS,
    LIFECYCLE,
    LIVE_STATES,
    MACHINE,
    OPERATIONS,
    RULES,
    STATES,
    TABLE,
    TRIGGERS,
    Accept,
    Lifecycle,
    Refuse,
    Rule,
)


class Record:
    __slots__ = ("id", "state")

    def __init__(self, state: str) -> None:
        self.id = "inv_x"
        self.state = state


GUARD_CASES = [
    dict(zip(GUARDS, values, strict=True)) for values in itertools.product([False, True], repeat=len(GUARDS))
]


def _outcome(run: Any) -> tuple[str, ...]:
    try:
        return ("moved", run())
    except (IllegalTransition, MachineError):  # IllegalTransition first: it is a FailedPrecondition too
        return ("not allowed",)
    except FailedPrecondition as exc:
        return ("refused", exc.reason, exc.message)


#: Every (state, trigger) but restart-as-new from completed, whose checks read an invocation's journal
#: and a request: the differential test of tests/fsm/test_world_paths.py drives that one.
PAIRS = [(s, t) for s in STATES for t in TRIGGERS if (s, t) != ("completed", "restart_as_new")]


@pytest.mark.parametrize(("state", "trigger"), PAIRS)
def test_compiled_table_agrees_with_the_machine(state: str, trigger: str) -> None:
    """For every (state, trigger, guard values), the fast path and `transitions` end alike."""
    machine = LIFECYCLE.new_machine()
    for facts in GUARD_CASES:
        fast, slow = Record(state), Record(state)
        fired = _outcome(lambda: LIFECYCLE.fire(fast, trigger, facts))  # noqa: B023 (called at once)
        through_machine = _outcome(lambda: _trigger(machine, trigger, slow, facts))  # noqa: B023
        assert fired == through_machine, (state, trigger, facts)
        expected = LIFECYCLE.next_state(state, trigger, facts)
        if expected is not None:
            assert fast.state == expected


def _trigger(machine: Machine, trigger: str, record: Record, facts: dict[str, bool]) -> str:
    assert machine.events[trigger].trigger(record, **facts), "every row of the definition ends in one that applies"
    return record.state


def test_the_definition_machine_has_no_models_no_auto_transitions_and_sends_events() -> None:
    assert MACHINE.models == []
    assert "to_running" not in MACHINE.events
    assert MACHINE.send_event is True
    assert set(MACHINE.events) == set(TRIGGERS)


def test_every_step_and_admin_operation_is_a_trigger() -> None:
    steps = {"invoke", "append_command", "complete_command", "suspend", "wake", "fail_attempt", "complete"}
    clock = {"due", "dequeue", "expire", "expire_journal", "restarted"}
    assert set(TRIGGERS) == steps | clock | set(OPERATIONS)
    assert "restart_as_new" in MACHINE.events


def test_steps_that_keep_the_state_are_internal_transitions() -> None:
    def dests(trigger: str, source: str) -> list[str | None]:
        return [t.dest for t in MACHINE.events[trigger].transitions[source]]

    assert dests("append_command", "running") == [None]
    assert dests("complete_command", "running") == [None]
    assert dests("fail_attempt", "running")[-1] is None
    assert dests("resume", "running") == [None] and dests("cancel", "running") == [None]
    assert dests("purge_journal", "completed") == [None]
    assert dests("restart_as_new", "completed") == [None]
    assert all(rule.dest not in rule.sources for rule in RULES)


def test_restart_as_new_from_completed_runs_checks_8_to_15_as_conditions() -> None:
    (transition,) = MACHINE.events["restart_as_new"].transitions["completed"]
    from fsm import restart

    assert [c.func for c in transition.conditions] == list(restart.CONDITIONS)
    assert [c.number for c in restart.CHECKS if c.where == "condition"] == list(range(8, 16))


def test_guards_are_tried_in_table_order() -> None:
    next_state = LIFECYCLE.next_state
    assert next_state("free", "invoke", {"delayed": True, "key_locked": True}) == "scheduled"
    assert next_state("free", "invoke", {"key_locked": True}) == "inboxed"
    assert next_state("free", "invoke") == "running"
    assert next_state("running", "fail_attempt", {"retries_exhausted": True}) == "completed"
    assert next_state("running", "fail_attempt", {"retries_exhausted": True, "pause_on_max_attempts": True}) == "paused"
    assert next_state("running", "fail_attempt") == "running"


def test_the_quick_map_is_where_no_fact_leads() -> None:
    assert LIFECYCLE.quick[("free", "invoke")] == "running"
    assert LIFECYCLE.quick[("running", "fail_attempt")] == "running"
    assert ("running", "purge") not in LIFECYCLE.quick  # a refusal must raise: no shortcut
    assert ("completed", "restart_as_new") not in LIFECYCLE.quick  # its checks must run
    for (state, trigger), dest in LIFECYCLE.quick.items():
        assert LIFECYCLE.resolve(Record(state), trigger) == dest


def test_illegal_transition_spells_out_the_allowed_states() -> None:
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.fire(Record("completed"), "suspend")
    assert caught.value.message == (
        "Cannot 'suspend' the invocation 'inv_x' in state 'completed': 'suspend' is allowed from running."
    )
    assert (caught.value.http_status, caught.value.reason) == (409, "ILLEGAL_TRANSITION")


def test_a_refusal_row_raises_restates_answer() -> None:
    with pytest.raises(FailedPrecondition) as caught:
        LIFECYCLE.fire(Record("running"), "restart_as_new")
    err = caught.value
    assert (err.http_status, err.reason, err.check) == (409, "STILL_RUNNING", 7)
    assert err.message == "The invocation 'inv_x' is still running."


def test_admin_outcomes_cover_every_live_state() -> None:
    for operation in OPERATIONS:
        for state in LIVE_STATES:
            outcome = LIFECYCLE.outcome(operation, state)
            if isinstance(outcome, Accept):
                assert LIFECYCLE.next_state(state, operation) is not None, (operation, state)
            else:
                assert isinstance(outcome, Refuse)
    assert LIFECYCLE.outcome("cancel", "running") == Accept(202, "cancel")
    assert LIFECYCLE.outcome("pause", "suspended") == Accept(200, "pause")
    assert LIFECYCLE.outcome("restart_as_new", "scheduled") == lifecycle.RESTART_NOT_STARTED


def test_guards_are_side_effect_free_for_may_triggers() -> None:
    machine = LIFECYCLE.new_machine()
    record = Record("free")
    assert machine.events["invoke"].trigger(record, key_locked=True)
    assert record.state == "inboxed"

    class Event:
        kwargs: dict[str, Any] = {"delayed": True}

    guard = lifecycle.Guard("delayed")
    assert guard(Event()) and not lifecycle.Guard("key_locked")(Event())


# --- definition-time checks ---------------------------------------------------------------------


def test_a_table_that_leaves_a_state_unreachable_fails_at_definition() -> None:
    rules = tuple(r for r in RULES if r.dest != "paused")
    with pytest.raises(ValueError, match=r"unreachable from 'free': \['paused'\]"):
        Lifecycle(rules)


def test_a_table_with_an_unknown_guard_fails_at_definition() -> None:
    rules = (*RULES, Rule("wake", ("paused",), "running", ("sunny",)))
    with pytest.raises(ValueError, match="unknown guard 'sunny'"):
        Lifecycle(rules)


def test_a_step_that_keeps_its_state_must_be_internal() -> None:
    rules = (*RULES, Rule("pause", ("paused",), "paused", answer=200))
    with pytest.raises(ValueError, match=r"use dest=None \(an internal transition\)"):
        Lifecycle(rules)


def test_an_admin_operation_silent_in_a_state_fails_at_definition() -> None:
    rules = tuple(
        replace(r, sources=("running", "suspended")) if r.trigger == "kill" and "paused" in r.sources else r
        for r in RULES
    )
    with pytest.raises(ValueError, match="'kill' says nothing from 'paused'"):
        Lifecycle(rules)


def test_an_operation_that_both_refuses_and_accepts_fails_at_definition() -> None:
    rules = (*RULES, lifecycle.refuse("kill", ("paused",), lifecycle.ALREADY_COMPLETED))
    with pytest.raises(ValueError, match="'kill' from 'paused' both refuses and accepts"):
        Lifecycle(rules)


def test_a_trigger_whose_last_row_is_guarded_fails_at_definition() -> None:
    rules = tuple(r for r in RULES if not (r.trigger == "due" and r.dest == "running"))
    with pytest.raises(ValueError, match="'due' from 'scheduled' has no row without guards"):
        Lifecycle(rules)


def test_mixing_guards_and_checks_fails_at_definition() -> None:
    rules = (Rule("wake", ("paused",), "running", ("delayed",), checks=(lifecycle.NOT_RUNNING,)), *RULES)
    with pytest.raises(ValueError, match="mixes guards and checks"):
        Lifecycle(rules)


def test_only_admin_operations_answer() -> None:
    rules = tuple(replace(r, answer=200) if r.trigger == "complete" else r for r in RULES)
    with pytest.raises(ValueError, match="only admin operations"):
        Lifecycle(rules)


def test_the_table_is_compiled_from_the_machine() -> None:
    machine: Machine = MACHINE
    for (state, trigger), branches in TABLE.items():
        transitions = machine.events[trigger].transitions[state]
        assert [b[3] for b in branches] == [t.dest for t in transitions]
    assert LIFECYCLE.built(MACHINE) and not LIFECYCLE.built(Lifecycle().machine)


# --- the definition built at run time, not the module's import-time LIFECYCLE ---------------------


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            (*RULES, Rule("wake", ("paused",), "asleep")),
            "Rule wake names unknown state 'asleep': add it to STATES.",
        ),
        (
            (*RULES, Rule("pause", ("paused",), "paused", answer=200)),
            "Rule pause leads 'paused' to itself: use dest=None (an internal transition), "
            "so that a step which keeps the state fires no exit or enter callbacks.",
        ),
        (
            (Rule("invoke", ("free",), "running"), Rule("wake", ("suspended",), "paused")),
            "States unreachable from 'free': ['scheduled', 'inboxed', 'suspended', 'paused', 'completed']; "
            "add a rule that enters them.",
        ),
        (
            tuple(replace(r, answer=None) if r.trigger == "kill" and r.dest == "completed" else r for r in RULES),
            "'kill' from 'running' needs one answer (HTTP status) on every row.",
        ),
    ],
)
def test_a_broken_definition_is_refused_with_the_whole_fix(rules: tuple[Rule, ...], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Lifecycle(rules)
    assert str(caught.value) == message


def test_an_unless_row_applies_only_while_its_fact_is_false() -> None:
    first = Rule("wake", ("suspended",), "paused", unless=("key_locked",), doc="wakes paused unless locked")
    fresh = Lifecycle((first, *RULES))
    assert fresh.table[("suspended", "wake")][0] == ((), ("key_locked",), (), "paused")
    assert fresh.next_state("suspended", "wake") == "paused"
    assert fresh.next_state("suspended", "wake", {"key_locked": True}) == "running"
    assert fresh.resolve(Record("suspended"), "wake") == "paused"
    assert fresh.resolve(Record("suspended"), "wake", {"key_locked": True}) == "running"


def test_a_machine_with_a_foreign_negative_condition_does_not_compile() -> None:
    def cloudy(event: Any) -> bool:
        return False

    machine = Machine(
        model=None,
        states=["a", "b"],
        transitions=[{"trigger": "go", "source": "a", "dest": "b", "unless": [cloudy]}],
        initial="a",
        auto_transitions=False,
        send_event=True,
    )
    with pytest.raises(TypeError) as caught:
        lifecycle.compile_table(machine)
    assert str(caught.value) == f"'go' from 'a': unsupported condition {cloudy!r}"


def test_a_lifecycle_built_now_has_the_quick_map_and_the_allowed_states() -> None:
    fresh = Lifecycle()
    assert fresh.quick[("running", "append_command")] == "running"  # an internal transition keeps the state
    assert fresh.quick[("free", "invoke")] == "running"
    assert fresh.allowed["suspend"] == ("running",)
    assert fresh.allowed["purge"] == LIVE_STATES  # refusal rows count: purge answers in every live state


def test_a_refusal_row_says_what_it_answers() -> None:
    row = lifecycle.refuse("kill", ("completed",), lifecycle.ALREADY_COMPLETED)
    assert (row.dest, row.checks, row.doc) == (None, (lifecycle.ALREADY_COMPLETED,), "refused: 409 ALREADY_COMPLETED")


def test_outcome_of_a_trigger_that_is_not_an_admin_operation() -> None:
    with pytest.raises(ValueError) as caught:
        LIFECYCLE.outcome("invoke", "running")
    assert str(caught.value) == "'invoke' is not an admin operation defined from 'running'"


def test_a_machine_built_now_starts_free() -> None:
    assert Lifecycle().new_machine().initial == "free"  # behaviour.md: every invocation starts absent


def test_a_lifecycle_built_now_keeps_the_checks_of_its_rows() -> None:
    fresh = Lifecycle()
    assert fresh.table[("completed", "restart_as_new")] == (((), (), restart.CONDITIONS, None),)
    assert fresh.table[("running", "purge")] == (((), (), (lifecycle.NOT_COMPLETED,), None),)


def test_fire_takes_the_quick_map_when_no_fact_is_true(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path: one dict lookup, no condition run, for a step whose facts are all false."""
    fresh = Lifecycle()

    def no_resolve(*args: object) -> str:
        raise AssertionError(f"resolved {args}")

    monkeypatch.setattr(fresh, "resolve", no_resolve)
    record = Record("running")
    assert fresh.fire(record, "append_command") == "running"
    assert fresh.fire(record, "suspend", {"key_locked": False}) == record.state == "suspended"


def test_fire_without_facts_runs_a_rows_checks_with_none() -> None:
    record = Record("paused")
    assert LIFECYCLE.fire(record, "resume") == record.state == "running"  # resume keeps the deployment by default


def test_a_check_that_answers_false_passes_to_the_next_row() -> None:
    """As in `transitions`: a condition that is False (rather than raising) tries the next row."""

    def never(event: Any) -> bool:
        return False

    fresh = Lifecycle((Rule("wake", ("suspended",), "paused", checks=(never,)), *RULES))
    assert fresh.resolve(Record("suspended"), "wake") == "running"
