"""Parsing a restart-as-new request the way Restate's admin API does (checks 1-3).

- ``parse_from``: Rust's ``u32::from_str`` (leading ``+`` allowed, no ``-``, no spaces), with
  Rust's error texts, in Rust's order (an invalid digit wins over an overflow seen earlier
  in the same character).
- ``parse_query_string``: ``application/x-www-form-urlencoded`` as serde_urlencoded reads it:
  ``+`` is a space, ``%XX`` decoded, unknown keys ignored, keys case-sensitive, a repeated
  known key is a "duplicate field".
- ``parse_deployment``: ``Keep``/``keep``, ``Latest``/``latest``, else a ``dp_`` id.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from .errors import InvalidArgument
from .ids import IdError, parse_deployment_id

U32_MAX = (1 << 32) - 1
QUERY_PREFIX = "Failed to deserialize query string: "

# Rust's ParseIntError texts.
EMPTY = "cannot parse integer from empty string"
INVALID_DIGIT = "invalid digit found in string"
TOO_LARGE = "number too large to fit in target type"


class Keep:
    """Keep the old invocation's pinned deployment."""

    def __repr__(self) -> str:
        return "KEEP"


class Latest:
    """The newest deployment that serves the service."""

    def __repr__(self) -> str:
        return "LATEST"


KEEP = Keep()
LATEST = Latest()


@dataclass(frozen=True)
class DeploymentById:
    id: str


DeploymentSelector = Keep | Latest | DeploymentById


def query_error(detail: str) -> InvalidArgument:
    return InvalidArgument(400, "INVALID_QUERY_STRING", QUERY_PREFIX + detail, check=1)


def rust_parse_u32(text: str) -> int:
    """``text.parse::<u32>()``; raises ValueError with Rust's message."""
    data = text.encode("utf-8", "surrogatepass")
    if not data:
        raise ValueError(EMPTY)
    if data[:1] == b"+":
        data = data[1:]
        if not data:
            raise ValueError(INVALID_DIGIT)
    value = 0
    for byte in data:
        if not 0x30 <= byte <= 0x39:
            raise ValueError(INVALID_DIGIT)
        value = value * 10 + (byte - 0x30)
        if value > U32_MAX:
            raise ValueError(TOO_LARGE)
    return value


def parse_from(raw: int | str | None) -> int:
    """Check 1: ``from`` as Restate reads it; absent means 0.

    An ``int`` is read as its decimal text, so -1 and 2**32 fail exactly as ``from=-1`` and
    ``from=4294967296`` do over HTTP.
    """
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise query_error(f"from: expected an integer or a string, got {type(raw).__name__}")
    try:
        return rust_parse_u32(str(raw))
    except ValueError as exc:
        raise query_error(f"from: {exc}") from None


def parse_deployment(raw: str | None) -> DeploymentSelector:
    """Check 3 (and the default): absent is Latest."""
    if raw is None:
        return LATEST
    if not isinstance(raw, str):
        raise InvalidArgument(
            400,
            "INVALID_DEPLOYMENT_ID",
            f"The query parameter 'deployment' is invalid. Reason: expected a string, got {type(raw).__name__}",
            check=3,
        )
    if raw in ("Latest", "latest"):
        return LATEST
    if raw in ("Keep", "keep"):
        return KEEP
    try:
        parse_deployment_id(raw)
    except IdError as exc:
        raise InvalidArgument(
            400, "INVALID_DEPLOYMENT_ID", f"The query parameter 'deployment' is invalid. Reason: {exc.reason}", check=3
        ) from None
    return DeploymentById(raw)


def _form_decode(text: str) -> str:
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


@dataclass(frozen=True)
class RawQuery:
    """The two parameters as raw strings (``None`` when absent), ``from`` already a valid u32."""

    from_: int | None
    deployment: str | None


def parse_query_string(query: str, fields: tuple[str, ...] = ("from", "deployment")) -> RawQuery:
    """Check 1 over HTTP: decode the query string as serde_urlencoded does.

    ``fields`` are the parameters the operation knows (resume knows only ``deployment``);
    any other key is ignored, as serde ignores unknown fields.
    """
    if not isinstance(query, str):
        raise query_error(f"expected a string, got {type(query).__name__}")
    seen: set[str] = set()
    from_: int | None = None
    deployment: str | None = None
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        key = _form_decode(name)
        if key not in fields:
            continue
        if key in seen:
            raise query_error(f"duplicate field `{key}`")
        seen.add(key)
        decoded = _form_decode(value)
        if key == "from":
            try:
                from_ = rust_parse_u32(decoded)
            except ValueError as exc:
                raise query_error(f"from: {exc}") from None
        else:
            deployment = decoded
    return RawQuery(from_, deployment)


#: ``DELETE /invocations/{id}?mode=…``: serde's variants of Restate's deletion mode, in its order.
DELETE_MODES: dict[str, str] = {
    "Cancel": "cancel",
    "cancel": "cancel",
    "Kill": "kill",
    "kill": "kill",
    "Purge": "purge",
    "purge": "purge",
}


def parse_delete_mode(query: str) -> str:
    """The operation a ``DELETE /invocations/{id}`` query asks for (``cancel`` when absent), or
    Restate's 400 for an unknown variant or a repeated ``mode``."""
    if not isinstance(query, str):
        raise query_error(f"expected a string, got {type(query).__name__}")
    mode: str | None = None
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if _form_decode(name) != "mode":
            continue
        if mode is not None:
            raise query_error("duplicate field `mode`")
        mode = _form_decode(value)
        if mode not in DELETE_MODES:
            expected = ", ".join(f"`{variant}`" for variant in DELETE_MODES)
            raise query_error(f"mode: unknown variant `{mode}`, expected one of {expected}")
    return DELETE_MODES[mode] if mode is not None else "cancel"
