"""Observers: a typed event for every transition and every admin answer, after each operation."""

from __future__ import annotations

import pytest

from fsm import Engine, LifecycleError
from fsm.observers import AnswerEvent, Event, TransitionEvent
from tests.refusals import refused

from .conftest import World


def transitions(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.trigger, e.source, e.dest) for e in events if isinstance(e, TransitionEvent)]


def test_every_transition_of_a_lifecycle_arrives_in_order_with_its_virtual_time(world: World) -> None:
    e = world.engine
    seen: list[Event] = []
    e.subscribe(seen.append)
    inv = e.call("Steps", "run")
    e.sleep(inv, 5_000)
    e.advance(5_000)
    e.complete(inv)
    assert seen == [
        TransitionEvent(inv, "invoke", "free", "running", e.now_ms - 5_000),
        TransitionEvent(inv, "append_command", "running", "running", e.now_ms - 5_000),
        TransitionEvent(inv, "suspend", "running", "suspended", e.now_ms - 5_000),
        TransitionEvent(inv, "complete_command", "suspended", "suspended", e.now_ms),
        TransitionEvent(inv, "wake", "suspended", "running", e.now_ms),
        TransitionEvent(inv, "complete", "running", "completed", e.now_ms),
    ]


def test_admin_answers_arrive_after_their_transitions_refusals_included(world: World) -> None:
    e = world.engine
    inv = e.call("Steps", "run")
    seen: list[Event] = []
    e.subscribe(seen.append)
    err = refused(lambda: e.restart_as_new(inv), LifecycleError)
    assert seen == [AnswerEvent("restart_as_new", inv, 409, "STILL_RUNNING", err.message, e.now_ms)]
    seen.clear()
    assert e.pause(inv) == 202
    assert seen == [
        TransitionEvent(inv, "pause", "running", "paused", e.now_ms),
        AnswerEvent("pause", inv, 202, None, None, e.now_ms),
    ]
    seen.clear()
    e.kill(inv)
    new = e.restart_as_new(inv).new_invocation_id
    assert transitions(seen) == [
        ("kill", "paused", "completed"),
        ("restart_as_new", "completed", "completed"),
        ("restarted", "free", "running"),  # the new invocation
    ]
    assert [(a.operation, a.status) for a in seen if isinstance(a, AnswerEvent)] == [
        ("kill", 200),
        ("restart_as_new", 200),
    ]
    assert new in e.invocations
    seen.clear()
    refused(lambda: e.cancel("inv_bogus"), LifecycleError)
    assert all(isinstance(a, AnswerEvent) for a in seen)
    assert [(a.operation, a.invocation_id, a.status, a.reason) for a in seen if isinstance(a, AnswerEvent)] == [
        ("cancel", "inv_bogus", 400, "INVALID_INVOCATION_ID")
    ]


def test_an_observer_may_call_the_engine_because_events_come_after_the_operation(world: World) -> None:
    e = world.engine
    restarted: list[str] = []

    def restart_on_completion(event: Event) -> None:
        if isinstance(event, TransitionEvent) and event.dest == "completed" and event.trigger == "complete":
            restarted.append(e.restart_as_new(event.invocation_id).new_invocation_id)

    e.subscribe(restart_on_completion)
    inv = e.call("Steps", "run")
    e.complete(inv)
    assert len(restarted) == 1 and e.invocations[restarted[0]].restarted_from == inv


def test_unsubscribing_stops_the_events_and_a_stranger_is_named(world: World) -> None:
    e = world.engine
    seen: list[Event] = []
    unsubscribe = e.subscribe(seen.append)
    e.call("Steps", "run")
    unsubscribe()
    e.call("Steps", "run")
    assert len(seen) == 1
    with pytest.raises(LookupError, match="is not subscribed to this engine"):
        e.unsubscribe(print)
    with pytest.raises(TypeError, match="Invalid argument 'observer': must be callable"):
        e.subscribe(42)  # type: ignore[arg-type]


def test_an_observer_that_raises_does_not_stop_the_others_and_the_world_stays_whole(world: World) -> None:
    e = world.engine
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("observer bug")

    e.subscribe(broken)
    e.subscribe(seen.append)
    with pytest.raises(ValueError, match="observer bug") as caught:
        e.call("Steps", "run")
    assert any("Raised by the observer" in note for note in caught.value.__notes__)
    assert len(seen) == 1 and seen[0].invocation_id in e.invocations
    e.check_invariants()


def test_an_engine_nobody_watches_keeps_its_fast_path() -> None:
    e = Engine()
    e.register_service("S")
    e.call("S", "h")
    assert e._world.machine is None  # noqa: SLF001 - the fast path is what is being checked
    e.subscribe(lambda event: None)
    assert e._world.machine is not None  # noqa: SLF001


def test_engines_sharing_a_machine_hear_only_their_own_steps() -> None:
    machine = Engine().lifecycle.new_machine()
    a, b = Engine(machine=machine), Engine(machine=machine, seed=1)
    for engine in (a, b):
        engine.register_service("S")
    heard_a: list[Event] = []
    heard_b: list[Event] = []
    a.subscribe(heard_a.append)
    b.subscribe(heard_b.append)
    inv_a = a.call("S", "h")
    inv_b = b.call("S", "h")
    assert [ev.invocation_id for ev in heard_a] == [inv_a]
    assert [ev.invocation_id for ev in heard_b] == [inv_b]
