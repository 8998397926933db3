"""recording.probes: one admin call -> one case, checked against a fake server's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recording.common import RecordingError
from recording.probes import Recorder, copied_indexes
from recording.world import Catalog, JournalRow, journal_row

from .fakes import DP1, INPUT, INV_A, INV_B, INV_C, OUTPUT, RUN1, RUN1_DONE, FakeRestate, inv_row, journal

RUN2 = '{"Command":{"Run":{"completion_id":2,"name":"step2"}}}'


def rows(raw: list[dict[str, object]]) -> list[JournalRow]:
    return [journal_row(r) for r in raw]


# ------------------------------------------------------------------ copied_indexes
def test_copied_entries_are_found_by_their_old_append_time() -> None:
    old = rows(journal(INV_A, INPUT, RUN1, RUN1_DONE, OUTPUT))
    new = rows(journal(INV_B, INPUT, RUN1, RUN1_DONE)) + rows(journal(INV_B, RUN2, at="t1"))[:1]
    new[3]["index"] = 3
    assert copied_indexes(INV_B, old, new) == [0, 1, 2]


def test_an_entry_the_new_run_wrote_again_is_not_a_copy() -> None:
    old = rows(journal(INV_A, INPUT, RUN1))
    new = rows(journal(INV_B, INPUT)) + [
        journal_row({"id": INV_B, "index": 1, "appended_at": "t9", "entry_lite_json": RUN1})
    ]
    assert copied_indexes(INV_B, old, new) == [0]


def test_identical_old_entries_are_matched_in_order() -> None:
    old = [journal_row({"id": INV_A, "index": i, "appended_at": "t", "entry_lite_json": INPUT}) for i in (0, 1)]
    new = [journal_row({"id": INV_B, "index": i, "appended_at": "t", "entry_lite_json": INPUT}) for i in (0, 1)]
    assert copied_indexes(INV_B, old, new) == [0, 1]


def test_a_copy_after_a_new_entry_fails() -> None:
    old = rows(journal(INV_A, INPUT, RUN1))
    new = rows(journal(INV_B, INPUT, at="t1")) + rows(journal(INV_A, INPUT, RUN1))[1:]
    with pytest.raises(RecordingError, match=f"{INV_B}: copied entry after a new one at index 1"):
        copied_indexes(INV_B, old, new)


def test_copies_that_do_not_start_at_zero_fail() -> None:
    old = rows(journal(INV_A, INPUT, RUN1))
    with pytest.raises(RecordingError, match=f"{INV_B}: copied entries are not a prefix"):
        copied_indexes(INV_B, old, rows(journal(INV_A, INPUT, RUN1))[1:])


# ------------------------------------------------------------------ the Recorder on a fake server
def recorder(tmp_path: Path) -> tuple[Recorder, FakeRestate]:
    rs = FakeRestate()
    return Recorder(rs, Catalog(rs), tmp_path / "raw.jsonl"), rs


def raw_lines(rec: Recorder, tmp_path: Path) -> list[dict[str, object]]:
    rec.close()
    return [json.loads(line) for line in (tmp_path / "raw.jsonl").read_text().splitlines()]


def test_unique_names_get_a_counter_from_the_second_on(tmp_path: Path) -> None:
    rec, _ = recorder(tmp_path)
    assert [rec.unique(n) for n in ("a", "b", "a", "a")] == ["a", "b", "a#2", "a#3"]
    rec.close()


def test_a_refused_operation_records_the_message_and_the_unchanged_state(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.invocations = {INV_A: inv_row(INV_A, "suspended")}
    rs.journals = {INV_A: journal(INV_A, INPUT, RUN1)}
    rs.answers = [(409, "application/json", b'{"message":"Cannot purge a running invocation"}')]
    assert rec.probe_op("suspended_sleep", "purge", INV_A) is False
    (case,) = rec.op_cases
    assert rs.ops == [("purge", INV_A, "")]
    assert case["name"] == "suspended_sleep/purge"
    assert case["operation"] == "purge" and case["transport"] == "any"
    assert case["request"] == {"invocation_id": INV_A, "from": None, "deployment": None, "query_string": ""}
    assert case["expect"] == {
        "http_status": 409,
        "message": "Cannot purge a running invocation",
        "status_after": "suspended",
    }
    assert [i["id"] for i in case["world"]["invocations"]] == [INV_A]
    assert raw_lines(rec, tmp_path) == [
        {
            "name": "suspended_sleep/purge",
            "status": 409,
            "ctype": "application/json",
            "body": '{"message":"Cannot purge a running invocation"}',
            "before": "suspended",
            "after_raw": "suspended",
            "pinned_before": DP1,
            "pinned_after": DP1,
        }
    ]


def test_kill_changes_the_target_and_records_where_it_went(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.invocations = {INV_A: inv_row(INV_A, "suspended")}
    rs.after_op = {INV_A: inv_row(INV_A, "completed", completion_result="failure")}
    rs.answers = [(200, "application/json", b"{}")]
    assert rec.probe_op("suspended_sleep", "kill", INV_A) is True
    assert rec.op_cases[0]["expect"] == {"http_status": 200, "message": None, "body": {}, "status_after": "completed"}
    assert raw_lines(rec, tmp_path) == []  # a 2xx target's raw line waits for settle_later


def test_resume_records_the_new_pinning_and_no_racy_state(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.invocations = {INV_A: inv_row(INV_A, "paused")}
    rs.after_op = {INV_A: inv_row(INV_A, "running", pinned_deployment_id="dp_1other")}
    rs.answers = [(200, "text/plain", b"")]
    assert rec.probe_op("paused", "resume", INV_A, deployment="latest") is True
    (case,) = rec.op_cases
    assert rs.ops == [("resume", INV_A, "deployment=latest")]
    assert case["name"] == "paused/resume?deployment=latest"
    assert case["request"]["deployment"] == "latest"
    assert case["expect"] == {"http_status": 200, "message": None, "pinned_deployment_after": "dp_1other"}


def test_a_raw_query_string_is_sent_as_is_and_may_need_http(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.invocations = {INV_A: inv_row(INV_A, "paused")}
    rs.answers = [(400, "text/plain", b"Invalid query")]
    rec.probe_op("paused", "resume", INV_A, raw_qs="deployment=keep&deployment=latest")
    (case,) = rec.op_cases
    assert rs.ops == [("resume", INV_A, "deployment=keep&deployment=latest")]
    assert (case["transport"], case["request"]["deployment"]) == ("http", "keep")
    assert case["expect"]["message"] == "Invalid query"
    rec.close()


def test_an_operation_on_a_malformed_id_targets_nothing(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.answers = [(400, "application/json", b'{"message":"bad id"}')]
    assert rec.probe_op("malformed_id", "cancel", "inv_bogus") is False
    assert rec.op_cases[0]["expect"] == {"http_status": 400, "message": "bad id", "status_after": "free"}
    assert rec.op_cases[0]["world"]["invocations"] == []
    assert not any("sys_invocation" in q for q in rs.queries)
    rec.close()


def restart_world(rs: FakeRestate, new_id: str) -> None:
    rs.invocations = {INV_A: inv_row(INV_A, journal_size=4)}
    rs.journals = {
        INV_A: journal(INV_A, INPUT, RUN1, RUN1_DONE, OUTPUT),
        new_id: journal(new_id, INPUT, RUN1) + [dict(journal(new_id, RUN2, at="t1")[0], index=2)],
    }
    rs.after_op = {new_id: inv_row(new_id, "pending", journal_size=3, restarted_from=INV_A)}
    rs.answers = [(200, "application/json", json.dumps({"new_invocation_id": new_id}).encode())]


def test_a_restart_records_the_new_invocation_and_later_its_status(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    restart_world(rs, INV_B)
    case = rec.probe_restart("completed_success", INV_A, "from=2")
    assert rs.ops == [("restart-as-new", INV_A, "from=2")]
    assert case["name"] == "completed_success/from=2"
    assert case["request"] == {"invocation_id": INV_A, "from": "2", "deployment": None, "query_string": "from=2"}
    assert case["expect"] == {
        "http_status": 200,
        "message": None,
        "new_invocation": {
            "copied_indexes": [0, 1],
            "pinned_deployment_id": DP1,
            "pinned_protocol": 6,
            "status": "inboxed",
            "restarted_from": INV_A,
        },
    }
    assert "recorded_new_status" not in case
    rec.settle_new()
    assert case["recorded_new_status"] == "pending"
    assert list(case) == ["name", "transport", "world", "request", "expect", "recorded_new_status"]
    assert raw_lines(rec, tmp_path)[0]["new_id"] == INV_B


def test_a_restart_whose_new_id_is_on_another_partition_fails(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    restart_world(rs, INV_C)
    with pytest.raises(RecordingError, match=f"{INV_C}: not the partition key of {INV_A}"):
        rec.probe_restart("completed_success", INV_A, "")
    rec.close()


def test_a_restart_that_changes_the_old_invocation_fails(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    restart_world(rs, INV_B)
    rs.after_op[INV_A] = inv_row(INV_A, journal_size=5)
    with pytest.raises(RecordingError, match="completed_success/none: the old invocation changed after a restart"):
        rec.probe_restart("completed_success", INV_A, "")
    rec.close()


def test_a_refused_restart_keeps_the_restate_code_in_the_raw_line_only(tmp_path: Path) -> None:
    rec, rs = recorder(tmp_path)
    rs.answers = [
        (409, "application/json", b'{"message":"Not completed","restate_code":"RT0017"}'),
        (400, "text/plain", b"Invalid from"),
    ]
    rec.probe_restart("unknown_id", INV_C, "")
    rec.probe_restart("unknown_id", INV_C, "from=abc")
    first, second = rec.restart_cases
    assert first["expect"] == {"http_status": 409, "message": "Not completed"}
    assert (second["name"], second["transport"], second["expect"]["message"]) == (
        "unknown_id/from=abc",
        "http",
        "Invalid from",
    )
    assert [r.get("restate_code") for r in raw_lines(rec, tmp_path)] == ["RT0017", None]
