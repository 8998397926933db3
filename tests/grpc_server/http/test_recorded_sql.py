"""``POST /query`` answers as restate-server 1.7.12 did, state by state, as JSON and as Arrow.

``recording/sql_values.py`` drove one invocation into each state of its ``SCENARIOS`` on a real
server and recorded what each query of its ``QUERIES`` answered. Here the same invocations are made
in the model, step for step as ``recording/services.py``'s handlers took them, and every recorded
query is asked again over HTTP: same status, same content type, same rows (JSON), same schema and
values (Arrow, compared as tables).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from fsm.engine import Engine
from grpc_server.server import Server
from recording.sql_values import QUERIES, SCENARIOS, SHARED_QUERIES, fill, roles

from .conftest import Client

RECORDED = Path(__file__).resolve().parents[2] / "conformance" / "recorded_sql" / "values.jsonl"
LINES = [json.loads(line) for line in RECORDED.read_text(encoding="utf-8").splitlines()]
#: The real handlers' sleep (recording/services.py's LONG) and failures, as they were recorded.
LONG_MS = 2 * 3_600_000


def steps(e: Engine, inv: str, *names: str) -> None:
    """``ctx.run`` steps that returned: each a Run command and its completion."""
    for name in names:
        e.complete_command(inv, e.append_command(inv, "Run", name).completion_ids[0])


def completed(e: Engine) -> dict[str, str]:
    inv = e.call("Steps", "run")
    steps(e, inv, "step1", "step2", "step3")
    e.complete(inv)
    return {"id": inv}


def failed(e: Engine) -> dict[str, str]:
    inv = e.call("Failer", "terminal")
    steps(e, inv, "ok-step")
    e.complete(inv, False, failure="[500] terminal failure")
    return {"id": inv}


def sleeping(e: Engine) -> str:
    inv = e.call("Waiter", "sleep_long")
    steps(e, inv, "before")
    e.sleep(inv, LONG_MS)
    return inv


def killed(e: Engine) -> dict[str, str]:
    inv = sleeping(e)
    e.kill(inv)
    return {"id": inv}


def cancelled(e: Engine) -> dict[str, str]:
    inv = sleeping(e)
    e.cancel(inv)  # the handler sees the cancel signal and ends with its failure
    e.complete(inv, False, failure="[409] cancelled")
    return {"id": inv}


def journal_purged(e: Engine) -> dict[str, str]:
    made = completed(e)
    e.purge_journal(made["id"])
    return made


def restarted(e: Engine) -> dict[str, str]:
    old = completed(e)["id"]
    new = e.restart_as_new(old).new_invocation_id
    steps(e, new, "step1", "step2", "step3")
    e.complete(new)
    return {"id": new, "old": old}


def running(e: Engine) -> dict[str, str]:
    inv = e.call("Slow", "run")
    steps(e, inv, "before")
    e.append_command(inv, "Run", "slow")
    return {"id": inv}


def backing_off(e: Engine) -> dict[str, str]:
    inv = e.call("Retrier", "retry")
    steps(e, inv, "ok-step")
    e.fail_attempt(inv, failure="[500 Internal] RuntimeError('transient failure, retrying')")
    return {"id": inv}


def paused(e: Engine) -> dict[str, str]:
    inv = e.call("Failer", "fail")
    steps(e, inv, "ok-step")
    e.fail_attempt(inv, max_attempts=1, on_max_attempts="pause", failure="[500 Internal] boom")
    return {"id": inv}


def holder_and_inboxed(e: Engine) -> dict[str, str]:
    holder = e.call("Locker", "nap", "nap")
    e.append_command(holder, "SetState")
    steps(e, holder, "publish")
    e.sleep(holder, LONG_MS)
    return {"holder": holder, "inboxed": e.call("Locker", "nap", "nap")}


MODEL: dict[str, Callable[[Engine], dict[str, str]]] = {
    "completed": completed,
    "failed": failed,
    "killed": killed,
    "cancelled": cancelled,
    "journal_purged": journal_purged,
    "restarted": restarted,
    "suspended": lambda e: {"id": sleeping(e)},
    "scheduled": lambda e: {"id": e.call("Steps", "run", delay_ms=3_600_000)},
    "running": running,
    "backing_off": backing_off,
    "paused": paused,
    "holder_and_inboxed": holder_and_inboxed,
}


def world() -> tuple[Engine, dict[str, dict[str, str]]]:
    """The recording's scenarios in a model world: scenario (``name`` or ``name.role``) -> ids."""
    e = Engine(seed=11)
    for name in ("Steps", "Failer", "Waiter", "Slow", "Retrier"):
        e.register_service(name)
    e.register_service("Locker", "virtual_object")
    e.register_deployment(["Steps", "Failer", "Waiter", "Slow", "Retrier", "Locker"], name="D1")
    made: dict[str, dict[str, str]] = {}
    for name in SCENARIOS:
        for role, filled in roles(MODEL[name](e)):
            made[f"{name}.{role}" if role else name] = filled
    return e, made


def answer(client: Client, query: str, accept: str) -> dict[str, Any]:
    got = client.request("POST", "/query", {"query": query}, headers={"accept": accept})
    line: dict[str, Any] = {"accept": accept, "status": got.status, "content_type": got.content_type or ""}
    if got.content_type == "application/vnd.apache.arrow.stream":
        line["body_base64"] = base64.b64encode(got.body).decode("ascii")
    else:
        line["body"] = got.body.decode("utf-8", "replace")
    return line


def comparable(line: dict[str, Any]) -> Any:
    """What must be equal: status, content type, and the body as rows (JSON) or a table (Arrow)."""
    if "body_base64" in line:
        table = pa.ipc.open_stream(base64.b64decode(line["body_base64"])).read_all()
        return line["status"], line["content_type"], table.schema, table.to_pylist()
    return line["status"], line["content_type"], json.loads(line["body"])


def test_every_scenario_and_query_was_recorded_in_both_formats() -> None:
    scenarios = {line["scenario"] for line in LINES}
    assert scenarios == {*world()[1], "all"}
    assert len(LINES) == 2 * (len(QUERIES) * (len(scenarios) - 1) + len(SHARED_QUERIES))
    assert {line["content_type"] for line in LINES} == {"application/json", "application/vnd.apache.arrow.stream"}


def test_every_recorded_query_answers_as_restate_server_did(http_server: Server, client: Client) -> None:
    engine, made = world()
    http_server.world.replace(engine)
    every = [ids["id"] for ids in made.values()]
    different = []
    for line in LINES:
        ids = made.get(line["scenario"], {})
        mine = answer(client, fill(line["query"], ids, every), line["accept"])
        if comparable(mine) != comparable(line):
            different.append((line["scenario"], line["query"], line["accept"], comparable(line), comparable(mine)))
    assert not different, "\n\n".join(map(str, different[:5])) + f"\n\n({len(different)} differ)"
