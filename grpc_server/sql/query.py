"""``POST /query``: SQL over the engine's state, run by DataFusion, answered as restate-server does.

The tables (:mod:`grpc_server.sql.tables`) are built for each query from one read of the engine;
DataFusion plans and runs the SQL (catalog ``restate``, schema ``public``, ``information_schema``
on, as the real server has them). Answers: ``Accept`` exactly ``application/json`` gets
``{"rows":[…]}`` with each row's null columns left out; anything else an Arrow IPC stream
(``application/vnd.apache.arrow.stream``). A query DataFusion cannot parse answers 400, one it
cannot plan or run 500, both ``{"message":"Datafusion error: …"}``. A ``WHERE`` that is only an
invocation id compared with (or listed against) strings fails as restate-server's scans fail when
one of them is not an id (:func:`check_id_literals`). At most :data:`MAX_ROWS` rows come back (a
query over more is cut there, and says so in the ``x-restate-model-truncated`` header).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datafusion
import pyarrow as pa

from fsm.ids import parse_invocation_id

#: The most rows one answer carries.
MAX_ROWS = 100_000
ARROW = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True)
class Result:
    status: int
    content_type: str
    body: bytes
    truncated: bool = False


class QueryError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _context(tables: dict[str, pa.Table]) -> datafusion.SessionContext:
    config = (
        datafusion.SessionConfig().with_information_schema(True).with_default_catalog_and_schema("restate", "public")
    )
    ctx = datafusion.SessionContext(config)
    for name, table in tables.items():
        ctx.from_arrow(table, name=name)
    return ctx


#: A ``WHERE`` that is a single comparison of an invocation id column with string literals:
#: ``id = '…'``, ``'…' = id``, ``id IN ('…', …)`` (any table alias, any case), up to the clause's end.
_ID_WHERE = re.compile(
    r"\bwhere\s+(?:(?:\w+\.)?(?:invocation_)?id\s*(?:=\s*'(?P<eq>[^']*)'|in\s*\((?P<listed>[^()]*)\))"
    r"|'(?P<left>[^']*)'\s*=\s*(?:\w+\.)?(?:invocation_)?id)\s*(?:\border\b|\bgroup\b|\blimit\b(?!\s+0\b)|;|$)",
    re.IGNORECASE,
)
BAD_ID = "Datafusion error: External error: non valid invocation id"


def check_id_literals(query: str) -> None:
    """restate-server turns such a ``WHERE`` into a lookup by id, and fails (500) when a literal is
    not an invocation id; a richer condition (``AND``, ``OR``, functions) is filtered as any other,
    and ``LIMIT 0`` reads nothing. ``sys_deployment``'s ids are not invocation ids."""
    found = _ID_WHERE.search(query)
    if found is None or re.search(r"\bsys_deployment\b", query, re.IGNORECASE):
        return
    literals = [found["eq"] if found["eq"] is not None else found["left"]]
    if found["listed"] is not None:
        literals = [item.strip().strip("'") for item in found["listed"].split(",")]
    for literal in literals:
        try:
            parse_invocation_id(literal)
        except ValueError:
            raise QueryError(500, BAD_ID) from None


#: DataFusion's newer hint for a misspelt column, which restate-server's DataFusion does not give.
_SUGGESTION = re.compile(r"\. Did you mean '[^']*'\?\n")


def run(tables: dict[str, pa.Table], query: str) -> pa.Table:
    """The query's result, or :class:`QueryError` with Restate's status and message."""
    ctx = _context(tables)
    try:
        frame = ctx.sql(query)
    except Exception as exc:  # DataFusion raises plain exceptions; parse errors say "SQL error"
        message = _SUGGESTION.sub(". ", f"Datafusion error: {exc}")
        raise QueryError(400 if "SQL error" in str(exc) else 500, message) from None
    check_id_literals(query)
    try:
        return frame.limit(MAX_ROWS + 1).to_arrow_table()
    except Exception as exc:
        raise QueryError(500, f"Datafusion error: {exc}") from None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, datetime.timedelta):  # ISO 8601, as restate-server writes it: PT86400S, PT0.5S
        millis = round(value.total_seconds() * 1000)
        seconds = f"{millis // 1000}.{millis % 1000:03d}".rstrip("0").rstrip(".")
        return f"PT{seconds}S"
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def answer(table: pa.Table, accept: str | None, compact: Callable[[Any], bytes]) -> Result:
    """The result table as the client asked: JSON rows (without null columns, written by ``compact``)
    or an Arrow stream."""
    truncated = table.num_rows > MAX_ROWS
    if truncated:
        table = table.slice(0, MAX_ROWS)
    if accept == "application/json":
        rows = [{k: _json_value(v) for k, v in row.items() if v is not None} for row in table.to_pylist()]
        return Result(200, "application/json", compact({"rows": rows}), truncated)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Result(200, ARROW, sink.getvalue().to_pybytes(), truncated)
