"""Records conformance cases from a real ``restate-server``.

One command, from the repository root::

    bash recording/record.sh          # or: python3 -m recording.record

It installs restate-server (npm) and restate-sdk + hypercorn (PyPI) into ``recording/.work/``,
starts the server on 127.0.0.1 only, serves ``recording/services.py``, registers deployments,
drives invocations into every lifecycle state, probes restart-as-new and the other admin
operations in each state, and writes ``tests/conformance/recorded/*.jsonl``.

This file uses the standard library only; the SDK runs in a separate process (its own venv).
Every process it starts is stopped by PID on every exit path.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

RESTATE_VERSION = "1.7.12"
SDK_VERSION = "1.3.0"
HYPERCORN_VERSION = "0.18.0"

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
OUT = ROOT / "tests" / "conformance" / "recorded"

# Deployments, in registration order: (name, path prefix served by services.py)
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

STATUS_MAP = {
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
OPS = {
    "cancel": "cancel",
    "kill": "kill",
    "purge": "purge",
    "purge_journal": "purge-journal",
    "pause": "pause",
    "resume": "resume",
}
INV_ID_RE = re.compile(r"^inv_1[0-9A-Za-z]{33}$")
U32_MAX = 4294967295


class RecordingError(Exception):
    """A loud, clear failure: the run stops with a non-zero exit code."""


class InvalidId(Exception):
    """The SQL engine refused an id that our regular expression let through (e.g. an overflow)."""


def log(msg: str) -> None:
    print(f"[record {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ================================================================== installation
def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if res.returncode != 0:
        raise RecordingError(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout[-3000:]}")
    return res


def npm_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = {"linux": "linux", "darwin": "darwin"}.get(platform.system().lower())
    if not arch or not system:
        raise RecordingError(f"restate-server has no npm build for {platform.system()}/{machine}")
    return f"{system}-{arch}"


def install_server() -> Path:
    npm_dir = WORK / "npm"
    binary = npm_dir / "node_modules" / "@restatedev" / f"restate-server-{npm_platform()}" / "bin" / "restate-server"
    if binary.exists():
        out = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, text=True).stdout
        if RESTATE_VERSION in out:
            return binary
    if not shutil.which("npm"):
        raise RecordingError("npm is not installed (needed to install @restatedev/restate-server)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    log(f"installing @restatedev/restate-server@{RESTATE_VERSION} from npm into {npm_dir}")
    env = dict(os.environ, SCARF_ANALYTICS="false", npm_config_update_notifier="false", npm_config_fund="false")
    _run(
        [
            "npm",
            "install",
            "--prefix",
            str(npm_dir),
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            f"@restatedev/restate-server@{RESTATE_VERSION}",
        ],
        env=env,
    )
    if not binary.exists():
        raise RecordingError(f"npm did not install the server binary at {binary}")
    out = _run([str(binary), "--version"]).stdout
    if RESTATE_VERSION not in out:
        raise RecordingError(f"unexpected restate-server version: {out.strip()}")
    return binary


def install_sdk() -> Path:
    venv = WORK / "venv"
    py = venv / "bin" / "python"
    check = (
        "from importlib.metadata import version as v; import restate, hypercorn; "
        "print(v('restate-sdk'), v('hypercorn'))"
    )
    if py.exists():
        res = subprocess.run([str(py), "-c", check], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if res.returncode == 0 and res.stdout.split() == [SDK_VERSION, HYPERCORN_VERSION]:
            return py
    log(f"creating {venv} with restate-sdk=={SDK_VERSION} hypercorn=={HYPERCORN_VERSION} from PyPI")
    base = getattr(sys, "_base_executable", None) or sys.executable
    _run([base, "-m", "venv", "--clear", str(venv)])
    _run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"restate-sdk=={SDK_VERSION}",
            f"hypercorn=={HYPERCORN_VERSION}",
        ]
    )
    res = _run([str(py), "-c", check])
    if res.stdout.split() != [SDK_VERSION, HYPERCORN_VERSION]:
        raise RecordingError(f"unexpected SDK versions in {venv}: {res.stdout.strip()}")
    return py


# ================================================================== processes
def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the recorder
    except OSError:
        pass


class Processes:
    """Every child process the recorder starts; ``stop_all`` ends each one by its PID."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen, object]] = []

    def start(self, name: str, args: list[str], log_path: Path, env: dict | None = None, cwd: Path | None = None):
        handle = open(log_path, "wb")
        proc = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(cwd) if cwd else None,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.children.append((name, proc, handle))
        log(f"started {name} (pid {proc.pid}), log: {log_path}")
        return proc

    def stop_all(self) -> None:
        for _name, proc, _ in reversed(self.children):
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, proc, handle in reversed(self.children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) ignored SIGTERM; sending SIGKILL")
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=15)
            handle.close()
            log(f"stopped {name} (pid {proc.pid}, exit {proc.returncode})")
        self.children.clear()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ================================================================== HTTP
def call(
    method: str, port: int, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30.0
):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheader("content-type") or "", data
    finally:
        conn.close()


class Restate:
    """The admin and ingress APIs of the server under test."""

    def __init__(self, admin: int, ingress: int) -> None:
        self.admin = admin
        self.ingress = ingress

    # -- admin
    def query(self, sql: str) -> list[dict]:
        for attempt in range(20):
            status, _, data = call(
                "POST",
                self.admin,
                "/query",
                json.dumps({"query": sql}).encode(),
                {"content-type": "application/json", "accept": "application/json"},
            )
            if status == 200:
                return json.loads(data)["rows"]
            if b"non valid invocation id" in data:
                raise InvalidId(sql)
            if status >= 500 and attempt < 19:  # e.g. a partition without a leader yet
                time.sleep(0.2)
                continue
            raise RecordingError(f"query failed {status}: {data[:500]!r}\n{sql}")
        raise AssertionError

    def admin_json(self, method: str, path: str, doc=None):
        body = json.dumps(doc).encode() if doc is not None else None
        status, _, data = call(method, self.admin, path, body, {"content-type": "application/json"})
        if status >= 300:
            raise RecordingError(f"{method} {path} failed {status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def op(self, op_path: str, raw_id: str, query_string: str = ""):
        path = f"/invocations/{raw_id}/{op_path}" + (f"?{query_string}" if query_string else "")
        status, ctype, data = call("PATCH", self.admin, path)
        return status, ctype, data

    # -- ingress
    def send(self, service: str, handler: str, key: str | None = None, arg: str = "x", delay: str | None = None) -> str:
        target = f"/{service}/{urllib.parse.quote(key, safe='')}/{handler}" if key else f"/{service}/{handler}"
        path = target + "/send" + (f"?delay={delay}" if delay else "")
        for attempt in range(50):
            status, _, data = call(
                "POST", self.ingress, path, json.dumps(arg).encode(), {"content-type": "application/json"}
            )
            if status in (200, 202):
                return json.loads(data)["invocationId"]
            if status in (404, 503) and attempt < 49:  # schema or partitions not ready yet
                time.sleep(0.2)
                continue
            raise RecordingError(f"send {path} failed {status}: {data[:500]!r}")
        raise AssertionError


# ================================================================== world snapshots
def parse_duration_s(text: str | None) -> int | None:
    if text is None:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        if unit not in units:
            raise RecordingError(f"unknown duration unit in {text!r}")
        total += float(num) * units[unit]
    return int(round(total))


def sql_list(ids) -> str:
    ids = [i for i in ids if INV_ID_RE.match(i)]
    return ", ".join(f"'{i}'" for i in ids) or "''"


def convert_entry(row: dict) -> dict:
    lite = json.loads(row["entry_lite_json"])
    index = int(row["index"])
    if "Command" in lite:
        cmd = lite["Command"]
        typ, body = (cmd, {}) if isinstance(cmd, str) else next(iter(cmd.items()))
        entry = {"index": index, "kind": "command", "type": typ}
        if row.get("name"):
            entry["name"] = row["name"]
        body = body if isinstance(body, dict) else {}
        cids = [v for k, v in body.items() if k.endswith("completion_id") and isinstance(v, int)]
        if cids:
            entry["completion_ids"] = cids
        return entry
    if "Notification" in lite:
        note = lite["Notification"]
        ty = note.get("ty")
        typ = ty if isinstance(ty, str) else next(iter(ty.values()))
        entry = {"index": index, "kind": "notification", "type": typ}
        nid = note.get("id") or {}
        if isinstance(nid, dict) and "CompletionId" in nid:
            entry["completion_id"] = nid["CompletionId"]
        return entry
    kind, inner = next(iter(lite.items()))
    typ = inner if isinstance(inner, str) else next(iter(inner), kind) if isinstance(inner, dict) else kind
    return {"index": index, "kind": kind.lower(), "type": typ}


class Catalog:
    """What the server has registered: deployments (with our names) and every service ever seen."""

    def __init__(self, rs: Restate) -> None:
        self.rs = rs
        self.dp_names: dict[str, str] = {}  # id -> name
        self.dp_ids: dict[str, str] = {}  # name -> id
        self.services: dict[str, dict] = {}  # insertion order = first registration

    def register(self, name: str, uri: str) -> str:
        doc = self.rs.admin_json("POST", "/deployments", {"uri": uri})
        dp = doc["id"]
        self.dp_names[dp] = name
        self.dp_ids[name] = dp
        self.refresh_services()
        log(f"registered {name} = {dp} ({uri})")
        return dp

    def refresh_services(self) -> None:
        listed = {s["name"]: s for s in self.rs.admin_json("GET", "/services")["services"]}
        order = [s for dname, _ in DEPLOYMENTS if dname in self.dp_ids for s in DEPLOYMENT_SERVICES[dname]]
        for name in order + sorted(listed):
            if name in listed and name not in self.services:
                s = listed[name]
                self.services[name] = {
                    "name": name,
                    "type": SERVICE_TYPES[s["ty"]],
                    "journal_retention_s": parse_duration_s(s.get("journal_retention")),
                }

    def deployments(self) -> list[dict]:
        rows = self.rs.query(
            "SELECT id, created_at, min_service_protocol_version AS lo, max_service_protocol_version AS hi, "
            "services FROM sys_deployment ORDER BY created_at, id"
        )
        out = []
        for r in rows:
            name = self.dp_names.get(r["id"], r["id"])
            declared = DEPLOYMENT_SERVICES.get(name, [])
            services = [s for s in declared if s in r["services"]] + sorted(set(r["services"]) - set(declared))
            out.append({"id": r["id"], "services": services, "protocol": [r["lo"], r["hi"]], "name": name})
        return out


INV_COLUMNS = (
    "id, target_service_name, target_service_key, target_handler_name, target_service_ty, status, "
    "completion_result, pinned_deployment_id, pinned_service_protocol_version, journal_size, retry_count, "
    "created_at, restarted_from, invoked_by"
)


class Reader:
    def __init__(self, rs: Restate, catalog: Catalog) -> None:
        self.rs = rs
        self.catalog = catalog

    def invocations(self, where: str) -> list[dict]:
        try:
            rows = self.rs.query(f"SELECT {INV_COLUMNS} FROM sys_invocation WHERE {where}")
        except InvalidId:
            return []
        cols = [c.strip() for c in INV_COLUMNS.split(",")]
        return [{c: r.get(c) for c in cols} for r in rows]  # the JSON rows leave out NULL columns

    def journals(self, ids) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = collections.defaultdict(list)
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
            r.setdefault("name", None)
            out[r["id"]].append(r)
        for v in out.values():
            v.sort(key=lambda r: int(r["index"]))
        return out

    def status_of(self, inv_id: str) -> str:
        """The lifecycle state in the case format's names, or 'free'."""
        if not INV_ID_RE.match(inv_id):
            return "free"
        rows = self.invocations(f"id = '{inv_id}'")
        return STATUS_MAP[rows[0]["status"]] if rows else "free"

    @staticmethod
    def to_world_invocation(row: dict, journal_rows: list[dict]) -> dict:
        raw = row["status"]
        if raw not in STATUS_MAP:
            raise RecordingError(f"unknown introspection status {raw!r}")
        status = STATUS_MAP[raw]
        completed = status == "completed"
        retained = bool(journal_rows) if completed else True
        inv = {
            "id": row["id"],
            "target": {
                "service": row["target_service_name"],
                "handler": row["target_handler_name"],
                "key": row["target_service_key"] or None,
            },
            "status": status,
            "completion": row["completion_result"] if completed else None,
            "pinned": (
                {"deployment_id": row["pinned_deployment_id"], "protocol": row["pinned_service_protocol_version"]}
                if row["pinned_deployment_id"]
                else None
            ),
            "journal_retained": retained,
            "journal": [convert_entry(j) for j in journal_rows] if retained else [],
        }
        if status == "running" and (raw == "backing-off" or (row.get("retry_count") or 0) > 1):
            inv["retry_count"] = row["retry_count"]  # an extra field the format allows
        return inv

    def world(self, target_id: str | None, lock_key: tuple[str, str] | None = None):
        """The world right now: every deployment, every service, the target and its VO key's other holders."""
        deployments = self.catalog.deployments()
        services = list(self.catalog.services.values())
        rows: list[dict] = []
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
        invocations = [self.to_world_invocation(r, journals.get(r["id"], [])) for r in rows]
        world = {"deployments": deployments, "services": services, "invocations": invocations}
        return world, rows, journals


# ================================================================== cases
def decode_query(qs: str):
    pairs = urllib.parse.parse_qsl(qs, keep_blank_values=True)
    first: dict[str, str] = {}
    for k, v in pairs:
        first.setdefault(k, v)
    keys = [k for k, _ in pairs]
    return pairs, first, keys


def transport_of(qs: str) -> str:
    pairs, first, keys = decode_query(qs)
    if any(k not in ("from", "deployment") for k in keys) or len(keys) != len(set(keys)):
        return "http"
    if "from" in first:
        v = first["from"]
        if not re.fullmatch(r"[0-9]+", v) or int(v) > U32_MAX:
            return "http"
    return "any"


def error_message(ctype: str, data: bytes):
    if not data:
        return None
    if "json" in ctype:
        doc = json.loads(data)
        if isinstance(doc, dict) and "message" in doc:
            return doc["message"]
    return data.decode("utf-8", errors="replace")


class Recorder:
    def __init__(self, rs: Restate, catalog: Catalog) -> None:
        self.rs = rs
        self.catalog = catalog
        self.reader = Reader(rs, catalog)
        self.restart_cases: list[dict] = []
        self.op_cases: list[dict] = []
        self.names: collections.Counter = collections.Counter()
        self.raw = open(WORK / "raw_probes.jsonl", "w")
        self.pending_new: list[tuple[dict, str]] = []
        self.later: list[tuple[dict, str]] = []

    def unique(self, name: str) -> str:
        self.names[name] += 1
        n = self.names[name]
        return name if n == 1 else f"{name}#{n}"

    # -------------------------------------------------------------- restart-as-new
    def probe_restart(self, scenario: str, target: str, qs: str, lock_key=None) -> dict:
        world, rows, journals = self.reader.world(target, lock_key)
        old_rows = journals.get(target, [])
        old_before = next((r for r in rows if r["id"] == target), None)
        status, ctype, data = self.rs.op("restart-as-new", target, qs)
        _, first, _ = decode_query(qs)
        case = {
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
        raw = {"name": case["name"], "status": status, "ctype": ctype, "body": data.decode(errors="replace")}
        if status == 200:
            new_id = json.loads(data)["new_invocation_id"]
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

    def describe_new(self, old_id: str, new_id: str, old_rows: list[dict]) -> dict:
        for _ in range(100):
            rows = self.reader.invocations(f"id = '{new_id}'")
            new_rows = self.reader.journals([new_id]).get(new_id, [])
            if rows and new_rows:
                break
            time.sleep(0.02)
        else:
            raise RecordingError(f"new invocation {new_id} (from {old_id}) never showed up with a journal")
        row = rows[0]
        # Copied entries keep the old entry's appended_at; entries the new run adds carry new times.
        pool: dict[tuple, list[int]] = collections.defaultdict(list)
        for r in old_rows:
            pool[(r["appended_at"], r["entry_lite_json"])].append(int(r["index"]))
        copied: list[int] = []
        prefix_done = False
        for r in new_rows:
            hit = pool.get((r["appended_at"], r["entry_lite_json"]))
            if hit:
                if prefix_done:
                    raise RecordingError(f"{new_id}: copied entry after a new one at index {r['index']}")
                if int(r["index"]) != len(copied):
                    raise RecordingError(f"{new_id}: copied entries are not a prefix")
                copied.append(hit.pop(0))
            else:
                prefix_done = True
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
        statuses = {}
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
        lock_key=None,
        raw_qs: str | None = None,
    ) -> dict:
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
        case = {
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
                before
                and after_rows
                and (
                    STATUS_MAP[after_rows[0]["status"]] != STATUS_MAP[before["status"]]
                    or after_rows[0]["journal_size"] != before["journal_size"]
                )
            )
        )
        raw = {
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
        case["_changed"] = changed
        return case

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


def status_after_is_settled(op: str, status: int) -> bool:
    """status_after is recorded only where the outcome is settled when the call returns."""
    if status >= 400:
        return True  # a refused operation changes nothing
    if op in ("kill", "purge", "purge_journal"):
        return True
    if op == "cancel" and status == 200:
        return True  # scheduled/inboxed: freed at once
    if op == "pause" and status == 200:
        return True  # suspended or paused already: nothing changes
    return False  # 202 cancel/pause, resume: the outcome races with the handler


# ================================================================== driving states
class Driver:
    """Creates invocations and waits until introspection shows them in the wanted state."""

    def __init__(self, rs: Restate, reader: Reader) -> None:
        self.rs = rs
        self.reader = reader
        self.counter = 0

    def key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{os.getpid()}-{self.counter}"

    def wait(self, ids: list[str], want, what: str, timeout: float = 30.0) -> dict[str, dict]:
        """Polls until ``want(row)`` holds for every id; returns the rows."""
        deadline = time.monotonic() + timeout
        rows: dict[str, dict] = {}
        while True:
            rows = {}
            for i in range(0, len(ids), 200):
                for r in self.reader.invocations(f"id IN ({sql_list(ids[i : i + 200])})"):
                    rows[r["id"]] = r
            if all(i in rows and want(rows[i]) for i in ids):
                return rows
            if time.monotonic() > deadline:
                bad = {i: (rows.get(i) or {}).get("status") for i in ids if not (i in rows and want(rows[i]))}
                raise RecordingError(f"timed out waiting for {what}: {bad}")
            time.sleep(0.05)

    def wait_free(self, ids: list[str], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.reader.invocations(f"id IN ({sql_list(ids)})"):
            if time.monotonic() > deadline:
                raise RecordingError(f"timed out waiting for {what} to be freed")
            time.sleep(0.05)

    def op_ok(self, op: str, inv: str, expect=(200, 202)) -> None:
        status, _, data = self.rs.op(OPS[op], inv)
        if status not in expect:
            raise RecordingError(f"setup {op} {inv} answered {status}: {data[:300]!r}")

    # -- one function per state; each creates n invocations and returns [(id, lock_key)]
    def completed(self, n: int, service="Steps", handler="run", key_prefix=None, failure=False):
        ids = [self.rs.send(service, handler, self.key(key_prefix) if key_prefix else None) for _ in range(n)]
        want_result = "failure" if failure else "success"
        self.wait(
            ids,
            lambda r: r["status"] == "completed" and r["completion_result"] == want_result,
            f"{service}.{handler} completed",
        )
        return [(i, None) for i in ids]

    def suspended(self, n: int, service="Waiter", handler="sleep_long", min_journal=4):
        ids = [self.rs.send(service, handler) for _ in range(n)]
        self.wait(
            ids,
            lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= min_journal,
            f"{service}.{handler} suspended",
        )
        return [(i, None) for i in ids]

    def suspended_wf(self, n: int):
        ids = [self.rs.send("WFWait", "run", self.key("wfw")) for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 3, "WFWait.run suspended")
        return [(i, None) for i in ids]

    def holders(self, n: int):
        keys = [self.key("K") for _ in range(n)]
        ids = [self.rs.send("Locker", "hold", k) for k in keys]
        self.wait(ids, lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 4, "Locker.hold holding")
        return [(i, ("Locker", k)) for i, k in zip(ids, keys, strict=True)]

    def inboxed(self, n: int):
        holders = self.holders(n)
        ids = [self.rs.send("Locker", "hold", lk[1]) for _, lk in holders]
        self.wait(ids, lambda r: r["status"] == "pending", "Locker.hold inboxed")
        return [(i, lk) for i, (_, lk) in zip(ids, holders, strict=True)]

    def scheduled(self, n: int):
        ids = [self.rs.send("Steps", "run", delay="1h") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "scheduled", "Steps.run scheduled")
        return [(i, None) for i in ids]

    def running(self, n: int):
        ids = [self.rs.send("Slow", "run") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "running" and (r["journal_size"] or 0) >= 3, "Slow.run running")
        return [(i, None) for i in ids]

    def backing_off(self, n: int):
        ids = [self.rs.send("Retrier", "retry") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "backing-off" and (r["retry_count"] or 0) >= 1, "Retrier backing-off")
        return [(i, None) for i in ids]

    def paused(self, n: int):
        ids = [self.rs.send("Failer", "fail") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "paused", "Failer.fail paused")
        return [(i, None) for i in ids]

    def paused_by_op(self, n: int):
        ids = [i for i, _ in self.backing_off(n)]
        for i in ids:
            self.op_ok("pause", i)
        self.wait(ids, lambda r: r["status"] == "paused", "Retrier.retry paused by the pause operation")
        return [(i, None) for i in ids]

    def ended_by(self, n: int, op: str, service="Waiter", handler="sleep_long", min_journal=4):
        ids = [i for i, _ in self.suspended(n, service, handler, min_journal)]
        for i in ids:
            self.op_ok(op, i)
        self.wait(ids, lambda r: r["status"] == "completed", f"{service}.{handler} {op}ed")
        return [(i, None) for i in ids]

    def journal_purged(self, n: int, service="Steps", handler="run", key_prefix=None):
        ids = [i for i, _ in self.completed(n, service, handler, key_prefix)]
        for i in ids:
            self.op_ok("purge_journal", i, (200,))
        deadline = time.monotonic() + 30
        while self.reader.journals(ids):
            if time.monotonic() > deadline:
                raise RecordingError("journal not purged")
            time.sleep(0.05)
        return [(i, None) for i in ids]

    def purged(self, n: int):
        ids = [i for i, _ in self.completed(n)]
        for i in ids:
            self.op_ok("purge", i, (200,))
        self.wait_free(ids, "purged Steps.run")
        return [(i, None) for i in ids]

    def noret(self, n: int):
        ids = [self.rs.send("StepsNoRet", "run") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "completed", "StepsNoRet.run completed")
        return [(i, None) for i in ids]


# ================================================================== the matrices
def restart_queries(journal_len: int, dp: dict[str, str], unknown_dp: str, extras: bool) -> list[str]:
    ids = [dp[n] for n, _ in DEPLOYMENTS]
    qs = [""]
    qs += [f"from={i}" for i in range(0, max(journal_len + 2, 5))]
    qs += [f"from={v}" for v in (1000, 65536, 2147483647, 2147483648, 4294967294, 4294967295)]
    deps = ["Keep", "Latest", "keep", "latest"] + ids + [unknown_dp, "dp_bogus", "xyz"]
    qs += [f"deployment={d}" for d in deps]
    for f in (1, 0):
        qs += [f"from={f}&deployment={d}" for d in ["Keep", "Latest"] + ids + [unknown_dp]]
    if journal_len > 2:
        qs += [f"from={journal_len - 1}&deployment={d}" for d in ("keep", "latest", dp["D1"])]
    qs += ["from=-1", "from=abc", "from=", "from=1.5", "from=4294967296"]
    if extras:
        d1, d2 = dp["D1"], dp["D2"]
        qs += [
            "from=1&from=2",
            "from=%201",
            "from=+1",
            "from=01",
            "FROM=1",
            "unknown=1",
            f"from=1&deployment[Id]={d2}",
            "from=1&deployment=Id",
            "from=1&deployment=" + urllib.parse.quote(json.dumps({"Id": d2}, separators=(",", ":")), safe=""),
            "from=1&deployment=KEEP",
            "from=1&deployment=",
            "deployment=LATEST",
            "deployment=Keep&deployment=Latest",
            f"deployment={d1}x",
            f"deployment={d1[:-1]}",
            "deployment=dp_",
            "deployment=dp_1",
            "deployment=dp_1" + "!" * 22,
            "deployment=dp_1" + "Z" * 22,
            "deployment=dp_2" + d1[4:],
            "deployment=foo_1abc",
            "deployment=sub_1" + d1[4:],
            f"deployment=inv_1{d1[4:]}00000000000",
            f"deployment=%20{d1}",
            "from=2&deployment=%6Beep",
        ]
    return qs


def unknown_variant(some_id: str, pos: int) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    c = some_id[pos]
    repl = alphabet[(alphabet.index(c) + 1) % len(alphabet)]
    return some_id[:pos] + repl + some_id[pos + 1 :]


def malformed_ids(real: str, dp1: str) -> list[str]:
    return [
        "inv_bogus",
        "not-an-id",
        real[:-1],
        real + "x",
        "inv_2" + real[5:],
        dp1,
        "KEEP",
        "inv_",
        "inv_1",
        "foo_1" + real[5:],
        "inv_1" + real[5:16] + "!" + real[17:],
        "inv_1ZZZZZZZZZZZ" + real[16:],
        "inv_1" + real[5:16] + "Z" * 22,
        "sub_1" + real[5:],
        "inv-1" + real[5:],
    ]


# ================================================================== the run
def take_lock():
    """One recording at a time per checkout: they would share recording/.work."""
    import fcntl

    handle = open(WORK / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        raise RecordingError(f"another recording is running in this checkout ({WORK / '.lock'} is locked)") from err
    return handle


def run(args) -> int:
    t_start = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    lock = None if args.in_netns else take_lock()  # noqa: F841 - held until the process ends
    binary = install_server()
    sdk_python = install_sdk()
    if not args.in_netns:
        log(f"installed in {time.monotonic() - t_start:.1f}s")
        if not args.no_netns:
            rc = run_in_private_network()
            if rc is not None:
                log(f"total {time.monotonic() - t_start:.1f}s, exit code {rc}")
                return rc
            log("cannot make a private network namespace (needs root and unshare): recording in this one")
    else:
        loopback_up()
        log("in a private network namespace: loopback only, nothing can leave this machine")
    procs = Processes()
    try:
        ports = {"admin": free_port(), "ingress": free_port(), "fabric": free_port(), "services": free_port()}
        if len(set(ports.values())) != len(ports):
            raise RecordingError("could not pick distinct free ports")
        data_dir = WORK / "restate-data"
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True)
        config = WORK / "restate.toml"
        config.write_text(SERVER_CONFIG.format(**ports))
        server_log = WORK / "server.log"
        server = procs.start(
            "restate-server",
            [
                str(binary),
                "--config-file",
                str(config),
                "--base-dir",
                str(data_dir),
                "--node-name",
                "recorder",
                "--no-logo",
            ],
            server_log,
            env=dict(os.environ, RUST_LOG_STYLE="never", NO_COLOR="1"),
        )
        svc_log = WORK / "services.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        env.pop("VIRTUAL_ENV", None)
        services = procs.start(
            "sdk-services",
            [str(sdk_python), "-m", "recording.serve", "127.0.0.1", str(ports["services"])],
            svc_log,
            env=env,
            cwd=ROOT,
        )
        rs = Restate(ports["admin"], ports["ingress"])
        wait_ready(server, server_log, services, svc_log, rs, ports)
        log(
            f"server and services ready after {time.monotonic() - t_start:.1f}s "
            f"(admin {ports['admin']}, ingress {ports['ingress']}, fabric {ports['fabric']})"
        )
        check_loopback_only(server.pid)
        record_all(rs, ports, args)
        for name, proc, _ in procs.children:
            if proc.poll() is not None:
                raise RecordingError(f"{name} exited early ({proc.returncode})")
    finally:
        procs.stop_all()
    log(f"done in {time.monotonic() - t_start:.1f}s")
    return 0


SERVER_CONFIG = """\
# Written by recording/record.py for one recording run.
cluster-name = "recording"
listen-mode = "tcp"
bind-address = "127.0.0.1:{fabric}"
advertised-address = "http://127.0.0.1:{fabric}/"
disable-telemetry = true
shutdown-timeout = "5s"
log-filter = "warn,restate=info"
log-disable-ansi-codes = true
# Retention: the defaults, spelled out. Nothing expires during a run of a few minutes.
default-journal-retention = "1d"
default-idempotency-retention = "1d"
default-workflow-completion-retention = "1d"

[worker]
cleanup-interval = "1h"

[admin]
bind-address = "127.0.0.1:{admin}"
advertised-address = "http://127.0.0.1:{admin}/"

[ingress]
bind-address = "127.0.0.1:{ingress}"
advertised-address = "http://127.0.0.1:{ingress}/"
"""


def wait_ready(server, server_log, services, svc_log, rs: Restate, ports) -> None:
    deadline = time.monotonic() + 90
    need = {"admin": False, "ingress": False, "query": False, "services": False}
    while not all(need.values()):
        if server.poll() is not None:
            raise RecordingError(f"restate-server exited with {server.returncode}:\n{tail(server_log)}")
        if services.poll() is not None:
            raise RecordingError(f"the SDK services exited with {services.returncode}:\n{tail(svc_log)}")
        if time.monotonic() > deadline:
            raise RecordingError(f"restate-server not reachable after 90s ({need}):\n{tail(server_log)}")
        checks = {
            "admin": (ports["admin"], "GET", "/health", None),
            "ingress": (ports["ingress"], "GET", "/restate/health", None),
            "query": (
                ports["admin"],
                "POST",
                "/query",
                json.dumps({"query": "SELECT count(*) AS n FROM sys_invocation"}).encode(),
            ),
            "services": (ports["services"], "GET", "/_health", None),
        }
        for name, (port, method, path, body) in checks.items():
            if need[name]:
                continue
            try:
                status, _, _ = call(
                    method,
                    port,
                    path,
                    body,
                    {"content-type": "application/json", "accept": "application/json"},
                    timeout=5,
                )
                need[name] = status == 200
            except OSError:
                pass
        time.sleep(0.2)


def check_loopback_only(pid: int) -> None:
    """Fails if the server listens on anything but 127.0.0.1 (reads /proc, Linux only)."""
    if not Path("/proc/net/tcp").exists():
        return
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                listening.append((table, parts[1]))
    bad = [(t, a) for t, a in listening if not (t.endswith("tcp") and a.split(":")[0] == "0100007F")]
    if bad:
        raise RecordingError(f"restate-server listens beyond 127.0.0.1: {bad}")
    log(f"restate-server listens on 127.0.0.1 only ({len(listening)} sockets)")


def record_all(rs: Restate, ports: dict, args) -> None:
    catalog = Catalog(rs)
    rec = Recorder(rs, catalog)
    drv = Driver(rs, rec.reader)
    base = f"http://127.0.0.1:{ports['services']}"
    t0 = time.monotonic()

    # ---- phase A: only D1 is registered, so everything created now is pinned to D1 (protocol 6)
    catalog.register("D1", base + "/d1")
    targets: dict[str, tuple[str, tuple | None]] = {}
    pools: dict[str, list] = {}

    def one(fn, *a, **kw):
        return fn(1, *a, **kw)[0]

    targets["completed_success"] = one(drv.completed)
    targets["completed_mixed"] = one(drv.completed, "Mixed", "mix")
    targets["completed_failure"] = one(drv.completed, "Failer", "terminal", failure=True)
    vo_free = one(drv.completed, "Locker", "quick", key_prefix="Q")
    q_key = rec.reader.invocations(f"id = '{vo_free[0]}'")[0]["target_service_key"]
    targets["completed_vo"] = (vo_free[0], ("Locker", q_key))
    vo_locked = one(drv.completed, "Locker", "quick", key_prefix="QL")
    # lock vo_locked's key with a holder
    status_rows = rec.reader.invocations(f"id = '{vo_locked[0]}'")
    ql_key = status_rows[0]["target_service_key"]
    holder = rs.send("Locker", "hold", ql_key)
    drv.wait([holder], lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 4, "QL holder")
    targets["completed_vo_key_locked"] = (vo_locked[0], ("Locker", ql_key))
    targets["completed_workflow_run"] = one(drv.completed, "WF", "run", key_prefix="wf")
    wf_key = rec.reader.invocations(f"id = '{targets['completed_workflow_run'][0]}'")[0]["target_service_key"]
    wf_status = rs.send("WF", "status", wf_key)
    drv.wait([wf_status], lambda r: r["status"] == "completed", "WF.status completed")
    targets["completed_workflow_shared"] = (wf_status, None)
    targets["completed_noret"] = one(drv.noret)
    targets["journal_purged"] = one(drv.journal_purged)
    targets["workflow_journal_purged"] = one(drv.journal_purged, "WF", "run", key_prefix="wfp")
    targets["purged"] = one(drv.purged)
    targets["killed_while_sleeping"] = one(drv.ended_by, "kill")
    targets["cancelled_while_sleeping"] = one(drv.ended_by, "cancel")
    targets["killed_awaiting_call"] = one(drv.ended_by, "kill", "Mixed", "call_park", 4)
    targets["scheduled_ingress_delay"] = one(drv.scheduled)
    targets["inboxed_hold"] = one(drv.inboxed)
    targets["running_in_run"] = one(drv.running)
    targets["backing_off"] = one(drv.backing_off)
    targets["suspended_sleep"] = one(drv.suspended)
    targets["suspended_awakeable"] = one(drv.suspended, "Waiter", "wait_awakeable", 3)
    targets["suspended_call"] = one(drv.suspended, "Mixed", "call_park", 4)
    targets["suspended_vo_holder"] = one(drv.holders)
    targets["suspended_workflow"] = one(drv.suspended_wf)
    targets["paused"] = one(drv.paused)
    targets["paused_by_operation"] = one(drv.paused_by_op)
    log(f"phase A targets ready ({time.monotonic() - t0:.1f}s)")

    # admin-operation pools, pinned to D1 too (fresh instances for every operation that changes state)
    pool_makers = {
        "scheduled": drv.scheduled,
        "inboxed": drv.inboxed,
        "running": drv.running,
        "backing_off": drv.backing_off,
        "suspended_sleep": drv.suspended,
        "suspended_vo_holder": drv.holders,
        "paused": drv.paused,
        "paused_by_operation": drv.paused_by_op,
        "suspended_workflow": lambda n: drv.suspended_wf(n),
        "completed_success": drv.completed,
        "completed_failure": lambda n: drv.completed(n, "Failer", "terminal", failure=True),
        "completed_workflow": lambda n: drv.completed(n, "WF", "run", key_prefix="wfo"),
        "killed_while_sleeping": lambda n: drv.ended_by(n, "kill"),
        "completed_noret": drv.noret,
        "journal_purged": drv.journal_purged,
        "purged": drv.purged,
    }
    # enough that every instance is pinned to D1 (about one per state-changing probe)
    initial = {
        "scheduled": 4,
        "inboxed": 4,
        "running": 8,
        "backing_off": 8,
        "suspended_sleep": 13,
        "suspended_vo_holder": 12,
        "suspended_workflow": 12,
        "paused": 13,
        "paused_by_operation": 12,
        "completed_success": 4,
        "completed_failure": 3,
        "completed_workflow": 3,
        "killed_while_sleeping": 3,
        "completed_noret": 3,
        "journal_purged": 3,
        "purged": 1,
    }
    for state, n in initial.items():
        pools[state] = pool_makers[state](n)
    log(f"phase A pools ready ({time.monotonic() - t0:.1f}s)")

    # ---- D4 (protocol 5 only) becomes the latest: new invocations are pinned to it with protocol 5
    catalog.register("D4_fake_proto5", base + "/d4")
    targets["completed_proto5"] = one(drv.completed)
    targets["suspended_proto5"] = one(drv.suspended)
    pools["suspended_proto5"] = drv.suspended(12)
    # ---- D2 becomes the latest for the main services; D3 serves Other only
    catalog.register("D2", base + "/d2")
    targets["completed_on_latest"] = one(drv.completed)
    catalog.register("D3_other", base + "/d3")
    # ---- D5 serves Lonely only; one invocation completes on it, then D5 is deleted
    catalog.register("D5_lonely", base + "/d5")
    targets["completed_deleted_deployment"] = one(drv.completed, "Lonely", "run")
    rs.admin_json("DELETE", f"/deployments/{catalog.dp_ids['D5_lonely']}?force=true")
    deadline = time.monotonic() + 30
    while any(d["id"] == catalog.dp_ids["D5_lonely"] for d in catalog.deployments()):
        if time.monotonic() > deadline:
            raise RecordingError("D5 was not deleted")
        time.sleep(0.1)
    log(f"deployments ready, D5 deleted ({time.monotonic() - t0:.1f}s)")

    dp = dict(catalog.dp_ids)
    unknown_dp = unknown_variant(dp["D1"], len(dp["D1"]) - 2)
    assert unknown_dp not in dp.values()

    # ---- restart-as-new in every state
    real = targets["completed_success"][0]
    for scenario, (target, lk) in targets.items():
        jlen = len(rec.reader.journals([target]).get(target, []))
        if jlen == 0:
            jlen = 4
        for qs in restart_queries(jlen, dp, unknown_dp, extras=scenario == "completed_success"):
            rec.probe_restart(scenario, target, qs, lk)
        rec.settle_new()
    for variant in (unknown_variant(real, len(real) - 1), unknown_variant(real, 6)):
        for qs in ("", "from=1", "from=abc", "deployment=dp_bogus", "deployment=latest", "deployment=keep"):
            rec.probe_restart("unknown_id", variant, qs)
    for bad in malformed_ids(real, dp["D1"]):
        for qs in ("", "from=1", "from=abc", "deployment=dp_bogus"):
            rec.probe_restart("malformed_id", bad, qs)
    for qs in ("", "from=1", "from=abc", "deployment=dp_bogus"):
        rec.probe_restart("empty_id", "", qs)
    log(f"restart-as-new: {len(rec.restart_cases)} probes ({time.monotonic() - t0:.1f}s)")

    # ---- the other admin operations in every state
    resume_deps = (
        [None, "Keep", "keep", "Latest", "latest"]
        + [dp[n] for n, _ in DEPLOYMENTS]
        + [unknown_dp, "dp_bogus", "xyz", ""]
    )
    plan: list[tuple[str, str | None, str | None]] = [("purge", None, None), ("purge_journal", None, None)]
    plan += [("resume", d, None) for d in resume_deps]
    plan += [("pause", None, None), ("cancel", None, None), ("kill", None, None)]
    odd_queries = [  # HTTP-only shapes: duplicated or unknown parameters
        ("resume", None, "deployment=keep&deployment=latest"),
        ("resume", None, "DEPLOYMENT=latest"),
        ("resume", None, "deployment=%6Beep"),
        ("cancel", None, "foo=bar"),
    ]
    for state in list(pools):
        maker = pool_makers.get(state)
        current = None
        steps = plan + (odd_queries if state in ("suspended_sleep", "paused", "completed_success") else [])
        for op, dep, raw_qs in steps:
            if current is None:
                if not pools[state]:
                    if maker is None:
                        raise RecordingError(f"pool {state} ran dry")
                    pools[state] = maker(2)
                current = pools[state].pop(0)
            case = rec.probe_op(state, op, current[0], dep, current[1], raw_qs)
            if case.pop("_changed"):
                current = None
        rec.settle_later()
    for variant in (unknown_variant(real, len(real) - 1),):
        for op, dep, _ in plan:
            rec.probe_op("unknown_id", op, variant, dep).pop("_changed")
    for bad in malformed_ids(real, dp["D1"])[:6] + [""]:
        for op in OPS:
            rec.probe_op("malformed_id" if bad else "empty_id", op, bad).pop("_changed")
    log(f"admin operations: {len(rec.op_cases)} probes ({time.monotonic() - t0:.1f}s)")
    rec.raw.close()
    write_outputs(rec)


ALLOWED_STATUS = {"scheduled", "inboxed", "running", "suspended", "paused", "completed"}


def validate_case(c: dict, deleted_dps: set[str]) -> None:
    """Fails loudly when a recorded world is not self-consistent in the case format's terms."""
    name, w = c["name"], c["world"]

    def bad(msg: str):
        raise RecordingError(f"inconsistent world in {name}: {msg}")

    dp_ids = [d["id"] for d in w["deployments"]]
    if len(dp_ids) != len(set(dp_ids)):
        bad("duplicate deployment")
    services = {s["name"]: s for s in w["services"]}
    for d in w["deployments"]:
        for s in d["services"]:
            if s not in services:
                bad(f"deployment {d['name']} serves unknown service {s}")
        if not (isinstance(d["protocol"], list) and len(d["protocol"]) == 2 and d["protocol"][0] <= d["protocol"][1]):
            bad(f"protocol range {d['protocol']}")
    for s in w["services"]:
        if s["type"] not in ("service", "virtual_object", "workflow") or not isinstance(s["journal_retention_s"], int):
            bad(f"service {s}")
    holders: collections.Counter = collections.Counter()
    for inv in w["invocations"]:
        svc = services.get(inv["target"]["service"])
        if svc is None:
            bad(f"{inv['id']} targets an unknown service")
        if (inv["target"]["key"] is None) != (svc["type"] == "service"):
            bad(f"{inv['id']} key does not fit a {svc['type']}")
        if inv["status"] not in ALLOWED_STATUS:
            bad(f"status {inv['status']}")
        if (inv["completion"] is not None) != (inv["status"] == "completed"):
            bad(f"{inv['id']} completion {inv['completion']} with status {inv['status']}")
        if inv["pinned"] and inv["pinned"]["deployment_id"] not in dp_ids + list(deleted_dps):
            bad(f"{inv['id']} pinned to an unknown deployment")
        journal = inv["journal"]
        if not inv["journal_retained"]:
            if journal or inv["status"] != "completed":
                bad(f"{inv['id']} journal not retained but has entries or is not completed")
            continue
        if [e["index"] for e in journal] != list(range(len(journal))) or not journal:
            bad(f"{inv['id']} journal indexes")
        if (journal[0]["kind"], journal[0]["type"]) != ("command", "Input"):
            bad(f"{inv['id']} entry 0 is not the Input command")
        awaited = {cid for e in journal if e["kind"] == "command" for cid in e.get("completion_ids", [])}
        for e in journal:
            if e["kind"] == "notification" and "completion_id" in e and e["completion_id"] not in awaited:
                bad(f"{inv['id']} notification {e['index']} completes no command")
        if svc["type"] == "virtual_object" and inv["status"] in ("running", "suspended", "paused"):
            holders[(svc["name"], inv["target"]["key"])] += 1
    if any(n > 1 for n in holders.values()):
        bad(f"two invocations hold one virtual-object key: {holders}")


def write_outputs(rec: Recorder) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    deleted = {rec.catalog.dp_ids["D5_lonely"]}
    for fname, cases in (("restart_as_new.jsonl", rec.restart_cases), ("admin_ops.jsonl", rec.op_cases)):
        names = [c["name"] for c in cases]
        if len(names) != len(set(names)):
            raise RecordingError(f"duplicate names in {fname}")
        for c in cases:
            c.pop("_changed", None)
            validate_case(c, deleted)
        path = OUT / fname
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for c in cases:  # recording order is fixed by the code, so the order is deterministic
                f.write(json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n")
        tmp.replace(path)
        by_status = collections.Counter(c["expect"]["http_status"] for c in cases)
        log(f"wrote {len(cases)} cases to {path.relative_to(ROOT)}: {dict(sorted(by_status.items()))}")


def run_in_private_network() -> int | None:
    """Runs the recording stage in a new network namespace that has only a loopback interface.

    restate-server 1.7.12 asks GitHub for its latest release at every start (no setting turns that
    off); in the namespace the request cannot leave the machine. Returns the stage's exit code, or
    None when no namespace can be made here.
    """
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return None
    probe = subprocess.run([unshare, "--net", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return None
    child = subprocess.Popen(
        [unshare, "--net", "--", sys.executable, "-m", "recording.record", "--in-netns"],
        cwd=str(ROOT),
        preexec_fn=_die_with_parent,
        stdin=subprocess.DEVNULL,
    )
    log(f"recording stage runs in a private network namespace (pid {child.pid})")

    def forward(signum, _frame):
        if child.poll() is None:
            os.kill(child.pid, signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # only if we are leaving abnormally
            os.kill(child.pid, signal.SIGKILL)
            child.wait()


def loopback_up() -> None:
    """Brings up ``lo`` in a fresh network namespace (what ``ip link set lo up`` does)."""
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, siocgifflags, ifreq))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b"\0" * 14))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-netns",
        action="store_true",
        help="record in the current network namespace (default: a private one when possible)",
    )
    parser.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    parser.parse_args(argv)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(parser.parse_args(argv))
    except RecordingError as e:
        print(f"\nRECORDING FAILED: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
