"""A JSON request body read as Restate's admin API reads it (axum's JSON extractor over serde).

- without a JSON content type: 415 text ``Expected request with `Content-Type: application/json```;
- a body that is not JSON: 400 text ``Failed to parse the request body as JSON: …`` (the tail after
  the prefix is Python's description, not serde's);
- a body of the wrong shape: 422 text ``Failed to deserialize the JSON body into the target type:
  <field>: <problem> at line L column C``, the position where serde stops: :func:`position` of the
  end of the offending value (:func:`value_spans`, :func:`item_ends`).

Used by the batch endpoints and ``POST /query``; :class:`Refused` carries the answer.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from . import responses

DESERIALIZE = "Failed to deserialize the JSON body into the target type: "
PARSE = "Failed to parse the request body as JSON: "


class Refused(Exception):
    """A request refused as a whole before any work is done; ``response`` is Restate's answer."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def position(text: str, end: int) -> str:
    """serde's ``at line L column C`` for a token ending at ``end`` (exclusive)."""
    line = text.count("\n", 0, end) + 1
    column = end - (text.rfind("\n", 0, end) + 1)
    return f"at line {line} column {column}"


def value_spans(text: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """Where the top-level object ends, and where each top-level value starts and ends."""
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}
    i = skip(text, 0)
    if text[i : i + 1] != "{":
        return len(text), spans
    i = skip(text, i + 1)
    while i < len(text) and text[i] != "}":
        key, i = decoder.raw_decode(text, i)
        i = skip(text, skip(text, i) + 1)  # past ':'
        start = i
        _, i = decoder.raw_decode(text, i)
        spans[str(key)] = (start, i)
        i = skip(text, i)
        if text[i : i + 1] == ",":
            i = skip(text, i + 1)
    return i + 1, spans


def skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n\r":
        i += 1
    return i


def item_ends(text: str, start: int) -> list[int]:
    """Where each element of the array starting at ``start`` ends (exclusive)."""
    decoder = json.JSONDecoder()
    ends = []
    i = skip(text, start + 1)
    while i < len(text) and text[i] != "]":
        _, i = decoder.raw_decode(text, i)
        ends.append(i)
        i = skip(text, i)
        if text[i : i + 1] == ",":
            i = skip(text, i + 1)
    return ends


def type_name(value: Any) -> str:
    """serde's ``invalid type`` description of a JSON value."""
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if value is None:
        return "null"
    return "map" if isinstance(value, dict) else "sequence"


def json_body(content_type: str | None, raw: bytes) -> tuple[str, Any]:
    """The body's text and its JSON value, or :class:`Refused` (415 or 400) as Restate answers."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        raise Refused(responses.text(415, "Expected request with `Content-Type: application/json`"))
    try:
        text = raw.decode("utf-8")
        return text, json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Refused(responses.text(400, PARSE + str(exc))) from None
