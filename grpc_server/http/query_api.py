"""``POST /query`` over HTTP: the body read as Restate's admin API reads it, the SQL run by DataFusion.

Body problems answer as the real server's JSON extractor does (``text/plain``): 415 without a
JSON content type, 400 when the body is not JSON, 422 when ``query`` is missing or not a string.
The query itself: :mod:`grpc_server.sql.query`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..world import GuardedEngine
from . import responses
from .extractor import DESERIALIZE, Refused, json_body, position, type_name, value_spans
from .model_api import BadBody, read_body


def _query_text(content_type: str | None, raw: bytes) -> str | Response:
    try:
        text, body = json_body(content_type, raw)
    except Refused as refused:
        return refused.response
    end, spans = value_spans(text)
    if not isinstance(body, dict) or "query" not in body:
        return responses.text(422, f"{DESERIALIZE}missing field `query` {position(text, end)}")
    query = body["query"]
    if not isinstance(query, str):
        stop = spans["query"][1]
        problem = f"query: invalid type: {type_name(query)}, expected a string"
        return responses.text(422, f"{DESERIALIZE}{problem} {position(text, stop)}")
    return query


def routes(world: GuardedEngine) -> list[Route]:
    async def run_query(request: Request) -> Response:
        # Arrow and DataFusion (~90 MiB) load with the first query, not with the server.
        from ..sql import query as sql
        from ..sql import tables

        try:
            raw = await read_body(request)
        except BadBody as bad:
            return responses.error(bad.status, str(bad))
        query = _query_text(request.headers.get("content-type"), raw)
        if isinstance(query, Response):
            return query
        needed, columns = tables.referenced(query), tables.referenced_columns(query)
        rows = await run_in_threadpool(world.run, lambda e: tables.read(e, needed, columns))  # one read, locked

        def execute() -> sql.Result:
            built = tables.build(rows, columns)
            return sql.answer(sql.run(built, query), request.headers.get("accept"), responses.compact)

        try:
            result = await run_in_threadpool(execute)  # Arrow and DataFusion work, off the lock
        except sql.QueryError as err:
            return responses.json_body({"message": err.message}, err.status)
        headers = {"x-restate-model-truncated": "true"} if result.truncated else None
        return Response(result.body, status_code=result.status, media_type=result.content_type, headers=headers)

    return [Route("/query", run_query, methods=["POST"])]
