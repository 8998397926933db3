"""recording.common: paths and the log line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recording.common import OUT, ROOT, WORK, log, shown


def test_paths() -> None:
    assert (ROOT / "recording" / "record.sh").is_file()
    assert WORK == ROOT / "recording" / ".work"
    assert OUT == ROOT / "tests" / "conformance"


def test_shown_is_relative_inside_the_repository_only(tmp_path: Path) -> None:
    assert shown(OUT / "recorded" / "admin_ops.jsonl") == "tests/conformance/recorded/admin_ops.jsonl"
    assert shown(tmp_path / "x.jsonl") == str(tmp_path / "x.jsonl")


def test_log_prints_a_stamped_line(capsys: pytest.CaptureFixture[str]) -> None:
    log("registered D1")
    assert re.fullmatch(r"\[record \d\d:\d\d:\d\d\] registered D1\n", capsys.readouterr().out)
