"""Proto messages <-> the model's records, in both directions, and nothing else.

- server side, model -> proto: :func:`invocation_to_proto`, :func:`entry_to_proto`,
  :func:`service_to_proto`, :func:`deployment_to_proto`, :func:`status_to_proto`;
- server side, proto -> model arguments: :func:`selector_to_raw`, :func:`service_type_from_proto`,
  :func:`statuses_from_proto`, :func:`optional`;
- client side: :func:`raw_to_selector` (a case's raw ``deployment`` string as a selector) and
  :func:`invocation_to_world` (a typed invocation back in the cases-format.md world format, so the
  replay can compare it with :func:`fsm.conformance.compare`).

Enums are open in proto3: a number the server does not know is an INVALID_ARGUMENT naming the
field, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from fsm.engine import Engine
from fsm.errors import invalid_argument
from fsm.lifecycle import COMPLETED, FREE, INBOXED, PAUSED, RUNNING, SCHEDULED, SUSPENDED
from fsm.model import (
    COMMAND,
    FAILURE,
    NOTIFICATION,
    SERVICE,
    SUCCESS,
    VIRTUAL_OBJECT,
    WORKFLOW,
    Deployment,
    Entry,
    Invocation,
    Service,
)
from fsm.retry import OnMaxAttempts, RetryPolicy
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as pb

#: Model state -> proto enum (``free`` is the state after an operation that removed the invocation).
STATUS: dict[str, pb.InvocationStatus.ValueType] = {
    SCHEDULED: pb.INVOCATION_STATUS_SCHEDULED,
    INBOXED: pb.INVOCATION_STATUS_INBOXED,
    RUNNING: pb.INVOCATION_STATUS_RUNNING,
    SUSPENDED: pb.INVOCATION_STATUS_SUSPENDED,
    PAUSED: pb.INVOCATION_STATUS_PAUSED,
    COMPLETED: pb.INVOCATION_STATUS_COMPLETED,
    FREE: pb.INVOCATION_STATUS_FREE,
}
STATUS_NAMES: dict[int, str] = {number: name for name, number in STATUS.items()}

SERVICE_TYPE: dict[str, pb.ServiceType.ValueType] = {
    SERVICE: pb.SERVICE_TYPE_SERVICE,
    VIRTUAL_OBJECT: pb.SERVICE_TYPE_VIRTUAL_OBJECT,
    WORKFLOW: pb.SERVICE_TYPE_WORKFLOW,
}
SERVICE_TYPE_NAMES: dict[int, str] = {number: name for name, number in SERVICE_TYPE.items()}

ENTRY_KIND: dict[str, pb.EntryKind.ValueType] = {
    COMMAND: pb.ENTRY_KIND_COMMAND,
    NOTIFICATION: pb.ENTRY_KIND_NOTIFICATION,
}
ENTRY_KIND_NAMES: dict[int, str] = {number: name for name, number in ENTRY_KIND.items()}

COMPLETION: dict[str | None, pb.CompletionResult.ValueType] = {
    None: pb.COMPLETION_RESULT_UNSPECIFIED,
    SUCCESS: pb.COMPLETION_RESULT_SUCCESS,
    FAILURE: pb.COMPLETION_RESULT_FAILURE,
}
COMPLETION_NAMES: dict[int, str | None] = {number: name for name, number in COMPLETION.items()}


class _HasField(Protocol):
    def HasField(self, field_name: Any) -> bool: ...


def optional(message: _HasField, field: str) -> Any:
    """The value of a proto3 ``optional`` field, or None when it is not set."""
    return getattr(message, field) if message.HasField(field) else None


# --- model -> proto ----------------------------------------------------------------------


def status_to_proto(state: str | None) -> pb.InvocationStatus.ValueType:
    """A model state (None or ``free`` when the invocation is gone) as the proto enum."""
    return STATUS[FREE if state is None else state]


def entry_to_proto(entry: Entry) -> pb.JournalEntry:
    return pb.JournalEntry(
        index=entry.index,
        kind=ENTRY_KIND[entry.kind],
        type=entry.type,
        name=entry.name,
        completion_ids=entry.completion_ids,
        completion_id=entry.completion_id,
    )


#: Optional fields copied when set (a field left out of the message reads as unset).
_OPTIONAL = (
    "due_ms",
    "completed_ms",
    "idempotency_key",
    "restarted_from",
    "awaiting",
    "last_failure",
    "next_attempt_ms",
    "completion_failure",
)


def invocation_to_proto(
    engine: Engine,
    inv: Invocation,
    *,
    with_journal: bool = True,
    timers: dict[str, list[tuple[int, int]]] | None = None,
) -> pb.Invocation:
    """One invocation; ``timers`` holds its pending sleeps (:meth:`fsm.engine.Engine.sleeps_of`; read
    for this one invocation if not given). Only the fields set are written (a page converts 100)."""
    if timers is None:
        timers = engine.sleeps_of([inv.id]) if with_journal else {}
    message = pb.Invocation(
        id=inv.id,
        status=STATUS[inv.state],
        completion=COMPLETION[inv.completion],
        journal_retained=inv.journal is not None,
        journal_retention_s=inv.journal_retention_s,
        completion_retention_s=inv.completion_retention_s,
        retry_count=inv.retry_count,
    )
    target = message.target
    target.service = inv.service
    target.handler = inv.handler
    if inv.key is not None:
        target.key = inv.key
    if with_journal and inv.journal:
        message.journal.extend(entry_to_proto(e) for e in inv.journal)
    for name in _OPTIONAL:
        value = getattr(inv, name)
        if value is not None:
            setattr(message, name, value)
    sleeps = timers.get(inv.id)
    if sleeps:
        message.timers.extend(pb.SleepTimer(due_ms=due, completion_id=cid) for due, cid in sleeps)
    children = engine.restarted_as(inv.id)
    if children:
        message.restarted_as.extend(children)
    if inv.pinned_deployment is not None:
        pinned = message.pinned
        pinned.deployment_id = inv.pinned_deployment
        pinned.protocol = inv.pinned_protocol or 0
    return message


def service_to_proto(service: Service) -> pb.Service:
    message = pb.Service(
        name=service.name,
        type=SERVICE_TYPE[service.type],
        journal_retention_s=service.journal_retention_s,
        completion_retention_s=service.completion_retention_s,
    )
    policy = service.retry_policy
    if policy is not None:
        message.retry_policy.CopyFrom(
            pb.RetryPolicy(
                initial_interval_ms=policy.initial_interval_ms,
                factor=policy.factor,
                max_interval_ms=policy.max_interval_ms,
                max_attempts=policy.max_attempts,
                on_max_attempts=ON_MAX_ATTEMPTS_TO_PROTO[policy.on_max_attempts],
            )
        )
    return message


ON_MAX_ATTEMPTS_TO_PROTO = {
    OnMaxAttempts.PAUSE: pb.RetryPolicy.ON_MAX_ATTEMPTS_PAUSE,
    OnMaxAttempts.KILL: pb.RetryPolicy.ON_MAX_ATTEMPTS_KILL,
}
ON_MAX_ATTEMPTS_FROM_PROTO = {
    pb.RetryPolicy.ON_MAX_ATTEMPTS_UNSPECIFIED: OnMaxAttempts.PAUSE,
    pb.RetryPolicy.ON_MAX_ATTEMPTS_PAUSE: OnMaxAttempts.PAUSE,
    pb.RetryPolicy.ON_MAX_ATTEMPTS_KILL: OnMaxAttempts.KILL,
}


def retry_policy_from_proto(message: pb.RetryPolicy) -> RetryPolicy:
    """The policy a request names; fields left out keep Restate's defaults (400 naming a bad one)."""
    if message.on_max_attempts not in ON_MAX_ATTEMPTS_FROM_PROTO:
        raise invalid_argument("retry_policy.on_max_attempts", f"unknown value {message.on_max_attempts}")
    fields: dict[str, Any] = {"on_max_attempts": ON_MAX_ATTEMPTS_FROM_PROTO[message.on_max_attempts]}
    for name in ("initial_interval_ms", "factor", "max_interval_ms", "max_attempts"):
        if message.HasField(name):
            fields[name] = getattr(message, name)
    return RetryPolicy(**fields)


def deployment_to_proto(deployment: Deployment) -> pb.Deployment:
    return pb.Deployment(
        id=deployment.id,
        services=deployment.services,
        protocol_min=deployment.protocol_min,
        protocol_max=deployment.protocol_max,
        name=deployment.name,
    )


# --- proto -> model arguments ------------------------------------------------------------


class _WithSelector(_HasField, Protocol):
    @property
    def deployment(self) -> pb.DeploymentSelector: ...


def selector_to_raw(request: _WithSelector) -> str | None:
    """The selector as the raw ``deployment`` string the model reads (None: the operation's default)."""
    if not request.HasField("deployment"):
        return None
    selector = request.deployment
    which = selector.WhichOneof("selector")
    if which == "id":
        return selector.id
    if which is None or selector.mode == pb.DeploymentSelector.MODE_UNSPECIFIED:
        return None
    if selector.mode == pb.DeploymentSelector.MODE_KEEP:
        return "keep"
    if selector.mode == pb.DeploymentSelector.MODE_LATEST:
        return "latest"
    raise invalid_argument("deployment.mode", f"unknown mode {selector.mode}; use MODE_KEEP, MODE_LATEST or an id")


def service_type_from_proto(value: int) -> str:
    """A ServiceType (unspecified: a plain service) as the model's name."""
    if value == pb.SERVICE_TYPE_UNSPECIFIED:
        return SERVICE
    name = SERVICE_TYPE_NAMES.get(value)
    if name is None:
        raise invalid_argument("type", f"unknown service type {value}")
    return name


def statuses_from_proto(values: Iterable[int]) -> set[str]:
    """A status filter as model states (UNSPECIFIED and FREE match nothing that exists)."""
    states = set()
    for value in values:
        if value not in STATUS_NAMES and value != pb.INVOCATION_STATUS_UNSPECIFIED:
            raise invalid_argument("statuses", f"unknown invocation status {value}")
        states.add(STATUS_NAMES.get(value, ""))
    return states


# --- client side --------------------------------------------------------------------------


def raw_to_selector(raw: str | None) -> pb.DeploymentSelector | None:
    """A raw ``deployment`` value (as in a case or on the command line) as a selector, or None."""
    if raw is None:
        return None
    if raw in ("Keep", "keep"):
        return pb.DeploymentSelector(mode=pb.DeploymentSelector.MODE_KEEP)
    if raw in ("Latest", "latest"):
        return pb.DeploymentSelector(mode=pb.DeploymentSelector.MODE_LATEST)
    return pb.DeploymentSelector(id=raw)


def entry_to_world(entry: pb.JournalEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"index": entry.index, "kind": ENTRY_KIND_NAMES.get(entry.kind, "?"), "type": entry.type}
    if entry.HasField("name"):
        out["name"] = entry.name
    if entry.completion_ids:
        out["completion_ids"] = list(entry.completion_ids)
    if entry.HasField("completion_id"):
        out["completion_id"] = entry.completion_id
    return out


def invocation_to_world(message: pb.Invocation) -> dict[str, Any]:
    """A typed invocation in the world format of cases-format.md (retention always written)."""
    out: dict[str, Any] = {
        "id": message.id,
        "target": {
            "service": message.target.service,
            "handler": message.target.handler,
            "key": optional(message.target, "key"),
        },
        "status": STATUS_NAMES.get(message.status, "?"),
        "completion": COMPLETION_NAMES.get(message.completion),
        "pinned": {"deployment_id": message.pinned.deployment_id, "protocol": message.pinned.protocol}
        if message.HasField("pinned")
        else None,
        "journal_retained": message.journal_retained,
        "journal": [entry_to_world(e) for e in message.journal],
        "journal_retention_s": message.journal_retention_s,
        "completion_retention_s": message.completion_retention_s,
    }
    for name in ("due_ms", "completed_ms", "idempotency_key", "restarted_from", "awaiting"):
        if message.HasField(name):
            out[name] = getattr(message, name)
    if message.retry_count:
        out["retry_count"] = message.retry_count
    if message.timers:
        out["timers"] = [{"due_ms": t.due_ms, "completion_id": t.completion_id} for t in message.timers]
    return out
