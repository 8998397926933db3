"""The bytes Restate's admin API answers with, and the decoding of raw path segments.

restate-server 1.7.12 (asked with curl, 2026-12-05) answers:

- an error of an operation: ``application/json``, compact ``{"message":"…","restate_code":null}``;
- a query string it cannot deserialize, an unparsable path segment, an unsupported API version:
  ``text/plain; charset=utf-8``, the bare message;
- 200/202 without a body, 404 for an unknown path, 405 for a wrong method: no body and no content
  type (405 carries ``allow``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.responses import Response

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def compact(value: Any) -> bytes:
    """JSON as serde_json writes it: no spaces, non-ASCII as itself."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_body(value: Any, status: int = 200) -> Response:
    return Response(compact(value), status_code=status, media_type=JSON)


def error(status: int, message: str) -> Response:
    """An operation's refusal, as Restate's admin API writes it."""
    return json_body({"message": message, "restate_code": None}, status)


def text(status: int, message: str) -> Response:
    return Response(message.encode("utf-8"), status_code=status, media_type=TEXT)


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """No body, no content type (Starlette still sends ``content-length: 0``, as Restate does)."""
    return Response(b"", status_code=status, headers=headers)


class BadSegment(Exception):
    """A path segment that is not UTF-8 once percent-decoded; ``text`` is Restate's 400 body."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Invalid URL: Invalid UTF-8 in `{name}`")
        self.text = str(self)


def segment(raw: str, name: str) -> str:
    """A raw (percent-encoded) path segment, decoded as Restate's router does (strict UTF-8)."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise BadSegment(name) from None
