"""Every RPC of AdminService against the session server, with its answers and logs."""

from __future__ import annotations

import json
import logging

import grpc
import pytest

from fsm.ids import parse_deployment_id
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

from .conftest import D1, D2, OTHER, PROTO5, World, expect_error

C = grpc.StatusCode
KEEP = common.DeploymentSelector(mode=common.DeploymentSelector.MODE_KEEP)
LATEST = common.DeploymentSelector(mode=common.DeploymentSelector.MODE_LATEST)


# --- RestartAsNew -----------------------------------------------------------------------------


def test_restart_as_new_copies_the_prefix_and_pins_latest(world: World) -> None:
    old = world.completed(steps=3)  # 0 Input, 1 Run, 2 done, 3 Run, 4 done, 5 Run, 6 done, 7 Output
    before = world.get(old)
    response = world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old, from_index=3))
    assert response.restarted_from == old
    assert list(response.copied_indexes) == [0, 1, 2, 3, 4]
    new = response.invocation
    assert new.id == response.new_invocation_id != old and new.id[:16] == old[:16]
    assert new.status == common.INVOCATION_STATUS_RUNNING
    assert (new.pinned.deployment_id, new.pinned.protocol) == (D2, 6)
    assert new.restarted_from == old
    assert [e.index for e in new.journal] == [0, 1, 2, 3, 4]
    assert [e.type for e in new.journal] == ["Input", "Run", "Run", "Run", "Run"]
    after = world.get(old)
    assert list(after.restarted_as) == [new.id]  # lineage the other way round
    del after.restarted_as[:]
    assert after == before, "the old invocation changed"
    assert world.get(new.id) == new


@pytest.mark.parametrize(
    ("selector", "pinned"), [(KEEP, D2), (common.DeploymentSelector(id=D1), D1), (LATEST, D2), (None, D2)]
)
def test_restart_as_new_deployment_selector(
    world: World, selector: common.DeploymentSelector | None, pinned: str
) -> None:
    old = world.completed()
    response = world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old, deployment=selector))
    assert response.invocation.pinned.deployment_id == pinned


def test_restart_as_new_is_not_idempotent_and_queues_behind_a_held_key(world: World) -> None:
    old = world.completed(service="Locker", key="k")
    world.running("Locker", "k")  # holds the key now
    first = world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old))
    second = world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old))
    assert first.new_invocation_id != second.new_invocation_id
    assert first.invocation.status == second.invocation.status == common.INVOCATION_STATUS_INBOXED


def test_unknown_deployment_mode_is_an_invalid_argument(world: World) -> None:
    old = world.completed()
    request = adm.RestartAsNewRequest(invocation_id=old, deployment=common.DeploymentSelector(mode=42))  # type: ignore[arg-type]
    expect_error(
        lambda: world.admin.RestartAsNew(request),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'deployment.mode': unknown mode 42; use MODE_KEEP, MODE_LATEST or an id",
    )


def test_unspecified_mode_means_the_default(world: World) -> None:
    old = world.completed()
    selector = common.DeploymentSelector(mode=common.DeploymentSelector.MODE_UNSPECIFIED)
    response = world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old, deployment=selector))
    assert response.invocation.pinned.deployment_id == D2


# --- Cancel, Kill, Purge, PurgeJournal, Pause, Resume -------------------------------------------


def test_cancel(world: World) -> None:
    running = world.running()
    answer = world.admin.Cancel(adm.CancelRequest(invocation_id=running))
    assert (answer.http_status, answer.status_after) == (202, common.INVOCATION_STATUS_RUNNING)
    assert world.get(running).journal[-1].type == "Signal"
    scheduled = world.scheduled()
    answer = world.admin.Cancel(adm.CancelRequest(invocation_id=scheduled))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_FREE)
    assert not answer.HasField("invocation")
    expect_error(
        lambda: world.get(scheduled),
        C.NOT_FOUND,
        "INVOCATION_NOT_FOUND",
        404,
        f"The requested invocation '{scheduled}' does not exist",
    )


def test_kill(world: World) -> None:
    running = world.running()
    answer = world.admin.Kill(adm.KillRequest(invocation_id=running))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_COMPLETED)
    assert answer.invocation.completion == common.COMPLETION_RESULT_FAILURE
    _, queued = world.inboxed()
    answer = world.admin.Kill(adm.KillRequest(invocation_id=queued))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_FREE)


def test_purge_and_purge_journal(world: World) -> None:
    first, second = world.completed(), world.completed()
    answer = world.admin.PurgeJournal(adm.PurgeJournalRequest(invocation_id=first))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_COMPLETED)
    assert not answer.invocation.journal_retained
    journal = world.admin.GetJournal(adm.GetJournalRequest(invocation_id=first))
    assert (journal.journal_retained, list(journal.entries)) == (False, [])
    answer = world.admin.Purge(adm.PurgeRequest(invocation_id=second))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_FREE)
    expect_error(
        lambda: world.get(second),
        C.NOT_FOUND,
        "INVOCATION_NOT_FOUND",
        404,
        f"The requested invocation '{second}' does not exist",
    )


def test_pause_and_resume(world: World) -> None:
    running = world.running()
    answer = world.admin.Pause(adm.PauseRequest(invocation_id=running))
    assert (answer.http_status, answer.status_after) == (202, common.INVOCATION_STATUS_PAUSED)
    answer = world.admin.Resume(adm.ResumeRequest(invocation_id=running))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_RUNNING)
    suspended = world.suspended()
    answer = world.admin.Pause(adm.PauseRequest(invocation_id=suspended))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_SUSPENDED)
    answer = world.admin.Resume(adm.ResumeRequest(invocation_id=suspended, deployment=common.DeploymentSelector(id=D1)))
    assert (answer.http_status, answer.status_after) == (200, common.INVOCATION_STATUS_RUNNING)
    assert answer.invocation.pinned.deployment_id == D1


def test_resume_on_an_incompatible_deployment(world: World) -> None:
    suspended = world.suspended()
    request = adm.ResumeRequest(invocation_id=suspended, deployment=common.DeploymentSelector(id=PROTO5))
    expect_error(
        lambda: world.admin.Resume(request),
        C.FAILED_PRECONDITION,
        "INCOMPATIBLE_DEPLOYMENT",
        400,
        f"The invocation '{suspended}' is running on protocol version '6', while the chosen deployment '{PROTO5}' "
        "supports the range 5..=5.",
    )


# --- reading --------------------------------------------------------------------------------


def test_get_invocation_and_journal(world: World) -> None:
    inv = world.completed(steps=1)
    got = world.get(inv)
    assert got.id == inv and got.target == common.Target(service="Steps", handler="run")
    assert not got.target.HasField("key")
    assert (got.status, got.completion) == (common.INVOCATION_STATUS_COMPLETED, common.COMPLETION_RESULT_SUCCESS)
    assert got.journal_retained and got.completed_ms > 0 and got.journal_retention_s == 86400
    journal = world.admin.GetJournal(adm.GetJournalRequest(invocation_id=inv))
    assert journal.invocation_id == inv and journal.journal_retained
    assert [(e.index, e.kind, e.type) for e in journal.entries] == [
        (0, common.ENTRY_KIND_COMMAND, "Input"),
        (1, common.ENTRY_KIND_COMMAND, "Run"),
        (2, common.ENTRY_KIND_NOTIFICATION, "Run"),
        (3, common.ENTRY_KIND_COMMAND, "Output"),
    ]
    assert list(journal.entries[1].completion_ids) == [1] and journal.entries[2].completion_id == 1
    expect_error(
        lambda: world.admin.GetJournal(adm.GetJournalRequest(invocation_id="")),
        C.INVALID_ARGUMENT,
        "INVALID_INVOCATION_ID",
        400,
        "The request field 'invocation_id' is invalid. Reason: bad length",
    )


def test_list_invocations_filters(world: World) -> None:
    done = world.completed()
    running = world.running()
    holder, queued = world.inboxed("a")
    other_key = world.running("Locker", "b")

    def ids(**filters: object) -> set[str]:
        return {i.id for i in world.admin.ListInvocations(adm.ListInvocationsRequest(**filters)).invocations}  # type: ignore[arg-type]

    assert ids() == {done, running, holder, queued, other_key}
    assert ids(service="Steps") == {done, running}
    assert ids(service="Locker", key="a") == {holder, queued}
    assert ids(statuses=[common.INVOCATION_STATUS_INBOXED, common.INVOCATION_STATUS_COMPLETED]) == {queued, done}
    assert ids(handler="nope") == set()
    listed = world.admin.ListInvocations(adm.ListInvocationsRequest(service="Steps")).invocations
    assert all(not i.journal and i.journal_retained for i in listed)
    listed = world.admin.ListInvocations(adm.ListInvocationsRequest(service="Steps", include_journal=True)).invocations
    assert all(i.journal[0].type == "Input" for i in listed)


def test_list_invocations_pages(world: World) -> None:
    created = {world.running() for _ in range(7)}
    seen: list[str] = []
    token = ""
    for _ in range(10):
        page = world.admin.ListInvocations(adm.ListInvocationsRequest(page_size=3, page_token=token))
        assert len(page.invocations) <= 3
        seen.extend(i.id for i in page.invocations)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(created)


def test_list_invocations_rejects_bad_paging(world: World) -> None:
    expect_error(
        lambda: world.admin.ListInvocations(adm.ListInvocationsRequest(page_size=1001)),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'page_size': must be at most 1000, got 1001",
    )
    expect_error(
        lambda: world.admin.ListInvocations(adm.ListInvocationsRequest(page_token="%%%")),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'page_token': is not a token this server returned",
    )
    expect_error(
        lambda: world.admin.ListInvocations(adm.ListInvocationsRequest(statuses=[99])),  # type: ignore[list-item]
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'statuses': unknown invocation status 99",
    )


# --- services and deployments ---------------------------------------------------------------


def test_services(world: World) -> None:
    created = world.admin.RegisterService(
        adm.RegisterServiceRequest(
            name="Cart", type=common.SERVICE_TYPE_VIRTUAL_OBJECT, journal_retention_s=60, completion_retention_s=120
        )
    )
    assert created == common.Service(
        name="Cart", type=common.SERVICE_TYPE_VIRTUAL_OBJECT, journal_retention_s=60, completion_retention_s=120
    )
    plain = world.admin.RegisterService(adm.RegisterServiceRequest(name="Plain"))
    assert (plain.type, plain.journal_retention_s, plain.HasField("completion_retention_s")) == (
        common.SERVICE_TYPE_SERVICE,
        86400,
        False,
    )
    names = [s.name for s in world.admin.ListServices(adm.ListServicesRequest()).services]
    assert names == ["Steps", "NoRet", "Locker", "WF", "Other", "Lonely", "Cart", "Plain"]
    world.admin.DeleteService(adm.DeleteServiceRequest(name="Lonely"))
    assert "Lonely" not in [s.name for s in world.admin.ListServices(adm.ListServicesRequest()).services]
    expect_error(
        lambda: world.admin.DeleteService(adm.DeleteServiceRequest(name="Lonely")),
        C.NOT_FOUND,
        "SERVICE_NOT_FOUND",
        404,
        "The requested service 'Lonely' does not exist",
    )
    expect_error(
        lambda: world.admin.RegisterService(adm.RegisterServiceRequest(name="")),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'name': must be a non-empty string",
    )
    expect_error(
        lambda: world.admin.RegisterService(adm.RegisterServiceRequest(name="X", type=9)),  # type: ignore[arg-type]
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'type': unknown service type 9",
    )


def test_deployments(world: World) -> None:
    listed = world.admin.ListDeployments(adm.ListDeploymentsRequest()).deployments
    assert [d.id for d in listed] == [D1, PROTO5, D2, OTHER]
    assert (listed[1].protocol_min, listed[1].protocol_max, listed[1].name) == (5, 5, "proto5")
    fresh = world.admin.RegisterDeployment(adm.RegisterDeploymentRequest(services=["Steps"], name="v3"))
    parse_deployment_id(fresh.id)
    assert (list(fresh.services), fresh.protocol_min, fresh.protocol_max, fresh.name) == (["Steps"], 5, 7, "v3")
    old = world.completed()
    assert (
        world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old)).invocation.pinned.deployment_id == fresh.id
    )
    world.admin.DeleteDeployment(adm.DeleteDeploymentRequest(deployment_id=fresh.id))
    assert fresh.id not in [d.id for d in world.admin.ListDeployments(adm.ListDeploymentsRequest()).deployments]
    assert world.get(old).pinned.deployment_id == fresh.id, "pinned invocations stay pinned"
    expect_error(
        lambda: world.admin.DeleteDeployment(adm.DeleteDeploymentRequest(deployment_id="dp_bogus")),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'deployment_id': unrecognized codec version",
    )
    expect_error(
        lambda: world.admin.RegisterDeployment(adm.RegisterDeploymentRequest(services=["Nope"])),
        C.NOT_FOUND,
        "SERVICE_NOT_FOUND",
        404,
        "The requested service 'Nope' does not exist",
    )
    expect_error(
        lambda: world.admin.RegisterDeployment(
            adm.RegisterDeploymentRequest(services=["Steps"], protocol_min=7, protocol_max=6)
        ),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'protocol': min 7 is greater than max 6",
    )
    expect_error(
        lambda: world.admin.RegisterDeployment(adm.RegisterDeploymentRequest(services=[])),
        C.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        400,
        "Invalid argument 'services': must be a non-empty list of service names",
    )


# --- logging --------------------------------------------------------------------------------


def test_each_admin_call_is_one_structured_log_record(world: World, caplog: pytest.LogCaptureFixture) -> None:
    old = world.running()
    with caplog.at_level(logging.INFO, logger="grpc_server.calls"):
        world.admin.Pause(adm.PauseRequest(invocation_id=old))
        with pytest.raises(grpc.RpcError):
            world.admin.RestartAsNew(adm.RestartAsNewRequest(invocation_id=old, from_index=1))
    records = [r.rpc for r in caplog.records if r.name == "grpc_server.calls"]  # type: ignore[attr-defined]
    assert [(r["rpc"], r["code"], r.get("reason"), r["http_status"]) for r in records] == [
        ("Pause", "OK", None, 202),
        ("RestartAsNew", "FAILED_PRECONDITION", "STILL_RUNNING", 409),
    ]
    assert records[1]["request"] == {"invocation_id": old, "from_index": 1}
    assert records[1]["message"] == f"The invocation '{old}' is still running."
    json.dumps(records)  # plain JSON values only


def test_simulation_calls_log_at_debug_only(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="grpc_server.calls"):
        world.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=1))
    assert not [r for r in caplog.records if r.name == "grpc_server.calls"]
