"""``POST /query``: SQL over the engine's state, run by DataFusion, answered as restate-server does.

The tables (:mod:`grpc_server.sql.tables`) are built for each query from one read of the engine;
DataFusion plans and runs the SQL (catalog ``restate``, schema ``public``, ``information_schema``
on, as the real server has them). Answers: ``Accept`` exactly ``application/json`` gets
``{"rows":[…]}`` with each row's null columns left out; anything else an Arrow IPC stream
(``application/vnd.apache.arrow.stream``). A query DataFusion cannot parse answers 400, one it
cannot plan or run 500, both ``{"message":"Datafusion error: …"}``. At most :data:`MAX_ROWS` rows
come back (a query over more is cut there, and says so in the ``x-restate-model-truncated`` header).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datafusion
import pyarrow as pa

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


def run(tables: dict[str, pa.Table], query: str) -> pa.Table:
    """The query's result, or :class:`QueryError` with Restate's status and message."""
    ctx = _context(tables)
    try:
        frame = ctx.sql(query)
    except Exception as exc:  # DataFusion raises plain exceptions; parse errors say "SQL error"
        message = f"Datafusion error: {exc}"
        raise QueryError(400 if "SQL error" in str(exc) else 500, message) from None
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
