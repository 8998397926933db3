"""recording.driver: waiting for states and the setup calls, on a fake server (no invocation runs)."""

from __future__ import annotations

import os

import pytest

from recording.common import RecordingError
from recording.driver import Driver
from recording.world import Catalog, Reader

from .fakes import INV_A, INV_B, FakeRestate, inv_row


def driver() -> tuple[Driver, FakeRestate]:
    rs = FakeRestate()
    return Driver(rs, Reader(rs, Catalog(rs))), rs


def test_keys_are_unique_per_run_and_per_process() -> None:
    drv, _ = driver()
    assert [drv.key("K"), drv.key("wf"), drv.key("K")] == [
        f"K-{os.getpid()}-1",
        f"wf-{os.getpid()}-2",
        f"K-{os.getpid()}-3",
    ]


def test_wait_returns_the_rows_once_every_id_is_in_the_wanted_state() -> None:
    drv, rs = driver()
    rs.invocations = {INV_A: inv_row(INV_A, "suspended", journal_size=4), INV_B: inv_row(INV_B, "suspended")}
    rows = drv.wait([INV_A, INV_B], lambda r: r["status"] == "suspended", "both suspended", timeout=1)
    assert sorted(rows) == [INV_A, INV_B]
    assert rows[INV_A]["journal_size"] == 4


def test_wait_times_out_naming_the_ids_not_there_yet() -> None:
    drv, rs = driver()
    rs.invocations = {INV_A: inv_row(INV_A, "running"), INV_B: inv_row(INV_B, "suspended")}
    with pytest.raises(RecordingError) as err:
        drv.wait([INV_A, INV_B, "inv_bogus"], lambda r: r["status"] == "suspended", "Waiter suspended", timeout=0)
    assert str(err.value) == f"timed out waiting for Waiter suspended: {{'{INV_A}': 'running', 'inv_bogus': None}}"


def test_wait_free_returns_when_no_row_is_left_and_times_out_otherwise() -> None:
    drv, rs = driver()
    drv.wait_free([INV_A], "purged", timeout=0)
    rs.invocations = {INV_A: inv_row(INV_A)}
    with pytest.raises(RecordingError, match="timed out waiting for purged to be freed"):
        drv.wait_free([INV_A], "purged", timeout=0)


def test_a_setup_operation_must_answer_as_expected() -> None:
    drv, rs = driver()
    rs.answers = [(202, "", b""), (409, "application/json", b'{"message":"no"}')]
    drv.op_ok("purge_journal", INV_A, (200, 202))
    with pytest.raises(RecordingError, match=rf"setup purge_journal {INV_A} answered 409: b'{{\"message\":\"no\"}}'"):
        drv.op_ok("purge_journal", INV_A, (200,))
    assert [op for op, _, _ in rs.ops] == ["purge-journal", "purge-journal"]
