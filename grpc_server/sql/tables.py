"""Arrow tables of Restate's introspection schema, built from the engine for one query's snapshot.

Each table has exactly the columns, Arrow types and nullability of restate-server 1.7.12
(:mod:`grpc_server.sql.schema`). The model fills what it knows; a column it has no notion of
(trace ids, vqueues, raw journal bytes, the server that ran an attempt) is null. Every timestamp is
virtual time. :func:`build` reads the engine once, under its lock, into plain rows; the Arrow work
happens after, off the lock.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from fsm.engine import Engine
from fsm.ids import parse_invocation_id
from fsm.model import COMMAND, Invocation

from .. import RESTATE_VERSION
from .schema import COLUMNS

#: How DataFusion names each Arrow type of the schema.
TYPES: dict[str, pa.DataType] = {
    "UInt64": pa.uint64(),
    "UInt32": pa.uint32(),
    "LargeUtf8": pa.large_string(),
    "Boolean": pa.bool_(),
    "LargeBinary": pa.large_binary(),
    'Timestamp(ms, "+00:00")': pa.timestamp("ms", tz="+00:00"),
    "Duration(ms)": pa.duration("ms"),
    "List(UInt32)": pa.list_(pa.uint32()),
    "List(LargeUtf8)": pa.list_(pa.large_string()),
}
#: ``sys_invocation_status.status``: the status table's own words.
STATUS_WORDS = {
    "scheduled": "scheduled",
    "inboxed": "inboxed",
    "running": "invoked",
    "suspended": "suspended",
    "paused": "paused",
    "completed": "completed",
}


def schema(table: str) -> pa.Schema:
    """The Arrow schema of one of Restate's tables."""
    return pa.schema(
        [pa.field(name.rstrip("!"), TYPES[kind], nullable=not name.endswith("!")) for name, kind in COLUMNS[table]]
    )


def invocation_status(inv: Invocation) -> str:
    """``sys_invocation.status``: scheduled, pending, ready, running, backing-off, suspended, paused, completed."""
    if inv.state == "inboxed":
        return "pending"
    if inv.state == "running":
        return "backing-off" if inv.next_attempt_ms is not None else "running"
    return inv.state


def _target(inv: Invocation) -> str:
    return f"{inv.service}/{inv.key}/{inv.handler}" if inv.key is not None else f"{inv.service}/{inv.handler}"


def _journal_sizes(inv: Invocation) -> tuple[int | None, int | None]:
    """``journal_size`` and ``journal_commands_size``: null before the invocation starts (its Input
    entry is in ``sys_journal`` all the same), 0 once the journal is gone."""
    if inv.state in ("scheduled", "inboxed"):
        return None, None
    journal = inv.journal or []
    return len(journal), sum(1 for e in journal if e.kind == COMMAND)


def _invocation_row(engine: Engine, inv: Invocation, partition_keys: bool) -> dict[str, Any]:
    service = engine.services.get(inv.service)
    size, commands = _journal_sizes(inv)
    in_invoker = inv.state == "running"  # what restate-server's invoker reports on: attempts, failures
    in_flight = in_invoker and inv.next_attempt_ms is None
    return {
        "partition_key": parse_invocation_id(inv.id).partition_key if partition_keys else None,
        "id": inv.id,
        "target": _target(inv),
        "target_service_name": inv.service,
        "target_service_key": inv.key,
        "target_handler_name": inv.handler,
        "target_service_ty": service.type if service is not None else None,  # Restate's words too
        "idempotency_key": inv.idempotency_key,
        "invoked_by": "restart_as_new" if inv.restarted_from is not None else "ingress",
        "restarted_from": inv.restarted_from,
        "pinned_deployment_id": inv.pinned_deployment,
        "pinned_service_protocol_version": inv.pinned_protocol,
        "journal_size": size,
        "journal_commands_size": commands,
        "created_at": inv.created_ms,
        "created_using_restate_version": RESTATE_VERSION,
        "running_at": inv.created_ms if inv.state not in ("scheduled", "inboxed") and inv.due_ms is None else None,
        "modified_at": inv.completed_ms if inv.completed_ms is not None else inv.created_ms,
        "scheduled_at": inv.created_ms if inv.state == "scheduled" else None,
        "scheduled_start_at": inv.due_ms,
        "inboxed_at": inv.created_ms if inv.state == "inboxed" else None,
        "completed_at": inv.completed_ms,
        "completion_retention": inv.completion_retention_s * 1000,
        "journal_retention": inv.journal_retention_s * 1000,
        "suspended_waiting_for_completions": [inv.awaiting] if inv.state == "suspended" else None,
        # signal 1 is the cancel signal, which a suspended invocation always awaits
        "suspended_waiting_for_signals": [1] if inv.state == "suspended" else None,
        "completion_result": inv.completion,
        "completion_failure": inv.completion_failure,
        # the invoker's view: only for an invocation it is running (restate-server leaves these null
        # otherwise). Its retry count counts attempts started: the failed ones, and one in flight.
        "retry_count": inv.retry_count + (1 if in_flight else 0) if in_invoker else None,
        "next_retry_at": inv.next_attempt_ms,
        "last_failure": inv.last_failure if in_invoker else None,
        "last_attempt_deployment_id": inv.pinned_deployment if in_invoker else None,
        "in_flight": in_flight,
    }


def referenced(query: str) -> set[str]:
    """The tables a query may read: those whose name it mentions (a superset; the rest stay empty)."""
    text = query.lower()
    return {table for table in COLUMNS if re.search(rf"\b{table}\b", text)}


_COUNT_STAR = re.compile(r"count\s*\(\s*\*\s*\)", re.IGNORECASE)


def referenced_columns(query: str) -> set[str] | None:
    """The columns a query may read: every one whose name it mentions, or None (all of them) when it
    has a ``*`` other than ``count(*)``. A superset: a column left out is one the query cannot read."""
    if "*" in _COUNT_STAR.sub("", query):
        return None
    text = query.lower()
    return {name.rstrip("!") for columns in COLUMNS.values() for name, _ in columns if name.rstrip("!") in text}


def read(
    engine: Engine, needed: set[str] | None = None, columns: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``needed`` tables (all when None) as plain dicts; the others empty. A partition
    key (decoded from each id, the costly part) only when ``columns`` (None: all) has it. Run under
    the engine's lock; no Arrow here."""
    wanted = set(COLUMNS) if needed is None else needed
    partition_keys = columns is None or "partition_key" in columns
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in COLUMNS}
    per_invocation = wanted & {"sys_invocation_status", "sys_invocation", "sys_invocation_state", "sys_journal"}
    for inv in engine.invocations.values() if per_invocation else ():
        row = _invocation_row(engine, inv, partition_keys)
        if "sys_invocation_status" in wanted:
            rows["sys_invocation_status"].append({**row, "status": STATUS_WORDS[inv.state]})
        if "sys_invocation" in wanted:
            rows["sys_invocation"].append({**row, "status": invocation_status(inv)})
        if "sys_invocation_state" in wanted and inv.state == "running":
            rows["sys_invocation_state"].append(
                {
                    "partition_key": row["partition_key"],
                    "id": inv.id,
                    "in_flight": row["in_flight"],  # running, and not backing off
                    "retry_count": row["retry_count"],
                    "next_retry_at": inv.next_attempt_ms,
                    "last_failure": inv.last_failure,
                    "last_attempt_deployment_id": inv.pinned_deployment,
                }
            )
        for entry in inv.journal or () if "sys_journal" in wanted else ():
            rows["sys_journal"].append(
                {
                    "partition_key": row["partition_key"],
                    "id": inv.id,
                    "index": entry.index,
                    "entry_type": f"{entry.kind.capitalize()}: {entry.type}",
                    "name": entry.name or "" if entry.kind == COMMAND else None,  # commands: "" for none
                    "version": 1 if inv.pinned_protocol is not None and inv.pinned_protocol < 4 else 2,
                }
            )
    for lock, inbox in engine.inboxes.items():
        for sequence, inv_id in enumerate(inbox):
            rows["sys_inbox"].append(
                {
                    "partition_key": parse_invocation_id(inv_id).partition_key,
                    "service_name": lock[0],
                    "service_key": lock[1],
                    "id": inv_id,
                    "sequence_number": sequence,  # created_at: null, as restate-server 1.7.12 has it
                }
            )
    for (service_name, key), holder in engine.lock_holders.items():
        rows["sys_keyed_service_status"].append(
            {
                "partition_key": parse_invocation_id(holder).partition_key,
                "service_name": service_name,
                "service_key": key,
                "invocation_id": holder,
            }
        )
    for service in engine.services.values():
        latest = engine.latest_deployment(service.name)
        rows["sys_service"].append(
            {
                "name": service.name,
                "revision": 1,
                "public": True,
                "ty": service.type,
                "deployment_id": latest.id if latest is not None else None,
            }
        )
    for deployment in engine.deployments.values():
        rows["sys_deployment"].append(
            {
                "id": deployment.id,
                "ty": "http",
                "min_service_protocol_version": deployment.protocol_min,
                "max_service_protocol_version": deployment.protocol_max,
                "services": list(deployment.services),
            }
        )
    return rows


def build(rows: dict[str, list[dict[str, Any]]], columns: set[str] | None = None) -> dict[str, pa.Table]:
    """The Arrow tables of :func:`read`'s rows, each with Restate's exact schema; a column outside
    ``columns`` (when given: the query cannot read it) is left null, which costs nothing to build."""
    tables = {}
    for table, records in rows.items():
        shape = schema(table)
        arrays = [
            pa.array([record.get(field.name) for record in records], type=field.type)
            if columns is None or field.name in columns or not field.nullable
            else pa.nulls(len(records), type=field.type)
            for field in shape
        ]
        tables[table] = pa.Table.from_arrays(arrays, schema=shape)
    return tables
