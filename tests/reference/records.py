"""Plain records of the reference model: journal entries, invocations, services, deployments, refusals."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED, COMPLETED = (
    "scheduled",
    "inboxed",
    "running",
    "suspended",
    "paused",
    "completed",
)
#: Section 1's states in its order ("free" is the absence of a record).
STATES = ("free", SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED, COMPLETED)
STARTED = (RUNNING, SUSPENDED, PAUSED)

COMMAND, NOTIFICATION = "command", "notification"
SERVICE, VIRTUAL_OBJECT, WORKFLOW = "service", "virtual_object", "workflow"

#: Section 4's command types, in its order: those awaiting none, one, then two completion ids.
COMMAND_TYPES = (
    "Input", "Output", "SetState", "ClearState", "ClearAllState", "GetEagerState", "GetEagerStateKeys",
    "SendSignal", "CompleteAwakeable", "GetLazyState", "GetLazyStateKeys", "GetPromise", "PeekPromise",
    "CompletePromise", "Sleep", "Run", "AttachInvocation", "GetInvocationOutput", "OneWayCall", "Call",
)  # fmt: skip

#: Section 4 ("Completion ids awaited per command"); any other command awaits none.
AWAITS = {
    "GetLazyState": 1,
    "GetLazyStateKeys": 1,
    "GetPromise": 1,
    "PeekPromise": 1,
    "CompletePromise": 1,
    "Sleep": 1,
    "Run": 1,
    "AttachInvocation": 1,
    "GetInvocationOutput": 1,
    "OneWayCall": 1,  # the callee's id
    "Call": 2,  # the callee's id and its result
}
#: cases-format.md: the notification carrying a call's callee id is a `CallInvocationId`.
NOTIFICATION_TYPES = {"Call": ("CallInvocationId", "Call"), "OneWayCall": ("CallInvocationId",)}


@dataclass(frozen=True)
class Entry:
    """A journal entry (cases-format.md): commands and notifications share one index space."""

    index: int
    kind: str
    type: str
    name: str | None = None
    completion_ids: tuple[int, ...] = ()  # a command: what it awaits
    completion_id: int | None = None  # a notification: what it completes (None: a signal)

    def fields(self) -> tuple[int, str, str, str | None, tuple[int, ...], int | None]:
        return (self.index, self.kind, self.type, self.name, self.completion_ids, self.completion_id)


@dataclass
class Service:
    type: str
    journal_retention_s: int
    completion_retention_s: int


@dataclass
class Deployment:
    services: tuple[str, ...]
    low: int
    high: int


@dataclass
class Invocation:
    id: str
    service: str
    handler: str
    key: str | None
    state: str
    journal_retention_s: int
    completion_retention_s: int
    journal: list[Entry] | None = field(default_factory=lambda: [Entry(0, COMMAND, "Input")])  # entry 0: Input
    completion: str | None = None
    pinned_deployment: str | None = None
    pinned_protocol: int | None = None
    next_completion_id: int = 1
    due_ms: int | None = None
    completed_ms: int | None = None
    retry_count: int = 0
    next_attempt_ms: int | None = None  # backing off after a failed attempt: when the next one starts
    idempotency_key: str | None = None
    restarted_from: str | None = None
    awaiting: int | None = None


@dataclass(frozen=True)
class Restarted:
    """What restart-as-new answers (or, in a dry run, would create): section 5."""

    check: int  # 16, or 10 for the old protocol's plain new call
    new_invocation_id: str | None
    restarted_from: str
    copied_indexes: tuple[int, ...]
    pinned_deployment: str | None
    pinned_protocol: int | None
    status: str | None  # None in a dry run


class Refusal(Exception):
    """A refused request: HTTP status, the engine API's stable reason, the exact message, the check."""

    def __init__(self, status: int, reason: str, message: str, check: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.check = check

    def answer(self) -> tuple[int, str, str, int | None]:
        return (self.status, self.reason, self.message, self.check)


def cannot_change_deployment(invocation_id: str, check: int | None = None) -> Refusal:
    return Refusal(
        409,
        "CANNOT_CHANGE_DEPLOYMENT",
        f"The invocation '{invocation_id}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed.",
        check,
    )


def incompatible(
    invocation_id: str, protocol: int, deployment_id: str, found: Deployment, check: int | None = None
) -> Refusal:
    """Section 4, check 13's message (resume uses it too)."""
    return Refusal(
        400,
        "INCOMPATIBLE_DEPLOYMENT",
        f"The invocation '{invocation_id}' is running on protocol version '{protocol}', while the chosen "
        f"deployment '{deployment_id}' supports the range {found.low}..={found.high}.",
        check,
    )
