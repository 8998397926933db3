"""``make crash-test`` on a few kills: nothing acknowledged is lost, and a lost write would be seen."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import crash


def test_a_short_crash_run_loses_nothing_acknowledged(capsys: pytest.CaptureFixture[str]) -> None:
    assert crash.main(["--rounds", "4", "--seed", "3"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("crash test: 4 rounds, ") and ", 0 lost or wrong;" in line
    assert int(line.split(" rounds, ")[1].split(" acknowledged")[0].replace(",", "")) > 0


FORGETFUL = """
import sys
from grpc_server.store import sqlite

saved, calls = sqlite.Store.save, [0]


def forgetful(self, engine, changed):
    calls[0] += 1
    if calls[0] % 7 == 0:  # the change is dropped: answered, never written
        return False
    return saved(self, engine, changed)


sqlite.Store.save = forgetful
from grpc_server.__main__ import main

sys.exit(main())
"""


def test_a_write_that_never_reaches_the_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "forgetful.py").write_text(FORGETFUL)
    program = (sys.executable, str(tmp_path / "forgetful.py"))
    tally = crash.run(3, 5, tmp_path / "state.db", tmp_path, lambda line: None, program)
    assert tally.losses, tally.line()


def test_a_file_that_exists_is_not_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "state.db").write_text("")
    with pytest.raises(SystemExit):
        crash.main(["--rounds", "1", "--db", str(tmp_path / "state.db")])
    assert "exists: the crash test starts from a new file" in capsys.readouterr().err
