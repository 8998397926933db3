"""The replay over the wire: the shared examples pass, and the wire answers what the model answers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from fsm.conformance import InProcess, compare, replay
from fsm.tools.conformance import read_cases
from grpc_server import conformance, errors
from grpc_server.conformance import GrpcTarget, wire_problems
from grpc_server.server import Server

from .conftest import EXAMPLES, ROOT

C = grpc.StatusCode
RECORDED = sorted((ROOT / "tests" / "conformance" / "recorded").glob("*.jsonl"))


@pytest.fixture(scope="module")
def target(channel: grpc.Channel) -> GrpcTarget:
    return GrpcTarget(channel)


def test_examples_replay_over_the_wire_with_no_failure(target: GrpcTarget) -> None:
    cases = list(read_cases([EXAMPLES]))
    report = replay(cases, target)
    assert report.failed == 0, "\n".join(report.lines())
    http_only = sum(1 for c in cases if c.get("transport") == "http")
    assert (report.passed, report.skipped) == (len(cases) - http_only, http_only)
    assert report.passed > 300


@pytest.mark.parametrize("path", RECORDED, ids=[p.name for p in RECORDED])
def test_the_wire_answers_what_the_model_answers(target: GrpcTarget, path: Path) -> None:
    """Whatever the model gets right or wrong on a recorded file, the wire gets exactly the same."""
    cases = list(read_cases([path]))
    wire = replay(cases, target)
    model = replay(cases, InProcess(), skip_http=True)
    assert (wire.passed, wire.failed, wire.skipped) == (model.passed, model.failed, model.skipped)
    assert wire.failures == model.failures
    assert wire.failed == 0, "\n".join(wire.lines()[:20])


def _operation_cases() -> list[dict[str, Any]]:
    """Every admin operation on invocations in every recorded state, expected as the model answers."""
    worlds: dict[str, dict[str, Any]] = {}
    for case in read_cases([EXAMPLES]):
        for inv in case["world"]["invocations"]:
            if inv["id"] == case["request"]["invocation_id"]:
                worlds.setdefault(inv["status"], case)
    cases = []
    for status in ("completed", "suspended", "paused", "scheduled", "inboxed"):
        base = worlds[status]
        for operation, deployment in [
            ("cancel", None),
            ("kill", None),
            ("purge", None),
            ("purge_journal", None),
            ("pause", None),
            ("resume", None),
            ("resume", "latest"),
            ("resume", "dp_bogus"),
        ]:
            case = {
                "name": f"{status}/{operation}/{deployment}",
                "operation": operation,
                "transport": "any",
                "world": copy.deepcopy(base["world"]),
                "request": {"invocation_id": base["request"]["invocation_id"], "deployment": deployment},
            }
            got = InProcess().run({**case, "expect": {}})
            case["expect"] = {"http_status": got.http_status, "message": got.message, "status_after": got.status_after}
            cases.append(case)
    return cases


def test_every_operation_over_the_wire(target: GrpcTarget) -> None:
    cases = _operation_cases()
    statuses = {c["expect"]["http_status"] for c in cases}
    assert {200, 202, 400, 409, 425} <= statuses, statuses
    assert len(cases) == 40
    for case in cases:
        assert compare(case, target.run(case)) == [], case["name"]


def test_main_against_a_running_server(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance.main(["--target", server.target, str(EXAMPLES)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["54 skipped", "334 passed, 0 failed"]


def test_main_starts_a_server_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    few = [line for line in EXAMPLES.read_text().splitlines()[:40]]
    (tmp_path / "few.jsonl").write_text("\n".join(few))
    assert conformance.main([str(tmp_path / "few.jsonl")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(" passed, 0 failed")


def test_a_failing_case_fails(
    target: GrpcTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str], server: Server
) -> None:
    case = json.loads(EXAMPLES.read_text().splitlines()[0])
    case["expect"]["http_status"] = 418
    (tmp_path / "wrong.jsonl").write_text(json.dumps(case))
    assert conformance.main(["--target", server.target, str(tmp_path / "wrong.jsonl")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL unknown_id/none: http_status: expected 418, got 404")
    assert out[-1] == "0 passed, 1 failed"


# --- the wire checks themselves ----------------------------------------------------------------


def wire(
    code: grpc.StatusCode = C.FAILED_PRECONDITION,
    reason: str | None = "STILL_RUNNING",
    metadata: dict[str, str] | None = None,
    **overrides: Any,
) -> errors.WireError:
    fields: dict[str, Any] = {
        "code": code,
        "message": "m",
        "reason": reason,
        "domain": errors.DOMAIN,
        "metadata": {"http_status": "409", "check": "7"} if metadata is None else metadata,
        "retry_delay_s": None,
        "details_message": "m",
        "details_code": code.value[0],
    }
    fields.update(overrides)
    return errors.WireError(**fields)


def test_wire_checks_accept_a_correct_error() -> None:
    assert wire_problems(wire(), "restart_as_new") == []
    assert (
        wire_problems(
            wire(C.OUT_OF_RANGE, "JOURNAL_INDEX_OUT_OF_RANGE", {"http_status": "400", "check": "15"}), "restart_as_new"
        )
        == []
    )
    assert (
        wire_problems(
            wire(C.UNAVAILABLE, "PARTITION_UNAVAILABLE", {"http_status": "503", "check": "4"}, retry_delay_s=1.0),
            "restart_as_new",
        )
        == []
    )
    assert wire_problems(wire(C.FAILED_PRECONDITION, "NOT_COMPLETED", {"http_status": "409"}), "purge") == []


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (
            wire(C.INVALID_ARGUMENT),
            "code INVALID_ARGUMENT for http_status 409 / STILL_RUNNING, expected FAILED_PRECONDITION",
        ),
        (wire(C.FAILED_PRECONDITION, "INCOMPLETE_PREFIX", {"http_status": "400", "check": "14"}), None),
        (
            wire(C.INVALID_ARGUMENT, "INCOMPLETE_PREFIX", {"http_status": "400", "check": "14"}),
            "expected FAILED_PRECONDITION",
        ),
        (
            wire(C.FAILED_PRECONDITION, "JOURNAL_INDEX_OUT_OF_RANGE", {"http_status": "400", "check": "15"}),
            "expected OUT_OF_RANGE",
        ),
        (wire(reason=None), "no ErrorInfo"),
        (wire(metadata={"check": "7"}), "no numeric http_status"),
        (wire(domain="elsewhere"), "ErrorInfo.domain 'elsewhere'"),
        (wire(details_message="other"), "does not repeat"),
        (wire(metadata={"http_status": "409"}), "without a numeric check"),
        (wire(retry_delay_s=1.0), "RetryInfo"),
        (wire(C.UNAVAILABLE, "PARTITION_UNAVAILABLE", {"http_status": "503", "check": "4"}), "RetryInfo"),
    ],
)
def test_wire_checks_catch_a_broken_error(error: errors.WireError, problem: str | None) -> None:
    found = "; ".join(wire_problems(error, "restart_as_new"))
    if problem is None:
        assert found == ""
    else:
        assert problem in found
