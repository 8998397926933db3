"""Choosing a deployment for restart-as-new and resume: ``keep``, ``latest`` or an id.

Both operations resolve the selector the same way and refuse with the same three answers, so
they live here once: :func:`resolve_deployment` and the errors :func:`cannot_change_deployment`,
:func:`deployment_not_found`, :func:`incompatible_deployment`. Resume's two checks are here too,
as conditions of the lifecycle's ``resume`` rows (:mod:`fsm.lifecycle`): they read the request's
``selector`` and the engine's ``view`` from the trigger's keyword arguments.
"""

from __future__ import annotations

from typing import Protocol

from .errors import FailedPrecondition
from .model import Deployment, StepEvent
from .requests import KEEP, LATEST, DeploymentById, DeploymentSelector


class RegistryView(Protocol):
    """What deployment selection reads from an engine (and nothing it could change)."""

    def service_type(self, service: str) -> str | None: ...
    def get_deployment(self, deployment_id: str) -> Deployment | None: ...
    def latest_deployment(self, service: str) -> Deployment | None: ...


def resolve_deployment(view: RegistryView, service: str, selector: DeploymentSelector) -> Deployment | None:
    """The deployment ``latest`` or an id names (an id even if it does not serve ``service``).

    Keep resolves to nothing here: it means "the pinned one", whether or not it still exists.
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


# --- resume's conditions (kwargs: selector, view) ------------------------------------------------


def resume_keeps_deployment(event: StepEvent) -> bool:
    """A running invocation resumes only on the deployment it has (409 otherwise)."""
    if event.kwargs.get("selector", KEEP) is KEEP:
        return True
    raise cannot_change_deployment(event.model.id)


def resume_deployment_usable(event: StepEvent) -> bool:
    """A suspended or paused invocation may move to another deployment that speaks its protocol."""
    selector: DeploymentSelector = event.kwargs.get("selector", KEEP)
    if selector is KEEP:
        return True
    inv = event.model
    if inv.pinned_deployment is None or inv.pinned_protocol is None:
        raise cannot_change_deployment(inv.id)
    target = resolve_deployment(event.kwargs["view"], inv.service, selector)
    if target is None:
        raise deployment_not_found(inv.id, "resume")
    if not target.supports(inv.pinned_protocol):
        raise incompatible_deployment(inv.id, inv.pinned_protocol, target)
    return True
