"""Replay conformance cases over the wire, against a running server.

    python -m grpc_server.conformance --target HOST:PORT FILE.jsonl [more.jsonl ...]
    python -m grpc_server.conformance FILE.jsonl      # starts a server of its own on 127.0.0.1:0
    python -m grpc_server.conformance --http [--target http://HOST:PORT] FILE.jsonl

For each case: ImportWorld (the case's world), GetInvocation (the target before), the operation
(RestartAsNew, or Cancel/Kill/Purge/PurgeJournal/Pause/Resume), GetInvocation (after). The
comparison is :func:`fsm.conformance.compare`, the same one the in-process replay uses; this
module only implements its ``Target``. ``transport: http`` cases cannot be expressed in a typed
message (``from=abc``) and are counted on the ``skipped`` line. With ``--http`` the cases go to
Restate's HTTP admin API instead (:mod:`grpc_server.http.conformance`, every case, bytes checked).

Beyond what ``compare`` checks, every error is checked on the wire (:func:`wire_problems`): the
gRPC code matches the issue's table for the (http_status, reason) the client sees, the trailer's
``google.rpc.Status`` repeats the code and message, ErrorInfo has our domain and ``http_status``,
restart refusals carry ``check``, UNAVAILABLE carries RetryInfo. A violation is reported through
the message, so the case fails with the reason spelled out.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import grpc
from google.protobuf.message import Message

from fsm.conformance import RESTART, Outcome, Unsupported, case_seed, replay
from fsm.requests import rust_parse_u32
from fsm.tools.conformance import CaseFileError, read_cases
from fsm.tools.parser import Parser, run
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, admin_pb2_grpc, simulation_pb2, simulation_pb2_grpc

from . import TARGET_ENV, convert, errors

#: The issue's status table as a client sees it: by HTTP status, and for 400 by reason.
CODE_BY_HTTP: dict[int, grpc.StatusCode] = {
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    410: grpc.StatusCode.FAILED_PRECONDITION,
    422: grpc.StatusCode.FAILED_PRECONDITION,
    425: grpc.StatusCode.FAILED_PRECONDITION,
    503: grpc.StatusCode.UNAVAILABLE,
}
CODE_BY_400_REASON: dict[str, grpc.StatusCode] = {
    "INVALID_INVOCATION_ID": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_DEPLOYMENT_ID": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_QUERY_STRING": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_SNAPSHOT": grpc.StatusCode.INVALID_ARGUMENT,
    "JOURNAL_INDEX_OUT_OF_RANGE": grpc.StatusCode.OUT_OF_RANGE,
    "INCOMPLETE_PREFIX": grpc.StatusCode.FAILED_PRECONDITION,
    "DEPLOYMENT_NOT_FOUND": grpc.StatusCode.FAILED_PRECONDITION,
    "INCOMPATIBLE_DEPLOYMENT": grpc.StatusCode.FAILED_PRECONDITION,
}
#: The admin operations besides restart and resume: case ``operation`` -> (RPC, request type).
OPERATIONS: dict[str, tuple[str, type[Message]]] = {
    "cancel": ("Cancel", admin_pb2.CancelRequest),
    "kill": ("Kill", admin_pb2.KillRequest),
    "purge": ("Purge", admin_pb2.PurgeRequest),
    "purge_journal": ("PurgeJournal", admin_pb2.PurgeJournalRequest),
    "pause": ("Pause", admin_pb2.PauseRequest),
}
#: Per-call deadline, so a wedged server fails the replay instead of hanging it.
#: How long one call may take.
TIMEOUT_S = 30.0
#: How long to wait for a server to answer at all before saying none does.
CONNECT_TIMEOUT_S = 5.0


def expected_code(http_status: int, reason: str | None) -> grpc.StatusCode | None:
    if http_status == 400:
        return CODE_BY_400_REASON.get(reason or "")
    return CODE_BY_HTTP.get(http_status)


def wire_problems(error: errors.WireError, operation: str) -> list[str]:
    """Everything about an error on the wire that breaks the contract (empty when it is right)."""
    problems = []
    if error.reason is None:
        return [f"no ErrorInfo in grpc-status-details-bin ({error.code.name}: {error.message})"]
    http = error.http_status
    if http is None:
        problems.append(f"ErrorInfo.metadata has no numeric http_status: {error.metadata}")
    else:
        want = expected_code(http, error.reason)
        if want != error.code:
            problems.append(
                f"code {error.code.name} for http_status {http} / {error.reason}, "
                f"expected {want.name if want else 'no mapping'}"
            )
    if error.domain != errors.DOMAIN:
        problems.append(f"ErrorInfo.domain {error.domain!r}")
    if error.details_code != error.code.value[0] or error.details_message != error.message:
        problems.append("google.rpc.Status in the trailer does not repeat the call's code and message")
    if operation == RESTART and not error.metadata.get("check", "").isdigit():
        problems.append(f"restart refusal without a numeric check: {error.metadata}")
    if (error.code == grpc.StatusCode.UNAVAILABLE) != (error.retry_delay_s is not None):
        problems.append("RetryInfo must come with UNAVAILABLE, and only with it")
    return problems


class GrpcTarget:
    """:class:`fsm.conformance.Target` over gRPC: one case at a time against one server."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.admin = admin_pb2_grpc.AdminServiceStub(channel)
        self.simulation = simulation_pb2_grpc.SimulationServiceStub(channel)

    def run(self, case: dict[str, Any]) -> Outcome:
        if case.get("transport") == "http":
            raise Unsupported("an HTTP query string has no typed gRPC form")
        request = case["request"]
        operation = case.get("operation", RESTART)
        target_id: str = request["invocation_id"]
        restart = _restart_request(request) if operation == RESTART else None
        self.simulation.ImportWorld(
            simulation_pb2.ImportWorldRequest(world_json=json.dumps(case["world"]), seed=case_seed(case)),
            timeout=TIMEOUT_S,
        )
        before = self._invocation(target_id)
        try:
            if restart is not None:
                restarted = self.admin.RestartAsNew(restart, timeout=TIMEOUT_S)
                return Outcome(
                    200,
                    None,
                    convert.invocation_to_world(restarted.invocation),
                    before,
                    self._invocation(target_id),
                    new_invocation_id=restarted.new_invocation_id,
                )
            response = self._operate(operation, target_id, request.get("deployment"))
        except grpc.RpcError as exc:
            try:
                error = errors.read_error(exc)
            except ValueError as bad:  # the trailer contradicts the call's status
                return Outcome(-1, f"WIRE: unreadable status details: {bad}", None, before, before)
            problems = wire_problems(error, operation)
            message = f"WIRE: {'; '.join(problems)}; message={error.message!r}" if problems else error.message
            return Outcome(error.http_status or -1, message, None, before, self._invocation(target_id))
        after = self._invocation(target_id)
        return Outcome(
            response.http_status,
            None,
            None,
            before,
            after,
            status_after=convert.STATUS_NAMES.get(response.status_after, "?"),
        )

    def _operate(self, operation: str, target_id: str, deployment: str | None) -> admin_pb2.InvocationOperationResponse:
        request: Message
        if operation == "resume":
            method: Any = self.admin.Resume
            request = admin_pb2.ResumeRequest(invocation_id=target_id, deployment=convert.raw_to_selector(deployment))
        elif operation in OPERATIONS:
            name, request_type = OPERATIONS[operation]
            method, request = getattr(self.admin, name), request_type(invocation_id=target_id)
        else:
            raise Unsupported(f"unknown operation {operation!r}")
        response: admin_pb2.InvocationOperationResponse = method(request, timeout=TIMEOUT_S)
        return response

    def _invocation(self, invocation_id: str) -> dict[str, Any] | None:
        """The invocation in the world format, or None if the server cannot show it (absent, malformed id...)."""
        try:
            found = self.admin.GetInvocation(
                admin_pb2.GetInvocationRequest(invocation_id=invocation_id), timeout=TIMEOUT_S
            )
        except grpc.RpcError:
            return None
        return convert.invocation_to_world(found)


def _restart_request(request: dict[str, Any]) -> admin_pb2.RestartAsNewRequest:
    raw_from = request.get("from")
    message = admin_pb2.RestartAsNewRequest(
        invocation_id=request["invocation_id"], deployment=convert.raw_to_selector(request.get("deployment"))
    )
    if raw_from is not None:
        try:
            message.from_index = rust_parse_u32(str(raw_from))
        except ValueError:
            raise Unsupported(f"from={raw_from!r} is not a u32: only HTTP can send it") from None
    return message


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m grpc_server.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="JSONL files of cases (cases-format.md)")
    parser.add_argument(
        "--target",
        default=os.environ.get(TARGET_ENV) or None,
        help="a running server: HOST:PORT (gRPC) or http://HOST:PORT (--http); without it one is started on "
        f"127.0.0.1 (default: ${TARGET_ENV})",
    )
    parser.add_argument("--http", action="store_true", help="ask Restate's HTTP admin API instead of gRPC")
    parser.add_argument("--json", action="store_true", help="print the counts and the failures as JSON")
    args = parser.parse_args(argv)
    try:
        cases = read_cases(args.files)  # before any server: a bad file is a one-line answer at once
    except CaseFileError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    own = None
    if args.target is None:
        from .server import start  # only when we need a server of our own

        own = start(port=0, http_port=0 if args.http else None)
        args.target = own.http_url if args.http else own.target
    try:
        if args.http:
            from .http.conformance import HttpTarget

            target = HttpTarget(args.target)
            try:
                report = replay(cases, target)
            except OSError as exc:
                print(f"{parser.prog}: no HTTP server answers at {args.target}: {exc}", file=sys.stderr)
                return 2
            finally:
                target.close()
        else:
            with grpc.insecure_channel(args.target) as channel:
                try:
                    grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
                except grpc.FutureTimeoutError:
                    print(
                        f"{parser.prog}: no gRPC server answers at {args.target} within {CONNECT_TIMEOUT_S:.0f} s",
                        file=sys.stderr,
                    )
                    return 2
                report = replay(cases, GrpcTarget(channel))
    finally:
        if own is not None:
            own.stop(0)
    print(json.dumps(report.to_json(), indent=1) if args.json else "\n".join(report.lines()))
    return 1 if report.failed else 0


if __name__ == "__main__":
    run(main, "python -m grpc_server.conformance")
