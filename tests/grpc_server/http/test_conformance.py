"""Every shared example and every recorded case, over Restate's HTTP admin API, bytes included."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsm.conformance import replay
from fsm.tools.conformance import read_cases
from grpc_server import conformance
from grpc_server.http.conformance import HttpTarget, request_path
from grpc_server.server import Server

from ..conftest import EXAMPLES, ROOT

RECORDED = sorted((ROOT / "tests" / "conformance" / "recorded").glob("*.jsonl"))
CASE_FILES = [EXAMPLES, *RECORDED]


@pytest.fixture
def target(http_server: Server) -> HttpTarget:
    assert http_server.http_url is not None
    return HttpTarget(http_server.http_url)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_every_case_passes_over_http(target: HttpTarget, path: Path) -> None:
    cases = list(read_cases([str(path)]))
    report = replay(cases, target)
    target.close()
    assert (report.failed, report.skipped) == (0, 0), "\n".join(report.lines()[:20])
    assert report.passed == len(cases) and report.passed > 300


def test_a_wrong_answer_fails_its_case(target: HttpTarget) -> None:
    (case,) = [c for c in read_cases([str(EXAMPLES)]) if c["expect"]["http_status"] == 404][:1]
    wrong = {**case, "expect": {**case["expect"], "message": case["expect"]["message"] + "!"}}
    report = replay([wrong], target)
    assert report.failed == 1 and "message: expected" in report.failures[0]


def test_requests_are_built_as_restates_clients_send_them() -> None:
    base = {"request": {"invocation_id": "inv_x", "from": "3", "deployment": "dp_a b"}}
    assert request_path(base) == "/invocations/inv_x/restart-as-new?from=3&deployment=dp_a%20b"
    assert request_path({**base, "operation": "resume"}) == "/invocations/inv_x/resume?deployment=dp_a%20b"
    assert request_path({**base, "operation": "purge_journal"}) == "/invocations/inv_x/purge-journal"
    raw = {"request": {"invocation_id": "inv_x", "query_string": "from=1&from=2"}}
    assert request_path(raw) == "/invocations/inv_x/restart-as-new?from=1&from=2"


def test_the_command_line_replays_over_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.main(["--http", str(EXAMPLES)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "388 passed, 0 failed"
