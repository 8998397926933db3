"""Restate's introspection tables over the model: the recorded schema, and the values the model knows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from fsm.engine import Engine
from grpc_server.sql import query as sql
from grpc_server.sql import tables
from grpc_server.sql.schema import COLUMNS
from recording.sql_schema import TABLES

RECORDED = Path(__file__).resolve().parents[2] / "conformance" / "recorded_sql" / "schema.jsonl"


def test_the_schema_is_the_recorded_one_column_for_column() -> None:
    recorded = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    mine = [
        {"table": t, "column": name.rstrip("!"), "data_type": kind, "nullable": not name.endswith("!")}
        for t in TABLES
        for name, kind in COLUMNS[t]
    ]
    assert mine == recorded and len(mine) == 144


def world() -> tuple[Engine, dict[str, str]]:
    e = Engine(seed=5)
    e.register_service("Steps")
    e.register_service("Locker", "virtual_object")
    dep = e.register_deployment(["Steps", "Locker"], name="v1")
    done = e.call("Steps", "run")
    e.append_command(done, "Run", "charge")
    e.complete_command(done, 1)
    e.complete(done)
    holder = e.call("Locker", "hold", "k")
    inboxed = e.call("Locker", "hold", "k")
    flaky = e.call("Steps", "run")
    e.fail_attempt(flaky, failure="[503] down")
    later = e.call("Steps", "run", delay_ms=60_000)
    restarted = e.restart_as_new(done).new_invocation_id
    return e, {
        "done": done, "holder": holder, "inboxed": inboxed, "flaky": flaky, "later": later,
        "restarted": restarted, "deployment": dep,
    }  # fmt: skip


def ask(e: Engine, query: str, accept: str = "application/json") -> sql.Result:
    return sql.answer(sql.run(tables.build(tables.read(e)), query), accept, _compact)


def rows(e: Engine, query: str) -> list[dict[str, object]]:
    result = ask(e, query)
    assert result.status == 200
    found: list[dict[str, object]] = json.loads(result.body)["rows"]
    return found


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def test_status_words_follow_each_tables_vocabulary() -> None:
    e, ids = world()
    status = {r["id"]: r["status"] for r in rows(e, "SELECT id, status FROM sys_invocation_status")}
    invocation = {r["id"]: r["status"] for r in rows(e, "SELECT id, status FROM sys_invocation")}
    assert status == {
        ids["done"]: "completed", ids["holder"]: "invoked", ids["inboxed"]: "inboxed",
        ids["flaky"]: "invoked", ids["later"]: "scheduled", ids["restarted"]: "invoked",
    }  # fmt: skip
    assert invocation == {
        ids["done"]: "completed", ids["holder"]: "running", ids["inboxed"]: "pending",
        ids["flaky"]: "backing-off", ids["later"]: "scheduled", ids["restarted"]: "running",
    }  # fmt: skip


def test_values_the_model_knows_and_null_columns_left_out_of_json() -> None:
    e, ids = world()
    (done,) = rows(e, f"SELECT * FROM sys_invocation WHERE id = '{ids['done']}'")
    assert done["target"] == "Steps/run" and done["target_service_ty"] == "service"
    assert (done["journal_size"], done["journal_commands_size"], done["completion_result"]) == (4, 3, "success")
    assert done["pinned_deployment_id"] == ids["deployment"] and "trace_id" not in done  # null: left out
    (flaky,) = rows(
        e, f"SELECT retry_count, last_failure, next_retry_at FROM sys_invocation WHERE id = '{ids['flaky']}'"
    )
    assert (flaky["retry_count"], flaky["last_failure"]) == (1, "[503] down") and "next_retry_at" in flaky
    (new,) = rows(e, f"SELECT invoked_by, restarted_from FROM sys_invocation WHERE id = '{ids['restarted']}'")
    assert new == {"invoked_by": "restart_as_new", "restarted_from": ids["done"]}
    assert rows(e, "SELECT id, sequence_number FROM sys_inbox") == [{"id": ids["inboxed"], "sequence_number": 0}]
    assert rows(e, "SELECT invocation_id FROM sys_keyed_service_status") == [{"invocation_id": ids["holder"]}]
    counted = rows(e, "SELECT status, count(*) AS n FROM sys_invocation_status GROUP BY status ORDER BY status")
    assert counted == [
        {"status": "completed", "n": 1}, {"status": "inboxed", "n": 1},
        {"status": "invoked", "n": 3}, {"status": "scheduled", "n": 1},
    ]  # fmt: skip


def test_anything_but_exactly_json_gets_an_arrow_stream_with_restates_types() -> None:
    e, _ = world()
    result = sql.answer(
        sql.run(tables.build(tables.read(e)), "SELECT id, created_at FROM sys_invocation"), "*/*", _compact
    )
    assert result.content_type == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(result.body).read_all()
    assert table.schema.field("id").type == pa.large_string()
    assert table.schema.field("created_at").type == pa.timestamp("ms", tz="+00:00") and table.num_rows == 6


def test_a_result_over_the_limit_is_cut_and_says_so(monkeypatch: object) -> None:

    e, _ = world()
    patch = pytest.MonkeyPatch()
    patch.setattr(sql, "MAX_ROWS", 2)
    try:
        result = sql.answer(
            sql.run(tables.build(tables.read(e)), "SELECT id FROM sys_invocation"), "application/json", _compact
        )
    finally:
        patch.undo()
    assert result.truncated and len(json.loads(result.body)["rows"]) == 2


def test_only_what_a_query_can_read_is_built() -> None:
    assert tables.referenced("SELECT count(*) FROM sys_invocation_status") == {"sys_invocation_status"}
    assert tables.referenced_columns("SELECT * FROM sys_invocation") is None
    assert tables.referenced_columns("SELECT t.* FROM sys_inbox t") is None
    assert tables.referenced_columns("SELECT status, COUNT( * ) FROM sys_invocation GROUP BY status") == {"status"}
    e, ids = world()
    query = "SELECT status, count(*) AS n FROM sys_invocation WHERE id = '" + ids["done"] + "' GROUP BY status"
    built = tables.build(tables.read(e, tables.referenced(query)), tables.referenced_columns(query))
    assert built["sys_invocation"].column("target").null_count == 6  # not asked for: left null
    assert sql.run(built, query).to_pylist() == [{"status": "completed", "n": 1}]


def test_attempts_and_services_read_as_the_model_holds_them() -> None:
    e, ids = world()
    in_flight = rows(e, "SELECT id, in_flight FROM sys_invocation_state ORDER BY id")
    want = {ids["holder"]: True, ids["restarted"]: True, ids["flaky"]: False}  # flaky is backing off
    assert in_flight == [{"id": inv, "in_flight": want[inv]} for inv in sorted(want)]
    services = rows(e, "SELECT name, ty, deployment_id FROM sys_service ORDER BY name")
    assert services == [
        {"name": "Locker", "ty": "virtual_object", "deployment_id": ids["deployment"]},
        {"name": "Steps", "ty": "service", "deployment_id": ids["deployment"]},
    ]
    (version,) = rows(e, f"SELECT created_using_restate_version AS v FROM sys_invocation WHERE id = '{ids['done']}'")
    assert version == {"v": "1.7.12"}
