"""The conformance command line: it reads case files, prints failures, and closes with the counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.tools.conformance import CaseFileError, main, read_cases

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


def _case(name: str) -> str:
    return json.dumps({"name": name, "world": {}, "request": {"invocation_id": "inv"}, "expect": {"http_status": 404}})


def test_cases_are_read_in_order_and_a_line_that_is_not_json_names_its_place(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(f"{_case('a')}\n\n{_case('b')}\n")
    assert [c["name"] for c in read_cases([good, good])] == ["a", "b", "a", "b"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{_case('a')}\nnot json\n")
    with pytest.raises(CaseFileError, match=r"bad\.jsonl:2: not JSON"):
        read_cases([bad])
    for line, problem in (
        ('{"name": "a"}', "no 'world' object"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"world": {}, "request": {}, "expect": {"http_status": 200}}', "its request has no 'invocation_id'"),
        ('{"world": {}, "request": {"invocation_id": "i"}, "expect": {}}', "its expect has no integer 'http_status'"),
    ):
        bad.write_text(line + "\n")
        with pytest.raises(CaseFileError, match=rf"bad\.jsonl:1: not a case: {re.escape(problem)}"):
            read_cases([bad])
    with pytest.raises(CaseFileError, match=r"missing\.jsonl: cannot read it"):
        read_cases([tmp_path / "missing.jsonl"])


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


def test_json_prints_the_counts_and_the_failures_with_stable_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        json.loads(line) for line in Path("tests/conformance/recorded/admin_ops.jsonl").read_text().splitlines()[:3]
    ]
    cases[1]["expect"]["http_status"] = 499  # one case that cannot pass
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    assert main([str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["passed", "failed", "skipped", "failures"]
    assert (report["passed"], report["failed"], report["skipped"]) == (2, 1, 0)
    assert report["failures"][0].startswith(f"FAIL {cases[1]['name']}: ")
