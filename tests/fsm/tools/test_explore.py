"""The exploration's command line: the report or its JSON, and an exit status that fails on a gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.conformance import InProcess, replay
from fsm.tools.conformance import read_cases
from fsm.tools.explore import main
from grpc_server import conformance as grpc_conformance

WAIT_S = 120  # an upper bound for the child to answer, never a measured timing


def test_cli_prints_the_report_and_fails_on_missing_witnesses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--depth", "1", "--no-programs"]) == 1  # check 8 and later need more calls
    out = capsys.readouterr().out
    assert "NOT FOUND within the scope" in out and "invariant violations: none" in out
    assert main(["--depth", "1", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["violations"] == [] and [1, 400, "INVALID_QUERY_STRING"] not in data["missing"]


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm.tools.explore", "--depth", "0", "--no-programs"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # depth 0 leaves most answers without a witness
    assert done.stdout.startswith("scope: depth <= 0, ") and done.stderr == ""


def test_user_invariants_and_goals_come_from_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mychecks.py").write_text(
        "def one_at_most(engine):\n    return len(engine.invocations) <= 1\n\n"
        "def completed(engine):\n    return any(i.state == 'completed' for i in engine.invocations.values())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["--depth", "2", "--invariant", "mychecks:one_at_most", "--goal", "mychecks:completed"])
    out = capsys.readouterr().out
    assert code == 1 and "mychecks:one_at_most: returned False (after 2 calls)" in out
    assert "goal mychecks:completed: reached after 2 calls" in out and "# --- goal: mychecks:completed ---" in out


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--depth", "-1"], "--depth must be at least 0, got -1"),
        (
            ["--invariant", "nocolon"],
            "--invariant 'nocolon': expected MODULE:FUNC, for example mychecks:no_two_running",
        ),
        (["--goal", "no_such_module_here:f"], "--goal 'no_such_module_here:f': cannot import no_such_module_here"),
        (["--goal", "json:no_such_function"], "--goal 'json:no_such_function': json has no no_such_function"),
        (["--invariant", "json:__name__"], "--invariant 'json:__name__': json.__name__ is a str, not a function"),
    ],
)
def test_bad_flags_are_refused_in_one_line(args: list[str], problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(args)
    err = capsys.readouterr().err
    assert refused.value.code == 2 and problem in err and "Traceback" not in err


def test_a_broken_predicate_stops_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "buggy.py").write_text("def goal(engine):\n    return engine.nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["--depth", "1", "--goal", "buggy:goal"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("explore stopped: buggy:goal raised AttributeError: ") and err.count("\n") == 1


def test_witnesses_are_written_as_cases_that_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "witnesses.jsonl"
    main(["--depth", "3", "--no-programs", "--cases", str(path)])
    capsys.readouterr()
    cases = list(read_cases([path]))
    assert len(cases) >= 10 and len({c["name"] for c in cases}) == len(cases)
    assert {c["expect"]["http_status"] for c in cases} >= {200, 400, 404, 409}
    assert all(c["steps"] is not None and c["world"]["services"] for c in cases)
    report = replay(cases, InProcess())
    assert report.failed == 0 and report.passed == len(cases), "\n".join(report.lines()[:10])
    assert grpc_conformance.main([str(path)]) == 0  # over gRPC too (its own server)
    assert grpc_conformance.main([str(path), "--http"]) == 0  # and over Restate's HTTP admin API
    assert capsys.readouterr().out.count(", 0 failed") == 2


def test_cases_that_cannot_be_written_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--depth", "0", "--no-programs", "--cases", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cannot write --cases ") and err.count("\n") == 1


def test_progress_is_a_line_per_level_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--depth", "2", "--no-programs", "--progress"])
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == ["explore: depth 1", "explore: depth 2"]
    assert all(" states, frontier " in line and " states/s, " in line and " MiB peak, " in line for line in lines)
