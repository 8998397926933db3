"""A stand-in for the server: canned SQL rows and admin answers, no process, no socket."""

from __future__ import annotations

import re
from typing import Any

from recording.client import InvalidId, Restate

INV_ID = re.compile(r"'(inv_1[0-9A-Za-z]{33})'")

# Ids of the right shape (inv_1 + 33 base62 characters; dp_1 + 22), made up.
INV_A = "inv_1aaaaaaaaaaaaaaaAAAAAAAAAAAAAAAAAA"
INV_B = "inv_1aaaaaaaaaaaaaaaBBBBBBBBBBBBBBBBBB"
INV_C = "inv_1cccccccccccccccCCCCCCCCCCCCCCCCCC"
DP1 = "dp_11111111111111111111111"
DP2 = "dp_12222222222222222222222"


def inv_row(inv_id: str, status: str = "completed", **cols: Any) -> dict[str, Any]:
    """A ``sys_invocation`` JSON row as the server sends it (NULL columns left out)."""
    row: dict[str, Any] = {
        "id": inv_id,
        "target_service_name": "Steps",
        "target_handler_name": "run",
        "target_service_ty": "service",
        "status": status,
        "pinned_deployment_id": DP1,
        "pinned_service_protocol_version": 6,
        "journal_size": 2,
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    if status == "completed":
        row["completion_result"] = "success"
    row.update(cols)
    return {k: v for k, v in row.items() if v is not None}


def journal(inv_id: str, *lite: str, at: str = "t0") -> list[dict[str, Any]]:
    """``sys_journal`` JSON rows: one per ``entry_lite_json``, all appended at ``at``."""
    return [
        {"id": inv_id, "index": i, "entry_type": "x", "appended_at": f"{at}.{i}", "entry_lite_json": text}
        for i, text in enumerate(lite)
    ]


INPUT = '{"Command":{"Input":{}}}'
RUN1 = '{"Command":{"Run":{"completion_id":1,"name":"step1"}}}'
RUN1_DONE = '{"Notification":{"ty":{"Completion":"Run"},"id":{"CompletionId":1},"result":"Success"}}'
OUTPUT = '{"Command":{"Output":{"result":"Success"}}}'


class FakeRestate(Restate):
    """Answers the recorder's SQL from ``invocations``/``journals``/``deployment_rows``; ops from ``answers``."""

    def __init__(self) -> None:
        super().__init__(admin=0, ingress=0)
        self.invocations: dict[str, dict[str, Any]] = {}
        self.journals: dict[str, list[dict[str, Any]]] = {}
        self.deployment_rows: list[dict[str, Any]] = []
        self.services_doc: list[dict[str, Any]] = []
        self.answers: list[tuple[int, str, bytes]] = []
        self.ops: list[tuple[str, str, str]] = []
        self.queries: list[str] = []
        self.posted: list[tuple[str, str, object]] = []
        self.after_op: dict[str, dict[str, Any] | None] = {}  # id -> its row after the next op (None: gone)
        self.refuse_ids = False  # answer every query as the SQL engine answers an id it cannot parse

    def query(self, sql: str) -> list[dict[str, Any]]:
        self.queries.append(sql)
        if self.refuse_ids:
            raise InvalidId(sql)
        ids = INV_ID.findall(sql)
        if "FROM sys_invocation" in sql:
            rows = [self.invocations[i] for i in ids if i in self.invocations]
            key = re.search(r"target_service_name = '(\w+)' AND target_service_key = '([^']*)'", sql)
            if key:
                rows += [
                    r
                    for r in self.invocations.values()
                    if r["target_service_name"] == key[1]
                    and r.get("target_service_key") == key[2]
                    and r["status"] != "completed"
                    and r not in rows
                ]
            return [dict(r) for r in rows]
        if "FROM sys_journal" in sql:
            return [dict(r) for i in ids for r in self.journals.get(i, [])]
        if "FROM sys_deployment" in sql:
            return [dict(r) for r in self.deployment_rows]
        raise AssertionError(f"unexpected SQL: {sql}")

    def admin_json(self, method: str, path: str, doc: object = None) -> Any:
        self.posted.append((method, path, doc))
        if (method, path) == ("GET", "/services"):
            return {"services": self.services_doc}
        raise AssertionError(f"unexpected admin call: {method} {path}")

    def op(self, op_path: str, raw_id: str, query_string: str = "") -> tuple[int, str, bytes]:
        self.ops.append((op_path, raw_id, query_string))
        for inv_id, row in self.after_op.items():
            if row is None:
                self.invocations.pop(inv_id, None)
            else:
                self.invocations[inv_id] = row
        self.after_op.clear()
        return self.answers.pop(0)
