"""The records the engine holds: services, deployments, invocations and journal entries.

Small on purpose: a simulator holds a million invocations, so an ``Invocation`` is a
``__slots__`` object (no per-object ``Machine``, no ``__dict__``) and a journal entry is a
tuple. Nothing here has behaviour beyond describing itself; the rules live in
:mod:`fsm.lifecycle` (and the checks it names), the effects in the engine's rooms.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from .errors import invalid_argument, wrong_type
from .retry import RetryPolicy


class ServiceType(StrEnum):
    """The kinds of service Restate knows (a member equals its value: ``ServiceType.SERVICE == "service"``)."""

    SERVICE = "service"
    VIRTUAL_OBJECT = "virtual_object"
    WORKFLOW = "workflow"


class CompletionResult(StrEnum):
    """How a completed invocation ended."""

    SUCCESS = "success"
    FAILURE = "failure"


SERVICE: str = ServiceType.SERVICE.value
VIRTUAL_OBJECT: str = ServiceType.VIRTUAL_OBJECT.value
WORKFLOW: str = ServiceType.WORKFLOW.value
SERVICE_TYPES: tuple[str, ...] = tuple(t.value for t in ServiceType)

COMMAND = "command"
NOTIFICATION = "notification"

SUCCESS: str = CompletionResult.SUCCESS.value
FAILURE: str = CompletionResult.FAILURE.value

#: Why a failed invocation failed (its ``completion_failure``), Restate's "[code] message" form:
#: killed by the admin API; its handler failed after a cancel signal; failed on its own; and an
#: attempt's failure when the caller names none (``last_failure``; kept if retries end in a kill).
KILLED_FAILURE = "[409] killed"
CANCELED_FAILURE = "[409] canceled"
TERMINAL_FAILURE = "[500] terminal error"
DEFAULT_FAILURE = "[500] attempt failed"

#: Journal retention Restate applies when a service sets none (24 h).
DEFAULT_JOURNAL_RETENTION_S = 86_400
#: How long a completed invocation's status is kept when the service sets nothing (24 h): Restate's
#: ingress gives every call an idempotency key of its own, so its status lives for the idempotency
#: retention (``default-idempotency-retention``), whatever the journal retention.
DEFAULT_COMPLETION_RETENTION_S = 86_400
#: The latest instant the virtual clock keeps, in ms since the epoch: the largest signed 64-bit
#: integer, so that every time the model answers fits an int64 in any client (~292 million years).
MAX_TIME_MS = 2**63 - 1
#: The longest name the model keeps, in characters: service, handler and deployment names, keys,
#: idempotency keys, entry types and entry names (a bound on what one request can make the world hold).
MAX_NAME_CHARS = 1_024
#: The longest journal a handler step may grow: appending a command, delivering a completion or the
#: Output past it is refused. The engine's own entries (a timer's notification, a cancel signal) always land.
MAX_JOURNAL_ENTRIES = 10_000
#: The protocol a deployment and this engine agree on is the highest both speak, up to this.
DEFAULT_MAX_PROTOCOL = 6
#: Protocols below this use the old journal (restart-as-new check 10).
FIRST_NEW_JOURNAL_PROTOCOL = 4
#: Protocols from this on allow restarting from a journal prefix (`from` > 0, check 11).
FIRST_PREFIX_RESTART_PROTOCOL = 6


class Entry(NamedTuple):
    """One journal entry. Commands and notifications share one 0-based index space."""

    index: int  # type: ignore[assignment]  # the journal index; shadows tuple.index, which is unused
    kind: str  # COMMAND | NOTIFICATION
    type: str  # Restate's entry type: Input, Run, Sleep, Call, Output, Signal, ...
    name: str | None = None
    completion_ids: tuple[int, ...] = ()  # commands: the completions they await
    completion_id: int | None = None  # notifications: the completion they carry (None: a signal)

    def renumbered(self, index: int) -> Entry:
        return self._replace(index=index)


INPUT = Entry(0, COMMAND, "Input")


def check_name(what: str, value: Any) -> str:
    """A non-empty string of at most :data:`MAX_NAME_CHARS` characters, or a 400 naming it
    (a :class:`~fsm.errors.WrongType`, also a ``TypeError``, when it is not a string at all)."""
    if not isinstance(value, str):
        raise wrong_type(what, f"must be a non-empty string, got {type(value).__name__}")
    if not value:
        raise invalid_argument(what, "must be a non-empty string")
    return check_length(what, value)


def check_text(what: str, value: Any) -> str:
    """A string (it may be empty) of at most :data:`MAX_NAME_CHARS` characters, or a 400 naming it."""
    if not isinstance(value, str):
        raise wrong_type(what, f"must be a string, got {type(value).__name__}")
    return check_length(what, value)


def check_length(what: str, value: str) -> str:
    """At most :data:`MAX_NAME_CHARS` characters of valid Unicode (no lone surrogate), or a 400 naming it."""
    problem = text_problem(value)
    if problem is not None:
        raise invalid_argument(what, problem)
    return value


def text_problem(value: str) -> str | None:
    """Why a name the model keeps cannot be ``value`` (too long, or not valid Unicode), or None: the
    one rule for names in calls (:func:`check_length`) and in imported worlds (:mod:`fsm.snapshot`)."""
    if len(value) > MAX_NAME_CHARS:
        return f"must be at most {MAX_NAME_CHARS} characters, got {len(value)}"
    return unicode_problem(value)


def unicode_problem(value: str) -> str | None:
    """Why ``value`` cannot travel as UTF-8 (a lone surrogate, e.g. from bytes decoded with
    ``surrogateescape``), or None."""
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"must be valid Unicode, got a lone surrogate at position {exc.start}"
    return None


def check_int(what: str, value: Any, low: int = 0) -> int:
    """An integer argument >= ``low`` of the model's own API, or a 400 naming it
    (a :class:`~fsm.errors.WrongType` when it is not an integer at all)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(what, f"must be an integer >= {low}, got {value!r}")
    if value < low:
        raise invalid_argument(what, f"must be an integer >= {low}, got {value!r}")
    return value


def check_bool(what: str, value: Any) -> bool:
    """A boolean argument, or a :class:`~fsm.errors.WrongType` naming it."""
    if not isinstance(value, bool):
        raise wrong_type(what, f"must be true or false, got {value!r}")
    return value


def check_time(what: str, value: Any) -> int:
    """An instant in ms since the epoch: an integer from 0 to :data:`MAX_TIME_MS`, or a 400 naming it."""
    check_int(what, value)
    if value > MAX_TIME_MS:
        raise invalid_argument(what, f"must be at most {MAX_TIME_MS} (the latest time the model keeps), got {value}")
    return int(value)


def check_duration(what: str, value: Any, now_ms: int) -> int:
    """A duration in ms from ``now_ms`` that keeps the clock at or below :data:`MAX_TIME_MS`, or a 400."""
    check_int(what, value)
    if value > MAX_TIME_MS - now_ms:
        raise invalid_argument(
            what, f"must be at most {MAX_TIME_MS - now_ms}: the clock keeps no time after {MAX_TIME_MS}, got {value}"
        )
    return int(value)


class Service:
    __slots__ = ("name", "type", "journal_retention_s", "completion_retention_s", "retry_policy")

    def __init__(
        self,
        name: str,
        type: str,
        journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S,
        completion_retention_s: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.type = type
        self.journal_retention_s = journal_retention_s
        self.completion_retention_s = completion_retention_s
        self.retry_policy = retry_policy  # None: Restate's default (fsm.retry.DEFAULT_RETRY_POLICY)

    @property
    def effective_completion_retention_s(self) -> int:
        """How long a completed call's status is kept: the service's completion (idempotency)
        retention, else 24 h. restate-server 1.7.12 does so for every call through its ingress,
        a journal retention of 0 s, 5 s or 1 d alike (asked with a 1 s cleaner, 2026-12-05)."""
        if self.completion_retention_s is not None:
            return self.completion_retention_s
        return DEFAULT_COMPLETION_RETENTION_S

    @property
    def effective_journal_retention_s(self) -> int:
        """A journal never outlives its invocation's status: the shorter of the two retentions."""
        return min(self.journal_retention_s, self.effective_completion_retention_s)


class Deployment:
    __slots__ = ("id", "services", "protocol_min", "protocol_max", "name")

    def __init__(
        self, id: str, services: tuple[str, ...], protocol_min: int, protocol_max: int, name: str | None = None
    ) -> None:
        self.id = id
        self.services = services
        self.protocol_min = protocol_min
        self.protocol_max = protocol_max
        self.name = name

    def supports(self, protocol: int) -> bool:
        return self.protocol_min <= protocol <= self.protocol_max


class Invocation:
    """One invocation. ``journal is None`` means the journal is gone (purged or not retained)."""

    __slots__ = (
        "id",
        "state",
        "service",
        "handler",
        "key",
        "completion",
        "pinned_deployment",
        "pinned_protocol",
        "journal",
        "next_completion_id",
        "due_ms",
        "completed_ms",
        "created_ms",
        "retry_count",
        "last_failure",
        "next_attempt_ms",
        "completion_failure",
        "idempotency_key",
        "restarted_from",
        "journal_retention_s",
        "completion_retention_s",
        "awaiting",
    )

    def __init__(
        self,
        id: str,
        service: str,
        handler: str,
        key: str | None,
        state: str,
        journal_retention_s: int,
        completion_retention_s: int,
    ) -> None:
        self.id = id
        self.state = state
        self.service = service
        self.handler = handler
        self.key = key
        self.completion: str | None = None
        self.pinned_deployment: str | None = None
        self.pinned_protocol: int | None = None
        self.journal: list[Entry] | None = [INPUT]
        self.next_completion_id = 1
        self.due_ms: int | None = None
        self.completed_ms: int | None = None
        self.created_ms: int | None = None  # None for an imported record that did not say
        self.retry_count = 0  # failed attempts so far (reset by resume)
        self.last_failure: str | None = None  # the last attempt's failure, until a new command is journaled
        self.next_attempt_ms: int | None = None  # backing off: when the next attempt starts
        self.completion_failure: str | None = None  # why a completed invocation failed
        self.idempotency_key: str | None = None
        self.restarted_from: str | None = None
        self.journal_retention_s = journal_retention_s
        self.completion_retention_s = completion_retention_s
        self.awaiting: int | None = None  # the completion id a suspended invocation waits for

    def __repr__(self) -> str:
        return f"<Invocation {self.id} {self.service}/{self.handler} {self.state}>"

    def copy(self) -> Invocation:
        """An independent record with the same fields (the journal list copied; entries are immutable)."""
        twin = Invocation.__new__(Invocation)
        for name in _INVOCATION_FIELDS:
            setattr(twin, name, getattr(self, name))
        if self.journal is not None:
            twin.journal = list(self.journal)
        return twin


_INVOCATION_FIELDS = Invocation.__slots__


class StepEvent(Protocol):
    """What a lifecycle condition receives when a trigger fires.

    On an engine whose ``machine`` is in use this is `transitions`' ``EventData``; on the compiled
    fast path it is :class:`fsm.lifecycle.Firing`. Conditions read only these two attributes:
    ``model`` is the invocation, ``kwargs`` the trigger's keyword arguments (guard facts such as
    ``key_locked``, and inputs such as restart-as-new's ``request``).
    """

    @property
    def model(self) -> Invocation: ...

    @property
    def kwargs(self) -> dict[str, Any]: ...
