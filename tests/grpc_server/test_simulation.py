"""Every RPC of SimulationService against the session server."""

from __future__ import annotations

import json

import grpc

from fsm.snapshot import dump_world, load_world
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

from .conftest import BASE_WORLD, D1, D2, World, expect_error

C = grpc.StatusCode
HOUR_MS = 3_600_000


def test_import_and_export_round_trip(world: World) -> None:
    answer = world.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(BASE_WORLD)))
    assert (answer.services, answer.deployments, answer.invocations) == (6, 4, 0)
    assert world.export() == BASE_WORLD
    world.completed(steps=2)
    world.suspended()
    world.sim.Sleep(sim.SleepRequest(invocation_id=world.running(), duration_ms=5000))
    exported = world.export()
    assert dump_world(load_world(exported)) == exported
    world.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(exported)))
    assert world.export() == exported


def test_import_rejects_what_is_not_a_world(world: World) -> None:
    expect_error(
        lambda: world.sim.ImportWorld(sim.ImportWorldRequest(world_json="[")),
        C.INVALID_ARGUMENT,
        "INVALID_SNAPSHOT",
        400,
        "Invalid world at 'world': not valid JSON: Expecting value: line 1 column 2 (char 1)",
    )
    expect_error(
        lambda: world.sim.ImportWorld(sim.ImportWorldRequest(world_json="[" * 100_000)),
        C.INVALID_ARGUMENT,
        "INVALID_SNAPSHOT",
        400,
        "Invalid world at 'world': not valid JSON: maximum recursion depth exceeded while decoding a JSON array from a "
        "unicode string",
    )
    bad = {**BASE_WORLD, "invocations": [{"id": "inv_x"}]}
    expect_error(
        lambda: world.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(bad))),
        C.INVALID_ARGUMENT,
        "INVALID_SNAPSHOT",
        400,
        "Invalid world at 'world.invocations[0].id': 'inv_x' is not an invocation id (unrecognized codec version)",
    )


def test_seeded_import_gives_the_same_ids(world: World) -> None:
    ids = []
    for _ in range(2):
        world.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(BASE_WORLD), seed=42))
        ids.append(world.running())
    assert ids[0] == ids[1]


def test_call_delay_key_and_idempotency(world: World) -> None:
    delayed = world.sim.Call(sim.CallRequest(service="Steps", handler="run", delay_ms=1000))
    assert delayed.invocation.status == common.INVOCATION_STATUS_SCHEDULED
    assert delayed.invocation.due_ms == world.sim.AdvanceClock(sim.AdvanceClockRequest()).now_ms + 1000
    holder = world.sim.Call(sim.CallRequest(service="Locker", handler="add", key="k"))
    queued = world.sim.Call(sim.CallRequest(service="Locker", handler="add", key="k"))
    assert (holder.invocation.status, queued.invocation.status) == (
        common.INVOCATION_STATUS_RUNNING,
        common.INVOCATION_STATUS_INBOXED,
    )
    assert queued.invocation.target.key == "k"
    once = world.sim.Call(sim.CallRequest(service="Steps", handler="run", idempotency_key="abc"))
    again = world.sim.Call(sim.CallRequest(service="Steps", handler="run", idempotency_key="abc"))
    assert once.invocation_id == again.invocation_id and once.invocation.idempotency_key == "abc"
    world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=1000))
    assert world.get(delayed.invocation_id).status == common.INVOCATION_STATUS_RUNNING
    world.sim.Complete(sim.CompleteRequest(invocation_id=holder.invocation_id))
    assert world.get(queued.invocation_id).status == common.INVOCATION_STATUS_RUNNING
    expect_error(
        lambda: world.sim.Call(sim.CallRequest(service="Locker", handler="add")),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'key': the virtual_object 'Locker' needs a string key",
    )


def test_commands_notifications_and_suspension(world: World) -> None:
    inv = world.running()
    call = world.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Call", name="pay")).entry
    assert (call.index, call.kind, call.type, call.name, list(call.completion_ids)) == (
        1,
        common.ENTRY_KIND_COMMAND,
        "Call",
        "pay",
        [1, 2],
    )
    first = world.sim.AppendNotification(sim.AppendNotificationRequest(invocation_id=inv, completion_id=1))
    assert (first.entry.type, first.entry.completion_id, first.status) == (
        "CallInvocationId",
        1,
        common.INVOCATION_STATUS_RUNNING,
    )
    assert world.sim.Suspend(sim.SuspendRequest(invocation_id=inv)).awaiting == 2
    assert world.get(inv).status == common.INVOCATION_STATUS_SUSPENDED
    woke = world.sim.AppendNotification(sim.AppendNotificationRequest(invocation_id=inv, completion_id=2))
    assert (woke.entry.type, woke.status) == ("Call", common.INVOCATION_STATUS_RUNNING)
    set_state = world.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="SetState")).entry
    assert list(set_state.completion_ids) == [] and not set_state.HasField("name")
    expect_error(
        lambda: world.sim.Suspend(sim.SuspendRequest(invocation_id=inv, awaiting=7)),
        C.FAILED_PRECONDITION,
        "NOTHING_TO_AWAIT",
        409,
        f"Completion 7 of the invocation '{inv}' is not pending.",
    )


def test_sleep_and_the_clock(world: World) -> None:
    inv = world.running()
    slept = world.sim.Sleep(sim.SleepRequest(invocation_id=inv, duration_ms=5000))
    assert (slept.entry.type, slept.status) == ("Sleep", common.INVOCATION_STATUS_SUSPENDED)
    got = world.get(inv)
    assert [(t.completion_id, t.due_ms - got.timers[0].due_ms) for t in got.timers] == [(1, 0)]
    now = world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=4999)).now_ms
    assert world.get(inv).status == common.INVOCATION_STATUS_SUSPENDED
    assert world.sim.AdvanceClock(sim.AdvanceClockRequest(to_ms=now + 1)).now_ms == now + 1
    got = world.get(inv)
    assert got.status == common.INVOCATION_STATUS_RUNNING and not got.timers
    assert got.journal[-1].completion_id == 1
    expect_error(
        lambda: world.sim.AdvanceClock(sim.AdvanceClockRequest(to_ms=now)),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        f"Invalid argument 'target_ms': the clock only moves forward (now {now + 1})",
    )


def test_retention_expires_on_the_cleaner(world: World) -> None:
    inv = world.completed()
    world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=24 * HOUR_MS))
    world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=HOUR_MS))  # the hourly cleaner has run since expiry
    expect_error(
        lambda: world.get(inv),
        C.NOT_FOUND,
        "INVOCATION_NOT_FOUND",
        404,
        f"The requested invocation '{inv}' does not exist",
    )


def test_fail_attempt(world: World) -> None:
    inv = world.running()
    backing_off = world.sim.FailAttempt(sim.FailAttemptRequest(invocation_id=inv, max_attempts=2))
    assert (backing_off.status, backing_off.retry_count) == (common.INVOCATION_STATUS_RUNNING, 1)
    now = world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=0)).now_ms
    assert backing_off.next_attempt_ms == now + 500  # Restate's default policy: 500 ms first
    world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=500))
    paused = world.sim.FailAttempt(sim.FailAttemptRequest(invocation_id=inv, max_attempts=2, failure="[500] boom"))
    assert not paused.HasField("next_attempt_ms")
    assert (paused.status, paused.retry_count) == (common.INVOCATION_STATUS_PAUSED, 2)
    other = world.running()
    killed = world.sim.FailAttempt(
        sim.FailAttemptRequest(
            invocation_id=other, max_attempts=1, on_max_attempts=sim.FailAttemptRequest.ON_MAX_ATTEMPTS_KILL
        )
    )
    assert killed.status == common.INVOCATION_STATUS_COMPLETED
    assert world.get(other).completion == common.COMPLETION_RESULT_FAILURE
    default = world.sim.FailAttempt(sim.FailAttemptRequest(invocation_id=world.running()))
    assert default.status == common.INVOCATION_STATUS_RUNNING  # 70 attempts by default
    expect_error(
        lambda: world.sim.FailAttempt(sim.FailAttemptRequest(invocation_id=inv, on_max_attempts=5)),  # type: ignore[arg-type]
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'on_max_attempts': unknown value 5",
    )


def test_complete(world: World) -> None:
    ok = world.running()
    assert world.sim.Complete(sim.CompleteRequest(invocation_id=ok)).status == common.INVOCATION_STATUS_COMPLETED
    got = world.get(ok)
    assert got.completion == common.COMPLETION_RESULT_SUCCESS and got.journal[-1].type == "Output"
    failed = world.running()
    world.sim.Complete(sim.CompleteRequest(invocation_id=failed, failed=True))
    assert world.get(failed).completion == common.COMPLETION_RESULT_FAILURE
    world.admin.RegisterService(
        adm.RegisterServiceRequest(name="Ephemeral", journal_retention_s=0, completion_retention_s=0)
    )
    gone = world.running("Ephemeral")
    assert world.sim.Complete(sim.CompleteRequest(invocation_id=gone)).status == common.INVOCATION_STATUS_FREE


def test_partition_availability(world: World) -> None:
    answer = world.sim.SetPartitionAvailability(sim.SetPartitionAvailabilityRequest(partition=3, available=False))
    assert list(answer.unavailable_partitions) == [3]
    answer = world.sim.SetPartitionAvailability(sim.SetPartitionAvailabilityRequest(partition=3, available=True))
    assert list(answer.unavailable_partitions) == []
    expect_error(
        lambda: world.sim.SetPartitionAvailability(sim.SetPartitionAvailabilityRequest(partition=24)),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'partition': must be below 24",
    )


def test_explain_restart_as_new_success_changes_nothing(world: World) -> None:
    old = world.completed(steps=3)
    before = world.export()
    answer = world.sim.ExplainRestartAsNew(adm.RestartAsNewRequest(invocation_id=old, from_index=1))
    assert world.export() == before
    assert (answer.check, answer.check_name, answer.would_succeed) == (16, "success", True)
    assert not answer.HasField("refusal")
    assert answer.resolved_deployment_id == D2
    assert (answer.pinned.deployment_id, answer.pinned.protocol) == (D2, 6)
    assert list(answer.copied_indexes) == [0, 1, 2]
    assert [(e.index, e.type) for e in answer.entries] == [(0, "Input"), (1, "Run"), (2, "Run")]
    keep = world.sim.ExplainRestartAsNew(
        adm.RestartAsNewRequest(
            invocation_id=old, deployment=common.DeploymentSelector(mode=common.DeploymentSelector.MODE_KEEP)
        )
    )
    assert keep.resolved_deployment_id == D2
    by_id = world.sim.ExplainRestartAsNew(
        adm.RestartAsNewRequest(invocation_id=old, deployment=common.DeploymentSelector(id=D1))
    )
    assert by_id.resolved_deployment_id == D1 and by_id.pinned.deployment_id == D1


def test_explain_restart_as_new_refusal(world: World) -> None:
    running = world.running()
    answer = world.sim.ExplainRestartAsNew(adm.RestartAsNewRequest(invocation_id=running))
    assert (answer.check, answer.check_name, answer.would_succeed) == (7, "not running, suspended or paused", False)
    assert answer.refusal == sim.Refusal(
        code=9,
        code_name="FAILED_PRECONDITION",
        reason="STILL_RUNNING",
        http_status=409,
        message=f"The invocation '{running}' is still running.",
    )
    assert not answer.copied_indexes and not answer.HasField("pinned")
    early = world.sim.ExplainRestartAsNew(adm.RestartAsNewRequest(invocation_id="nope"))
    assert (early.check, early.refusal.code_name, early.refusal.reason) == (
        2,
        "INVALID_ARGUMENT",
        "INVALID_INVOCATION_ID",
    )
    assert not early.HasField("resolved_deployment_id")
    request = adm.RestartAsNewRequest(invocation_id=world.completed(), from_index=4294967295)
    prefix = world.sim.ExplainRestartAsNew(request)
    assert (prefix.check, prefix.refusal.code_name) == (15, "OUT_OF_RANGE")


def test_echo_answers_the_payload_and_touches_nothing(world: World) -> None:
    before = world.export()
    assert world.sim.Echo(sim.EchoRequest(payload=b"ping")).payload == b"ping"
    assert world.sim.Echo(sim.EchoRequest()).payload == b""
    assert world.export() == before


MAX_TIME_MS = 2**63 - 1


def test_times_past_the_latest_instant_are_refused_and_change_nothing(world: World) -> None:
    inv = world.running()
    now = world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=0)).now_ms  # reads the clock
    before = world.export()
    huge = 2**64 - 1
    for call, what in [
        (lambda: world.sim.Call(sim.CallRequest(service="Steps", handler="run", delay_ms=huge)), "delay_ms"),
        (lambda: world.sim.Sleep(sim.SleepRequest(invocation_id=inv, duration_ms=huge)), "duration_ms"),
        (lambda: world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=huge)), "ms"),
    ]:
        expect_error(
            call,
            C.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            400,
            f"Invalid argument '{what}': must be at most {MAX_TIME_MS - now}: the clock keeps no time after "
            f"{MAX_TIME_MS}, got {huge}",
        )
        assert world.export() == before
    too_late = {**BASE_WORLD, "now_ms": 2**70}
    expect_error(
        lambda: world.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(too_late))),
        C.INVALID_ARGUMENT,
        "INVALID_SNAPSHOT",
        400,
        f"Invalid world at 'world.now_ms': must be from 0 to {MAX_TIME_MS}, got {2**70}",
    )
    assert world.export() == before
    world.admin.ListInvocations(adm.ListInvocationsRequest())  # every read still answers


def test_a_far_clock_move_answers_at_once_and_as_stepping_would(world: World) -> None:
    world.completed()
    now = world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=0)).now_ms
    moved = world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=10**15))
    assert moved.now_ms == now + 10**15
    assert world.export()["invocations"] == []  # retention ended on the way, as stepping hour by hour would
