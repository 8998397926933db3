"""The world as the server shows it, in the case format: deployments, services, invocations, journals.

:class:`Catalog` knows the deployments this run registered (by our names) and every service seen;
:class:`Reader` reads ``sys_invocation`` and ``sys_journal`` through the SQL endpoint and turns
rows into :class:`~recording.cases.World` parts. The row shapes and the conversions are pure.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable
from typing import Any, TypedDict, cast

from .cases import Deployment, Entry, Invocation, Service, Status, World
from .client import InvalidId, Restate
from .common import RecordingError, log

#: Deployments, in registration order: (name, path prefix served by services.py).
DEPLOYMENTS = [
    ("D1", "/d1"),
    ("D4_fake_proto5", "/d4"),
    ("D2", "/d2"),
    ("D3_other", "/d3"),
    ("D5_lonely", "/d5"),  # deleted before any probe
]
MAIN_SERVICES = [
    "Steps",
    "StepsNoRet",
    "Helper",
    "Mixed",
    "Waiter",
    "Slow",
    "Locker",
    "Failer",
    "Retrier",
    "WF",
    "WFWait",
]
DEPLOYMENT_SERVICES = {
    "D1": MAIN_SERVICES,
    "D4_fake_proto5": MAIN_SERVICES,
    "D2": MAIN_SERVICES,
    "D3_other": ["Other"],
    "D5_lonely": ["Lonely"],
}

#: Introspection status -> the case format's state.
STATUS_MAP: dict[str, Status] = {
    "scheduled": "scheduled",
    "pending": "inboxed",
    "ready": "running",
    "running": "running",
    "backing-off": "running",
    "suspended": "suspended",
    "paused": "paused",
    "completed": "completed",
}
SERVICE_TYPES = {"Service": "service", "VirtualObject": "virtual_object", "Workflow": "workflow"}
INV_ID_RE = re.compile(r"^inv_1[0-9A-Za-z]{33}$")
#: (virtual object, key): the other invocations on that key belong in a target's world.
LockKey = tuple[str, str]


class InvocationRow(TypedDict):
    """The ``sys_invocation`` columns we read (None where SQL has NULL)."""

    id: str
    target_service_name: str
    target_service_key: str | None
    target_handler_name: str
    target_service_ty: str
    status: str
    completion_result: str | None
    pinned_deployment_id: str | None
    pinned_service_protocol_version: int | None
    journal_size: int | None
    retry_count: int | None
    created_at: str | None
    restarted_from: str | None
    invoked_by: str | None


class JournalRow(TypedDict):
    """A ``sys_journal`` row."""

    id: str
    index: int
    entry_type: str | None
    name: str | None
    appended_at: str | None
    entry_lite_json: str


INV_COLUMNS = ", ".join(InvocationRow.__annotations__)


# ------------------------------------------------------------------ pure conversions
def parse_duration_s(text: str | None) -> int | None:
    """A humantime duration (``1d``, ``2h 30min``, ``500ms``) in whole seconds."""
    if text is None:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        if unit not in units:
            raise RecordingError(f"unknown duration unit in {text!r}")
        total += float(num) * units[unit]
    return int(round(total))


def sql_list(ids: Iterable[str]) -> str:
    """The well-formed invocation ids among ``ids`` as an SQL list (``''`` when none: matches nothing)."""
    return ", ".join(f"'{i}'" for i in ids if INV_ID_RE.match(i)) or "''"


def invocation_row(raw: dict[str, Any]) -> InvocationRow:
    """A JSON row of :data:`INV_COLUMNS`; the JSON rows leave out NULL columns."""
    return cast(InvocationRow, {c: raw.get(c) for c in InvocationRow.__annotations__})


def journal_row(raw: dict[str, Any]) -> JournalRow:
    return {
        "id": raw["id"],
        "index": int(raw["index"]),
        "entry_type": raw.get("entry_type"),
        "name": raw.get("name"),
        "appended_at": raw.get("appended_at"),
        "entry_lite_json": raw["entry_lite_json"],
    }


def convert_entry(row: JournalRow) -> Entry:
    """A ``sys_journal`` row as a case-format entry (from its ``entry_lite_json``)."""
    lite = json.loads(row["entry_lite_json"])
    index = row["index"]
    if "Command" in lite:
        cmd = lite["Command"]
        typ, body = (cmd, {}) if isinstance(cmd, str) else next(iter(cmd.items()))
        entry: Entry = {"index": index, "kind": "command", "type": typ}
        if row["name"]:
            entry["name"] = row["name"]
        body = body if isinstance(body, dict) else {}
        cids = [v for k, v in body.items() if k.endswith("completion_id") and isinstance(v, int)]
        if cids:
            entry["completion_ids"] = cids
        return entry
    if "Notification" in lite:
        note = lite["Notification"]
        ty = note.get("ty")
        entry = {
            "index": index,
            "kind": "notification",
            "type": ty if isinstance(ty, str) else next(iter(ty.values())),
        }
        nid = note.get("id") or {}
        if isinstance(nid, dict) and "CompletionId" in nid:
            entry["completion_id"] = nid["CompletionId"]
        return entry
    kind, inner = next(iter(lite.items()))
    typ = inner if isinstance(inner, str) else next(iter(inner), kind) if isinstance(inner, dict) else kind
    return {"index": index, "kind": kind.lower(), "type": typ}


def to_world_invocation(row: InvocationRow, journal_rows: list[JournalRow]) -> Invocation:
    """An introspection row and its journal as a case-format invocation."""
    raw = row["status"]
    if raw not in STATUS_MAP:
        raise RecordingError(f"unknown introspection status {raw!r}")
    status = STATUS_MAP[raw]
    completed = status == "completed"
    retained = bool(journal_rows) if completed else True
    pinned_id = row["pinned_deployment_id"]
    inv: Invocation = {
        "id": row["id"],
        "target": {
            "service": row["target_service_name"],
            "handler": row["target_handler_name"],
            "key": row["target_service_key"] or None,
        },
        "status": status,
        "completion": row["completion_result"] if completed else None,
        "pinned": {"deployment_id": pinned_id, "protocol": row["pinned_service_protocol_version"]}
        if pinned_id
        else None,
        "journal_retained": retained,
        "journal": [convert_entry(j) for j in journal_rows] if retained else [],
    }
    if status == "running" and (raw == "backing-off" or (row["retry_count"] or 0) > 1):
        inv["retry_count"] = row["retry_count"]
    return inv


# ------------------------------------------------------------------ reading the server
class Catalog:
    """What the server has registered: deployments (with our names) and every service ever seen."""

    def __init__(self, rs: Restate) -> None:
        self.rs = rs
        self.dp_names: dict[str, str] = {}  # id -> name
        self.dp_ids: dict[str, str] = {}  # name -> id
        self.services: dict[str, Service] = {}  # insertion order = first registration

    def register(self, name: str, uri: str) -> str:
        doc = self.rs.admin_json("POST", "/deployments", {"uri": uri})
        dp: str = doc["id"]
        self.dp_names[dp] = name
        self.dp_ids[name] = dp
        self.refresh_services()
        log(f"registered {name} = {dp} ({uri})")
        return dp

    def refresh_services(self) -> None:
        listed: dict[str, Any] = {s["name"]: s for s in self.rs.admin_json("GET", "/services")["services"]}
        order = [s for dname, _ in DEPLOYMENTS if dname in self.dp_ids for s in DEPLOYMENT_SERVICES[dname]]
        for name in order + sorted(listed):
            if name in listed and name not in self.services:
                s = listed[name]
                self.services[name] = {
                    "name": name,
                    "type": SERVICE_TYPES[s["ty"]],
                    "journal_retention_s": parse_duration_s(s.get("journal_retention")),
                }

    def deployments(self) -> list[Deployment]:
        rows = self.rs.query(
            "SELECT id, created_at, min_service_protocol_version AS lo, max_service_protocol_version AS hi, "
            "services FROM sys_deployment ORDER BY created_at, id"
        )
        out: list[Deployment] = []
        for r in rows:
            name = self.dp_names.get(r["id"], r["id"])
            declared = DEPLOYMENT_SERVICES.get(name, [])
            services = [s for s in declared if s in r["services"]] + sorted(set(r["services"]) - set(declared))
            out.append({"id": r["id"], "services": services, "protocol": [r["lo"], r["hi"]], "name": name})
        return out


class Reader:
    """Introspection through SQL: invocation rows, journals, a target's state, a whole world."""

    def __init__(self, rs: Restate, catalog: Catalog) -> None:
        self.rs = rs
        self.catalog = catalog

    def invocations(self, where: str) -> list[InvocationRow]:
        try:
            rows = self.rs.query(f"SELECT {INV_COLUMNS} FROM sys_invocation WHERE {where}")
        except InvalidId:
            return []
        return [invocation_row(r) for r in rows]

    def journals(self, ids: list[str]) -> dict[str, list[JournalRow]]:
        out: dict[str, list[JournalRow]] = collections.defaultdict(list)
        if not ids:
            return out
        try:
            rows = self.rs.query(
                "SELECT id, index, entry_type, name, appended_at, entry_lite_json FROM sys_journal "
                f"WHERE id IN ({sql_list(ids)})"
            )
        except InvalidId:
            return out
        for r in rows:
            out[r["id"]].append(journal_row(r))
        for v in out.values():
            v.sort(key=lambda r: r["index"])
        return out

    def status_of(self, inv_id: str) -> str:
        """The lifecycle state in the case format's names, or 'free'."""
        if not INV_ID_RE.match(inv_id):
            return "free"
        rows = self.invocations(f"id = '{inv_id}'")
        return STATUS_MAP[rows[0]["status"]] if rows else "free"

    def world(
        self, target_id: str | None, lock_key: LockKey | None = None
    ) -> tuple[World, list[InvocationRow], dict[str, list[JournalRow]]]:
        """The world right now: every deployment, every service, the target and its VO key's other holders."""
        deployments = self.catalog.deployments()
        services = list(self.catalog.services.values())
        rows: list[InvocationRow] = []
        if target_id and INV_ID_RE.match(target_id):
            where = f"id = '{target_id}'"
            if lock_key:
                svc, key = lock_key
                where += (
                    f" OR (target_service_name = '{svc}' AND target_service_key = '{key}' AND status <> 'completed')"
                )
            rows = self.invocations(where)
        rows.sort(key=lambda r: (r["id"] != target_id, r["created_at"] or "", r["id"]))
        journals = self.journals([r["id"] for r in rows])
        invocations = [to_world_invocation(r, journals.get(r["id"], [])) for r in rows]
        world: World = {"deployments": deployments, "services": services, "invocations": invocations}
        return world, rows, journals
