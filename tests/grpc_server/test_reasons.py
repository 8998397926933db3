"""Every error reason the model can give, produced over the wire: code, ErrorInfo and exact message.

``SCENARIOS`` holds one scenario per (reason, cause); a test reads the reasons out of fsm's source
so a reason added to the model without a scenario here fails the suite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from fsm.engine import Engine
from fsm.ids import IdError, parse_deployment_id, parse_invocation_id
from fsm.model import MAX_JOURNAL_ENTRIES
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

from .conftest import ABSENT, D1, PROTO5, ROOT, World, expect_error

C = grpc.StatusCode
#: Restate's HTTP-only refusal of a malformed `from` (`from_index` is a uint32, so it cannot be sent),
#: and the library's lookup of a deployment by a shared name (the gRPC API names deployments by id).
UNREACHABLE_OVER_GRPC = {"INVALID_QUERY_STRING", "AMBIGUOUS_DEPLOYMENT_NAME"}
UNKNOWN_DEPLOYMENT = "dp_16hyvaGLkmYCmSH4nzeUDAv"  # parses, registered nowhere


@dataclass
class Expected:
    call: Callable[[], Any]
    code: grpc.StatusCode
    http_status: int
    message: str
    check: int | None = None


def restart(w: World, inv: str, from_index: int | None = None, deployment: str | None = None) -> Callable[[], Any]:
    request = adm.RestartAsNewRequest(invocation_id=inv)
    if from_index is not None:
        request.from_index = from_index
    if deployment in ("keep", "latest"):
        request.deployment.mode = (
            common.DeploymentSelector.MODE_KEEP if deployment == "keep" else common.DeploymentSelector.MODE_LATEST
        )
    elif deployment is not None:
        request.deployment.id = deployment
    return lambda: w.admin.RestartAsNew(request)


def _id_reason(raw: str) -> str:
    try:
        parse_deployment_id(raw)
    except IdError as exc:
        return exc.reason
    raise AssertionError(f"{raw} parses")


def invalid_invocation_id(w: World) -> Expected:
    return Expected(
        restart(w, "nope"),
        C.INVALID_ARGUMENT,
        400,
        "The request field 'invocation_id' is invalid. Reason: bad format",
        2,
    )


def invalid_deployment_id(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        restart(w, inv, deployment="dp_bogus"),
        C.INVALID_ARGUMENT,
        400,
        f"The query parameter 'deployment' is invalid. Reason: {_id_reason('dp_bogus')}",
        3,
    )


def invalid_argument(w: World) -> Expected:
    return Expected(
        lambda: w.sim.Call(sim.CallRequest(service="Steps", handler="")),
        C.INVALID_ARGUMENT,
        400,
        "Invalid argument 'handler': must be a non-empty string",
    )


def invalid_snapshot(w: World) -> Expected:
    return Expected(
        lambda: w.sim.ImportWorld(sim.ImportWorldRequest(world_json='{"services": 1}')),
        C.INVALID_ARGUMENT,
        400,
        "Invalid world at 'world.services': must be a list, got int",
    )


def out_of_range(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        restart(w, inv, from_index=4294967295),
        C.OUT_OF_RANGE,
        400,
        f"The given index is out of range of currently stored journal for invocation '{inv}'.",
        15,
    )


def incomplete_prefix(w: World) -> Expected:
    inv = w.completed(steps=1)
    return Expected(
        restart(w, inv, from_index=100),
        C.FAILED_PRECONDITION,
        400,
        f"The prefix of the journal '{inv}' up to 'from' (included) contains some Commands without "
        "respective Completions.",
        14,
    )


def deployment_not_resolved(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        restart(w, inv, deployment=UNKNOWN_DEPLOYMENT),
        C.FAILED_PRECONDITION,
        400,
        f"The given deployment was not found when trying to restart as new the invocation '{inv}'.",
        12,
    )


def deployment_not_found(w: World) -> Expected:
    return Expected(
        lambda: w.admin.DeleteDeployment(adm.DeleteDeploymentRequest(deployment_id=UNKNOWN_DEPLOYMENT)),
        C.NOT_FOUND,
        404,
        f"The requested deployment '{UNKNOWN_DEPLOYMENT}' does not exist",
    )


def incompatible_deployment(w: World) -> Expected:
    inv = w.completed()  # pinned to D2 at protocol 6
    return Expected(
        restart(w, inv, deployment=PROTO5),
        C.FAILED_PRECONDITION,
        400,
        f"The invocation '{inv}' is running on protocol version '6', while the chosen deployment "
        f"'{PROTO5}' supports the range 5..=5.",
        13,
    )


def invocation_not_found(w: World) -> Expected:
    return Expected(restart(w, ABSENT), C.NOT_FOUND, 404, f"The requested invocation '{ABSENT}' does not exist", 5)


def service_not_found(w: World) -> Expected:
    return Expected(
        lambda: w.sim.Call(sim.CallRequest(service="Nope", handler="run")),
        C.NOT_FOUND,
        404,
        "The requested service 'Nope' does not exist",
    )


def already_completed(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        lambda: w.admin.Cancel(adm.CancelRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' was already completed.",
    )


def already_completed_command(w: World) -> Expected:
    inv = w.running()
    entry = w.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Run")).entry
    request = sim.AppendNotificationRequest(invocation_id=inv, completion_id=entry.completion_ids[0])
    w.sim.AppendNotification(request)
    return Expected(
        lambda: w.sim.AppendNotification(request),
        C.FAILED_PRECONDITION,
        409,
        f"Completion {entry.completion_ids[0]} of the invocation '{inv}' was already delivered.",
    )


def cannot_change_deployment(w: World) -> Expected:
    inv = w.running()
    request = adm.ResumeRequest(invocation_id=inv, deployment=common.DeploymentSelector(id=D1))
    return Expected(
        lambda: w.admin.Resume(request),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' is still running or the deployment id is not pinned yet, deployment id "
        "cannot be changed.",
    )


def completed(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        lambda: w.admin.Resume(adm.ResumeRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' is completed, cannot be resumed.",
    )


def deployment_exists(w: World) -> Expected:
    request = adm.RegisterDeploymentRequest(services=["Steps"], deployment_id=D1)
    return Expected(
        lambda: w.admin.RegisterDeployment(request),
        C.FAILED_PRECONDITION,
        409,
        f"The deployment '{D1}' is already registered.",
    )


def nothing_to_await(w: World) -> Expected:
    inv = w.running()
    return Expected(
        lambda: w.sim.Suspend(sim.SuspendRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' awaits no missing completion: it cannot suspend.",
    )


def backing_off(w: World) -> Expected:
    inv = w.running()
    w.sim.FailAttempt(sim.FailAttemptRequest(invocation_id=inv))
    return Expected(
        lambda: w.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Run")),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' is backing off after 1 failed attempt(s): its next attempt starts at "
        f"{Engine().now_ms + 500} ms, 500 ms from now. Advance the clock to it first.",
    )


def journal_full(w: World) -> Expected:
    inv = w.running()
    world = json.loads(w.sim.ExportWorld(sim.ExportWorldRequest()).world_json)
    (record,) = [i for i in world["invocations"] if i["id"] == inv]
    record["journal"] += [
        {"index": n, "kind": "command", "type": "SetState"} for n in range(len(record["journal"]), MAX_JOURNAL_ENTRIES)
    ]
    w.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(world), seed=7))
    return Expected(
        lambda: w.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Run")),
        C.FAILED_PRECONDITION,
        409,
        f"The journal of the invocation '{inv}' holds {MAX_JOURNAL_ENTRIES} entries, the most a step may "
        f"grow it to ({MAX_JOURNAL_ENTRIES}); append_command would add one more.",
    )


def not_completed(w: World) -> Expected:
    inv = w.running()
    return Expected(
        lambda: w.admin.Purge(adm.PurgeRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' is not yet completed.",
    )


def not_running(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        lambda: w.admin.Pause(adm.PauseRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"The invocation '{inv}' is not running, cannot be paused.",
    )


def service_in_use(w: World) -> Expected:
    return Expected(
        lambda: w.admin.DeleteService(adm.DeleteServiceRequest(name="Other")),
        C.FAILED_PRECONDITION,
        409,
        "The service 'Other' is still served by dp_12PliZagEBrzYiYaC96Ef9n; remove those first.",
    )


def service_type_changed(w: World) -> Expected:
    request = adm.RegisterServiceRequest(name="Steps", type=common.SERVICE_TYPE_VIRTUAL_OBJECT)
    return Expected(
        lambda: w.admin.RegisterService(request),
        C.FAILED_PRECONDITION,
        409,
        "The service 'Steps' is a service; it cannot become a virtual_object.",
    )


def still_running(w: World) -> Expected:
    inv = w.suspended()
    return Expected(restart(w, inv), C.FAILED_PRECONDITION, 409, f"The invocation '{inv}' is still running.", 7)


def unknown_completion(w: World) -> Expected:
    inv = w.running()
    request = sim.AppendNotificationRequest(invocation_id=inv, completion_id=99)
    return Expected(
        lambda: w.sim.AppendNotification(request),
        C.FAILED_PRECONDITION,
        409,
        f"No command of the invocation '{inv}' awaits completion 99.",
    )


def illegal_transition(w: World) -> Expected:
    inv = w.completed()
    return Expected(
        lambda: w.sim.Complete(sim.CompleteRequest(invocation_id=inv)),
        C.FAILED_PRECONDITION,
        409,
        f"Cannot 'complete' the invocation '{inv}' in state 'completed': 'complete' is allowed from running.",
    )


def input_not_available(w: World) -> Expected:
    inv = w.completed(service="NoRet")
    return Expected(
        restart(w, inv),
        C.FAILED_PRECONDITION,
        410,
        f"The invocation '{inv}' cannot be restarted because the input is not available. This indicates "
        "that the journal was already purged, or not retained at all.",
        8,
    )


def unsupported(w: World) -> Expected:
    inv = w.completed(service="WF", key="order-1")
    return Expected(
        restart(w, inv),
        C.FAILED_PRECONDITION,
        422,
        f"Restarting the invocation '{inv}' is not supported. Restarting workflows is not supported, and "
        "restarting invocations created using the old service protocol.",
        9,
    )


def not_started(w: World) -> Expected:
    inv = w.scheduled()
    return Expected(
        restart(w, inv),
        C.FAILED_PRECONDITION,
        425,
        f"The invocation '{inv}' cannot be restarted because it's not running yet.",
        6,
    )


def not_started_resume(w: World) -> Expected:
    _, queued = w.inboxed()
    return Expected(
        lambda: w.admin.Resume(adm.ResumeRequest(invocation_id=queued)),
        C.FAILED_PRECONDITION,
        425,
        f"The invocation '{queued}' is either inboxed or scheduled, cannot be resumed.",
    )


def partition_unavailable(w: World) -> Expected:
    inv = w.completed()
    partition = Engine().partition_of(parse_invocation_id(inv).partition_key)
    w.sim.SetPartitionAvailability(sim.SetPartitionAvailabilityRequest(partition=partition, available=False))
    return Expected(
        restart(w, inv),
        C.UNAVAILABLE,
        503,
        f"Error when routing the request internally. Reason: partition {partition} has no known leader",
        4,
    )


SCENARIOS: dict[str, Callable[[World], Expected]] = {
    "INVALID_INVOCATION_ID": invalid_invocation_id,
    "INVALID_DEPLOYMENT_ID": invalid_deployment_id,
    "INVALID_ARGUMENT": invalid_argument,
    "INVALID_SNAPSHOT": invalid_snapshot,
    "JOURNAL_INDEX_OUT_OF_RANGE": out_of_range,
    "INCOMPLETE_PREFIX": incomplete_prefix,
    "DEPLOYMENT_NOT_FOUND/restart": deployment_not_resolved,
    "DEPLOYMENT_NOT_FOUND/delete": deployment_not_found,
    "INCOMPATIBLE_DEPLOYMENT": incompatible_deployment,
    "INVOCATION_NOT_FOUND": invocation_not_found,
    "SERVICE_NOT_FOUND": service_not_found,
    "ALREADY_COMPLETED": already_completed,
    "ALREADY_COMPLETED_COMMAND": already_completed_command,
    "CANNOT_CHANGE_DEPLOYMENT": cannot_change_deployment,
    "COMPLETED": completed,
    "DEPLOYMENT_EXISTS": deployment_exists,
    "BACKING_OFF": backing_off,
    "JOURNAL_FULL": journal_full,
    "NOTHING_TO_AWAIT": nothing_to_await,
    "NOT_COMPLETED": not_completed,
    "NOT_RUNNING": not_running,
    "SERVICE_IN_USE": service_in_use,
    "SERVICE_TYPE_CHANGED": service_type_changed,
    "STILL_RUNNING": still_running,
    "UNKNOWN_COMPLETION": unknown_completion,
    "ILLEGAL_TRANSITION": illegal_transition,
    "INPUT_NOT_AVAILABLE": input_not_available,
    "UNSUPPORTED": unsupported,
    "NOT_STARTED/restart": not_started,
    "NOT_STARTED/resume": not_started_resume,
    "PARTITION_UNAVAILABLE": partition_unavailable,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_reason_over_the_wire(world: World, name: str) -> None:
    expected = SCENARIOS[name](world)
    before = world.export()
    error = expect_error(
        expected.call, expected.code, name.split("/")[0], expected.http_status, expected.message, expected.check
    )
    if expected.check is None:
        assert "check" not in error.metadata
    assert world.export() == before, "a refused request changed the world"


def model_reasons() -> set[str]:
    """Every reason the model's source gives a refusal (``<status>, "REASON"``)."""
    pattern = re.compile(r"\b[45]\d\d,\s*\"([A-Z][A-Z_]+)\"")
    return {m for path in sorted(Path(ROOT, "fsm").glob("*.py")) for m in pattern.findall(path.read_text())}


def test_every_model_reason_has_a_scenario() -> None:
    reasons = model_reasons()
    assert "STILL_RUNNING" in reasons and "INVALID_SNAPSHOT" in reasons  # the scan works
    covered = {name.split("/")[0] for name in SCENARIOS}
    assert reasons - UNREACHABLE_OVER_GRPC - covered == set()
