"""The registry: services and deployments, and which deployment is the latest for a service.

Deployments are kept in registration order; the latest deployment of a service is the newest one
that serves it, as in Restate. Removing a deployment leaves the invocations pinned to it pinned.
Everything here answers the model's own API errors (400 naming the argument, 404, 409).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import FailedPrecondition, NotFound, invalid_argument, wrong_type
from .ids import IdError, parse_deployment_id
from .model import (
    DEFAULT_JOURNAL_RETENTION_S,
    SERVICE,
    SERVICE_TYPES,
    VIRTUAL_OBJECT,
    Deployment,
    Service,
    check_int,
    check_name,
    check_text,
)
from .retry import RetryPolicy


def _deployment_id_error(deployment_id: Any) -> str | None:
    try:
        parse_deployment_id(deployment_id)
    except (IdError, AttributeError, TypeError) as exc:
        return str(getattr(exc, "reason", exc))
    return None


class Registry:
    """Services by name and deployments in registration order."""

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.deployments: dict[str, Deployment] = {}  # registration order

    def copy(self) -> Registry:
        """An independent registry with the same services and deployments (both are immutable values)."""
        twin = Registry()
        twin.services = dict(self.services)
        twin.deployments = dict(self.deployments)
        return twin

    # --- reading ---------------------------------------------------------------------------

    def service_type(self, service: Any) -> str | None:
        found = self.services.get(service) if isinstance(service, str) else None
        return found.type if found else None

    def get_deployment(self, deployment_id: Any) -> Deployment | None:
        """The deployment with this id (Restate's requests name deployments by id only)."""
        return self.deployments.get(deployment_id) if isinstance(deployment_id, str) else None

    def find_deployment(self, ref: Any) -> Deployment | None:
        """The library's lookup: the deployment with this id, else the one with this name.

        A name two deployments share is refused (409 ``AMBIGUOUS_DEPLOYMENT_NAME``) with their ids.
        """
        found = self.get_deployment(ref)
        if found is not None or not isinstance(ref, str):
            return found
        named = [d for d in self.deployments.values() if d.name == ref]
        if len(named) > 1:
            raise FailedPrecondition(
                409,
                "AMBIGUOUS_DEPLOYMENT_NAME",
                f"The name '{ref}' belongs to {len(named)} deployments ({', '.join(d.id for d in named)}); "
                "name one by its id.",
            )
        return named[0] if named else None

    def latest_deployment(self, service: Any) -> Deployment | None:
        """The newest registered deployment that serves ``service``."""
        for deployment in reversed(self.deployments.values()):
            if service in deployment.services:
                return deployment
        return None

    def is_exclusive(self, service: Any, handler: Any) -> bool:
        """Virtual-object handlers are exclusive: one invocation per key at a time."""
        found = self.services.get(service) if isinstance(service, str) else None
        return found is not None and found.type == VIRTUAL_OBJECT

    # --- changing ----------------------------------------------------------------------------

    def register_service(
        self,
        name: str,
        type: str = SERVICE,
        journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S,
        completion_retention_s: int | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> Service:
        """Add a service, or update the retention and retry policy of one (its type cannot change)."""
        check_name("name", name)
        if type not in SERVICE_TYPES:
            raise invalid_argument("type", f"must be one of {', '.join(SERVICE_TYPES)}, got {type!r}")
        check_int("journal_retention_s", journal_retention_s)
        if completion_retention_s is not None:
            check_int("completion_retention_s", completion_retention_s)
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise wrong_type("retry_policy", f"must be an fsm.retry.RetryPolicy, got {type(retry_policy).__name__}")
        existing = self.services.get(name)
        if existing is not None and existing.type != type:
            raise FailedPrecondition(
                409, "SERVICE_TYPE_CHANGED", f"The service '{name}' is a {existing.type}; it cannot become a {type}."
            )
        service = Service(name, type, journal_retention_s, completion_retention_s, retry_policy)
        self.services[name] = service
        return service

    def register_deployment(
        self,
        services: list[str] | tuple[str, ...],
        protocol: tuple[int, int],
        deployment_id: str | None,
        name: str | None,
        new_id: Callable[[], str],
    ) -> str:
        """Register a deployment serving registered ``services``; it becomes their latest.

        ``new_id`` makes the id when none is given (called only once everything else is valid).
        """
        if isinstance(services, str) or not isinstance(services, (list, tuple)) or not services:
            raise wrong_type("services", "must be a non-empty list of service names")
        for service in services:
            check_name("services[]", service)
            if service not in self.services:
                raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{service}' does not exist")
        if not isinstance(protocol, (list, tuple)) or len(protocol) != 2:
            raise invalid_argument("protocol", "must be a pair [min, max]")
        low = check_int("protocol[0]", protocol[0], 1)
        high = check_int("protocol[1]", protocol[1], 1)
        if low > high:
            raise invalid_argument("protocol", f"min {low} is greater than max {high}")
        if deployment_id is not None:
            problem = _deployment_id_error(deployment_id)
            if problem is not None:
                raise invalid_argument("deployment_id", problem)
        if deployment_id is not None and deployment_id in self.deployments:
            raise FailedPrecondition(
                409, "DEPLOYMENT_EXISTS", f"The deployment '{deployment_id}' is already registered."
            )
        if name is not None:
            check_text("name", name)
        if deployment_id is None:
            deployment_id = new_id()
            if deployment_id in self.deployments:
                raise FailedPrecondition(
                    409, "DEPLOYMENT_EXISTS", f"The deployment '{deployment_id}' is already registered."
                )
        self.deployments[deployment_id] = Deployment(deployment_id, tuple(services), low, high, name)
        return deployment_id

    def remove_deployment(self, ref: str) -> None:
        """Forget a deployment, named by id or by name; invocations pinned to it stay pinned to it."""
        check_name("deployment_id", ref)
        found = self.find_deployment(ref)
        if found is None:
            problem = _deployment_id_error(ref) if ref.startswith("dp_") else None
            if problem is not None:
                raise invalid_argument("deployment_id", problem)
            raise NotFound(404, "DEPLOYMENT_NOT_FOUND", f"The requested deployment '{ref}' does not exist")
        del self.deployments[found.id]

    def remove_service(self, name: str, in_use: Callable[[str], bool]) -> None:
        """Forget a service that no deployment serves and no invocation targets (``in_use`` says)."""
        check_name("name", name)
        if name not in self.services:
            raise NotFound(404, "SERVICE_NOT_FOUND", f"The requested service '{name}' does not exist")
        serving = [d.id for d in self.deployments.values() if name in d.services]
        if serving:
            raise FailedPrecondition(
                409,
                "SERVICE_IN_USE",
                f"The service '{name}' is still served by {', '.join(serving)}; remove those first.",
            )
        if in_use(name):
            raise FailedPrecondition(409, "SERVICE_IN_USE", f"Invocations of the service '{name}' still exist.")
        del self.services[name]
