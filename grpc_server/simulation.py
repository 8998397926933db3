"""The simulation servicer: what a deployment and the world do, one method per RPC.

Same shape as :mod:`grpc_server.admin`: read the request, run one engine operation under the lock,
build the response under it. ImportWorld parses and builds the new world *outside* the lock and
only swaps it in under it; ExportWorld copies the world under the lock and writes JSON outside.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from fsm.engine import Engine
from fsm.errors import SnapshotError, invalid_argument
from fsm.restart import Decision
from fsm.snapshot import dump_world, load_world, load_world_lines
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as pb

from . import convert, errors
from .rpc import rpc
from .world import GuardedEngine, chunks_of

ON_MAX_ATTEMPTS = {
    pb.FailAttemptRequest.ON_MAX_ATTEMPTS_UNSPECIFIED: None,  # the service's retry policy
    pb.FailAttemptRequest.ON_MAX_ATTEMPTS_PAUSE: "pause",
    pb.FailAttemptRequest.ON_MAX_ATTEMPTS_KILL: "kill",
}


def _state(engine: Engine, invocation_id: str) -> common.InvocationStatus.ValueType:
    inv = engine.get_invocation(invocation_id)
    return convert.status_to_proto(inv.state if inv is not None else None)


def explain(engine: Engine, decision: Decision) -> pb.ExplainRestartAsNewResponse:
    """The dry run's answer (built under the lock: the decision points into the live world)."""
    response = pb.ExplainRestartAsNewResponse(
        check=decision.check.number, check_name=decision.check.name, would_succeed=decision.error is None
    )
    if decision.error is not None:
        code = errors.code_for(decision.error)
        response.refusal.CopyFrom(
            pb.Refusal(
                code=code.value[0],
                code_name=code.name,
                reason=decision.error.reason,
                http_status=decision.error.http_status,
                message=decision.error.message,
            )
        )
    if decision.resolved_deployment is not None:
        response.resolved_deployment_id = decision.resolved_deployment
    plan = decision.plan
    if plan is not None:
        if plan.pinned_deployment is not None:
            response.pinned.CopyFrom(
                common.PinnedDeployment(deployment_id=plan.pinned_deployment, protocol=plan.pinned_protocol or 0)
            )
        response.copied_indexes.extend(plan.copied_indexes)
        response.entries.extend(convert.entry_to_proto(e) for e in plan.journal)
    return response


class SimulationServicer(simulation_pb2_grpc.SimulationServiceServicer):
    """``SimulationService`` over one guarded engine."""

    def __init__(self, world: GuardedEngine) -> None:
        self.world = world

    @rpc("simulation", logging.DEBUG)
    def ImportWorld(self, request: pb.ImportWorldRequest, context: Any) -> pb.ImportWorldResponse:
        try:
            raw = json.loads(request.world_json)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, over-long numbers, absurd nesting
            raise SnapshotError("world", f"not valid JSON: {exc}") from None
        engine = load_world(raw, seed=convert.optional(request, "seed") or 0)
        self.world.replace(engine)
        return _imported(engine)

    @rpc("simulation", logging.DEBUG)
    def ExportWorld(self, request: pb.ExportWorldRequest, context: Any) -> pb.ExportWorldResponse:
        world = self.world.run(dump_world)
        return pb.ExportWorldResponse(world_json=json.dumps(world))

    def ExportWorldStream(self, request: pb.ExportWorldRequest, context: Any) -> Iterator[pb.WorldChunk]:
        """The world's JSON lines in chunks (rpc.register runs each step on a worker). Written to a
        temporary file under the engine's lock first: a slow reader holds nothing."""
        for data in chunks_of(self.world.spool_lines()):
            yield pb.WorldChunk(data=data)

    def ImportWorldStream(
        self, request_iterator: Iterable[pb.WorldChunk] | AsyncIterator[pb.WorldChunk], context: Any
    ) -> pb.ImportWorldResponse:
        """Replace the world with the JSON lines of the chunks (rpc.register hands them over from a
        temporary file, on a worker: a plain iterator)."""
        assert isinstance(request_iterator, Iterable), "rpc.register hands over a plain iterator"
        chunks = iter(request_iterator)
        first = next(chunks, None)
        seed = first.seed if first is not None and first.HasField("seed") else 0
        engine = load_world_lines(_lines(first, chunks), seed=seed)
        self.world.replace(engine)
        return _imported(engine)

    @rpc("simulation", logging.DEBUG)
    def Call(self, request: pb.CallRequest, context: Any) -> pb.CallResponse:
        key = convert.optional(request, "key")
        idempotency_key = convert.optional(request, "idempotency_key")

        def call(engine: Engine) -> pb.CallResponse:
            inv_id = engine.call(
                request.service, request.handler, key, delay_ms=request.delay_ms, idempotency_key=idempotency_key
            )
            return pb.CallResponse(
                invocation_id=inv_id, invocation=convert.invocation_to_proto(engine, engine.invocations[inv_id])
            )

        return self.world.run(call)

    @rpc("simulation", logging.DEBUG)
    def AppendCommand(self, request: pb.AppendCommandRequest, context: Any) -> pb.AppendCommandResponse:
        name = convert.optional(request, "name")
        entry = self.world.run(lambda engine: engine.append_command(request.invocation_id, request.type, name))
        return pb.AppendCommandResponse(entry=convert.entry_to_proto(entry))

    @rpc("simulation", logging.DEBUG)
    def AppendNotification(self, request: pb.AppendNotificationRequest, context: Any) -> pb.AppendNotificationResponse:
        def deliver(engine: Engine) -> pb.AppendNotificationResponse:
            entry = engine.complete_command(request.invocation_id, request.completion_id)
            return pb.AppendNotificationResponse(
                entry=convert.entry_to_proto(entry), status=_state(engine, request.invocation_id)
            )

        return self.world.run(deliver)

    @rpc("simulation", logging.DEBUG)
    def Sleep(self, request: pb.SleepRequest, context: Any) -> pb.SleepResponse:
        def sleep(engine: Engine) -> pb.SleepResponse:
            entry = engine.sleep(request.invocation_id, request.duration_ms)
            return pb.SleepResponse(entry=convert.entry_to_proto(entry), status=_state(engine, request.invocation_id))

        return self.world.run(sleep)

    @rpc("simulation", logging.DEBUG)
    def Suspend(self, request: pb.SuspendRequest, context: Any) -> pb.SuspendResponse:
        awaiting = convert.optional(request, "awaiting")

        def suspend(engine: Engine) -> pb.SuspendResponse:
            engine.suspend(request.invocation_id, awaiting)
            inv = engine.invocations[request.invocation_id]
            return pb.SuspendResponse(awaiting=inv.awaiting or 0)

        return self.world.run(suspend)

    @rpc("simulation", logging.DEBUG)
    def FailAttempt(self, request: pb.FailAttemptRequest, context: Any) -> pb.FailAttemptResponse:
        if request.on_max_attempts not in ON_MAX_ATTEMPTS:
            raise invalid_argument("on_max_attempts", f"unknown value {request.on_max_attempts}")
        policy = ON_MAX_ATTEMPTS[request.on_max_attempts]
        max_attempts = request.max_attempts or None  # 0: the service's retry policy
        failure = convert.optional(request, "failure")

        def fail(engine: Engine) -> pb.FailAttemptResponse:
            engine.fail_attempt(request.invocation_id, max_attempts, policy, failure=failure)
            inv = engine.invocations[request.invocation_id]
            return pb.FailAttemptResponse(
                status=convert.status_to_proto(inv.state),
                retry_count=inv.retry_count,
                next_attempt_ms=inv.next_attempt_ms,
            )

        return self.world.run(fail)

    @rpc("simulation", logging.DEBUG)
    def Complete(self, request: pb.CompleteRequest, context: Any) -> pb.CompleteResponse:
        def complete(engine: Engine) -> pb.CompleteResponse:
            engine.complete(
                request.invocation_id, success=not request.failed, failure=convert.optional(request, "failure")
            )
            return pb.CompleteResponse(status=_state(engine, request.invocation_id))

        return self.world.run(complete)

    @rpc("simulation", logging.DEBUG)
    def AdvanceClock(self, request: pb.AdvanceClockRequest, context: Any) -> pb.AdvanceClockResponse:
        how = request.WhichOneof("how")

        def advance(engine: Engine) -> pb.AdvanceClockResponse:
            if how == "by_ms":
                engine.advance(request.by_ms)
            elif how == "to_ms":
                engine.advance_to(request.to_ms)
            return pb.AdvanceClockResponse(now_ms=engine.now_ms)

        return self.world.run(advance)

    @rpc("simulation", logging.DEBUG)
    def SetPartitionAvailability(
        self, request: pb.SetPartitionAvailabilityRequest, context: Any
    ) -> pb.SetPartitionAvailabilityResponse:
        def set_availability(engine: Engine) -> pb.SetPartitionAvailabilityResponse:
            engine.set_partition_available(request.partition, request.available)
            return pb.SetPartitionAvailabilityResponse(unavailable_partitions=sorted(engine.unavailable_partitions))

        return self.world.run(set_availability)

    @rpc("simulation", logging.DEBUG)
    def ExplainRestartAsNew(
        self, request: admin_pb2.RestartAsNewRequest, context: Any
    ) -> pb.ExplainRestartAsNewResponse:
        from_ = convert.optional(request, "from_index")
        deployment = convert.selector_to_raw(request)
        return self.world.run(
            lambda engine: explain(engine, engine.explain_restart_as_new(request.invocation_id, from_, deployment))
        )

    @rpc("simulation", logging.DEBUG)
    def Echo(self, request: pb.EchoRequest, context: Any) -> pb.EchoResponse:
        """No engine, no lock: the floor ``make bench`` measures the other RPCs against."""
        return pb.EchoResponse(payload=request.payload)


def _imported(engine: Engine) -> pb.ImportWorldResponse:
    """What ImportWorld and ImportWorldStream answer: the sizes of the world now served."""
    return pb.ImportWorldResponse(
        services=len(engine.services),
        deployments=len(engine.deployments),
        invocations=len(engine.invocations),
        now_ms=engine.now_ms,
    )


def _lines(first: pb.WorldChunk | None, rest: Iterator[pb.WorldChunk]) -> Iterator[bytes]:
    """The lines of the chunks' concatenated data (a chunk may end anywhere in a line)."""
    pending = b""
    for chunk in () if first is None else itertools.chain((first,), rest):
        *lines, pending = (pending + chunk.data).split(b"\n")
        yield from lines
    if pending:
        yield pending
