"""The helpers users build their tests on: valid data only, and properties that use it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm import Engine, LifecycleError
from fsm.journal import prefix_is_complete
from fsm.lifecycle import LIVE_STATES
from fsm.model import SERVICE_TYPES, VIRTUAL_OBJECT
from fsm.snapshot import dump_invocation, dump_world, load_world
from fsm.testing import (
    ADMIN_OPERATIONS,
    AdminRequest,
    Call,
    RestartRequest,
    admin_requests,
    calls,
    check_refusal,
    invocations,
    journals,
    make_invocation,
    restart_requests,
    worlds,
    worlds_with_requests,
)
from tests.budget import budget

FAST = budget(60, slow_ok=True)


@FAST
@given(worlds())
def test_every_generated_world_round_trips(world: dict[str, Any]) -> None:
    engine = load_world(world)
    assert dump_world(engine) == world
    engine.check_invariants()


@FAST
@given(worlds_with_requests())
def test_restart_never_changes_the_old_invocation(case: tuple[dict[str, Any], RestartRequest]) -> None:
    world, request = case
    engine = load_world(world)
    before = {inv.id: dump_invocation(engine, inv) for inv in engine.invocations.values()}
    try:
        result = request.send(engine)
    except LifecycleError:
        assert dump_world(engine) == world  # a refusal changes nothing at all
        return
    assert {i: dump_invocation(engine, engine.invocations[i]) for i in before} == before
    assert result.new_invocation_id not in before
    assert result.new_invocation_id[:16] == request.invocation_id[:16]
    engine.check_invariants()


@FAST
@given(journals(complete=True))
def test_complete_journals_have_every_completion(journal: list[dict[str, Any]]) -> None:
    world = {
        "deployments": [],
        "services": [{"name": "s", "type": "service", "journal_retention_s": 60}],
        "invocations": [
            {
                "id": "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9",
                "target": {"service": "s", "handler": "h", "key": None},
                "status": "running",
                "completion": None,
                "pinned": None,
                "journal_retained": True,
                "journal": journal,
            }
        ],
    }
    engine = load_world(world)
    entries = engine.invocations["inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9"].journal
    assert entries is not None and prefix_is_complete(entries, len(entries) - 1)
    assert [e["index"] for e in journal] == list(range(len(journal)))


@FAST
@given(journals(complete=False))
def test_incomplete_journals_miss_a_completion(journal: list[dict[str, Any]]) -> None:
    awaited = {c for e in journal for c in e.get("completion_ids", ())}
    delivered = {e["completion_id"] for e in journal if "completion_id" in e}
    assert journal[0] == {"index": 0, "kind": "command", "type": "Input"}
    assert awaited - delivered


@FAST
@given(restart_requests(["inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9"], ["dp_16cRnGpcnx76y3EtKOfifDP"]))
def test_requests_get_an_answer_not_a_crash(request: RestartRequest) -> None:
    engine = Engine()
    try:
        request.send(engine)
    except LifecycleError as error:
        assert error.check is not None and 1 <= error.check <= 5
    else:
        pytest.fail("an empty world cannot restart anything")


@pytest.mark.parametrize("state", LIVE_STATES)
@pytest.mark.parametrize("service_type", SERVICE_TYPES)
def test_make_invocation_reaches_every_state(state: str, service_type: str) -> None:
    if state == "inboxed" and service_type != VIRTUAL_OBJECT:
        with pytest.raises(ValueError, match="virtual object"):
            make_invocation(state, service_type=service_type)
        return
    engine, inv = make_invocation(state, service_type=service_type, commands=("Run", "Call"))
    assert engine.invocations[inv].state == state
    engine.check_invariants()


def test_make_invocation_options() -> None:
    engine, inv = make_invocation("completed", protocol=(1, 3), completion="failure", journal_retained=False)
    record = engine.invocations[inv]
    assert (record.completion, record.journal, record.pinned_protocol) == ("failure", None, 3)
    assert engine.explain_restart_as_new(inv).check.number == 8
    engine, inv = make_invocation("completed", protocol=None)
    assert engine.invocations[inv].pinned_deployment is None
    with pytest.raises(ValueError):
        make_invocation("free")
    with pytest.raises(ValueError):
        make_invocation("running", journal_retained=False)


@budget(40)
@given(invocations(), st.data())
def test_drawn_invocations_are_consistent(made: tuple[Engine, str], data: st.DataObject) -> None:
    engine, inv = made
    assert engine.invocations[inv].state in LIVE_STATES
    engine.check_invariants()
    request = data.draw(restart_requests([inv]))
    before = dump_invocation(engine, engine.invocations[inv])
    try:
        request.send(engine)
    except LifecycleError:
        pass
    assert dump_invocation(engine, engine.invocations[inv]) == before


def _world_for_calls() -> Engine:
    engine = Engine(seed=3)
    engine.register_service("Greeter")
    engine.register_service("Counter", "virtual_object")
    engine.register_deployment(["Greeter", "Counter"])
    return engine


@FAST
@given(st.lists(calls(("Greeter", "Counter")), min_size=1, max_size=8))
def test_calls_are_answered_or_refused_well_and_a_refusal_changes_nothing(drawn: list[Call]) -> None:
    engine = _world_for_calls()
    outcomes = set()
    for call in drawn:
        before = dump_world(engine)
        try:
            inv = call.send(engine)
        except LifecycleError as err:
            check_refusal(err)
            assert dump_world(engine) == before
            outcomes.add(err.reason)
        else:
            assert engine.invocations[inv].service == call.service
            outcomes.add("accepted")
    engine.check_invariants()


@FAST
@given(st.data())
def test_admin_requests_hit_live_invocations_and_malformed_ids(data: st.DataObject) -> None:
    engine = _world_for_calls()
    ids = [engine.call("Greeter", "run"), engine.call("Counter", "run", "a")]
    for request in data.draw(st.lists(admin_requests(ids), min_size=1, max_size=6)):
        assert request.operation in ADMIN_OPERATIONS
        before = dump_world(engine)
        try:
            status = request.send(engine)
        except LifecycleError as err:
            check_refusal(err)
            assert dump_world(engine) == before
        else:
            assert status in (200, 202)
    engine.check_invariants()


def test_the_call_and_admin_strategies_reach_every_kind_of_answer() -> None:
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, database=None)
    @given(calls(("Greeter", "Counter")), admin_requests(["inv_1"]))
    def probe(call: Call, request: AdminRequest) -> None:
        engine = _world_for_calls()
        for send in (call.send, request.send):
            try:
                send(engine)
                seen.add("accepted")
            except LifecycleError as err:
                seen.add(err.reason)

    probe()
    assert {"accepted", "SERVICE_NOT_FOUND", "INVALID_ARGUMENT", "INVALID_INVOCATION_ID"} <= seen, seen
