"""The exploration's command line: the report or its JSON, and an exit status that fails on a gap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fsm.tools.explore import main

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
