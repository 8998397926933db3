"""Restart-as-new: the sixteen ordered checks of behaviour.md section 4, and what a success creates.

The checks run in order along one path, each in the place that can answer it:

- checks 1-5 need no invocation state (the request parses, the partition answers, the invocation
  exists): :func:`validate_request` runs them before any trigger fires;
- checks 6-7 refuse by the invocation's state: they are the refusal rows of the lifecycle's
  ``restart_as_new`` trigger (:mod:`fsm.lifecycle`), carrying these check numbers;
- checks 8-15 are :data:`CONDITIONS`, the conditions of the ``restart_as_new`` row from
  ``completed``: each passes or raises its refusal. They read the trigger's keyword arguments
  ``request`` (a :class:`RestartRequest`) and ``view`` (the engine's deployments), and change
  nothing, so a dry run and `transitions`' ``may_`` can run them freely;
- check 16, and check 10's old-protocol success, is :func:`plan`: what the new invocation gets.

:data:`CHECKS` lists all sixteen with their numbers and names; every refusal carries its number
in ``LifecycleError.check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from . import journal as journal_rules
from .deployments import (
    RegistryView,
    cannot_change_deployment,
    deployment_not_found,
    incompatible_deployment,
    resolve_deployment,
)
from .errors import FailedPrecondition, InvalidArgument, LifecycleError, NotFound, OutOfRange, Unavailable
from .ids import IdError, parse_invocation_id
from .model import FIRST_NEW_JOURNAL_PROTOCOL, FIRST_PREFIX_RESTART_PROTOCOL, WORKFLOW, Entry, Invocation, StepEvent
from .requests import KEEP, U32_MAX, DeploymentById, DeploymentSelector, parse_deployment, parse_from


@dataclass(frozen=True)
class Check:
    """One of the sixteen checks: its number, what it asks, and where on the path it runs."""

    number: int
    name: str
    where: str  # "request", "lifecycle refusal", "condition" or "plan"


CHECKS: tuple[Check, ...] = (
    Check(1, "from is a u32", "request"),
    Check(2, "invocation id parses", "request"),
    Check(3, "deployment id parses", "request"),
    Check(4, "partition is routable", "request"),
    Check(5, "invocation exists", "request"),
    Check(6, "not scheduled or inboxed", "lifecycle refusal"),
    Check(7, "not running, suspended or paused", "lifecycle refusal"),
    Check(8, "journal retained", "condition"),
    Check(9, "not a workflow", "condition"),
    Check(10, "old protocol path", "condition"),
    Check(11, "prefix restart supported", "condition"),
    Check(12, "deployment resolves", "condition"),
    Check(13, "deployment speaks the pinned protocol", "condition"),
    Check(14, "journal prefix complete", "condition"),
    Check(15, "from within the journal", "condition"),
    Check(16, "success", "plan"),
)
CHECKS_BY_NUMBER = {check.number: check for check in CHECKS}


class RestartView(Protocol):
    """What checks 1-5 read from an engine."""

    def routing_error(self, partition_key: int) -> str | None: ...
    def get_invocation(self, invocation_id: str) -> Invocation | None: ...


@dataclass(frozen=True)
class RestartRequest:
    """A request that passed checks 1-5: ``from`` parsed, the deployment selector, the partition key."""

    invocation_id: str
    from_: int
    selector: DeploymentSelector
    partition_key: int


@dataclass(frozen=True)
class RestartPlan:
    """What a successful restart creates (behaviour.md section 5)."""

    restarted_from: str
    partition_key: int
    journal: list[Entry]
    copied_indexes: list[int]
    pinned_deployment: str | None
    pinned_protocol: int | None
    old_protocol: bool = False


@dataclass(frozen=True)
class Decision:
    """A dry run's answer: which check decided, and either the refusal or the plan.

    ``resolved_deployment`` is the deployment the request chose, as far as the checks got: the
    pinned one for ``keep``, or the one ``latest`` or an id resolved to once check 12 passed.
    """

    check: Check
    error: LifecycleError | None = None
    plan: RestartPlan | None = None
    resolved_deployment: str | None = None

    @property
    def http_status(self) -> int:
        return self.error.http_status if self.error else 200


def _unsupported(invocation_id: str, check: int) -> FailedPrecondition:
    return FailedPrecondition(
        422,
        "UNSUPPORTED",
        f"Restarting the invocation '{invocation_id}' is not supported. Restarting workflows is not "
        "supported, and restarting invocations created using the old service protocol.",
        check=check,
    )


def _input_gone(invocation_id: str, check: int) -> FailedPrecondition:
    return FailedPrecondition(
        410,
        "INPUT_NOT_AVAILABLE",
        f"The invocation '{invocation_id}' cannot be restarted because the input is not available. "
        "This indicates that the journal was already purged, or not retained at all.",
        check=check,
    )


# --- checks 1-5: the request, before any trigger ----------------------------------------------


def validate_request(
    view: RestartView, invocation_id: str, raw_from: int | str | None, raw_deployment: str | None
) -> tuple[RestartRequest, Invocation]:
    """Checks 1-5 in order; the first failing one raises with its number."""
    from_ = parse_from(raw_from)  # 1
    try:
        partition_key = parse_invocation_id(invocation_id).partition_key  # 2
    except IdError as exc:
        raise InvalidArgument(
            400,
            "INVALID_INVOCATION_ID",
            f"The request field 'invocation_id' is invalid. Reason: {exc.reason}",
            check=2,
        ) from None
    selector = parse_deployment(raw_deployment)  # 3
    reason = view.routing_error(partition_key)  # 4
    if reason is not None:
        raise Unavailable(
            503, "PARTITION_UNAVAILABLE", f"Error when routing the request internally. Reason: {reason}", check=4
        )
    inv = view.get_invocation(invocation_id)  # 5
    if inv is None:
        raise NotFound(
            404, "INVOCATION_NOT_FOUND", f"The requested invocation '{invocation_id}' does not exist", check=5
        )
    return RestartRequest(invocation_id, from_, selector, partition_key), inv


# --- checks 8-15: the conditions of restart_as_new from completed -------------------------------


def _inputs(event: StepEvent) -> tuple[Invocation, RestartRequest, RegistryView]:
    kwargs: dict[str, Any] = event.kwargs
    return event.model, kwargs["request"], kwargs["view"]


def _old_protocol(inv: Invocation) -> bool:
    """Protocols 1-3: only a plain new call from the input (check 10); checks 11-15 do not apply."""
    return inv.pinned_protocol is not None and inv.pinned_protocol < FIRST_NEW_JOURNAL_PROTOCOL


def journal_retained(event: StepEvent) -> bool:
    inv, request, _ = _inputs(event)
    if inv.journal is None:
        raise _input_gone(request.invocation_id, 8)
    return True


def not_a_workflow(event: StepEvent) -> bool:
    inv, request, view = _inputs(event)
    if view.service_type(inv.service) == WORKFLOW:
        raise _unsupported(request.invocation_id, 9)
    return True


def old_protocol_path(event: StepEvent) -> bool:
    inv, request, _ = _inputs(event)
    if not _old_protocol(inv):
        return True
    if request.from_ > 0:
        raise _unsupported(request.invocation_id, 10)
    if request.selector is KEEP or isinstance(request.selector, DeploymentById):
        raise cannot_change_deployment(request.invocation_id, check=10)
    assert inv.journal is not None
    first = journal_rules.entry_at(inv.journal, 0)
    if first is None or first.type != "Input":
        raise _input_gone(request.invocation_id, 10)
    return True


def prefix_restart_supported(event: StepEvent) -> bool:
    inv, request, _ = _inputs(event)
    if _old_protocol(inv) or request.from_ == 0:
        return True
    if inv.pinned_protocol is None or inv.pinned_protocol < FIRST_PREFIX_RESTART_PROTOCOL:
        raise _unsupported(request.invocation_id, 11)
    return True


def deployment_resolves(event: StepEvent) -> bool:
    inv, request, view = _inputs(event)
    if _old_protocol(inv) or request.selector is KEEP:
        return True
    if resolve_deployment(view, inv.service, request.selector) is None:
        raise deployment_not_found(request.invocation_id, "restart as new", check=12)
    return True


def deployment_speaks_protocol(event: StepEvent) -> bool:
    inv, request, view = _inputs(event)
    if _old_protocol(inv) or request.selector is KEEP or inv.pinned_protocol is None:
        return True
    target = resolve_deployment(view, inv.service, request.selector)
    if target is None or target.supports(inv.pinned_protocol):
        return True
    raise incompatible_deployment(request.invocation_id, inv.pinned_protocol, target, check=13)


def prefix_complete(event: StepEvent) -> bool:
    inv, request, _ = _inputs(event)
    # Restate loops over 1..=from with a u32 bound that overflows for from = u32::MAX: the loop
    # is empty and check 15 answers instead.
    if _old_protocol(inv) or request.from_ == U32_MAX:
        return True
    assert inv.journal is not None
    if journal_rules.prefix_is_complete(inv.journal, request.from_):
        return True
    raise FailedPrecondition(
        400,
        "INCOMPLETE_PREFIX",
        f"The prefix of the journal '{request.invocation_id}' up to 'from' (included) contains some Commands "
        "without respective Completions.",
        check=14,
    )


def from_within_journal(event: StepEvent) -> bool:
    inv, request, _ = _inputs(event)
    assert inv.journal is not None
    if _old_protocol(inv) or request.from_ < journal_rules.journal_length(inv.journal):
        return True
    raise OutOfRange(
        400,
        "JOURNAL_INDEX_OUT_OF_RANGE",
        f"The given index is out of range of currently stored journal for invocation '{request.invocation_id}'.",
        check=15,
    )


#: Checks 8-15, in order: the conditions of ``restart_as_new`` from ``completed``.
CONDITIONS = (
    journal_retained,
    not_a_workflow,
    old_protocol_path,
    prefix_restart_supported,
    deployment_resolves,
    deployment_speaks_protocol,
    prefix_complete,
    from_within_journal,
)


# --- check 16: what the new invocation gets ------------------------------------------------------


def plan(inv: Invocation, request: RestartRequest, view: RegistryView) -> RestartPlan:
    """The new invocation of a request that passed every check (check 10's success or check 16)."""
    journal = inv.journal
    assert journal is not None, "check 8 passed"  # pragma: no mutate -- an internal assertion and its message
    if _old_protocol(inv):
        first = journal_rules.entry_at(journal, 0)
        assert first is not None, "check 10 passed"  # pragma: no mutate -- an internal assertion and its message
        return RestartPlan(request.invocation_id, request.partition_key, [first], [0], None, None, old_protocol=True)
    new_journal, copied = journal_rules.copy_prefix(journal, request.from_)
    if inv.pinned_deployment is None:
        pinned = None  # never pinned: the new one is not pinned either; the selector was only checked
    elif request.selector is KEEP:
        pinned = inv.pinned_deployment
    else:
        target = resolve_deployment(view, inv.service, request.selector)
        assert target is not None, "check 12 passed"  # pragma: no mutate -- an internal assertion and its message
        pinned = target.id
    return RestartPlan(
        request.invocation_id,
        request.partition_key,
        new_journal,
        copied,
        pinned,
        inv.pinned_protocol if pinned is not None else None,
    )


def resolved_deployment(inv: Invocation, request: RestartRequest, view: RegistryView, decided_by: int) -> str | None:
    """The deployment a dry run reports as chosen, given the check that decided."""
    if request.selector is KEEP:
        return inv.pinned_deployment
    if decided_by > CHECKS_BY_NUMBER[12].number:  # check 12 ran and passed
        target = resolve_deployment(view, inv.service, request.selector)
        return target.id if target is not None else None
    return None
