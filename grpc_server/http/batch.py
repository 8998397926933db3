"""``POST /internal/invocations_batch_operations/{op}``: the batch endpoints restate-server has (for its UI).

As restate-server 1.7.12 does (asked with curl; its texts read in its admin crate):

- the body is JSON (``content-type: application/json``, else 415 text ``Expected request with
  `Content-Type: application/json```), ``{"invocation_ids": [...]}`` plus ``deployment`` for
  resume and restart-as-new. A malformed id anywhere refuses the whole request: 422 text
  ``Failed to deserialize the JSON body into the target type: invocation_ids[i]: <reason> at line
  L column C``; a missing or mistyped field likewise; a body that is not JSON 400 text ``Failed to
  parse the request body as JSON: …`` (the tail after the prefix is Python's description, not
  serde's); over 1,000 ids 400 JSON ``Batch size N exceeds maximum allowed size of 1000``;
- each id is tried in input order, duplicates included: 200 ``{"succeeded":[ids],"failed":[{
  "invocation_id","error"}]}``, restart-as-new's succeeded being ``{old_invocation_id,
  new_invocation_id}`` pairs. Batch restart copies no journal (``from`` 0) and defaults to the
  *latest* deployment; batch resume defaults to keep. A failure's ``error`` is the batch's own
  text for the refusal (``Invocation 'X' not found``, ``… is not yet completed``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fsm.engine import Engine
from fsm.errors import InvalidArgument, LifecycleError
from fsm.ids import IdError, parse_invocation_id
from fsm.requests import parse_deployment

from ..world import GuardedEngine
from . import responses
from .extractor import DESERIALIZE, Refused, item_ends, json_body, position, skip, type_name, value_spans
from .model_api import BadBody, read_body

#: Restate's BATCH_OPERATION_MAX_SIZE.
MAX_IDS = 1000
OPERATIONS = ("cancel", "kill", "purge", "purge-journal", "pause", "resume", "restart-as-new")

#: The batch's text for each refusal, by the model's reason (``{id}`` is the invocation id).
FAILURES: dict[str, str] = {
    "INVOCATION_NOT_FOUND": "Invocation '{id}' not found",
    "ALREADY_COMPLETED": "Invocation '{id}' was already completed",
    "NOT_COMPLETED": "Invocation '{id}' is not yet completed",
    "NOT_RUNNING": "Invocation '{id}' is not running, cannot be paused",
    "COMPLETED": "Invocation '{id}' is completed, cannot be resumed",
    "STILL_RUNNING": "Invocation '{id}' is still running",
    "UNSUPPORTED": "Restarting invocation '{id}' is not supported",
    "INPUT_NOT_AVAILABLE": "Invocation '{id}' cannot be restarted because the input is not available",
    "JOURNAL_INDEX_OUT_OF_RANGE": "Journal index out of range for invocation '{id}'",
    "INCOMPLETE_PREFIX": "Journal copy range invalid for invocation '{id}'",
    "CANNOT_CHANGE_DEPLOYMENT": "Cannot change deployment ID for invocation '{id}'",
}
NOT_STARTED = {
    "resume": "Invocation '{id}' is either inboxed or scheduled, cannot be resumed",
    "restart-as-new": "Invocation '{id}' cannot be restarted because it's not running yet",
}
DEPLOYMENT_NOT_FOUND = {
    "resume": "Deployment not found when resuming invocation '{id}'",
    "restart-as-new": "Deployment not found when restarting invocation '{id}'",
}


def _from_sequence(text: str, body: list[Any]) -> dict[str, Any]:
    """A body written as a sequence: its elements are the fields in order (``invocation_ids`` first)."""
    if body and not isinstance(body[0], list):
        end = item_ends(text, skip(text, 0))[0]
        raise Refused(
            responses.text(
                422,
                f"{DESERIALIZE}[0]: invalid type: {type_name(body[0])}, expected a sequence {position(text, end)}",
            )
        )
    return {"invocation_ids": body[0]} if body else {}


def read_request(content_type: str | None, raw: bytes, with_deployment: bool) -> tuple[list[str], str | None]:
    """The ids and the deployment, or :class:`Refused` with Restate's answer."""
    text, body = json_body(content_type, raw)
    end, spans = value_spans(text)
    if isinstance(body, list):  # serde reads a struct from a sequence too: element 0 is invocation_ids
        body = _from_sequence(text, body)
    if not isinstance(body, dict):
        raise Refused(
            responses.text(422, f"{DESERIALIZE}invalid type: {type_name(body)}, expected a map {position(text, end)}")
        )
    if "invocation_ids" not in body:
        raise Refused(responses.text(422, f"{DESERIALIZE}missing field `invocation_ids` {position(text, end)}"))
    ids = body["invocation_ids"]
    start, stop = spans.get("invocation_ids", (0, end))
    if not isinstance(ids, list):
        raise Refused(
            responses.text(
                422,
                f"{DESERIALIZE}invocation_ids: invalid type: {type_name(ids)}, expected a sequence "
                f"{position(text, stop)}",
            )
        )
    ends = item_ends(text, start)
    for i, raw_id in enumerate(ids):
        at = position(text, ends[i] if i < len(ends) else stop)
        if not isinstance(raw_id, str):
            problem = f"invalid type: {type_name(raw_id)}, expected a string"
            raise Refused(responses.text(422, f"{DESERIALIZE}invocation_ids[{i}]: {problem} {at}"))
        try:
            parse_invocation_id(raw_id)
        except IdError as exc:
            raise Refused(responses.text(422, f"{DESERIALIZE}invocation_ids[{i}]: {exc.reason} {at}")) from None
    deployment = body.get("deployment") if with_deployment else None
    if deployment is not None and not isinstance(deployment, str):
        _, d_stop = spans["deployment"]
        raise Refused(  # serde reads the value whole for its untagged enum, then one character past it
            responses.text(
                422,
                f"{DESERIALIZE}deployment: data did not match any variant of untagged enum PatchDeploymentId "
                f"{position(text, d_stop + 1)}",
            )
        )
    if len(ids) > MAX_IDS:
        raise Refused(responses.error(400, f"Batch size {len(ids)} exceeds maximum allowed size of {MAX_IDS}"))
    return ids, deployment


def failure_text(operation: str, invocation_id: str, err: LifecycleError) -> str:
    """The batch's ``error`` for one refused id."""
    if err.reason == "PARTITION_UNAVAILABLE":
        return err.message.split("Reason: ", 1)[-1]
    if err.reason == "NOT_STARTED" and operation in NOT_STARTED:
        return NOT_STARTED[operation].format(id=invocation_id)
    if err.reason == "DEPLOYMENT_NOT_FOUND" and operation in DEPLOYMENT_NOT_FOUND:
        return DEPLOYMENT_NOT_FOUND[operation].format(id=invocation_id)
    template = FAILURES.get(err.reason)
    return template.format(id=invocation_id) if template is not None else err.message


def run_batch(engine: Engine, operation: str, ids: list[str], deployment: str | None) -> dict[str, Any]:
    """Every id in order, under the engine's lock: what succeeded and what failed."""
    succeeded: list[Any] = []
    failed: list[dict[str, str]] = []
    act: Callable[[str], Any]
    if operation == "restart-as-new":
        chosen = "latest" if deployment is None else deployment

        def act(inv: str) -> Any:
            new_id = engine.restart_as_new(inv, 0, chosen).new_invocation_id
            return {"old_invocation_id": inv, "new_invocation_id": new_id}

    elif operation == "resume":

        def act(inv: str) -> Any:
            engine.resume(inv, deployment)
            return inv

    else:
        method = getattr(engine, operation.replace("-", "_"))

        def act(inv: str) -> Any:
            method(inv)
            return inv

    for inv in ids:
        try:
            succeeded.append(act(inv))
        except LifecycleError as err:
            failed.append({"invocation_id": inv, "error": failure_text(operation, inv, err)})
    return {"succeeded": succeeded, "failed": failed}


def check_deployment(operation: str, deployment: str | None) -> None:
    """A malformed ``deployment`` refuses the whole batch: 400 naming the field."""
    if deployment is None or operation not in ("resume", "restart-as-new"):
        return
    try:
        parse_deployment(deployment)
    except InvalidArgument as err:
        reason = err.message.split("Reason: ", 1)[-1]
        raise Refused(responses.error(400, f"The request field 'deployment' is invalid. Reason: {reason}")) from None


def routes(world: GuardedEngine) -> list[Route]:
    def route(operation: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await read_body(request)
            except BadBody as bad:
                return responses.error(bad.status, str(bad))
            try:
                ids, deployment = read_request(
                    request.headers.get("content-type"), body, operation in ("resume", "restart-as-new")
                )
                check_deployment(operation, deployment)
            except Refused as refused:
                return refused.response
            result = await run_in_threadpool(world.run, lambda e: run_batch(e, operation, ids, deployment))
            return responses.json_body(result)

        return Route(f"/internal/invocations_batch_operations/{operation}", endpoint, methods=["POST"])

    return [route(operation) for operation in OPERATIONS]
