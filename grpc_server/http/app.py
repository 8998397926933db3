"""The HTTP application: Restate's admin API and ``/model/``, over one guarded engine.

Starlette routes; this module adds what Restate's router does around the routes:

- a version prefix: ``/v2``, ``/v3``, ``/v4`` serve the same paths; ``/v1/…`` answers 400
  ``Unsupported Admin API version V1. This server supports versions between V2 and V4.``; any
  other ``/vN`` is an unknown path;
- routing on the raw (still percent-encoded) path, so ``%2F`` stays inside its segment and each
  handler decodes its segments as strict UTF-8;
- an unknown path answers 404 and a wrong method 405 (with ``allow``), both without a body;
- with a token, every request but ``/health`` needs ``authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..world import GuardedEngine
from . import batch, extensions, model_api, query_api, responses, restate_api

UNSUPPORTED_V1 = "Unsupported Admin API version V1. This server supports versions between V2 and V4."
_VERSIONED = re.compile(r"^/v([0-9]+)(/.*)?$")


class SegmentConvertor(Convertor[str]):
    """One path segment, possibly empty (Restate's router matches ``/invocations//cancel``)."""

    regex = "[^/]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", SegmentConvertor())


async def _not_found(request: Request, exc: Exception) -> Response:
    return responses.empty(404)


#: How Restate's router lists allowed methods (``GET,HEAD`` for /health); the rest after, by name.
_METHOD_ORDER = {"GET": 0, "HEAD": 1}


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    allowed = (exc.headers or {}).get("Allow", "") if isinstance(exc, HTTPException) else ""
    methods = sorted({m.strip() for m in allowed.split(",") if m.strip()}, key=lambda m: (_METHOD_ORDER.get(m, 2), m))
    return responses.empty(405, {"allow": ",".join(methods)})


def build_app(world: GuardedEngine, token: str | None = None) -> ASGIApp:
    """The whole HTTP side over ``world``."""
    inner = Starlette(
        routes=[
            *restate_api.routes(world),
            *batch.routes(world),
            *query_api.routes(world),
            *extensions.routes(world, extensions.IdempotencyKeys()),
            *model_api.routes(world),
        ],
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    expected = None if token is None else f"Bearer {token}".encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw.split(b"?", 1)[0].decode("latin-1")
        versioned = _VERSIONED.match(path)
        if versioned:
            version = int(versioned.group(1))
            rest = versioned.group(2) or "/"
            if version == 1:
                await responses.text(400, UNSUPPORTED_V1)(scope, receive, send)
                return
            if not restate_api.MIN_API <= version <= restate_api.MAX_API or rest.startswith("/model/"):
                await responses.empty(404)(scope, receive, send)
                return
            path = rest
        if expected is not None and path not in ("/health",):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                await responses.error(401, "Missing or wrong bearer token: send 'authorization: Bearer <token>'.")(
                    scope, receive, send
                )
                return
        routed: dict[str, Any] = dict(scope, path=path, raw_path=path.encode("latin-1"), root_path="")
        await inner(routed, receive, send)

    return app
