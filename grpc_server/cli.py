"""A command-line client for a running server; prints every answer as JSON.

    python -m grpc_server.cli [--target 127.0.0.1:50051] VERB [ARGS]

Admin verbs: restart-as-new, cancel, kill, purge, purge-journal, pause, resume, get, list, journal,
register-service, list-services, delete-service, register-deployment, list-deployments,
delete-deployment. Simulation verbs: import, export, call, append-command, append-notification,
sleep, suspend, fail-attempt, complete, advance, set-partition, explain.

A refusal prints ``{"error": {"code", "message", "reason", "domain", "metadata", ...}}`` on stderr
and exits 1; the server being unreachable exits 2.
"""

from __future__ import annotations

import sys

from . import TARGET_ENV, missing_extra

if (problem := missing_extra()) is not None:  # one line, before anything imports grpc
    sys.exit(problem)

import argparse
import json
import os
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from fsm.tools.parser import Parser, run
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

from . import convert, errors
from .security import TOKEN_ENV
from .server import DEFAULT_HOST, DEFAULT_PORT

_SCALAR_LIST = re.compile(r"\[\n\s+([^\[\]{}]*?)\n\s*\]")
Build = Callable[[argparse.Namespace], Message]
STATUS_CHOICES = [name for name in convert.STATUS if name != "free"]


def _restart(args: argparse.Namespace) -> adm.RestartAsNewRequest:
    request = adm.RestartAsNewRequest(
        invocation_id=args.invocation_id, deployment=convert.raw_to_selector(args.deployment)
    )
    if args.from_index is not None:
        request.from_index = args.from_index
    return request


def _read_world(path: str) -> str:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    raw = json.loads(text)
    if isinstance(raw, dict) and "world" in raw and "services" not in raw:  # a whole case line
        raw = raw["world"]
    return json.dumps(raw)


def _advance(args: argparse.Namespace) -> sim.AdvanceClockRequest:
    if args.to_ms is not None:
        return sim.AdvanceClockRequest(to_ms=args.to_ms)
    return sim.AdvanceClockRequest(by_ms=args.by_ms or 0)


def _list(args: argparse.Namespace) -> adm.ListInvocationsRequest:
    return adm.ListInvocationsRequest(
        service=args.service,
        handler=args.handler,
        key=args.key,
        statuses=[convert.STATUS[s] for s in args.status or ()],
        page_size=args.page_size,
        page_token=args.page_token,
        include_journal=args.journal,
    )


#: verb -> (service, RPC, help, arguments, request builder)
Argument = tuple[tuple[str, ...], dict[str, Any]]
ID: Argument = (("invocation_id",), {"help": "the invocation id (inv_...)"})
DEPLOYMENT: Argument = (("--deployment",), {"help": "keep, latest, or a deployment id (dp_...)"})
FROM: Argument = (("--from",), {"dest": "from_index", "type": int, "help": "last journal index to copy"})

VERBS: dict[str, tuple[str, str, str, list[Argument], Build]] = {
    "restart-as-new": (
        "admin",
        "RestartAsNew",
        "restart a completed invocation as a new one",
        [ID, FROM, DEPLOYMENT],
        _restart,
    ),
    "cancel": (
        "admin",
        "Cancel",
        "cancel an invocation",
        [ID],
        lambda a: adm.CancelRequest(invocation_id=a.invocation_id),
    ),
    "kill": ("admin", "Kill", "kill an invocation", [ID], lambda a: adm.KillRequest(invocation_id=a.invocation_id)),
    "purge": (
        "admin",
        "Purge",
        "purge a completed invocation",
        [ID],
        lambda a: adm.PurgeRequest(invocation_id=a.invocation_id),
    ),
    "purge-journal": (
        "admin",
        "PurgeJournal",
        "drop the journal of a completed invocation",
        [ID],
        lambda a: adm.PurgeJournalRequest(invocation_id=a.invocation_id),
    ),
    "pause": (
        "admin",
        "Pause",
        "pause a running invocation",
        [ID],
        lambda a: adm.PauseRequest(invocation_id=a.invocation_id),
    ),
    "resume": (
        "admin",
        "Resume",
        "resume a suspended or paused invocation",
        [ID, DEPLOYMENT],
        lambda a: adm.ResumeRequest(invocation_id=a.invocation_id, deployment=convert.raw_to_selector(a.deployment)),
    ),
    "get": (
        "admin",
        "GetInvocation",
        "show one invocation",
        [ID],
        lambda a: adm.GetInvocationRequest(invocation_id=a.invocation_id),
    ),
    "list": (
        "admin",
        "ListInvocations",
        "list invocations",
        [
            (("--service",), {}),
            (("--handler",), {}),
            (("--key",), {}),
            (("--status",), {"action": "append", "choices": STATUS_CHOICES, "help": "repeatable"}),
            (("--page-size",), {"type": int, "default": 0}),
            (("--page-token",), {"default": ""}),
            (("--journal",), {"action": "store_true", "help": "include journals"}),
        ],
        _list,
    ),
    "journal": (
        "admin",
        "GetJournal",
        "show the journal of an invocation",
        [ID],
        lambda a: adm.GetJournalRequest(invocation_id=a.invocation_id),
    ),
    "register-service": (
        "admin",
        "RegisterService",
        "register (or update) a service",
        [
            (("name",), {}),
            (("--type",), {"choices": list(convert.SERVICE_TYPE), "default": "service"}),
            (("--journal-retention-s",), {"type": int}),
            (("--completion-retention-s",), {"type": int}),
        ],
        lambda a: adm.RegisterServiceRequest(
            name=a.name,
            type=convert.SERVICE_TYPE[a.type],
            journal_retention_s=a.journal_retention_s,
            completion_retention_s=a.completion_retention_s,
        ),
    ),
    "list-services": ("admin", "ListServices", "list services", [], lambda a: adm.ListServicesRequest()),
    "delete-service": (
        "admin",
        "DeleteService",
        "delete a service",
        [(("name",), {})],
        lambda a: adm.DeleteServiceRequest(name=a.name),
    ),
    "register-deployment": (
        "admin",
        "RegisterDeployment",
        "register a deployment",
        [
            (("services",), {"nargs": "+"}),
            (("--protocol-min",), {"type": int}),
            (("--protocol-max",), {"type": int}),
            (("--id",), {"dest": "deployment_id"}),
            (("--name",), {}),
        ],
        lambda a: adm.RegisterDeploymentRequest(
            services=a.services,
            protocol_min=a.protocol_min,
            protocol_max=a.protocol_max,
            deployment_id=a.deployment_id,
            name=a.name,
        ),
    ),
    "list-deployments": ("admin", "ListDeployments", "list deployments", [], lambda a: adm.ListDeploymentsRequest()),
    "delete-deployment": (
        "admin",
        "DeleteDeployment",
        "delete a deployment",
        [(("deployment_id",), {})],
        lambda a: adm.DeleteDeploymentRequest(deployment_id=a.deployment_id),
    ),
    "import": (
        "simulation",
        "ImportWorld",
        "replace the world with a snapshot file ('-': stdin)",
        [
            (("file",), {}),
            (("--seed",), {"type": int}),
        ],
        lambda a: sim.ImportWorldRequest(world_json=_read_world(a.file), seed=a.seed),
    ),
    "export": ("simulation", "ExportWorld", "print the world snapshot", [], lambda a: sim.ExportWorldRequest()),
    "call": (
        "simulation",
        "Call",
        "call a handler",
        [
            (("service",), {}),
            (("handler",), {}),
            (("--key",), {}),
            (("--delay-ms",), {"type": int, "default": 0}),
            (("--idempotency-key",), {}),
        ],
        lambda a: sim.CallRequest(
            service=a.service, handler=a.handler, key=a.key, delay_ms=a.delay_ms, idempotency_key=a.idempotency_key
        ),
    ),
    "append-command": (
        "simulation",
        "AppendCommand",
        "journal a command (Run, Sleep, Call, ...)",
        [
            ID,
            (("type",), {}),
            (("--name",), {}),
        ],
        lambda a: sim.AppendCommandRequest(invocation_id=a.invocation_id, type=a.type, name=a.name),
    ),
    "append-notification": (
        "simulation",
        "AppendNotification",
        "deliver a completion",
        [
            ID,
            (("completion_id",), {"type": int}),
        ],
        lambda a: sim.AppendNotificationRequest(invocation_id=a.invocation_id, completion_id=a.completion_id),
    ),
    "sleep": (
        "simulation",
        "Sleep",
        "sleep (and suspend)",
        [ID, (("duration_ms",), {"type": int})],
        lambda a: sim.SleepRequest(invocation_id=a.invocation_id, duration_ms=a.duration_ms),
    ),
    "suspend": (
        "simulation",
        "Suspend",
        "suspend awaiting a completion",
        [ID, (("--awaiting",), {"type": int})],
        lambda a: sim.SuspendRequest(invocation_id=a.invocation_id, awaiting=a.awaiting),
    ),
    "fail-attempt": (
        "simulation",
        "FailAttempt",
        "fail an attempt",
        [
            ID,
            (("--max-attempts",), {"type": int, "default": 0}),
            (("--on-max-attempts",), {"choices": ["pause", "kill"], "default": "pause"}),
        ],
        lambda a: sim.FailAttemptRequest(
            invocation_id=a.invocation_id,
            max_attempts=a.max_attempts,
            on_max_attempts=(
                sim.FailAttemptRequest.ON_MAX_ATTEMPTS_KILL
                if a.on_max_attempts == "kill"
                else sim.FailAttemptRequest.ON_MAX_ATTEMPTS_PAUSE
            ),
        ),
    ),
    "complete": (
        "simulation",
        "Complete",
        "complete (the handler returns)",
        [
            ID,
            (("--failed",), {"action": "store_true", "help": "fail terminally"}),
        ],
        lambda a: sim.CompleteRequest(invocation_id=a.invocation_id, failed=a.failed),
    ),
    "advance": (
        "simulation",
        "AdvanceClock",
        "advance the virtual clock",
        [
            (("--by-ms",), {"type": int}),
            (("--to-ms",), {"type": int}),
        ],
        _advance,
    ),
    "set-partition": (
        "simulation",
        "SetPartitionAvailability",
        "make a partition (un)reachable",
        [
            (("partition",), {"type": int}),
            (("--unavailable",), {"action": "store_true"}),
        ],
        lambda a: sim.SetPartitionAvailabilityRequest(partition=a.partition, available=not a.unavailable),
    ),
    "explain": ("simulation", "ExplainRestartAsNew", "dry-run restart-as-new", [ID, FROM, DEPLOYMENT], _restart),
}


def parser(prog: str = "python -m grpc_server.cli", verbs: Collection[str] = VERBS) -> argparse.ArgumentParser:
    """The command line, offering ``verbs`` (all by default) under the name ``prog``."""
    top = Parser(prog=prog, description=__doc__.splitlines()[0])
    top.add_argument(
        "--target",
        default=os.environ.get(TARGET_ENV) or f"{DEFAULT_HOST}:{DEFAULT_PORT}",
        help=f"HOST:PORT of the server (default: ${TARGET_ENV}, else {DEFAULT_HOST}:{DEFAULT_PORT})",
    )
    top.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default 10)")
    top.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token of a server started with one (default: ${TOKEN_ENV})",
    )
    top.add_argument("--ca", type=Path, metavar="FILE", help="PEM certificate to trust: talk TLS to the server")
    subparsers = top.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, (_, _, help_text, arguments, _) in VERBS.items():
        if verb not in verbs:
            continue
        sub = subparsers.add_parser(verb, help=help_text, description=help_text)
        for names, options in arguments:
            sub.add_argument(*names, **options)
    return top


def to_json(response: Message) -> Any:
    """A response as plain JSON (an exported world is shown as the world object itself)."""
    if isinstance(response, sim.ExportWorldResponse):
        return json.loads(response.world_json)
    return json_format.MessageToDict(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def render(value: Any) -> str:
    """Indented JSON, with lists of plain values kept on one line (``"completion_ids": [1, 2]``)."""
    text = json.dumps(value, indent=2)
    return _SCALAR_LIST.sub(lambda m: "[" + ", ".join(item.strip() for item in m.group(1).split(",\n")) + "]", text)


def open_channel(target: str, ca: Path | None) -> grpc.Channel:
    """A plaintext channel, or a TLS one trusting the certificate in ``ca``."""
    if ca is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca.read_bytes()))


def call(
    channel: grpc.Channel, verb: str, args: argparse.Namespace, timeout: float, token: str | None = None
) -> Message:
    service, method, _, _, build = VERBS[verb]
    stub: Any = (
        admin_pb2_grpc.AdminServiceStub(channel)
        if service == "admin"
        else simulation_pb2_grpc.SimulationServiceStub(channel)
    )
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    response: Message = getattr(stub, method)(build(args), timeout=timeout, metadata=metadata)
    return response


def main(argv: list[str] | None = None, prog: str = "python -m grpc_server.cli", verbs: Collection[str] = VERBS) -> int:
    args = parser(prog, verbs).parse_args(argv)
    try:
        channel = open_channel(args.target, args.ca)
    except OSError as exc:
        print(json.dumps({"error": {"code": "CLIENT", "message": f"--ca {args.ca}: {exc}"}}), file=sys.stderr)
        return 2
    with channel:
        try:
            response = call(channel, args.verb, args, args.timeout, args.token)
        except grpc.RpcError as exc:
            error = errors.read_error(exc)
            if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and error.reason is None:
                print(json.dumps({"error": error.to_json()}), file=sys.stderr)
                return 2
            shown = {key: value for key, value in error.to_json().items() if value is not None}
            print(render({"error": shown}), file=sys.stderr)
            return 1
        except (OSError, json.JSONDecodeError) as exc:
            print(json.dumps({"error": {"code": "CLIENT", "message": str(exc)}}), file=sys.stderr)
            return 2
    print(render(to_json(response)))
    return 0


__all__ = ["VERBS", "call", "main", "parser", "to_json"]


if __name__ == "__main__":
    run(main, "python -m grpc_server.cli")
