"""The admin servicer: Restate's admin API, one method per RPC of ``AdminService``.

Each method reads its request into the model's arguments, runs one engine operation under the
lock (:class:`grpc_server.world.GuardedEngine`), and turns the result into the response while
still holding it (so the response shows the world right after the operation). Refusals are the
model's own exceptions; :func:`grpc_server.rpc.rpc` turns them into statuses.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from google.protobuf import empty_pb2

from fsm.engine import Engine
from fsm.errors import invalid_argument
from fsm.ids import IdError, parse_deployment_id
from fsm.model import DEFAULT_JOURNAL_RETENTION_S, Invocation
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as pb
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common

from . import convert
from .rpc import rpc
from .world import GuardedEngine

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_PROTOCOL = (5, 7)


def _operation_response(engine: Engine, invocation_id: str, http_status: int) -> pb.InvocationOperationResponse:
    inv = engine.get_invocation(invocation_id)
    response = pb.InvocationOperationResponse(
        http_status=http_status, status_after=convert.status_to_proto(inv.state if inv else None)
    )
    if inv is not None:
        response.invocation.CopyFrom(convert.invocation_to_proto(engine, inv, with_journal=False))
    return response


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def decode_page_token(token: str) -> str | None:
    if not token:
        return None
    try:
        last_id = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        last_id = ""
    if not last_id.startswith("inv_"):
        raise invalid_argument("page_token", "is not a token this server returned")
    return last_id


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """``AdminService`` over one guarded engine."""

    def __init__(self, world: GuardedEngine) -> None:
        self.world = world

    @rpc("admin")
    def RestartAsNew(self, request: pb.RestartAsNewRequest, context: Any) -> pb.RestartAsNewResponse:
        from_ = convert.optional(request, "from_index")
        deployment = convert.selector_to_raw(request)

        def restart(engine: Engine) -> pb.RestartAsNewResponse:
            result = engine.restart_as_new(request.invocation_id, from_, deployment)
            new = engine.invocations[result.new_invocation_id]
            # A new invocation has no sleep timer yet: skip pending_sleeps(), which sorts every timer.
            return pb.RestartAsNewResponse(
                new_invocation_id=result.new_invocation_id,
                restarted_from=result.restarted_from,
                copied_indexes=result.copied_indexes,
                invocation=convert.invocation_to_proto(engine, new, timers={}),
            )

        return self.world.run(restart)

    def _operate(self, operation: str, invocation_id: str, *args: str | None) -> pb.InvocationOperationResponse:
        def run(engine: Engine) -> pb.InvocationOperationResponse:
            status: int = getattr(engine, operation)(invocation_id, *args)
            return _operation_response(engine, invocation_id, status)

        return self.world.run(run)

    @rpc("admin")
    def Cancel(self, request: pb.CancelRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("cancel", request.invocation_id)

    @rpc("admin")
    def Kill(self, request: pb.KillRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("kill", request.invocation_id)

    @rpc("admin")
    def Purge(self, request: pb.PurgeRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("purge", request.invocation_id)

    @rpc("admin")
    def PurgeJournal(self, request: pb.PurgeJournalRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("purge_journal", request.invocation_id)

    @rpc("admin")
    def Pause(self, request: pb.PauseRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("pause", request.invocation_id)

    @rpc("admin")
    def Resume(self, request: pb.ResumeRequest, context: Any) -> pb.InvocationOperationResponse:
        return self._operate("resume", request.invocation_id, convert.selector_to_raw(request))

    @rpc("admin")
    def GetInvocation(self, request: pb.GetInvocationRequest, context: Any) -> common.Invocation:
        return self.world.run(lambda engine: convert.invocation_to_proto(engine, engine.lookup(request.invocation_id)))

    @rpc("admin")
    def ListInvocations(self, request: pb.ListInvocationsRequest, context: Any) -> pb.ListInvocationsResponse:
        if request.page_size > MAX_PAGE_SIZE:
            raise invalid_argument("page_size", f"must be at most {MAX_PAGE_SIZE}, got {request.page_size}")
        size = request.page_size or DEFAULT_PAGE_SIZE
        after = decode_page_token(request.page_token)
        service, handler, key = (convert.optional(request, f) for f in ("service", "handler", "key"))
        states = convert.statuses_from_proto(request.statuses)

        def wanted(inv: Invocation) -> bool:
            return (
                (service is None or inv.service == service)
                and (handler is None or inv.handler == handler)
                and (key is None or inv.key == key)
                and (not states or inv.state in states)
            )

        def page(engine: Engine) -> pb.ListInvocationsResponse:
            invocations_by_id = engine.invocations
            chosen, more = self.world.index.page(after, lambda inv_id: wanted(invocations_by_id[inv_id]), size)
            timers = engine.sleeps_of(chosen) if request.include_journal else {}
            invocations = [
                convert.invocation_to_proto(
                    engine, engine.invocations[i], with_journal=request.include_journal, timers=timers
                )
                for i in chosen
            ]
            return pb.ListInvocationsResponse(
                invocations=invocations, next_page_token=encode_page_token(chosen[-1]) if more else ""
            )

        return self.world.run(page)

    @rpc("admin")
    def GetJournal(self, request: pb.GetJournalRequest, context: Any) -> pb.GetJournalResponse:
        def journal(engine: Engine) -> pb.GetJournalResponse:
            inv = engine.lookup(request.invocation_id)
            return pb.GetJournalResponse(
                invocation_id=inv.id,
                journal_retained=inv.journal is not None,
                entries=[convert.entry_to_proto(e) for e in inv.journal or ()],
            )

        return self.world.run(journal)

    @rpc("admin")
    def RegisterService(self, request: pb.RegisterServiceRequest, context: Any) -> common.Service:
        kind = convert.service_type_from_proto(request.type)
        retention = convert.optional(request, "journal_retention_s")
        journal_retention = DEFAULT_JOURNAL_RETENTION_S if retention is None else retention
        completion = convert.optional(request, "completion_retention_s")
        policy = convert.retry_policy_from_proto(request.retry_policy) if request.HasField("retry_policy") else None
        return self.world.run(
            lambda engine: convert.service_to_proto(
                engine.register_service(request.name, kind, journal_retention, completion, policy)
            )
        )

    @rpc("admin")
    def ListServices(self, request: pb.ListServicesRequest, context: Any) -> pb.ListServicesResponse:
        return self.world.run(
            lambda engine: pb.ListServicesResponse(
                services=[convert.service_to_proto(s) for s in engine.services.values()]
            )
        )

    @rpc("admin")
    def DeleteService(self, request: pb.DeleteServiceRequest, context: Any) -> empty_pb2.Empty:
        if not request.name:
            raise invalid_argument("name", "must be a non-empty string")
        self.world.run(lambda engine: engine.remove_service(request.name))
        return empty_pb2.Empty()

    @rpc("admin")
    def RegisterDeployment(self, request: pb.RegisterDeploymentRequest, context: Any) -> common.Deployment:
        low = convert.optional(request, "protocol_min")
        high = convert.optional(request, "protocol_max")
        protocol = (DEFAULT_PROTOCOL[0] if low is None else low, DEFAULT_PROTOCOL[1] if high is None else high)
        deployment_id = convert.optional(request, "deployment_id")
        name = convert.optional(request, "name")
        services = list(request.services)

        def register(engine: Engine) -> common.Deployment:
            new_id = engine.register_deployment(services, protocol, deployment_id, name)
            return convert.deployment_to_proto(engine.deployments[new_id])

        return self.world.run(register)

    @rpc("admin")
    def ListDeployments(self, request: pb.ListDeploymentsRequest, context: Any) -> pb.ListDeploymentsResponse:
        return self.world.run(
            lambda engine: pb.ListDeploymentsResponse(
                deployments=[convert.deployment_to_proto(d) for d in engine.deployments.values()]
            )
        )

    @rpc("admin")
    def DeleteDeployment(self, request: pb.DeleteDeploymentRequest, context: Any) -> empty_pb2.Empty:
        try:
            parse_deployment_id(request.deployment_id)
        except IdError as exc:
            raise invalid_argument("deployment_id", exc.reason) from None
        self.world.run(lambda engine: engine.remove_deployment(request.deployment_id))
        return empty_pb2.Empty()
