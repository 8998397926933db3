"""Exploration: every restart outcome has a witness, no invariant breaks, and a broken rule is caught."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from typing import Any

import pytest
from transitions import Machine

from fsm import Engine, lifecycle
from fsm.explore import (
    NOT_REACHABLE_BY_OPERATIONS,
    OUTCOMES,
    Exploration,
    PredicateError,
    Scope,
    ServiceShape,
    explore,
)


@pytest.fixture(scope="module")
def explored() -> Exploration:
    """The default scope, as ``python -m fsm.tools.explore`` runs it (a few seconds)."""
    return explore()


def _run_program(program: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(program, "<witness>", "exec"), namespace)
    return namespace


def test_every_restart_outcome_has_a_witness(explored: Exploration) -> None:
    assert explored.checks_witnessed() == list(range(1, 17))
    assert explored.missing_outcomes() == []
    assert set(explored.witnesses) == set(OUTCOMES) - set(NOT_REACHABLE_BY_OPERATIONS)


def test_no_invariant_breaks_and_nothing_is_stuck(explored: Exploration) -> None:
    assert explored.violations == {}
    assert explored.traps == []
    assert explored.unreachable_states() == []
    # a restarted invocation queues behind a held key only with a third invocation (see the next test)
    assert explored.rules_never_fired == ["free --restarted--> inboxed [key_locked]"]
    assert explored.lifecycle_never_left == []
    assert explored.states > 1000 and explored.edges > explored.states


def test_a_restarted_invocation_queues_behind_a_held_key() -> None:
    vo = ServiceShape("vo", "virtual_object")
    result = explore(Scope(services=(vo,), max_invocations=3, max_depth=4, max_deployments=1, protocols=((5, 7),)))
    assert result.violations == {}
    assert result.transitions[("free", "restarted", "inboxed")] > 0
    assert "free --restarted--> inboxed [key_locked]" not in result.rules_never_fired


def test_firings_are_seen_through_the_machine(explored: Exploration) -> None:
    # internal transitions are counted too: their callbacks fire, the state stays
    assert explored.transitions[("running", "append_command", "running")] > 0
    assert explored.transitions[("completed", "restart_as_new", "completed")] > 0
    assert all(not (a == b and t in ("wake", "suspend", "complete")) for a, t, b in explored.transitions)


def test_witnesses_are_shortest_for_the_checks_that_need_no_call(explored: Exploration) -> None:
    for check in (1, 2, 3, 5):
        outcome = next(o for o in explored.witnesses if o[0] == check)
        assert explored.witnesses[outcome].trace == ()
    # check 13 needs a pin, then a newer deployment that does not speak the pinned protocol
    thirteen = explored.witnesses[(13, 400, "INCOMPATIBLE_DEPLOYMENT")]
    assert [a.method for a in thirteen.trace].count("register_deployment") == 2


@pytest.mark.parametrize(
    "outcome",
    [
        (4, 503, "PARTITION_UNAVAILABLE"),
        (10, 409, "CANNOT_CHANGE_DEPLOYMENT"),
        (10, 200, "OK"),
        (13, 400, "INCOMPATIBLE_DEPLOYMENT"),
        (15, 400, "JOURNAL_INDEX_OUT_OF_RANGE"),
        (16, 200, "OK"),
    ],
)
def test_witness_programs_run_and_give_their_answer(explored: Exploration, outcome: tuple[int, int, str]) -> None:
    program = explored.program(explored.witnesses[outcome])
    assert program.startswith(f"# restart-as-new check {outcome[0]} ")
    namespace = _run_program(program)
    assert (namespace["status"], namespace["reason"], namespace["check"]) == (outcome[1], outcome[2], outcome[0])


def test_a_witness_program_fails_loudly_when_the_answer_changes(explored: Exploration) -> None:
    program = explored.program(explored.witnesses[(7, 409, "STILL_RUNNING")])
    with pytest.raises(AssertionError):
        _run_program(
            program.replace(
                'inv1 = engine.call("svc", "run")', 'inv1 = engine.call("svc", "run"); engine.complete(inv1)'
            )
        )


def test_output_is_stable() -> None:
    first, second = explore(max_depth=2), explore(max_depth=2)
    assert first.report() == second.report()
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)


def test_a_broken_rule_gives_a_short_counterexample() -> None:
    # "due" no longer checks the key: a delayed call starts although another invocation holds its key
    rules = tuple(r for r in lifecycle.RULES if not (r.trigger == "due" and r.dest == lifecycle.INBOXED))
    result = explore(lifecycle=lifecycle.Lifecycle(rules), max_depth=3)
    violation = result.violations["engine"]
    assert "two holders" in violation.message
    assert [a.method for a in violation.trace] == ["call", "call", "advance"]
    program = result.counterexample(violation)
    assert "modified lifecycle" in program and program.rstrip().endswith("engine.check_invariants()")
    assert "scheduled --due--> inboxed [key_locked]" not in result.rules_never_fired  # the row is gone


def test_a_broken_destination_is_caught() -> None:
    # kill leaves a paused invocation paused (while the engine releases its key as for any kill)
    rules = tuple(
        dataclasses.replace(r, sources=(lifecycle.RUNNING, lifecycle.SUSPENDED))
        if r.trigger == "kill" and r.dest == lifecycle.COMPLETED
        else r
        for r in lifecycle.RULES
    )
    rules += (lifecycle.Rule("kill", (lifecycle.PAUSED,), None, answer=200),)
    result = explore(lifecycle=lifecycle.Lifecycle(rules), max_depth=3)
    violation = result.violations["engine"]
    assert "lock table {} != holders" in violation.message
    assert [a.method for a in violation.trace] == ["call", "pause", "kill"]


def test_an_engine_factory_is_used_for_every_state() -> None:
    built: list[int] = []

    def factory(definition: lifecycle.Lifecycle, machine: Machine) -> Engine:
        built.append(1)
        return Engine(seed=0, partitions=1, lifecycle=definition, machine=machine)

    def one_partition(engine: Engine) -> bool:
        return engine.partitions == 1

    result = explore(factory=factory, max_depth=2, invariants={"one partition": one_partition})
    assert built == [1]  # the root; every other state is a fork of an engine it built
    assert result.violations == {} and (4, 503, "PARTITION_UNAVAILABLE") in result.witnesses
    assert "free --invoke--> running" in "".join(f"{a} --{t}--> {b}" for a, t, b in result.transitions)


def _two_running(engine: Engine) -> bool:
    return sum(inv.state == "running" for inv in engine.invocations.values()) < 2


def _something_paused(engine: Engine) -> bool:
    return any(inv.state == "paused" for inv in engine.invocations.values())


def test_a_user_invariant_that_breaks_is_answered_with_a_shortest_program() -> None:
    found = explore(Scope(max_depth=3), invariants={"tests.fsm.test_explore:_two_running": _two_running})
    (violation,) = found.violations.values()
    assert violation.invariant == "tests.fsm.test_explore:_two_running" and violation.message == "returned False"
    assert [a.method for a in violation.trace] == ["call", "call"]  # the shortest: two calls
    program = found.counterexample(violation)
    assert "from tests.fsm.test_explore import _two_running" in program
    with pytest.raises(AssertionError, match="_two_running"):
        _run_program(program)  # the program ends by breaking it


def test_a_goal_is_reached_by_the_shortest_calls() -> None:
    found = explore(Scope(max_depth=3), goals={"paused": _something_paused, "never": lambda e: False})
    trace = found.goals["paused"]
    assert trace is not None and [a.method for a in trace] == ["call", "pause"]
    assert found.goals["never"] is None and found.goals_missed() == ["never"]
    namespace = _run_program(dict((g["goal"], g["program"]) for g in found.to_json()["goals"])["paused"])
    assert _something_paused(namespace["engine"])


def test_an_invariant_may_assert_and_a_broken_predicate_stops_the_search() -> None:
    def asserts(engine: Engine) -> None:
        assert len(engine.invocations) < 1, "an invocation exists"

    found = explore(Scope(max_depth=1), invariants={"asserts": asserts})
    assert found.violations["asserts"].message.startswith("an invocation exists")  # (pytest adds its detail)
    with pytest.raises(PredicateError, match=r"buggy raised ZeroDivisionError: division by zero \(at the state"):
        explore(Scope(max_depth=1), goals={"buggy": lambda e: 1 / 0})


def test_progress_is_told_each_level_as_it_starts() -> None:
    told: list[tuple[int, int, int]] = []
    found = explore(Scope(max_depth=3), progress=lambda depth, states, frontier: told.append((depth, states, frontier)))
    assert [depth for depth, _, _ in told] == [1, 2, 3]
    assert all(states >= frontier > 0 for _, states, frontier in told) and told[-1][1] <= found.states


def _findings(result: Exploration) -> dict[str, Any]:
    """What a search concludes, without how many states it took to get there."""
    return {
        "answers": result.answers,
        "witnesses": {o: len(w.trace) for o, w in result.witnesses.items()},
        "admin cases": {a: len(c["steps"]) for a, c in result.admin_cases.items()},
        "violations": {name: len(v.trace) for name, v in result.violations.items()},
        "rules never fired": result.rules_never_fired,
        "lifecycle seen": result.lifecycle_seen,
        "never left": result.lifecycle_never_left,
        "traps": sorted(label.split(" ")[1] for label, _ in result.traps),
        "goals": {name: None if t is None else len(t) for name, t in result.goals.items()},
    }


@pytest.mark.parametrize(
    ("depth", "invocations", "rules"),
    [
        (3, 3, lifecycle.RULES),
        (4, 2, lifecycle.RULES),
        # a broken rule: both searches find the same violations, after as many calls
        (3, 3, tuple(r for r in lifecycle.RULES if not (r.trigger == "due" and r.dest == lifecycle.INBOXED))),
    ],
)
def test_the_reduced_search_finds_what_the_full_search_finds(
    depth: int, invocations: int, rules: tuple[lifecycle.Rule, ...]
) -> None:
    definition = None if rules is lifecycle.RULES else lifecycle.Lifecycle(rules)
    goals = {"something paused": _something_paused}
    full = explore(lifecycle=definition, max_depth=depth, max_invocations=invocations, reduce=False, goals=goals)
    reduced = explore(lifecycle=definition, max_depth=depth, max_invocations=invocations, goals=goals)
    assert reduced.states < full.states  # it does reduce
    assert _findings(reduced) == _findings(full)
    assert len(full.answers) > 50 and full.admin_cases
    assert (definition is None) == (not full.violations)


def test_a_trap_is_found_and_followed_through_renamed_states() -> None:
    # kill, cancel and resume refuse a paused invocation: once paused, it never ends
    stuck = ("kill", "cancel", "resume")
    rules = tuple(
        dataclasses.replace(r, sources=tuple(s for s in r.sources if s != lifecycle.PAUSED))
        if r.trigger in stuck and lifecycle.PAUSED in r.sources
        else r
        for r in lifecycle.RULES
    )
    rules = tuple(r for r in rules if r.sources) + tuple(
        lifecycle.refuse(op, (lifecycle.PAUSED,), lifecycle.ALREADY_COMPLETED) for op in stuck
    )
    result = explore(lifecycle=lifecycle.Lifecycle(rules), max_depth=4, max_invocations=2)
    assert result.traps and all(label.endswith(" paused") for label, _ in result.traps)
    assert [a.method for a in result.traps[0][1]][-1] == "pause"
    full = explore(lifecycle=lifecycle.Lifecycle(rules), max_depth=4, max_invocations=2, reduce=False)
    assert _findings(result) == _findings(full)
