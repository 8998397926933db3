"""The case format (``../shared/spec/cases-format.md``): its shapes, its request fields, its checks, its files.

Pure: no server here. :mod:`recording.world` fills a :class:`World` from the server,
:mod:`recording.probes` builds a :class:`Case` around each admin call, :func:`validate_case`
refuses a world that is not self-consistent and :func:`write_outputs` writes the ``.jsonl`` files.
"""

from __future__ import annotations

import collections
import json
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, NotRequired, TypedDict, get_args

from .common import RecordingError, log, shown

#: The lifecycle states of the case format.
Status = Literal["scheduled", "inboxed", "running", "suspended", "paused", "completed"]
ALLOWED_STATUS: frozenset[str] = frozenset(get_args(Status))
SERVICE_TYPE_NAMES = ("service", "virtual_object", "workflow")
#: Operation name in the cases -> path segment of ``PATCH /invocations/{id}/...``.
OPS = {
    "cancel": "cancel",
    "kill": "kill",
    "purge": "purge",
    "purge_journal": "purge-journal",
    "pause": "pause",
    "resume": "resume",
}
U32_MAX = 4294967295


class Entry(TypedDict):
    """A journal entry: a command or a notification (``completion_id`` ties them)."""

    index: int
    kind: str
    type: str
    name: NotRequired[str]
    completion_ids: NotRequired[list[int]]
    completion_id: NotRequired[int]


class Target(TypedDict):
    service: str
    handler: str
    key: str | None


class Pinned(TypedDict):
    deployment_id: str
    protocol: int | None


class Invocation(TypedDict):
    id: str
    target: Target
    status: Status
    completion: str | None
    pinned: Pinned | None
    journal_retained: bool
    journal: list[Entry]
    retry_count: NotRequired[int | None]  # an extra field the format allows (backing-off)


class Deployment(TypedDict):
    id: str
    services: list[str]
    protocol: list[int]  # [min, max]
    name: str


class Service(TypedDict):
    name: str
    type: str
    journal_retention_s: int | None


class World(TypedDict):
    deployments: list[Deployment]
    services: list[Service]
    invocations: list[Invocation]


# "from" is a keyword, hence the functional form.
Request = TypedDict(
    "Request",
    {"invocation_id": str, "from": str | None, "deployment": str | None, "query_string": str},
)


class NewInvocation(TypedDict):
    copied_indexes: list[int]
    pinned_deployment_id: str | None
    pinned_protocol: int | None
    status: str
    restarted_from: str | None


class Expect(TypedDict):
    http_status: int
    message: str | None
    new_invocation: NotRequired[NewInvocation]
    body: NotRequired[Any]  # a 2xx answer's JSON, as the server sent it
    status_after: NotRequired[str]
    pinned_deployment_after: NotRequired[str | None]


class Case(TypedDict):
    name: str
    operation: NotRequired[str]  # absent: restart-as-new
    transport: Literal["any", "http"]
    world: World
    request: Request
    expect: Expect
    recorded_new_status: NotRequired[str]


# ------------------------------------------------------------------ requests and answers
def decode_query(qs: str) -> tuple[list[tuple[str, str]], dict[str, str], list[str]]:
    """``(pairs, first value of each key, keys in order)`` of a query string."""
    pairs = urllib.parse.parse_qsl(qs, keep_blank_values=True)
    first: dict[str, str] = {}
    for k, v in pairs:
        first.setdefault(k, v)
    keys = [k for k, _ in pairs]
    return pairs, first, keys


def transport_of(qs: str) -> Literal["any", "http"]:
    """``http`` for a query string a typed facade cannot express (unknown or repeated keys, odd ``from``)."""
    _, first, keys = decode_query(qs)
    if any(k not in ("from", "deployment") for k in keys) or len(keys) != len(set(keys)):
        return "http"
    if "from" in first:
        v = first["from"]
        if not re.fullmatch(r"[0-9]+", v) or int(v) > U32_MAX:
            return "http"
    return "any"


def error_message(ctype: str, data: bytes) -> str | None:
    """The JSON ``message`` of an error answer, else its whole text body (None when empty)."""
    if not data:
        return None
    if "json" in ctype:
        doc = json.loads(data)
        if isinstance(doc, dict) and "message" in doc:
            message: str = doc["message"]
            return message
    return data.decode("utf-8", errors="replace")


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


# ------------------------------------------------------------------ checks and files
def validate_case(c: Case, deleted_dps: set[str]) -> None:
    """Fails loudly when a recorded world is not self-consistent in the case format's terms."""
    name, w = c["name"], c["world"]

    def bad(msg: str) -> NoReturn:
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
    for service in w["services"]:
        if service["type"] not in SERVICE_TYPE_NAMES or not isinstance(service["journal_retention_s"], int):
            bad(f"service {service}")
    holders: collections.Counter[tuple[str, str | None]] = collections.Counter()
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


def check_cases(files: dict[str, list[Case]], deleted_dps: set[str]) -> None:
    """Every case valid, every name unique in its file; else :class:`RecordingError`."""
    for fname, cases in files.items():
        names = [c["name"] for c in cases]
        if len(names) != len(set(names)):
            raise RecordingError(f"duplicate names in {fname}")
        for c in cases:
            validate_case(c, deleted_dps)


def write_jsonl(path: Path, lines: Sequence[object], compact: bool = True) -> None:
    """One JSON document per line, written to a temporary file first and then moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    separators = (",", ":") if compact else None
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:  # recording order is fixed by the code, so the order is deterministic
            f.write(json.dumps(line, ensure_ascii=False, separators=separators) + "\n")
    tmp.replace(path)


def write_outputs(out_dir: Path, files: dict[str, list[Case]], deleted_dps: set[str]) -> None:
    """Validates every case, then writes each file (name -> cases, in recording order) atomically."""
    check_cases(files, deleted_dps)
    for fname, cases in files.items():
        path = out_dir / fname
        write_jsonl(path, cases)
        by_status = collections.Counter(c["expect"]["http_status"] for c in cases)
        log(f"wrote {len(cases)} cases to {shown(path)}: {dict(sorted(by_status.items()))}")
