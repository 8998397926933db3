"""The per-engine `transitions` machine: callbacks fire, per engine, in transitions' order; a raising
callback leaves the world consistent; the machine cannot be used to change the lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine
from transitions.core import Condition

from fsm import Engine, LifecycleError
from fsm.errors import LifecycleChanged
from fsm.lifecycle import LIFECYCLE

from .conftest import World


def _engine() -> Engine:
    e = Engine(seed=3)
    e.register_service("Steps")
    e.register_service("Locker", "virtual_object")
    e.register_deployment(["Steps", "Locker"], (5, 7))
    return e


def _watch(machine: Machine, log: list[str], *, enter: tuple[str, ...], exit: tuple[str, ...] = ()) -> None:
    for state in enter:
        getattr(machine, f"on_enter_{state}")(lambda event, s=state: log.append(f"enter {s}"))
    for state in exit:
        getattr(machine, f"on_exit_{state}")(lambda event, s=state: log.append(f"exit {s}"))


def test_callbacks_fire_in_transitions_order_for_a_call_that_suspends_and_wakes() -> None:
    e = _engine()
    log: list[str] = []
    _watch(e.machine, log, enter=("running", "suspended", "completed"), exit=("running",))
    inv = e.call("Steps", "run")  # starts
    step = e.append_command(inv, "Run")  # takes a step: internal, no exit or enter
    e.suspend(inv)
    e.complete_command(inv, step.completion_ids[0])  # the completion wakes it
    e.complete(inv)
    assert log == [
        "enter running",
        "exit running",
        "enter suspended",
        "enter running",
        "exit running",
        "enter completed",
    ]


def test_event_callbacks_fire_for_internal_transitions_and_carry_the_facts() -> None:
    e = _engine()
    seen: list[tuple[str, str, str, dict[str, Any]]] = []

    def note(event: Any) -> None:
        seen.append((event.event.name, event.transition.source, event.model.state, dict(event.kwargs)))

    for trigger in ("append_command", "fail_attempt", "invoke"):
        getattr(e.machine, f"before_{trigger}")(note)
    inv = e.call("Locker", "hold", "k")
    e.call("Locker", "hold", "k")  # queued behind the first: key_locked is a fact the trigger carries
    e.append_command(inv, "Run")
    e.fail_attempt(inv, max_attempts=5)
    assert seen == [
        ("invoke", "free", "free", {}),
        ("invoke", "free", "free", {"delayed": False, "key_locked": True}),
        ("append_command", "running", "running", {}),
        ("fail_attempt", "running", "running", {"retries_exhausted": False, "pause_on_max_attempts": True}),
    ]


def test_callbacks_of_one_engine_never_fire_for_another() -> None:
    first, second = _engine(), _engine()
    log: list[str] = []
    _watch(first.machine, log, enter=("running", "completed"))
    assert first.machine is not second.machine
    inv = second.call("Steps", "run")
    second.complete(inv)
    assert log == []
    own = first.call("Steps", "run")
    first.complete(own)
    assert log == ["enter running", "enter completed"]


def test_an_engine_builds_its_machine_on_first_access_only() -> None:
    e = _engine()
    assert e._world.machine is None  # nobody asked: the fast path runs
    machine = e.machine
    assert isinstance(machine, Machine) and e.machine is machine and isinstance(e, Engine)
    assert machine.models == [] and machine.send_event and "to_running" not in machine.events


def test_restart_as_new_is_a_trigger_whose_checks_are_its_conditions(world: World) -> None:
    e = world.engine
    assert "restart_as_new" in e.machine.events and "restarted" in e.machine.events
    old = world.completed()
    seen: list[tuple[str, str]] = []
    e.machine.after_restart_as_new(lambda event: seen.append((event.model.id, event.kwargs["request"].invocation_id)))
    e.machine.on_exit_free(lambda event: seen.append((event.event.name, event.model.restarted_from)))
    with pytest.raises(LifecycleError) as refused:
        e.restart_as_new(old, from_=9)
    assert (refused.value.http_status, refused.value.reason, refused.value.check) == (400, "INCOMPLETE_PREFIX", 14)
    assert refused.value.message == (
        f"The prefix of the journal '{old}' up to 'from' (included) contains some Commands without respective "
        "Completions."
    )
    assert seen == []  # a refusal fires nothing: it is decided before the trigger
    result = e.restart_as_new(old)
    assert seen == [(old, old), ("restarted", old)]
    assert e.invocations[old].state == "completed" and result.status == "running"


def test_a_raising_callback_leaves_no_invocation_half_moved() -> None:
    """The step is finished (state, effects, what it sets off); then the operation re-raises."""
    e = _engine()
    holder = e.call("Locker", "hold", "k")
    queued = e.call("Locker", "hold", "k")

    def boom(event: Any) -> None:
        raise ValueError(f"callback failed for {event.model.id}")

    e.machine.on_enter_completed(boom)
    with pytest.raises(ValueError, match="callback failed") as caught:
        e.complete(holder)
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert f"'complete' on the invocation '{holder}' (running -> completed)" in notes
    assert e.invocations[holder].state == "completed" and e.invocations[holder].completion == "success"
    assert e.invocations[queued].state == "running" and e.lock_holders[("Locker", "k")] == queued
    e.check_invariants()
    e.advance(2 * 86_400_000)  # retention was scheduled: the cleaner forgets it
    assert holder not in e.invocations


def test_a_callback_raising_before_the_move_still_gets_the_move_finished() -> None:
    e = _engine()
    inv = e.call("Steps", "run")
    e.machine.on_exit_running(lambda event: 1 / 0)
    entered: list[str] = []
    e.machine.on_enter_suspended(lambda event: entered.append(event.model.id))
    with pytest.raises(ZeroDivisionError) as caught:
        e.sleep(inv, 1_000)  # append_command (internal: no exit), then suspend: exit running raises
    assert caught.value.__notes__[0].startswith(f"Raised by a callback of 'suspend' on the invocation '{inv}'")
    assert e.invocations[inv].state == "suspended" and e.invocations[inv].awaiting == 1
    assert entered == []  # transitions stopped at the raising callback; the engine finished the move
    e.advance(1_000)  # the Sleep's completion wakes it: nothing raises on the way in
    assert e.invocations[inv].state == "running"
    with pytest.raises(ZeroDivisionError):
        e.complete(inv)
    assert e.invocations[inv].state == "completed"
    e.check_invariants()


def test_several_raising_callbacks_are_all_reported() -> None:
    e = _engine()
    holder = e.call("Locker", "hold", "k")
    queued = e.call("Locker", "hold", "k")
    e.machine.on_enter_completed(lambda event: int("not a number"))
    e.machine.on_enter_running(lambda event: 1 / 0)
    with pytest.raises(ValueError, match="not a number") as caught:
        e.complete(holder)  # the holder completes (ValueError), the queued one starts (ZeroDivisionError)
    notes = caught.value.__notes__
    assert len(notes) == 2 and f"'dequeue' on '{queued}' (inboxed -> running)" in notes[1]
    assert "ZeroDivisionError" in notes[1]
    assert e.invocations[queued].state == "running" and e.lock_holders[("Locker", "k")] == queued
    e.check_invariants()


def test_calling_the_engine_from_a_callback_is_refused_with_the_fix() -> None:
    e = _engine()
    e.machine.on_enter_completed(lambda event: e.purge(event.model.id))
    inv = e.call("Steps", "run")
    with pytest.raises(RuntimeError, match=r"engine.purge\(\) was called from a callback of engine.machine"):
        e.complete(inv)
    assert e.invocations[inv].state == "completed"  # the outer step finished; the nested one never ran
    e.check_invariants()


def test_the_machine_takes_callbacks_not_conditions() -> None:
    e = _engine()
    (transition,) = e.machine.events["complete"].transitions["running"]
    transition.conditions.append(Condition(lambda event: False))
    inv = e.call("Steps", "run")
    with pytest.raises(LifecycleChanged, match="engine.machine takes callbacks, not conditions or transitions"):
        e.complete(inv)
    assert e.invocations[inv].state == "completed"
    e.check_invariants()


def test_one_machine_can_be_shared_by_engines_that_are_given_it() -> None:
    machine = LIFECYCLE.new_machine()
    log: list[str] = []
    _watch(machine, log, enter=("completed",))
    for _ in range(2):
        e = Engine(seed=1, machine=machine)
        e.register_service("S")
        e.complete(e.call("S", "run"))
    assert log == ["enter completed", "enter completed"]
