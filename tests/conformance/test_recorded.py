"""The cases recorded from a real restate-server (recording/) replay against the model."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fsm.conformance import InProcess, replay
from fsm.tools.conformance import read_cases

RECORDED_DIR = Path(__file__).resolve().parent / "recorded"
RECORDED = sorted(RECORDED_DIR.glob("*.jsonl"))


def test_the_recorded_set_is_broad() -> None:
    cases = list(read_cases(RECORDED))
    assert len(cases) >= 600
    restarts = [c for c in cases if c.get("operation", "restart_as_new") == "restart_as_new"]
    assert {c["expect"]["http_status"] for c in restarts} >= {200, 400, 404, 409, 410, 422, 425}
    target_states = Counter(
        inv["status"] for c in cases for inv in c["world"]["invocations"] if inv["id"] == c["request"]["invocation_id"]
    )
    assert set(target_states) == {"scheduled", "inboxed", "running", "suspended", "paused", "completed"}
    operations = {c.get("operation", "restart_as_new") for c in cases}
    assert operations == {"restart_as_new", "cancel", "kill", "purge", "purge_journal", "pause", "resume"}
    assert len({c["name"] for c in cases}) == len(cases), "case names are unique"


@pytest.mark.parametrize("path", RECORDED, ids=[p.name for p in RECORDED])
def test_every_recorded_case_passes_in_process(path: Path) -> None:
    report = replay(read_cases([path]), InProcess())
    assert report.failed == 0, "\n".join(report.lines()[:20])
    assert report.passed > 0 and report.skipped == 0
