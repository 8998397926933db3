"""recording.world: rows to the case format, and the world a Reader assembles (on a fake server)."""

from __future__ import annotations

import json

import pytest

from recording.common import RecordingError
from recording.world import (
    INV_COLUMNS,
    Catalog,
    JournalRow,
    Reader,
    convert_entry,
    invocation_row,
    journal_row,
    parse_duration_s,
    sql_list,
    to_world_invocation,
)

from .fakes import DP1, DP2, INPUT, INV_A, INV_B, INV_C, OUTPUT, RUN1, RUN1_DONE, FakeRestate, inv_row, journal


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (None, None),
        ("1d", 86400),
        ("0s", 0),
        ("1h 30m", 5400),
        ("2min", 120),
        ("1w", 604800),
        ("1500ms", 2),  # 1.5 s rounds to the even 2
        ("2500ms", 2),  # 2.5 s rounds to the even 2 too
        ("1.5h", 5400),
        ("", 0),
    ],
)
def test_parse_duration_s(text: str | None, seconds: int | None) -> None:
    assert parse_duration_s(text) == seconds


def test_parse_duration_s_refuses_an_unknown_unit() -> None:
    with pytest.raises(RecordingError, match="unknown duration unit in '1day'"):
        parse_duration_s("1day")


def test_sql_list_keeps_only_well_formed_ids() -> None:
    assert sql_list([INV_A, "inv_bogus", INV_B, "x' OR '1'='1"]) == f"'{INV_A}', '{INV_B}'"
    assert sql_list(["inv_bogus"]) == "''"
    assert sql_list([]) == "''"
    assert sql_list(iter([INV_C])) == f"'{INV_C}'"


def test_inv_columns_are_the_row_fields_in_order() -> None:
    assert INV_COLUMNS == (
        "id, target_service_name, target_service_key, target_handler_name, target_service_ty, status, "
        "completion_result, pinned_deployment_id, pinned_service_protocol_version, journal_size, retry_count, "
        "created_at, restarted_from, invoked_by"
    )


def test_invocation_row_fills_left_out_columns_with_none() -> None:
    row = invocation_row({"id": INV_A, "status": "running", "extra": 1})
    assert row["id"] == INV_A and row["status"] == "running"
    assert row["target_service_key"] is None and row["retry_count"] is None
    assert "extra" not in row
    assert len(row) == 14


def test_journal_row_reads_the_index_as_an_int_and_a_missing_name_as_none() -> None:
    assert journal_row({"id": INV_A, "index": "3", "entry_type": "Command: Run", "entry_lite_json": RUN1}) == {
        "id": INV_A,
        "index": 3,
        "entry_type": "Command: Run",
        "name": None,
        "appended_at": None,
        "entry_lite_json": RUN1,
    }


def entry(lite: str, index: int = 0, name: str | None = None) -> JournalRow:
    return {"id": INV_A, "index": index, "entry_type": None, "name": name, "appended_at": None, "entry_lite_json": lite}


# entry_lite_json as restate-server 1.7.12 writes it in sys_journal
CALL = (
    '{"Command":{"Call":{"invocation_id":"inv_14lfQfeMq3fX29xjbqm3vcYDMsty46fHVv","invocation_target":'
    '{"Service":{"name":"Helper","handler":"echo","scope":null}},"invocation_id_completion_id":2,'
    '"result_completion_id":3}}}'
)
SIGNAL = '{"Notification":{"ty":"Signal","id":{"SignalIndex":17},"result":"Success"}}'


@pytest.mark.parametrize(
    ("lite", "name", "expected"),
    [
        (INPUT, "", {"index": 5, "kind": "command", "type": "Input"}),
        (RUN1, "step1", {"index": 5, "kind": "command", "type": "Run", "name": "step1", "completion_ids": [1]}),
        (CALL, "", {"index": 5, "kind": "command", "type": "Call", "completion_ids": [2, 3]}),
        ('{"Command":{"SetState":{"key":"holder"}}}', None, {"index": 5, "kind": "command", "type": "SetState"}),
        ('{"Command":"GetPromise"}', None, {"index": 5, "kind": "command", "type": "GetPromise"}),
        (RUN1_DONE, None, {"index": 5, "kind": "notification", "type": "Run", "completion_id": 1}),
        (SIGNAL, None, {"index": 5, "kind": "notification", "type": "Signal"}),
        ('{"Event":{"TransientError":{}}}', None, {"index": 5, "kind": "event", "type": "TransientError"}),
        ('{"Event":"Paused"}', None, {"index": 5, "kind": "event", "type": "Paused"}),
        ('{"Event":{}}', None, {"index": 5, "kind": "event", "type": "Event"}),
    ],
)
def test_convert_entry(lite: str, name: str | None, expected: dict[str, object]) -> None:
    assert convert_entry(entry(lite, 5, name)) == expected


def test_a_completed_invocation_with_its_journal() -> None:
    row = invocation_row(inv_row(INV_A, journal_size=2))
    rows = [journal_row(r) for r in journal(INV_A, INPUT, OUTPUT)]
    assert to_world_invocation(row, rows) == {
        "id": INV_A,
        "target": {"service": "Steps", "handler": "run", "key": None},
        "status": "completed",
        "completion": "success",
        "pinned": {"deployment_id": DP1, "protocol": 6},
        "journal_retained": True,
        "journal": [
            {"index": 0, "kind": "command", "type": "Input"},
            {"index": 1, "kind": "command", "type": "Output"},
        ],
    }


def test_a_completed_invocation_without_journal_rows_has_not_retained_it() -> None:
    inv = to_world_invocation(invocation_row(inv_row(INV_A, pinned_deployment_id=None)), [])
    assert (inv["journal_retained"], inv["journal"], inv["pinned"]) == (False, [], None)


def test_a_running_invocation_keeps_its_journal_flag_and_no_completion() -> None:
    inv = to_world_invocation(invocation_row(inv_row(INV_A, "running", completion_result="success")), [])
    assert (inv["status"], inv["completion"], inv["journal_retained"]) == ("running", None, True)
    assert "retry_count" not in inv


@pytest.mark.parametrize(
    ("status", "retry_count", "shown"),
    [("backing-off", 1, 1), ("running", 2, 2), ("running", 1, None), ("suspended", 5, None)],
)
def test_retry_count_is_shown_for_a_retrying_running_invocation(
    status: str, retry_count: int, shown: int | None
) -> None:
    inv = to_world_invocation(invocation_row(inv_row(INV_A, status, retry_count=retry_count)), [])
    assert inv.get("retry_count") == shown


@pytest.mark.parametrize(
    ("raw", "status"),
    [("pending", "inboxed"), ("ready", "running"), ("backing-off", "running"), ("scheduled", "scheduled")],
)
def test_introspection_statuses_map_to_the_case_format(raw: str, status: str) -> None:
    assert to_world_invocation(invocation_row(inv_row(INV_A, raw)), [])["status"] == status


def test_an_unknown_introspection_status_fails() -> None:
    with pytest.raises(RecordingError, match="unknown introspection status 'dreaming'"):
        to_world_invocation(invocation_row(inv_row(INV_A, "dreaming")), [])


# ------------------------------------------------------------------ Catalog and Reader on a fake server
def catalog_with_two_deployments(rs: FakeRestate) -> Catalog:
    catalog = Catalog(rs)
    catalog.dp_names = {DP1: "D1", DP2: "D3_other"}
    catalog.dp_ids = {"D1": DP1, "D3_other": DP2}
    rs.deployment_rows = [
        {"id": DP1, "lo": 5, "hi": 7, "services": ["Zeta", "Steps", "Locker"]},
        {"id": DP2, "lo": 5, "hi": 5, "services": ["Other"]},
        {"id": "dp_1unknownunknownunknown", "lo": 6, "hi": 6, "services": ["B", "A"]},
    ]
    return catalog


def test_deployments_have_our_names_and_declared_services_first() -> None:
    rs = FakeRestate()
    assert catalog_with_two_deployments(rs).deployments() == [
        {"id": DP1, "services": ["Steps", "Locker", "Zeta"], "protocol": [5, 7], "name": "D1"},
        {"id": DP2, "services": ["Other"], "protocol": [5, 5], "name": "D3_other"},
        {
            "id": "dp_1unknownunknownunknown",
            "services": ["A", "B"],
            "protocol": [6, 6],
            "name": "dp_1unknownunknownunknown",
        },
    ]


def test_services_are_listed_in_registration_order_then_by_name_and_never_forgotten() -> None:
    rs = FakeRestate()
    catalog = catalog_with_two_deployments(rs)
    rs.services_doc = [
        {"name": "Zed", "ty": "Service"},
        {"name": "Other", "ty": "Service", "journal_retention": "1d"},
        {"name": "Locker", "ty": "VirtualObject", "journal_retention": "1d"},
        {"name": "WF", "ty": "Workflow", "journal_retention": "0s"},
    ]
    catalog.refresh_services()
    assert list(catalog.services) == ["Locker", "WF", "Other", "Zed"]
    assert catalog.services["Locker"] == {"name": "Locker", "type": "virtual_object", "journal_retention_s": 86400}
    assert catalog.services["WF"]["journal_retention_s"] == 0
    assert catalog.services["Zed"]["journal_retention_s"] is None
    rs.services_doc = []  # a deleted deployment's service stays
    catalog.refresh_services()
    assert list(catalog.services) == ["Locker", "WF", "Other", "Zed"]


def test_world_holds_the_target_first_then_the_other_holders_of_its_key() -> None:
    rs = FakeRestate()
    catalog = catalog_with_two_deployments(rs)
    catalog.services = {"Locker": {"name": "Locker", "type": "virtual_object", "journal_retention_s": 86400}}
    locker = {"target_service_name": "Locker", "target_handler_name": "hold", "target_service_key": "k"}
    rs.invocations = {
        INV_C: inv_row(INV_C, "suspended", created_at="2026-01-01T00:00:01.000Z", **locker),
        INV_B: inv_row(INV_B, "pending", created_at="2026-01-01T00:00:00.000Z", **locker),
        INV_A: inv_row(INV_A, "completed", **locker),
    }
    rs.journals = {INV_A: journal(INV_A, INPUT, OUTPUT), INV_C: journal(INV_C, INPUT)}
    world, rows, journals = Reader(rs, catalog).world(INV_A, ("Locker", "k"))
    assert [i["id"] for i in world["invocations"]] == [INV_A, INV_B, INV_C]
    assert [i["status"] for i in world["invocations"]] == ["completed", "inboxed", "suspended"]
    assert [len(i["journal"]) for i in world["invocations"]] == [2, 0, 1]
    assert [r["id"] for r in rows] == [INV_A, INV_B, INV_C]
    assert sorted(journals) == [INV_A, INV_C]
    assert [d["name"] for d in world["deployments"]][:2] == ["D1", "D3_other"]
    assert world["services"] == list(catalog.services.values())


def test_world_of_a_malformed_or_absent_target_has_no_invocation_and_asks_no_sql_about_it() -> None:
    rs = FakeRestate()
    reader = Reader(rs, catalog_with_two_deployments(rs))
    for target in ("inv_bogus", "", None):
        world, rows, journals = reader.world(target)
        assert (world["invocations"], rows, dict(journals)) == ([], [], {})
    assert not any("sys_invocation" in q for q in rs.queries)


def test_an_id_the_sql_engine_refuses_reads_as_no_rows() -> None:
    rs = FakeRestate()
    rs.refuse_ids = True
    reader = Reader(rs, Catalog(rs))
    assert reader.invocations(f"id = '{INV_A}'") == []
    assert reader.journals([INV_A]) == {}


def test_journals_are_sorted_by_index_and_empty_without_ids() -> None:
    rs = FakeRestate()
    rows = journal(INV_A, INPUT, RUN1, RUN1_DONE)
    rs.journals = {INV_A: [rows[2], rows[0], rows[1]]}
    reader = Reader(rs, Catalog(rs))
    assert [r["index"] for r in reader.journals([INV_A])[INV_A]] == [0, 1, 2]
    assert reader.journals([]) == {}
    assert rs.queries == [
        f"SELECT id, index, entry_type, name, appended_at, entry_lite_json FROM sys_journal WHERE id IN ('{INV_A}')"
    ]


def test_status_of_speaks_the_case_format_and_free() -> None:
    rs = FakeRestate()
    rs.invocations = {INV_A: inv_row(INV_A, "pending")}
    reader = Reader(rs, Catalog(rs))
    assert reader.status_of(INV_A) == "inboxed"
    assert reader.status_of(INV_B) == "free"
    assert reader.status_of("inv_bogus") == "free"
    assert json.dumps(rs.queries).count("sys_invocation") == 2  # the malformed id asks nothing
