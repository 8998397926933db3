"""Beyond Restate, all under ``/model/`` (Restate's own paths never change for them).

- ``POST /model/invocations/{id}/restart-as-new?from=&deployment=&dry_run=true|false``: the same
  checks as Restate's PATCH, answered as JSON. With ``dry_run=true`` nothing changes: the answer
  says which check decides (its number and name), the status and message it would give, and on a
  200 what would be created (copied indexes, pinned deployment and protocol, the journal).
- ``POST /model/batch/{op}`` (any of Restate's batch operations) with ``{"invocation_ids": [...]}``
  or ``{"filter": {...}}`` (``status`` list, ``service``, ``deployment`` (pinned), and
  ``created_after_ms`` / ``created_before_ms``: virtual creation time, or for an imported Restate
  id its ULID time), plus
  ``deployment``: the set is fixed when the request arrives, so invocations the batch creates are
  never revisited; the answer is Restate's batch shape, with ``matched`` (the ids, in order).
- ``Idempotency-Key`` on both: a retry with the same key and the same request answers the first
  answer again (header ``idempotent-replayed: true``) and creates nothing; the same key on a
  different request answers 422. Keys live with the world: loading another world forgets them.
  Deciding and remembering happen under the engine's lock, so a retry racing the original still
  sees one of them, and a client whose connection broke before the answer can simply retry.
- Lineage both ways: ``GET /model/invocations/{id}`` lists ``restarted_as`` (gRPC ``GetInvocation``
  too) beside Restate's ``restarted_from``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fsm.engine import Engine
from fsm.errors import LifecycleError
from fsm.ids import IdError, parse_invocation_id
from fsm.lifecycle import LIVE_STATES
from fsm.model import Invocation
from fsm.requests import parse_query_string
from fsm.snapshot import dump_entry

from ..world import GuardedEngine
from . import batch, responses
from .extractor import Refused
from .model_api import BadBody, read_json
from .responses import BadSegment, segment

#: How many Idempotency-Keys are remembered (the oldest are forgotten first).
MAX_KEYS = 10_000
FILTER_FIELDS = ("status", "service", "deployment", "created_after_ms", "created_before_ms")


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: bytes


class IdempotencyKeys:
    """Answers remembered by Idempotency-Key (only touched under the engine's lock)."""

    def __init__(self) -> None:
        self.answers: OrderedDict[str, Stored] = OrderedDict()
        self.world_generation = 0

    def remember(self, key: str, stored: Stored) -> None:
        self.answers[key] = stored
        while len(self.answers) > MAX_KEYS:
            self.answers.popitem(last=False)


def created_ms(inv: Invocation) -> int:
    """When an invocation was created: its ``created_ms`` (virtual time, every invocation the model
    made), else the time in its id's ULID (a Restate id in an imported world)."""
    if inv.created_ms is not None:
        return inv.created_ms
    return parse_invocation_id(inv.id).uuid >> 80


def matching(engine: Engine, spec: Any) -> list[str]:
    """The ids a filter selects, in creation order, read once (the batch's snapshot)."""
    if not isinstance(spec, dict):
        raise BadBody("The field 'filter' must be a JSON object.")
    unknown = sorted(set(spec) - set(FILTER_FIELDS))
    if unknown:
        raise BadBody(f"Unknown filter '{unknown[0]}'; filters are {', '.join(FILTER_FIELDS)}.")
    statuses = spec.get("status")
    if statuses is not None and (not isinstance(statuses, list) or not set(statuses) <= set(LIVE_STATES)):
        raise BadBody(f"The filter 'status' must be a list of {', '.join(LIVE_STATES)}.")
    for name in ("created_after_ms", "created_before_ms"):
        value = spec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadBody(f"The filter '{name}' must be an integer (ms since the epoch).")
    out = []
    for inv in engine.invocations.values():
        if statuses is not None and inv.state not in statuses:
            continue
        if "service" in spec and inv.service != spec["service"]:
            continue
        if "deployment" in spec and inv.pinned_deployment != spec["deployment"]:
            continue
        born = created_ms(inv)
        if "created_after_ms" in spec and born <= spec["created_after_ms"]:
            continue
        if "created_before_ms" in spec and born >= spec["created_before_ms"]:
            continue
        out.append(inv.id)
    return out


def dry_run(engine: Engine, invocation_id: str, from_: int | None, deployment: str | None) -> dict[str, Any]:
    decision = engine.explain_restart_as_new(invocation_id, from_, deployment)
    out: dict[str, Any] = {
        "dry_run": True,
        "status": decision.http_status,
        "check": {"number": decision.check.number, "name": decision.check.name},
    }
    if decision.error is not None:
        out["reason"] = decision.error.reason
        out["message"] = decision.error.message
    if decision.plan is not None:
        out["would_create"] = {
            "restarted_from": decision.plan.restarted_from,
            "copied_indexes": decision.plan.copied_indexes,
            "pinned_deployment_id": decision.plan.pinned_deployment,
            "pinned_protocol": decision.plan.pinned_protocol,
            "journal": [dump_entry(e) for e in decision.plan.journal],
        }
    return out


def routes(world: GuardedEngine, keys: IdempotencyKeys) -> list[Route]:
    async def once(request: Request, work: Callable[[Engine], tuple[int, Any]], fingerprint: str) -> Response:
        """Run ``work`` under the lock, or answer what the same Idempotency-Key answered before."""
        key = request.headers.get("idempotency-key")

        def locked(engine: Engine) -> tuple[int, bytes, bool]:
            if keys.world_generation != world.generation:  # another world was loaded: its keys are gone
                keys.answers.clear()
                keys.world_generation = world.generation
            if key is not None:
                seen = keys.answers.get(key)
                if seen is not None:
                    if seen.fingerprint != fingerprint:
                        message = f"The Idempotency-Key '{key}' was used for a different request."
                        return 422, responses.compact({"message": message, "restate_code": None}), False
                    return seen.status, seen.body, True
            status, value = work(engine)
            body = responses.compact(value)
            if key is not None:
                keys.remember(key, Stored(fingerprint, status, body))
            return status, body, False

        status, body, replayed = await run_in_threadpool(world.run, locked)
        headers = {"idempotent-replayed": "true"} if replayed else None
        return Response(body, status_code=status, media_type=responses.JSON, headers=headers)

    async def restart(request: Request) -> Response:
        query = request.scope.get("query_string", b"").decode("latin-1")
        flag = request.query_params.get("dry_run", "false")
        if flag not in ("true", "false"):
            return responses.error(400, f"The query parameter 'dry_run' must be true or false, got '{flag}'.")
        try:
            target = segment(request.path_params["invocation_id"], "invocation_id")
            parsed = parse_query_string(query)
        except BadSegment as bad:
            return responses.text(400, bad.text)
        except LifecycleError as err:
            return responses.error(err.http_status, err.message)
        if flag == "true":
            found = await run_in_threadpool(world.run, lambda e: dry_run(e, target, parsed.from_, parsed.deployment))
            return responses.json_body(found)

        def work(engine: Engine) -> tuple[int, Any]:
            try:
                result = engine.restart_as_new(target, parsed.from_, parsed.deployment)
            except LifecycleError as err:
                return err.http_status, {"message": err.message, "restate_code": None}
            return 200, {"new_invocation_id": result.new_invocation_id, "copied_indexes": result.copied_indexes}

        return await once(request, work, f"restart {target} {parsed.from_} {parsed.deployment}")

    def batch_route(operation: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await read_json(request)
                if not isinstance(body, dict):
                    raise BadBody(f"The body must be a JSON object, got {type(body).__name__}.")
                unknown = sorted(set(body) - {"invocation_ids", "filter", "deployment"})
                if unknown:
                    raise BadBody(
                        f"Unknown field '{unknown[0]}'; a batch takes invocation_ids or filter, and deployment."
                    )
                if ("invocation_ids" in body) == ("filter" in body):
                    raise BadBody("Give exactly one of 'invocation_ids' and 'filter'.")
                deployment = body.get("deployment")
                if deployment is not None and not isinstance(deployment, str):
                    raise BadBody("The field 'deployment' must be a string.")
                ids = body.get("invocation_ids")
                if ids is not None:
                    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                        raise BadBody("The field 'invocation_ids' must be a list of strings.")
                    for i, raw in enumerate(ids):
                        try:
                            parse_invocation_id(raw)
                        except IdError as exc:
                            raise BadBody(f"invocation_ids[{i}]: {exc.reason}") from None
                    if len(ids) > batch.MAX_IDS:
                        raise BadBody(f"Batch size {len(ids)} exceeds maximum allowed size of {batch.MAX_IDS}")
                batch.check_deployment(operation, deployment)
            except BadBody as bad:
                return responses.error(bad.status, str(bad))
            except Refused as refused:
                return refused.response

            def work(engine: Engine) -> tuple[int, Any]:
                chosen = ids if ids is not None else matching(engine, body["filter"])
                result = batch.run_batch(engine, operation, chosen, deployment)
                return 200, {"matched": chosen, **result}

            fingerprint = f"batch {operation} {json.dumps(body, sort_keys=True)}"
            try:
                return await once(request, work, fingerprint)
            except BadBody as bad:  # a filter that does not read
                return responses.error(bad.status, str(bad))

        return Route(f"/model/batch/{operation}", endpoint, methods=["POST"])

    return [
        Route("/model/invocations/{invocation_id:segment}/restart-as-new", restart, methods=["POST"]),
        *(batch_route(operation) for operation in batch.OPERATIONS),
    ]
