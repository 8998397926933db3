"""The conformance command line: it reads case files, prints failures, and closes with the counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.tools.conformance import main, read_cases

from ..conftest import EXAMPLES

WAIT_S = 120  # an upper bound for the child to answer, never a measured timing


def test_a_wrong_expectation_is_printed_with_name_expected_and_got(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = next(c for c in read_cases([EXAMPLES]) if c["expect"]["http_status"] == 200)
    case["expect"]["new_invocation"]["copied_indexes"] = [0, 1]
    case["expect"]["new_invocation"]["pinned_protocol"] = 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(case) + "\n")
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "0 passed, 1 failed"
    assert out[0].startswith(f"FAIL {case['name']}: ") and "pinned: expected" in out[0] and "journal" in out[0]


def test_cases_are_read_in_order_and_a_line_that_is_not_json_names_its_place(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"name": "a"}\n\n{"name": "b"}\n')
    assert [c["name"] for c in read_cases([good, good])] == ["a", "b", "a", "b"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "a"}\nnot json\n')
    with pytest.raises(SystemExit, match=r"bad\.jsonl:2: not JSON"):
        list(read_cases([bad]))


def test_command_line_closes_with_the_counts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm.tools.conformance", EXAMPLES],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "388 passed, 0 failed"
