"""Restate's own admin API paths, answered as restate-server 1.7.12 answers them.

- ``PATCH /invocations/{id}/{cancel,kill,purge,purge-journal,pause,resume,restart-as-new}``:
  the engine's operation; restart-as-new and resume read ``from``/``deployment`` from the raw
  query string exactly as Restate's query extractor does (:mod:`fsm.requests`), before the id;
- ``DELETE /invocations/{id}?mode=cancel|kill|purge`` (Restate's older API): the mode, then the
  id, then 202 whatever the invocation's state (the real server does not wait for the outcome);
- ``GET /health``, ``GET /version``, ``GET /services[/{name}]``, ``GET /deployments[/{id}]``.

Every path works under ``/v2``, ``/v3`` and ``/v4`` too (:mod:`grpc_server.http.app` strips the
prefix). Engine work runs inline when the engine's lock is free, else on a thread of Starlette's pool
(:meth:`grpc_server.world.GuardedEngine.try_run`): the loop never waits for another client's slow call.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fsm.engine import Engine
from fsm.errors import LifecycleError
from fsm.ids import IdError, parse_deployment_id
from fsm.model import Deployment, Service
from fsm.requests import parse_delete_mode, parse_query_string

from .. import RESTATE_VERSION
from ..world import GuardedEngine
from . import responses
from .openapi import document
from .responses import BadSegment, segment

T = TypeVar("T")

MIN_API, MAX_API = 2, 4
#: ``GET /openapi``: what this server answers over HTTP.
OPENAPI = document(RESTATE_VERSION)
#: What ``/version`` says of ingress: the model has none; Restate's default ingress address.
INGRESS_ENDPOINT = "http://127.0.0.1:8080/"
#: ``/version``'s feature flags, as restate-server 1.7.12 has them (all off there too); sorted here,
#: where the real server's order changes from call to call.
FEATURES = tuple(
    sorted(
        (
            "vqueues",
            "scoped_state_table_migration",
            "unique_random_seeds",
            "invoker_yield",
            "scoped_virtual_objects",
            "kafka_scope",
            "scoped_promise_table_migration",
            "vqueues_migration_skip_completed",
            "protocol_v7",
            "preflight_invocation_termination_retention",
            "vqueues_async_refill",
            "vqueue_obsolete_cleanup",
        )
    )
)
#: The path word of each operation -> the engine's method.
OPERATIONS = {
    "cancel": "cancel",
    "kill": "kill",
    "purge": "purge",
    "purge-journal": "purge_journal",
    "pause": "pause",
    "resume": "resume",
    "restart-as-new": "restart_as_new",
}


def refusal(err: LifecycleError) -> Response:
    """A refusal as Restate writes it: a query-string failure in plain text, the rest as JSON."""
    if err.reason == "INVALID_QUERY_STRING":
        return responses.text(err.http_status, err.message)
    return responses.error(err.http_status, err.message)


def routes(world: GuardedEngine) -> list[Route]:
    """The Restate paths over ``world``."""

    async def run(operation: Callable[[Engine], T]) -> T:
        """Engine work: inline when the engine is free (no thread hand-off), else on a thread."""
        done, value = world.try_run(operation)
        if done:
            return value  # type: ignore[return-value]  # done means operation returned it
        return await run_in_threadpool(world.run, operation)

    def invocation_route(word: str) -> Route:
        method = OPERATIONS[word]

        async def endpoint(request: Request) -> Response:
            query = request.scope.get("query_string", b"").decode("latin-1")
            try:
                invocation_id = segment(request.path_params["invocation_id"], "invocation_id")
                if method == "restart_as_new":
                    parsed = parse_query_string(query)
                    result = await run(lambda e: e.restart_as_new(invocation_id, parsed.from_, parsed.deployment))
                    return responses.json_body({"new_invocation_id": result.new_invocation_id})
                if method == "resume":
                    deployment = parse_query_string(query, ("deployment",)).deployment
                    status: int = await run(lambda e: e.resume(invocation_id, deployment))
                else:
                    status = await run(lambda e: getattr(e, method)(invocation_id))
            except BadSegment as bad:
                return responses.text(400, bad.text)
            except LifecycleError as err:
                return refusal(err)
            return responses.empty(status)

        return Route(f"/invocations/{{invocation_id:segment}}/{word}", endpoint, methods=["PATCH"])

    async def delete_invocation(request: Request) -> Response:
        query = request.scope.get("query_string", b"").decode("latin-1")
        try:
            operation = parse_delete_mode(query)
            invocation_id = segment(request.path_params["invocation_id"], "invocation_id")

            def send(engine: Engine) -> None:
                engine.parse_id(invocation_id)  # a malformed id is refused; the rest is not waited for
                try:
                    getattr(engine, operation)(invocation_id)
                except LifecycleError as err:
                    if err.http_status == 400:
                        raise

            await run(send)
        except BadSegment as bad:
            return responses.text(400, bad.text)
        except LifecycleError as err:
            return refusal(err)
        return responses.empty(202)

    async def health(request: Request) -> Response:
        return responses.empty(200)

    async def version(request: Request) -> Response:
        return responses.json_body(
            {
                "version": RESTATE_VERSION,  # the CLI and SDK clients read it to pick an API version
                "min_admin_api_version": MIN_API,
                "max_admin_api_version": MAX_API,
                "ingress_endpoint": INGRESS_ENDPOINT,
                "features": dict.fromkeys(FEATURES, False),
            }
        )

    async def openapi(request: Request) -> Response:
        return responses.json_body(OPENAPI)

    async def list_services(request: Request) -> Response:
        services = await run(
            lambda e: [service_json(e, s) for s in e.services.values() if e.latest_deployment(s.name) is not None]
        )
        return responses.json_body({"services": services})

    async def get_service(request: Request) -> Response:
        try:
            name = segment(request.path_params["name"], "service")
        except BadSegment as bad:
            return responses.text(400, bad.text)
        found = await run(lambda e: service_json(e, e.services[name]) if name in e.services else None)
        if found is None:
            return responses.error(404, f"The requested service '{name}' does not exist")
        return responses.json_body(found)

    async def list_deployments(request: Request) -> Response:
        deployments = await run(lambda e: [deployment_json(e, d) for d in e.deployments.values()])
        return responses.json_body({"deployments": deployments})

    async def get_deployment(request: Request) -> Response:
        try:
            deployment_id = segment(request.path_params["deployment_id"], "deployment")
        except BadSegment as bad:
            return responses.text(400, bad.text)
        try:
            parse_deployment_id(deployment_id)
        except IdError as exc:
            return responses.text(
                400, f"Invalid URL: Cannot parse `deployment` with value `{deployment_id}`: {exc.reason}"
            )
        found = await run(
            lambda e: deployment_json(e, e.deployments[deployment_id]) if deployment_id in e.deployments else None
        )
        if found is None:
            return responses.error(404, f"The requested deployment '{deployment_id}' does not exist")
        return responses.json_body(found)

    return [
        *(invocation_route(word) for word in OPERATIONS),
        Route("/invocations/{invocation_id:segment}", delete_invocation, methods=["DELETE"]),
        Route("/health", health, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/openapi", openapi, methods=["GET"]),
        Route("/services", list_services, methods=["GET"]),
        Route("/services/{name:segment}", get_service, methods=["GET"]),
        Route("/deployments", list_deployments, methods=["GET"]),
        Route("/deployments/{deployment_id:segment}", get_deployment, methods=["GET"]),
    ]


SERVICE_TYPE = {"service": "Service", "virtual_object": "VirtualObject", "workflow": "Workflow"}


def service_json(engine: Engine, service: Service) -> dict[str, Any]:
    """A service as ``GET /services`` lists it: the fields the model knows, in Restate's shape (what
    it does not know, such as handlers and timeouts, is left to the readers' defaults)."""
    latest = engine.latest_deployment(service.name)
    out: dict[str, Any] = {
        "name": service.name,
        "ty": SERVICE_TYPE[service.type],
        "handlers": [],
        "deployment_id": latest.id if latest is not None else None,
        "revision": 1,
        "public": True,
        "idempotency_retention": f"{service.effective_completion_retention_s}s",
        "journal_retention": f"{service.journal_retention_s}s",
    }
    return out


def _created_at(deployment: Deployment) -> str:
    """When a deployment was registered: the time in its id's ULID, RFC 3339 as Restate writes it."""
    millis = parse_deployment_id(deployment.id) >> 80
    moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis % 1000:03d}Z" if millis % 1000 else "Z")


def deployment_json(engine: Engine, deployment: Deployment) -> dict[str, Any]:
    """A deployment as ``GET /deployments`` lists it, as an HTTP deployment of Restate's shape. The
    model has no endpoints: ``uri`` names the deployment under ``http://model.invalid/``."""
    return {
        "id": deployment.id,
        "uri": f"http://model.invalid/{deployment.name or deployment.id}",
        "protocol_type": "BidiStream",
        "http_version": "HTTP/2.0",
        "created_at": _created_at(deployment),
        "min_protocol_version": deployment.protocol_min,
        "max_protocol_version": deployment.protocol_max,
        "services": [{"name": name, "revision": 1} for name in deployment.services if name in engine.services],
    }
