"""``/model/``: driving the model over HTTP (not Restate's API; it never changes Restate's paths).

- ``PUT /model/world[?seed=N]`` loads a world (the ``world`` object of cases-format.md, or a whole
  case line); ``GET /model/world`` exports it; ``GET /model/invocations/{id}`` one invocation, in
  the same format. Worlds of any size move as JSON lines (``application/x-ndjson``: the world
  without its invocations, then one invocation per line; :func:`fsm.snapshot.dump_world_lines`):
  ``GET`` with that ``Accept``, ``PUT`` with that ``Content-Type``. Either side goes through a
  temporary file, so the server never holds a world twice in memory, and the engine is held only
  while the file is written (not while a slow client reads it);
- ``POST /model/clock/advance`` ``{"by_ms": N}``; ``PUT /model/partitions/{n}`` ``{"available": b}``;
- ``POST /model/services``, ``POST /model/deployments``: register (the engine's arguments);
- the simulation steps gRPC's SimulationService has: ``POST /model/invocations`` (a call), and
  under ``/model/invocations/{id}/``: ``commands``, ``completions``, ``suspend``, ``sleep``,
  ``fail-attempt``, ``complete``.

Bodies are JSON objects whose fields are the engine method's arguments; answers are JSON. A
refusal answers as Restate's API does (``{"message":…,"restate_code":null}`` with its status); a
body that is not a JSON object, or has a field the step does not take, answers 400 naming it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from typing import IO, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from fsm.engine import Engine
from fsm.errors import LifecycleError, SnapshotError
from fsm.model import Entry
from fsm.retry import RetryPolicy
from fsm.snapshot import dump_entry, dump_invocation, dump_world, load_world, load_world_lines

from ..world import GuardedEngine, chunks_of
from . import responses
from .responses import BadSegment, segment

#: The largest body accepted (a world included), as the gRPC server's message limit.
MAX_BODY_BYTES = 16 * 1024 * 1024


class BadBody(Exception):
    """A body this API cannot read; the message says why (answered 400, or 413 when too large)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_json(request: Request) -> Any:
    """The request's JSON body, at most :data:`MAX_BODY_BYTES`."""
    raw = await read_body(request)
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, absurd nesting
        raise BadBody(f"The body is not valid JSON: {exc}") from None


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) past :data:`MAX_BODY_BYTES` before more of it is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadBody(f"The body is {declared} bytes; the most accepted is {MAX_BODY_BYTES}.", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadBody(f"The body is larger than {MAX_BODY_BYTES} bytes, the most accepted.", 413)
        chunks.append(chunk)
    return b"".join(chunks)


LINES = "application/x-ndjson"


def _is_lines(header: str | None) -> bool:
    return header is not None and header.split(";")[0].strip().lower() == LINES


async def spool(request: Request) -> IO[bytes]:
    """The request's body in a temporary file (at the start): any size, never held in memory."""
    spooled = tempfile.TemporaryFile()
    try:
        async for chunk in request.stream():
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


def arguments(body: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body's fields as keyword arguments: a JSON object with only ``allowed`` keys."""
    if not isinstance(body, dict):
        raise BadBody(f"The body must be a JSON object, got {type(body).__name__}.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadBody(f"Unknown field '{unknown[0]}'; this step takes {', '.join(allowed) or 'no fields'}.")
    missing = [name for name in required if name not in body]
    if missing:
        raise BadBody(f"Missing field '{missing[0]}'.")
    return body


def routes(world: GuardedEngine) -> list[Route]:
    """The ``/model/`` paths over ``world``."""

    async def answer(request: Request, work: Callable[[Any], Callable[[Engine], Any]]) -> Response:
        """Read the body, run ``work(body)`` on the engine, answer its result as JSON."""
        try:
            body = await read_json(request)
            operation = work(body)
            result = await run_in_threadpool(world.run, operation)
        except BadSegment as bad:
            return responses.text(400, bad.text)
        except BadBody as bad:
            return responses.error(bad.status, str(bad))
        except LifecycleError as err:
            return responses.error(err.http_status, err.message)
        return responses.json_body(result)

    def invocation_id(request: Request) -> str:
        return segment(request.path_params["invocation_id"], "invocation_id")

    async def put_world(request: Request) -> Response:
        seed_text = request.query_params.get("seed", "0")
        try:
            seed = int(seed_text)
            if _is_lines(request.headers.get("content-type")):
                spooled = await spool(request)
                try:
                    engine = await run_in_threadpool(load_world_lines, spooled, seed=seed)
                finally:
                    spooled.close()
            else:
                body = await read_json(request)
                raw = body["world"] if isinstance(body, dict) and isinstance(body.get("world"), dict) else body
                engine = await run_in_threadpool(load_world, raw, seed=seed)
        except ValueError:
            return responses.error(400, f"The query parameter 'seed' must be an integer, got '{seed_text}'.")
        except BadBody as bad:
            return responses.error(bad.status, str(bad))
        except SnapshotError as err:
            return responses.error(400, err.message)
        try:
            await run_in_threadpool(world.replace, engine)  # with a store, the file is written first
        except LifecycleError as err:
            return responses.error(err.http_status, err.message)
        return responses.json_body(
            {
                "services": len(engine.services),
                "deployments": len(engine.deployments),
                "invocations": len(engine.invocations),
                "now_ms": engine.now_ms,
            }
        )

    async def get_world(request: Request) -> Response:
        if _is_lines(request.headers.get("accept")):
            spooled = await run_in_threadpool(world.spool_lines)
            return StreamingResponse(chunks_of(spooled), media_type=LINES)
        exported = await run_in_threadpool(world.run, dump_world)
        return responses.json_body(exported)

    async def world_endpoint(request: Request) -> Response:
        return await (put_world(request) if request.method == "PUT" else get_world(request))

    async def get_invocation(request: Request) -> Response:
        try:
            target = invocation_id(request)
        except BadSegment as bad:
            return responses.text(400, bad.text)

        def read(engine: Engine) -> dict[str, Any]:
            shown = dump_invocation(engine, engine.lookup(target), engine.sleeps_of([target]))
            shown["restarted_as"] = engine.restarted_as(target)
            return shown

        try:
            found = await run_in_threadpool(world.run, read)
        except LifecycleError as err:
            return responses.error(err.http_status, err.message)
        return responses.json_body(found)

    async def advance(request: Request) -> Response:
        def work(body: Any) -> Callable[[Engine], Any]:
            by_ms = arguments(body, ("by_ms",), ("by_ms",))["by_ms"]

            def move(engine: Engine) -> dict[str, int]:
                engine.advance(by_ms)
                return {"now_ms": engine.now_ms}

            return move

        return await answer(request, work)

    async def partition(request: Request) -> Response:
        raw = request.path_params["partition"]

        def work(body: Any) -> Callable[[Engine], Any]:
            available = arguments(body, ("available",), ("available",))["available"]
            if not raw.isdigit():
                raise BadBody(f"The partition must be a number, got '{raw}'.")

            def switch(engine: Engine) -> dict[str, Any]:
                engine.set_partition_available(int(raw), available)
                return {"partition": int(raw), "available": available}

            return switch

        return await answer(request, work)

    async def register_service(request: Request) -> Response:
        def work(body: Any) -> Callable[[Engine], Any]:
            args = dict(
                arguments(
                    body,
                    ("name", "type", "journal_retention_s", "completion_retention_s", "retry_policy"),
                    ("name",),
                )
            )
            policy = args.pop("retry_policy", None)
            if policy is not None:
                fields = ("initial_interval_ms", "factor", "max_interval_ms", "max_attempts", "on_max_attempts")
                args["retry_policy"] = RetryPolicy(**arguments(policy, fields))

            def register(engine: Engine) -> dict[str, Any]:
                service = engine.register_service(**args)
                return {"name": service.name, "type": service.type}

            return register

        return await answer(request, work)

    async def register_deployment(request: Request) -> Response:
        def work(body: Any) -> Callable[[Engine], Any]:
            args = dict(arguments(body, ("services", "protocol", "deployment_id", "name"), ("services",)))
            if "protocol" in args and isinstance(args["protocol"], list):
                args["protocol"] = tuple(args["protocol"])
            return lambda engine: {"id": engine.register_deployment(**args)}

        return await answer(request, work)

    async def call(request: Request) -> Response:
        def work(body: Any) -> Callable[[Engine], Any]:
            args = arguments(body, ("service", "handler", "key", "delay_ms", "idempotency_key"), ("service", "handler"))

            def make(engine: Engine) -> dict[str, Any]:
                inv = engine.call(**args)
                return {"invocation_id": inv, "status": engine.invocations[inv].state}

            return make

        return await answer(request, work)

    def step(allowed: tuple[str, ...], required: tuple[str, ...], method: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            def work(body: Any) -> Callable[[Engine], Any]:
                target = invocation_id(request)
                args = arguments(body, allowed, required)

                def run(engine: Engine) -> dict[str, Any]:
                    result = getattr(engine, method)(target, **args)
                    inv = engine.invocations.get(target)
                    out: dict[str, Any] = {"status": inv.state if inv is not None else "free"}
                    if isinstance(result, Entry):
                        out["entry"] = dump_entry(result)
                    if inv is not None:
                        out["retry_count"] = inv.retry_count
                        if inv.next_attempt_ms is not None:
                            out["next_attempt_ms"] = inv.next_attempt_ms
                        if inv.awaiting is not None:
                            out["awaiting"] = inv.awaiting
                    return out

                return run

            return await answer(request, work)

        return endpoint

    inv = "/model/invocations/{invocation_id:segment}"
    return [
        Route("/model/world", world_endpoint, methods=["GET", "PUT"]),
        Route("/model/clock/advance", advance, methods=["POST"]),
        Route("/model/partitions/{partition:segment}", partition, methods=["PUT"]),
        Route("/model/services", register_service, methods=["POST"]),
        Route("/model/deployments", register_deployment, methods=["POST"]),
        Route("/model/invocations", call, methods=["POST"]),
        Route(inv, get_invocation, methods=["GET"]),
        Route(f"{inv}/commands", step(("type", "name"), ("type",), "append_command"), methods=["POST"]),
        Route(f"{inv}/completions", step(("completion_id",), ("completion_id",), "complete_command"), methods=["POST"]),
        Route(f"{inv}/suspend", step(("awaiting",), (), "suspend"), methods=["POST"]),
        Route(f"{inv}/sleep", step(("duration_ms",), ("duration_ms",), "sleep"), methods=["POST"]),
        Route(
            f"{inv}/fail-attempt",
            step(("max_attempts", "on_max_attempts", "failure"), (), "fail_attempt"),
            methods=["POST"],
        ),
        Route(f"{inv}/complete", step(("success", "failure"), (), "complete"), methods=["POST"]),
    ]
