"""The engine: admin operations per state (behaviour.md section 2), effects, the clock, misuse."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest

from fsm import Engine, IllegalTransition, InvalidArgument, LifecycleError, NotFound
from fsm.errors import FailedPrecondition, Unavailable
from fsm.model import MAX_JOURNAL_ENTRIES, MAX_NAME_CHARS
from fsm.snapshot import dump_world, load_world
from tests.refusals import answer, refused

from .conftest import World

Maker = Callable[[World], str]


def scheduled(w: World) -> str:
    return w.engine.call("Steps", "run", delay_ms=60_000)


def inboxed(w: World) -> str:
    w.engine.call("Locker", "hold", "k")
    return w.engine.call("Locker", "hold", "k")


def running(w: World) -> str:
    return w.engine.call("Steps", "run")


def suspended(w: World) -> str:
    inv = running(w)
    w.engine.sleep(inv, 60_000)
    return inv


def paused(w: World) -> str:
    inv = running(w)
    w.engine.fail_attempt(inv, max_attempts=1)
    return inv


def completed(w: World) -> str:
    return w.completed()


MAKERS: dict[str, Maker] = {
    "scheduled": scheduled,
    "inboxed": inboxed,
    "running": running,
    "suspended": suspended,
    "paused": paused,
    "completed": completed,
}

ALREADY = "The invocation '{id}' was already completed."
NOT_COMPLETED = "The invocation '{id}' is not yet completed."
NOT_RUNNING = "The invocation '{id}' is not running, cannot be paused."

# operation -> state -> (status, state after or None when refused, message template for refusals)
TABLE: dict[str, dict[str, tuple[int, str | None, str | None]]] = {
    "cancel": {
        "scheduled": (200, "free", None),
        "inboxed": (200, "free", None),
        "running": (202, "running", None),
        "suspended": (202, "running", None),
        "paused": (202, "running", None),
        "completed": (409, None, ALREADY),
    },
    "kill": {
        "scheduled": (200, "free", None),
        "inboxed": (200, "free", None),
        "running": (200, "completed", None),
        "suspended": (200, "completed", None),
        "paused": (200, "completed", None),
        "completed": (409, None, ALREADY),
    },
    "purge": {**{s: (409, None, NOT_COMPLETED) for s in MAKERS}, "completed": (200, "free", None)},
    "purge_journal": {**{s: (409, None, NOT_COMPLETED) for s in MAKERS}, "completed": (200, "completed", None)},
    "pause": {
        "scheduled": (409, None, NOT_RUNNING),
        "inboxed": (409, None, NOT_RUNNING),
        "running": (202, "paused", None),
        "suspended": (200, "suspended", None),
        "paused": (200, "paused", None),
        "completed": (409, None, NOT_RUNNING),
    },
    "resume": {
        "scheduled": (425, None, "The invocation '{id}' is either inboxed or scheduled, cannot be resumed."),
        "inboxed": (425, None, "The invocation '{id}' is either inboxed or scheduled, cannot be resumed."),
        "running": (200, "running", None),
        "suspended": (200, "running", None),
        "paused": (200, "running", None),
        "completed": (409, None, "The invocation '{id}' is completed, cannot be resumed."),
    },
}


@pytest.mark.parametrize("operation", list(TABLE))
@pytest.mark.parametrize("state", list(MAKERS))
def test_admin_operation_per_state(world: World, operation: str, state: str) -> None:
    inv = MAKERS[state](world)
    e = world.engine
    assert e.invocations[inv].state == state
    status, after, template = TABLE[operation][state]
    if template is None:
        assert getattr(e, operation)(inv) == status
        assert (e.invocations[inv].state if inv in e.invocations else "free") == after
    else:
        with pytest.raises(FailedPrecondition) as caught:
            getattr(e, operation)(inv)
        assert (caught.value.http_status, caught.value.message) == (status, template.format(id=inv))
        assert e.invocations[inv].state == state
    e.check_invariants()


@pytest.mark.parametrize("operation", [*TABLE, "restart_as_new"])
def test_every_operation_answers_400_404_and_503_like_restate(world: World, operation: str) -> None:
    e = world.engine
    err: LifecycleError = refused(lambda: getattr(e, operation)("xyz"), InvalidArgument)
    assert answer(err) == (
        400,
        "INVALID_INVOCATION_ID",
        "The request field 'invocation_id' is invalid. Reason: bad format",
    )
    absent = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"
    err = refused(lambda: getattr(e, operation)(absent), NotFound)
    assert answer(err) == (404, "INVOCATION_NOT_FOUND", f"The requested invocation '{absent}' does not exist")
    inv = completed(world)
    partition = e.partition_of(e.parse_id(inv))
    e.set_partition_available(partition, False)
    err = refused(lambda: getattr(e, operation)(inv), Unavailable)
    assert answer(err) == (
        503,
        "PARTITION_UNAVAILABLE",
        f"Error when routing the request internally. Reason: partition {partition} has no known leader",
    )


def test_cancel_appends_a_signal_and_kill_ends_with_failure(world: World) -> None:
    e = world.engine
    inv = suspended(world)
    e.cancel(inv)
    journal = e.invocations[inv].journal or []
    assert (journal[-1].kind, journal[-1].type, journal[-1].name) == ("notification", "Signal", "cancel")
    e.kill(inv)
    assert (e.invocations[inv].state, e.invocations[inv].completion) == ("completed", "failure")


def test_resume_can_move_a_paused_invocation_to_another_deployment(world: World) -> None:
    e = world.engine
    inv = paused(world)
    assert e.invocations[inv].pinned_deployment == world.d2
    with pytest.raises(FailedPrecondition) as caught:
        e.resume(inv, world.proto5)
    assert caught.value.message == (
        f"The invocation '{inv}' is running on protocol version '6', while the chosen "
        f"deployment '{world.proto5}' supports the range 5..=5."
    )
    err = refused(lambda: e.resume(inv, "dp_16hyvaGLkmYCmSH4nzeUDAv"), FailedPrecondition)
    assert answer(err) == (
        400,
        "DEPLOYMENT_NOT_FOUND",
        f"The given deployment was not found when trying to resume the invocation '{inv}'.",
    )
    assert e.resume(inv, world.d1) == 200
    assert (e.invocations[inv].state, e.invocations[inv].pinned_deployment) == ("running", world.d1)
    err = refused(lambda: e.resume(inv, "latest"), FailedPrecondition)
    assert answer(err) == (
        409,
        "CANNOT_CHANGE_DEPLOYMENT",
        f"The invocation '{inv}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed.",
    )
    assert e.resume(inv, "keep") == 200


def test_inbox_drains_in_fifo_order(world: World) -> None:
    e = world.engine
    holder = e.call("Locker", "hold", "k")
    queued = [e.call("Locker", "hold", "k") for _ in range(3)]
    other_key = e.call("Locker", "hold", "other")
    assert e.invocations[other_key].state == "running"
    e.kill(queued[1])  # leaves the queue
    e.complete(holder)
    assert [e.invocations[q].state for q in (queued[0], queued[2])] == ["running", "inboxed"]
    e.complete(queued[0])
    assert e.invocations[queued[2]].state == "running"
    e.check_invariants()


def test_scheduled_call_becomes_due_on_the_virtual_clock(world: World) -> None:
    e = world.engine
    inv = scheduled(world)
    e.advance(59_999)
    assert e.invocations[inv].state == "scheduled"
    e.advance(1)
    assert e.invocations[inv].state == "running"


def test_delayed_call_on_a_locked_key_is_inboxed_when_due(world: World) -> None:
    e = world.engine
    e.call("Locker", "hold", "k")
    inv = e.call("Locker", "hold", "k", delay_ms=10)
    e.advance(10)
    assert e.invocations[inv].state == "inboxed"


def test_sleep_wakes_on_the_clock(world: World) -> None:
    e = world.engine
    inv = suspended(world)
    e.advance(60_000)
    assert e.invocations[inv].state == "running"
    assert (e.invocations[inv].journal or [])[-1].completion_id == 1


def test_retries_back_off_then_pause_or_kill(world: World) -> None:
    e = world.engine
    inv = running(world)
    states = []
    for _ in range(3):
        states.append(e.fail_attempt(inv, max_attempts=3))
        e.advance((e.invocations[inv].next_attempt_ms or e.now_ms) - e.now_ms)  # the backoff, when there is one
    assert states == ["running", "running", "paused"]
    assert e.invocations[inv].retry_count == 3
    other = running(world)
    e.fail_attempt(other, max_attempts=1, on_max_attempts="kill")
    assert (e.invocations[other].state, e.invocations[other].completion) == ("completed", "failure")


def test_retention_is_lazy_and_runs_hourly() -> None:
    e = Engine()
    e.register_service("S", journal_retention_s=600, completion_retention_s=7_200)
    e.register_deployment(["S"])
    inv = e.call("S", "run")
    e.complete(inv)
    e.advance(3_600_000 - 1)
    assert e.invocations[inv].journal is not None  # journal expired at 10 min, cleaner not run yet
    e.advance_to(e.now_ms + (3_600_000 - e.now_ms % 3_600_000))
    assert e.invocations[inv].journal is None and e.invocations[inv].state == "completed"
    e.advance(2 * 3_600_000)
    assert inv not in e.invocations


def test_zero_completion_retention_frees_at_completion() -> None:
    e = Engine()
    e.register_service("S", journal_retention_s=0, completion_retention_s=0)
    inv = e.call("S", "run")
    e.complete(inv)
    assert inv not in e.invocations


def test_idempotency_key_deduplicates_calls(world: World) -> None:
    e = world.engine
    first = e.call("Steps", "run", idempotency_key="k1")
    assert e.call("Steps", "run", idempotency_key="k1") == first
    assert e.call("Steps", "run", idempotency_key="k2") != first


def test_first_attempt_pins_the_latest_deployment_and_best_protocol(world: World) -> None:
    e = world.engine
    inv = running(world)
    assert e.invocations[inv].pinned_deployment is None
    e.append_command(inv, "SetState")
    assert (e.invocations[inv].pinned_deployment, e.invocations[inv].pinned_protocol) == (world.d2, 6)


def test_completion_ids_follow_behaviour_md(world: World) -> None:
    e = world.engine
    inv = running(world)
    assert e.append_command(inv, "Call").completion_ids == (1, 2)
    assert e.append_command(inv, "SetState").completion_ids == ()
    assert e.append_command(inv, "Sleep").completion_ids == (3,)
    assert e.complete_command(inv, 1).type == "CallInvocationId"
    assert e.complete_command(inv, 2).type == "Call"


@pytest.mark.parametrize(
    ("step", "status", "reason", "message"),
    [
        (
            lambda e, i: e.suspend(i),
            409,
            "NOTHING_TO_AWAIT",
            "The invocation '{inv}' awaits no missing completion: it cannot suspend.",
        ),
        (
            lambda e, i: e.complete_command(i, 9),
            409,
            "UNKNOWN_COMPLETION",
            "No command of the invocation '{inv}' awaits completion 9.",
        ),
        (lambda e, i: e.call("Nope", "h"), 404, "SERVICE_NOT_FOUND", "The requested service 'Nope' does not exist"),
        (
            lambda e, i: e.call("Locker", "h"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'key': the virtual_object 'Locker' needs a string key",
        ),
        (
            lambda e, i: e.call("Steps", "h", "k"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'key': the service 'Steps' is not keyed; pass no key",
        ),
        (
            lambda e, i: e.call("Steps", "", None),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'handler': must be a non-empty string",
        ),
        (
            lambda e, i: e.call("Steps", "h", delay_ms=-1),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'delay_ms': must be an integer >= 0, got -1",
        ),
        (lambda e, i: e.advance(-5), 400, "INVALID_ARGUMENT", "Invalid argument 'ms': must be an integer >= 0, got -5"),
        (
            lambda e, i: e.fail_attempt(i, on_max_attempts="explode"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'on_max_attempts': must be 'pause' or 'kill', got 'explode'",
        ),
        (
            lambda e, i: e.register_deployment([], (5, 7)),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'services': must be a non-empty list of service names",
        ),
        (
            lambda e, i: e.register_deployment(["Steps"], (7, 5)),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'protocol': min 7 is greater than max 5",
        ),
        (
            lambda e, i: e.register_deployment(["Ghost"]),
            404,
            "SERVICE_NOT_FOUND",
            "The requested service 'Ghost' does not exist",
        ),
        (
            lambda e, i: e.register_service("Steps", "workflow"),
            409,
            "SERVICE_TYPE_CHANGED",
            "The service 'Steps' is a service; it cannot become a workflow.",
        ),
        (
            lambda e, i: e.register_service("X", "actor"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'type': must be one of service, virtual_object, workflow, got 'actor'",
        ),
        (
            lambda e, i: e.remove_deployment("dp_16hyvaGLkmYCmSH4nzeUDAv"),
            404,
            "DEPLOYMENT_NOT_FOUND",
            "The requested deployment 'dp_16hyvaGLkmYCmSH4nzeUDAv' does not exist",
        ),
        (
            lambda e, i: e.remove_service("Steps"),
            409,
            "SERVICE_IN_USE",
            "The service 'Steps' is still served by {d1}, {proto5}, {d2}; remove those first.",
        ),
        (
            lambda e, i: e.register_service("S" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'name': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.call("Steps", "h" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'handler': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.call("Locker", "h", "k" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'key': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.call("Steps", "h", idempotency_key="k" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'idempotency_key': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.append_command(i, "R" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'type': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.append_command(i, "Run", "n" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'name': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.register_deployment(["Steps"], name="n" * 1025),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'name': must be at most 1024 characters, got 1025",
        ),
        (
            lambda e, i: e.set_partition_available(99, False),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'partition': must be below 24",
        ),
    ],
)
def test_misuse_gets_a_clear_error(
    world: World, step: Callable[[Engine, str], object], status: int, reason: str, message: str
) -> None:
    inv = running(world)
    before = dump_world(world.engine)
    err = refused(lambda: step(world.engine, inv), LifecycleError)
    expected = message.format(inv=inv, d1=world.d1, proto5=world.proto5, d2=world.d2)
    assert answer(err) == (status, reason, expected)
    assert dump_world(world.engine) == before
    world.engine.check_invariants()


def test_names_of_exactly_the_longest_length_are_kept(world: World) -> None:
    e = world.engine
    longest = "x" * MAX_NAME_CHARS
    e.register_service(longest, "virtual_object")
    e.register_deployment([longest], name=longest)
    inv = e.call(longest, longest, longest, idempotency_key=longest)
    e.append_command(inv, "Run", longest)
    assert load_world(dump_world(e)).invocations[inv].key == longest


@pytest.mark.parametrize(
    "step",
    [
        lambda e, i, c: e.append_command(i, "Run"),
        lambda e, i, c: e.complete_command(i, c),
        lambda e, i, c: e.complete(i),
        lambda e, i, c: e.sleep(i, 1_000),
    ],
    ids=["append_command", "complete_command", "complete", "sleep"],
)
def test_a_step_cannot_grow_a_journal_past_the_limit(world: World, step: Callable[[Engine, str, int], object]) -> None:
    e = world.engine
    inv = running(world)
    awaited = e.append_command(inv, "Run").completion_ids[0]
    while len(e.invocations[inv].journal or []) < MAX_JOURNAL_ENTRIES - 1:
        e.append_command(inv, "SetState")
    step(e, inv, awaited)  # the last entry a step may add
    assert len(e.invocations[inv].journal or []) == MAX_JOURNAL_ENTRIES


@pytest.mark.parametrize("step", ["append_command", "complete_command", "complete", "sleep"])
def test_a_full_journal_refuses_handler_steps_and_keeps_the_engines_own_entries(world: World, step: str) -> None:
    e = world.engine
    inv = running(world)
    awaited = e.append_command(inv, "Run").completion_ids[0]
    while len(e.invocations[inv].journal or []) < MAX_JOURNAL_ENTRIES:
        e.append_command(inv, "SetState")
    before = dump_world(e)
    calls: dict[str, Callable[[], object]] = {
        "append_command": lambda: e.append_command(inv, "Run"),
        "complete_command": lambda: e.complete_command(inv, awaited),
        "complete": lambda: e.complete(inv),
        "sleep": lambda: e.sleep(inv, 1_000),
    }
    err = refused(calls[step], FailedPrecondition)
    assert answer(err) == (
        409,
        "JOURNAL_FULL",
        f"The journal of the invocation '{inv}' holds {MAX_JOURNAL_ENTRIES} entries, the most a step may "
        f"grow it to ({MAX_JOURNAL_ENTRIES}); {step} would add one more.",
    )
    assert dump_world(e) == before
    assert e.cancel(inv) == 202  # a cancel signal is the engine's own: it always lands
    assert len(e.invocations[inv].journal or []) == MAX_JOURNAL_ENTRIES + 1


def test_driving_a_completed_invocation_names_the_allowed_states(world: World) -> None:
    inv = completed(world)
    with pytest.raises(IllegalTransition) as caught:
        world.engine.append_command(inv, "Run")
    assert caught.value.message == (
        f"Cannot 'append_command' the invocation '{inv}' in state 'completed': "
        "'append_command' is allowed from running."
    )


def test_remove_service_when_unused() -> None:
    e = Engine()
    e.register_service("S")
    e.remove_service("S")
    assert "S" not in e.services


def test_an_engine_runs_the_lifecycle_it_is_given() -> None:
    from dataclasses import replace

    from fsm.lifecycle import LIFECYCLE, RULES, Lifecycle, Rule

    assert Engine().lifecycle is LIFECYCLE
    # a lifecycle where pausing a suspended invocation pauses it: the engine follows it
    internal_pause = [r for r in RULES if r.trigger == "pause" and r.dest is None and r.refusal is None]
    rules = tuple(replace(r, sources=("paused",)) if r in internal_pause else r for r in RULES)
    changed = Lifecycle((*rules, Rule("pause", ("suspended",), "paused", answer=200)))
    for lifecycle, after in ((LIFECYCLE, "suspended"), (changed, "paused")):
        e = Engine(lifecycle=lifecycle)
        e.register_service("S")
        inv = e.call("S", "run")
        e.sleep(inv, 1_000)
        assert e.pause(inv) == 200 and e.invocations[inv].state == after
    err = refused(lambda: Engine(lifecycle=RULES), InvalidArgument)  # type: ignore[arg-type]
    assert answer(err) == (
        400,
        "INVALID_ARGUMENT",
        "Invalid argument 'lifecycle': must be an fsm.lifecycle.Lifecycle, got tuple",
    )
    err = refused(lambda: Engine(machine=changed.new_machine()), InvalidArgument)  # a machine of another lifecycle
    assert answer(err) == (
        400,
        "INVALID_ARGUMENT",
        "Invalid argument 'machine': must come from lifecycle.new_machine() of this engine's lifecycle",
    )


def test_a_sleep_that_ends_while_paused_is_journaled_for_after_resume(world: World) -> None:
    e = world.engine
    inv = e.call("Steps", "run")
    sleep = e.sleep(inv, 1_000)
    e.cancel(inv)  # wakes it: running, with the cancel signal
    e.pause(inv)
    e.advance(1_000)  # the timer fires while paused: the completion is kept, the state is not changed
    journal = e.invocations[inv].journal or []
    assert e.invocations[inv].state == "paused"
    assert (journal[-1].kind, journal[-1].type, journal[-1].completion_id) == ("notification", "Sleep", 1)
    assert sleep.completion_ids == (1,) and e.pending_sleeps() == {}
    assert e.resume(inv) == 200
    err = refused(lambda: e.suspend(inv, 1), FailedPrecondition)  # nothing left to wait for
    assert answer(err) == (
        409,
        "NOTHING_TO_AWAIT",
        f"Completion 1 of the invocation '{inv}' is not pending.",
    )


@pytest.mark.parametrize(
    ("journal_s", "completion_s", "after_s", "status"),
    [
        # what restate-server 1.7.12 did for calls through its ingress (cleaner every second)
        (0, None, 3_600, 410),  # journal never kept, status kept 24 h
        (5, None, 3_600, 410),  # journal gone after 5 s, status kept 24 h
        (86_400, None, 86_400, 404),  # both gone after 24 h
        (5, 3, 3_600, 404),  # an idempotency retention of 3 s ends the journal and the status at 3 s
        (86_400, 3_600, 3_600, 404),  # a journal never outlives the status
    ],
)
def test_a_calls_status_lives_for_the_completion_retention_whatever_its_journal_retention(
    journal_s: int, completion_s: int | None, after_s: int, status: int
) -> None:
    e = Engine()
    e.register_service("S", journal_retention_s=journal_s, completion_retention_s=completion_s)
    e.register_deployment(["S"])
    inv = e.call("S", "run")
    e.complete(inv)
    assert e.invocations[inv].journal_retention_s == min(journal_s, completion_s or 86_400)
    e.advance(after_s * 1_000 + 3_600_000)  # and a cleaner run after it
    err = refused(lambda: e.restart_as_new(inv), LifecycleError)
    if status == 404:
        assert answer(err) == (404, "INVOCATION_NOT_FOUND", f"The requested invocation '{inv}' does not exist")
    else:
        assert answer(err) == (
            410,
            "INPUT_NOT_AVAILABLE",
            f"The invocation '{inv}' cannot be restarted because the input is not available. "
            "This indicates that the journal was already purged, or not retained at all.",
        )


def test_changes_are_noted_once_tracked_and_taken_once() -> None:
    e = Engine()
    e.register_service("Steps")
    before = e.call("Steps", "run")
    with pytest.raises(RuntimeError, match=r"call track_changes\(\) first"):
        e.take_changes()
    e.track_changes()
    assert e.take_changes() == set()  # from now on: what the world held is not a change
    e.complete(before)
    assert e.take_changes() == {before}
    new = e.call("Steps", "run")
    e.sleep(new, 1_000)
    assert e.take_changes() == {new} and e.take_changes() == set()
    e.advance(1_000)  # the sleep ends: the notification lands
    assert e.take_changes() == {new}
    e.complete(new)
    e.purge(new)
    assert e.take_changes() == {new} and new not in e.invocations
    assert e.sleeps_of([before, new]) == {}


def test_a_killed_sleepers_timer_running_out_is_a_change() -> None:
    e = Engine()
    e.register_service("NoRet", journal_retention_s=0)
    e.track_changes()
    inv = e.call("NoRet", "run")
    e.sleep(inv, 30_000)
    e.kill(inv)  # completed; its timer stays until it runs out
    e.take_changes()
    e.advance(60_000)
    assert e.take_changes() == {inv} and e.pending_sleeps() == {}


def test_a_fork_goes_its_own_way_and_hands_out_the_same_ids() -> None:
    engine = Engine(seed=5)
    engine.register_service("S")
    engine.register_service("L", "virtual_object")
    engine.register_deployment(["S", "L"])
    inv = engine.call("S", "run")
    engine.append_command(inv, "Run")
    held = engine.call("L", "run", "k")
    queued = engine.call("L", "run", "k")
    engine.sleep(inv, 1000)
    fork = engine.fork()
    before = dump_world(engine)
    assert dump_world(fork) == before
    fork.append_command(held, "Run")
    fork.complete(held)  # the key passes to the queued call in the fork only
    fork.advance(1000)  # the sleep ends in the fork only
    fork.set_partition_available(0, False)
    fork.register_deployment(["S"])
    assert dump_world(engine) == before
    assert engine.inboxes[("L", "k")] == deque([queued]) and not fork.inboxes.get(("L", "k"))
    twin = engine.fork()
    assert engine.call("S", "run") == twin.call("S", "run")  # the id generator's position is copied
    assert engine.register_deployment(["S"]) == twin.register_deployment(["S"])


@pytest.mark.parametrize("keys", [(5, 5), (0, (1 << 64) + 1), (-1, 3), (1, 2, 3), "ab", (1.0, 2)])
def test_partition_keys_must_be_a_range_of_u64(keys: object) -> None:
    with pytest.raises(InvalidArgument, match="partition_keys"):
        Engine(partition_keys=keys)  # type: ignore[arg-type]
