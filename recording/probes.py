"""One probe = one admin call on one target, recorded as one case with the world just before it.

:class:`Recorder` probes restart-as-new (:meth:`~Recorder.probe_restart`) and the other admin
operations (:meth:`~Recorder.probe_op`), checks what Restate promises about a restarted
invocation's ids and journal, and keeps every raw answer in ``raw_probes.jsonl`` for research.
"""

from __future__ import annotations

import collections
import json
import time
import urllib.parse
from pathlib import Path
from typing import TextIO

from .cases import OPS, Case, NewInvocation, decode_query, error_message, status_after_is_settled, transport_of
from .client import Restate
from .common import RecordingError
from .world import INV_ID_RE, STATUS_MAP, Catalog, JournalRow, LockKey, Reader, sql_list


class Recorder:
    """Collects the cases of a run, in recording order, and their raw answers."""

    def __init__(self, rs: Restate, catalog: Catalog, raw_path: Path) -> None:
        self.rs = rs
        self.catalog = catalog
        self.reader = Reader(rs, catalog)
        self.restart_cases: list[Case] = []
        self.op_cases: list[Case] = []
        self.names: collections.Counter[str] = collections.Counter()
        self.raw: TextIO = open(raw_path, "w")
        self.pending_new: list[tuple[Case, str]] = []
        self.later: list[tuple[dict[str, object], str]] = []

    def close(self) -> None:
        self.raw.close()

    def unique(self, name: str) -> str:
        """``name``, or ``name#2``, ``name#3``... when it was used already."""
        self.names[name] += 1
        n = self.names[name]
        return name if n == 1 else f"{name}#{n}"

    # -------------------------------------------------------------- restart-as-new
    def probe_restart(self, scenario: str, target: str, qs: str, lock_key: LockKey | None = None) -> Case:
        world, rows, journals = self.reader.world(target, lock_key)
        old_rows = journals.get(target, [])
        old_before = next((r for r in rows if r["id"] == target), None)
        status, ctype, data = self.rs.op("restart-as-new", target, qs)
        _, first, _ = decode_query(qs)
        case: Case = {
            "name": self.unique(f"{scenario}/{qs or 'none'}"),
            "transport": transport_of(qs),
            "world": world,
            "request": {
                "invocation_id": target,
                "from": first.get("from"),
                "deployment": first.get("deployment"),
                "query_string": qs,
            },
            "expect": {"http_status": status, "message": None if status == 200 else error_message(ctype, data)},
        }
        raw: dict[str, object] = {
            "name": case["name"],
            "status": status,
            "ctype": ctype,
            "body": data.decode(errors="replace"),
        }
        if status == 200:
            new_id: str = json.loads(data)["new_invocation_id"]
            case["expect"]["new_invocation"] = self.describe_new(target, new_id, old_rows)
            self.pending_new.append((case, new_id))
            raw["new_id"] = new_id
            if lock_key:
                # a new exclusive-handler invocation holds the key while it runs: let it finish (or stay
                # inboxed) before the next probe, so that probe sees a settled key
                self.wait_settled(new_id)
            after = self.reader.invocations(f"id = '{target}'")
            if old_before and (
                not after
                or after[0]["status"] != old_before["status"]
                or after[0]["journal_size"] != old_before["journal_size"]
            ):
                raise RecordingError(f"{case['name']}: the old invocation changed after a restart")
        elif "json" in ctype:
            doc = json.loads(data)
            if doc.get("restate_code") is not None:
                raw["restate_code"] = doc["restate_code"]
        self.raw.write(json.dumps(raw) + "\n")
        self.restart_cases.append(case)
        return case

    def describe_new(self, old_id: str, new_id: str, old_rows: list[JournalRow]) -> NewInvocation:
        """The new invocation of a restart, checked against the old one (ids, journal prefix)."""
        for _ in range(100):
            rows = self.reader.invocations(f"id = '{new_id}'")
            new_rows = self.reader.journals([new_id]).get(new_id, [])
            if rows and new_rows:
                break
            time.sleep(0.02)
        else:
            raise RecordingError(f"new invocation {new_id} (from {old_id}) never showed up with a journal")
        row = rows[0]
        copied = copied_indexes(new_id, old_rows, new_rows)
        if row["restarted_from"] != old_id:
            raise RecordingError(f"{new_id}: restarted_from={row['restarted_from']!r}, expected {old_id}")
        if new_id[:16] != old_id[:16] or new_id == old_id:
            raise RecordingError(f"{new_id}: not the partition key of {old_id}")
        return {
            "copied_indexes": copied,
            "pinned_deployment_id": row["pinned_deployment_id"] or None,
            "pinned_protocol": row["pinned_service_protocol_version"] if row["pinned_deployment_id"] else None,
            "status": "inboxed" if row["status"] == "pending" else "running",
            "restarted_from": row["restarted_from"],
        }

    def wait_settled(self, inv_id: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.reader.invocations(f"id = '{inv_id}'")
            if not rows or rows[0]["status"] in ("completed", "pending", "suspended", "paused", "backing-off"):
                return
            if time.monotonic() > deadline:
                raise RecordingError(f"{inv_id} did not settle: {rows[0]['status']}")
            time.sleep(0.02)

    def settle_new(self) -> None:
        """Notes the introspection status of every new invocation, a moment after the probes."""
        if not self.pending_new:
            return
        time.sleep(0.3)
        ids = [n for _, n in self.pending_new]
        statuses: dict[str, str] = {}
        for i in range(0, len(ids), 200):
            for r in self.rs.query(f"SELECT id, status FROM sys_invocation WHERE id IN ({sql_list(ids[i : i + 200])})"):
                statuses[r["id"]] = r["status"]
        for case, new_id in self.pending_new:
            case["recorded_new_status"] = statuses.get(new_id, "free")
        self.pending_new.clear()

    # -------------------------------------------------------------- other admin operations
    def probe_op(
        self,
        scenario: str,
        op: str,
        target: str,
        deployment: str | None = None,
        lock_key: LockKey | None = None,
        raw_qs: str | None = None,
    ) -> bool:
        """Records one operation; True when it changed the target (the next probe then needs a fresh one)."""
        world, rows, _ = self.reader.world(target, lock_key)
        before = next((r for r in rows if r["id"] == target), None)
        if raw_qs is not None:
            qs = raw_qs
            deployment = decode_query(qs)[1].get("deployment")
        else:
            qs = "" if deployment is None else "deployment=" + urllib.parse.quote(deployment, safe="")
        status, ctype, data = self.rs.op(OPS[op], target, qs)
        after_rows = self.reader.invocations(f"id = '{target}'") if INV_ID_RE.match(target) else []
        after = STATUS_MAP[after_rows[0]["status"]] if after_rows else "free"
        label = op + (f"?{qs}" if qs else "")
        case: Case = {
            "name": self.unique(f"{scenario}/{label}"),
            "operation": op,
            "transport": transport_of(qs) if raw_qs is not None else "any",
            "world": world,
            "request": {"invocation_id": target, "from": None, "deployment": deployment, "query_string": qs},
            "expect": {"http_status": status, "message": None if status < 300 else error_message(ctype, data)},
        }
        if status < 300 and data:
            try:
                case["expect"]["body"] = json.loads(data)
            except ValueError:
                case["expect"]["body"] = data.decode(errors="replace")
        if status_after_is_settled(op, status):
            case["expect"]["status_after"] = after
        if op == "resume" and status < 300 and after_rows:
            # resume re-pins at once (keep, latest or the given id), before the next attempt starts
            case["expect"]["pinned_deployment_after"] = after_rows[0]["pinned_deployment_id"]
        changed = (
            status < 300
            or (before is None) != (not after_rows)
            or (
                before is not None
                and bool(after_rows)
                and (
                    STATUS_MAP[after_rows[0]["status"]] != STATUS_MAP[before["status"]]
                    or after_rows[0]["journal_size"] != before["journal_size"]
                )
            )
        )
        raw: dict[str, object] = {
            "name": case["name"],
            "status": status,
            "ctype": ctype,
            "body": data.decode(errors="replace"),
            "before": before and before["status"],
            "after_raw": after_rows[0]["status"] if after_rows else None,
            "pinned_before": before and before["pinned_deployment_id"],
            "pinned_after": after_rows[0]["pinned_deployment_id"] if after_rows else None,
        }
        if status < 300 and after_rows:
            self.later.append((raw, target))
        else:
            self.raw.write(json.dumps(raw) + "\n")
        self.op_cases.append(case)
        return changed

    def settle_later(self) -> None:
        """For research only (raw_probes.jsonl): each 2xx target's status and pinning a second later."""
        if not self.later:
            return
        time.sleep(1.0)
        rows = {r["id"]: r for r in self.reader.invocations(f"id IN ({sql_list([t for _, t in self.later])})")}
        for raw, target in self.later:
            r = rows.get(target)
            raw["status_1s"] = r["status"] if r else None
            raw["pinned_1s"] = r["pinned_deployment_id"] if r else None
            raw["protocol_1s"] = r["pinned_service_protocol_version"] if r else None
            self.raw.write(json.dumps(raw) + "\n")
        self.later.clear()


def copied_indexes(new_id: str, old_rows: list[JournalRow], new_rows: list[JournalRow]) -> list[int]:
    """The old journal's indexes found, as a prefix, in the new journal.

    Copied entries keep the old entry's ``appended_at``; entries the new run adds carry new times.
    """
    pool: dict[tuple[str | None, str], list[int]] = collections.defaultdict(list)
    for r in old_rows:
        pool[(r["appended_at"], r["entry_lite_json"])].append(r["index"])
    copied: list[int] = []
    prefix_done = False
    for r in new_rows:
        hit = pool.get((r["appended_at"], r["entry_lite_json"]))
        if hit:
            if prefix_done:
                raise RecordingError(f"{new_id}: copied entry after a new one at index {r['index']}")
            if r["index"] != len(copied):
                raise RecordingError(f"{new_id}: copied entries are not a prefix")
            copied.append(hit.pop(0))
        else:
            prefix_done = True
    return copied
