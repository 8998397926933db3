"""Restart-as-new: the sixteen ordered checks of behaviour.md section 4, in one place.

``CHECKS`` is the order. Each check looks at a :class:`RestartContext` and either passes
(returns None, possibly recording what it parsed or resolved), refuses (returns a
:class:`LifecycleError`), or decides success (returns a :class:`RestartPlan`). The first
check that returns something decides. :func:`decide` is pure: it reads the engine through
the small :class:`RestartView` protocol and changes nothing, so the engine, the gRPC dry run
(``ExplainRestartAsNew``), exploration and the tests all run exactly these rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import journal as journal_rules
from .errors import FailedPrecondition, InvalidArgument, LifecycleError, NotFound, OutOfRange, Unavailable
from .ids import IdError, InvocationId, parse_invocation_id
from .lifecycle import ADMIN, Refuse
from .model import FIRST_NEW_JOURNAL_PROTOCOL, FIRST_PREFIX_RESTART_PROTOCOL, WORKFLOW, Deployment, Entry, Invocation
from .requests import KEEP, LATEST, U32_MAX, DeploymentById, DeploymentSelector, parse_deployment, parse_from


class RestartView(Protocol):
    """What the checks need to read from an engine (and nothing they could change)."""

    def routing_error(self, partition_key: int) -> str | None: ...
    def get_invocation(self, invocation_id: str) -> Invocation | None: ...
    def service_type(self, service: str) -> str | None: ...
    def get_deployment(self, deployment_id: str) -> Deployment | None: ...
    def latest_deployment(self, service: str) -> Deployment | None: ...


@dataclass
class RestartContext:
    """The request as given, and what the checks have parsed and resolved so far."""

    view: RestartView
    invocation_id: str
    raw_from: int | str | None
    raw_deployment: str | None
    from_: int = 0
    parsed_id: InvocationId | None = None
    selector: DeploymentSelector = LATEST
    invocation: Invocation | None = None
    target: Deployment | None = None  # resolved deployment for latest / an id


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


CheckResult = LifecycleError | RestartPlan | None


@dataclass(frozen=True)
class Check:
    number: int
    name: str
    run: Callable[[RestartContext], CheckResult] = field(repr=False)


@dataclass(frozen=True)
class Decision:
    """Which check decided, and either the error or the plan."""

    check: Check
    error: LifecycleError | None = None
    plan: RestartPlan | None = None
    context: RestartContext | None = field(default=None, repr=False, compare=False)

    @property
    def http_status(self) -> int:
        return self.error.http_status if self.error else 200


def _unsupported(ctx: RestartContext, check: int) -> FailedPrecondition:
    return FailedPrecondition(
        422,
        "UNSUPPORTED",
        f"Restarting the invocation '{ctx.invocation_id}' is not supported. Restarting workflows is not "
        "supported, and restarting invocations created using the old service protocol.",
        check=check,
    )


def _input_gone(ctx: RestartContext, check: int) -> FailedPrecondition:
    return FailedPrecondition(
        410,
        "INPUT_NOT_AVAILABLE",
        f"The invocation '{ctx.invocation_id}' cannot be restarted because the input is not available. "
        "This indicates that the journal was already purged, or not retained at all.",
        check=check,
    )


def resolve_deployment(view: RestartView, service: str, selector: DeploymentSelector) -> Deployment | None:
    """The deployment ``latest`` or an id names (an id even if it does not serve ``service``).

    Keep resolves to nothing here: it means "the pinned one", whether or not it still exists.
    Shared by restart-as-new (check 12) and resume.
    """
    if selector is LATEST:
        return view.latest_deployment(service)
    if isinstance(selector, DeploymentById):
        return view.get_deployment(selector.id)
    return None


def cannot_change_deployment(invocation_id: str, check: int | None = None) -> FailedPrecondition:
    return FailedPrecondition(
        409,
        "CANNOT_CHANGE_DEPLOYMENT",
        f"The invocation '{invocation_id}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed.",
        check=check,
    )


def deployment_not_found(invocation_id: str, operation: str, check: int | None = None) -> FailedPrecondition:
    """``operation`` is Restate's wording: "restart as new" or "resume"."""
    return FailedPrecondition(
        400,
        "DEPLOYMENT_NOT_FOUND",
        f"The given deployment was not found when trying to {operation} the invocation '{invocation_id}'.",
        check=check,
    )


def incompatible_deployment(
    invocation_id: str, protocol: int, target: Deployment, check: int | None = None
) -> FailedPrecondition:
    return FailedPrecondition(
        400,
        "INCOMPATIBLE_DEPLOYMENT",
        f"The invocation '{invocation_id}' is running on protocol version '{protocol}', while the "
        f"chosen deployment '{target.id}' supports the range {target.protocol_min}..={target.protocol_max}.",
        check=check,
    )


def _journal(ctx: RestartContext) -> list[Entry]:
    assert ctx.invocation is not None and ctx.invocation.journal is not None
    return ctx.invocation.journal


# --- the checks, in order -------------------------------------------------------------


def from_is_u32(ctx: RestartContext) -> CheckResult:
    ctx.from_ = parse_from(ctx.raw_from)
    return None


def invocation_id_parses(ctx: RestartContext) -> CheckResult:
    try:
        ctx.parsed_id = parse_invocation_id(ctx.invocation_id)
    except IdError as exc:
        return InvalidArgument(
            400,
            "INVALID_INVOCATION_ID",
            f"The request field 'invocation_id' is invalid. Reason: {exc.reason}",
            check=2,
        )
    return None


def deployment_parses(ctx: RestartContext) -> CheckResult:
    ctx.selector = parse_deployment(ctx.raw_deployment)
    return None


def partition_routable(ctx: RestartContext) -> CheckResult:
    assert ctx.parsed_id is not None
    reason = ctx.view.routing_error(ctx.parsed_id.partition_key)
    if reason is not None:
        return Unavailable(
            503, "PARTITION_UNAVAILABLE", f"Error when routing the request internally. Reason: {reason}", check=4
        )
    return None


def invocation_exists(ctx: RestartContext) -> CheckResult:
    ctx.invocation = ctx.view.get_invocation(ctx.invocation_id)
    if ctx.invocation is None:
        return NotFound(
            404, "INVOCATION_NOT_FOUND", f"The requested invocation '{ctx.invocation_id}' does not exist", check=5
        )
    return None


def _state_refusal(ctx: RestartContext, check: int, states: frozenset[str]) -> CheckResult:
    assert ctx.invocation is not None
    state = ctx.invocation.state
    outcome = ADMIN["restart_as_new"][state]
    if state in states and isinstance(outcome, Refuse):
        return FailedPrecondition(
            outcome.status, outcome.reason, outcome.template.format(id=ctx.invocation_id), check=check
        )
    return None


_NOT_STARTED = frozenset({"scheduled", "inboxed"})
_STILL_RUNNING = frozenset({"running", "suspended", "paused"})


def not_scheduled_or_inboxed(ctx: RestartContext) -> CheckResult:
    return _state_refusal(ctx, 6, _NOT_STARTED)


def not_still_running(ctx: RestartContext) -> CheckResult:
    return _state_refusal(ctx, 7, _STILL_RUNNING)


def journal_retained(ctx: RestartContext) -> CheckResult:
    assert ctx.invocation is not None
    return _input_gone(ctx, 8) if ctx.invocation.journal is None else None


def not_a_workflow(ctx: RestartContext) -> CheckResult:
    assert ctx.invocation is not None
    return _unsupported(ctx, 9) if ctx.view.service_type(ctx.invocation.service) == WORKFLOW else None


def old_protocol_path(ctx: RestartContext) -> CheckResult:
    """Protocols 1-3: only a plain new call from the input; checks 11-15 do not apply."""
    inv = ctx.invocation
    assert inv is not None
    if inv.pinned_protocol is None or inv.pinned_protocol >= FIRST_NEW_JOURNAL_PROTOCOL:
        return None
    if ctx.from_ > 0:
        return _unsupported(ctx, 10)
    if ctx.selector is KEEP or isinstance(ctx.selector, DeploymentById):
        return cannot_change_deployment(ctx.invocation_id, check=10)
    first = journal_rules.entry_at(_journal(ctx), 0)
    if first is None or first.type != "Input":
        return _input_gone(ctx, 10)
    assert ctx.parsed_id is not None
    return RestartPlan(ctx.invocation_id, ctx.parsed_id.partition_key, [first], [0], None, None, old_protocol=True)


def prefix_restart_supported(ctx: RestartContext) -> CheckResult:
    inv = ctx.invocation
    assert inv is not None
    if ctx.from_ > 0 and (inv.pinned_protocol is None or inv.pinned_protocol < FIRST_PREFIX_RESTART_PROTOCOL):
        return _unsupported(ctx, 11)
    return None


def deployment_resolves(ctx: RestartContext) -> CheckResult:
    inv = ctx.invocation
    assert inv is not None
    if ctx.selector is KEEP:
        return None
    ctx.target = resolve_deployment(ctx.view, inv.service, ctx.selector)
    return deployment_not_found(ctx.invocation_id, "restart as new", check=12) if ctx.target is None else None


def deployment_speaks_protocol(ctx: RestartContext) -> CheckResult:
    inv = ctx.invocation
    assert inv is not None
    target = ctx.target
    if inv.pinned_protocol is None or target is None or target.supports(inv.pinned_protocol):
        return None
    return incompatible_deployment(ctx.invocation_id, inv.pinned_protocol, target, check=13)


def prefix_complete(ctx: RestartContext) -> CheckResult:
    # Restate loops over 1..=from with a u32 bound that overflows for from = u32::MAX: the loop
    # is empty and check 15 answers instead.
    if ctx.from_ == U32_MAX or journal_rules.prefix_is_complete(_journal(ctx), ctx.from_):
        return None
    return FailedPrecondition(
        400,
        "INCOMPLETE_PREFIX",
        f"The prefix of the journal '{ctx.invocation_id}' up to 'from' (included) contains some Commands "
        "without respective Completions.",
        check=14,
    )


def from_within_journal(ctx: RestartContext) -> CheckResult:
    if ctx.from_ < journal_rules.journal_length(_journal(ctx)):
        return None
    return OutOfRange(
        400,
        "JOURNAL_INDEX_OUT_OF_RANGE",
        f"The given index is out of range of currently stored journal for invocation '{ctx.invocation_id}'.",
        check=15,
    )


def success(ctx: RestartContext) -> CheckResult:
    inv = ctx.invocation
    assert inv is not None and ctx.parsed_id is not None
    new_journal, copied = journal_rules.copy_prefix(_journal(ctx), ctx.from_)
    if inv.pinned_deployment is None:
        pinned = None  # never pinned: the new one is not pinned either; the selector was only checked
    elif ctx.selector is KEEP:
        pinned = inv.pinned_deployment
    else:
        assert ctx.target is not None
        pinned = ctx.target.id
    return RestartPlan(
        ctx.invocation_id,
        ctx.parsed_id.partition_key,
        new_journal,
        copied,
        pinned,
        inv.pinned_protocol if pinned is not None else None,
    )


CHECKS: tuple[Check, ...] = (
    Check(1, "from is a u32", from_is_u32),
    Check(2, "invocation id parses", invocation_id_parses),
    Check(3, "deployment id parses", deployment_parses),
    Check(4, "partition is routable", partition_routable),
    Check(5, "invocation exists", invocation_exists),
    Check(6, "not scheduled or inboxed", not_scheduled_or_inboxed),
    Check(7, "not running, suspended or paused", not_still_running),
    Check(8, "journal retained", journal_retained),
    Check(9, "not a workflow", not_a_workflow),
    Check(10, "old protocol path", old_protocol_path),
    Check(11, "prefix restart supported", prefix_restart_supported),
    Check(12, "deployment resolves", deployment_resolves),
    Check(13, "deployment speaks the pinned protocol", deployment_speaks_protocol),
    Check(14, "journal prefix complete", prefix_complete),
    Check(15, "from within the journal", from_within_journal),
    Check(16, "success", success),
)
CHECKS_BY_NUMBER = {check.number: check for check in CHECKS}


def decide(
    view: RestartView, invocation_id: str, from_: int | str | None = None, deployment: str | None = None
) -> Decision:
    """Run the checks in order; the first that returns something decides. Changes nothing."""
    ctx = RestartContext(view, invocation_id, from_, deployment)
    for check in CHECKS:
        try:
            result = check.run(ctx)
        except LifecycleError as exc:  # parse helpers raise their errors
            return Decision(check, error=exc, context=ctx)
        if isinstance(result, LifecycleError):
            return Decision(check, error=result, context=ctx)
        if isinstance(result, RestartPlan):
            return Decision(check, plan=result, context=ctx)
    raise AssertionError("check 16 always decides")  # pragma: no cover
