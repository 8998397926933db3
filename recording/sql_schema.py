"""The SQL schema of restate-server's introspection tables, as its ``information_schema`` tells it.

The recording session asks it first, into ``tests/conformance/recorded_sql/schema.jsonl``: one JSON
line per column of :data:`TABLES`, in each table's column order: ``table``, ``column``,
``data_type`` (DataFusion's name of the Arrow type) and ``nullable``. The model's tables must have
exactly these columns, types and nullability (``tests/grpc_server/sql/``).
"""

from __future__ import annotations

import json
from typing import Any

from .client import call
from .common import RecordingError

#: The tables tools and the ``restate`` CLI read.
TABLES = (
    "sys_invocation_status",
    "sys_invocation",
    "sys_journal",
    "sys_service",
    "sys_deployment",
    "sys_inbox",
    "sys_keyed_service_status",
    "sys_invocation_state",
)
QUERY = (
    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
    "WHERE table_name IN ({}) ORDER BY table_name, ordinal_position"
)


def record(port: int) -> list[dict[str, Any]]:
    names = ", ".join(f"'{t}'" for t in TABLES)
    body = json.dumps({"query": QUERY.format(names)}).encode()
    status, _, raw = call(
        "POST", port, "/query", body, {"content-type": "application/json", "accept": "application/json"}
    )
    if status != 200:
        raise RecordingError(f"/query answered {status}: {raw[:300]!r}")
    rows = json.loads(raw)["rows"]
    order = {table: i for i, table in enumerate(TABLES)}
    rows.sort(key=lambda r: order[r["table_name"]])  # stable: each table keeps its column order
    return [
        {
            "table": r["table_name"],
            "column": r["column_name"],
            "data_type": r["data_type"],
            "nullable": r["is_nullable"] == "YES",
        }
        for r in rows
    ]
