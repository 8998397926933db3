"""recording.record: the command line (nothing is installed or started here)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from recording import record
from recording.common import OUT, ROOT, RecordingError


def test_the_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert record.parse_args([]) == record.Options(no_netns=False, in_netns=False, out=OUT)
    assert record.parse_args(["--no-netns"]) == record.Options(no_netns=True, in_netns=False, out=OUT)
    assert record.parse_args(["--in-netns"]) == record.Options(no_netns=False, in_netns=True, out=OUT)
    assert record.parse_args(["--out", str(tmp_path)]).out == tmp_path
    monkeypatch.chdir(tmp_path)
    assert record.parse_args(["--out", "check"]).out == tmp_path / "check"  # absolute for the netns stage


def test_an_unknown_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as err:
        record.parse_args(["--bogus"])
    assert err.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_help_runs_as_a_module_and_hides_the_internal_flag() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "recording.record", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "Records conformance cases from a real ``restate-server``." in res.stdout
    assert "--no-netns" in res.stdout and "--in-netns" not in res.stdout
    assert "--out DIR" in res.stdout and "recorded_sql/" in res.stdout and "tests/conformance" in res.stdout


def test_record_sh_passes_its_flags_on() -> None:
    res = subprocess.run(
        ["bash", str(Path(ROOT, "recording", "record.sh")), "--help"],
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "--no-netns" in res.stdout


def test_a_recording_error_is_reported_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed: list[signal.Signals] = []
    monkeypatch.setattr(signal, "signal", lambda sig, _handler: installed.append(sig))

    def fail(opts: record.Options) -> int:
        assert opts == record.Options(no_netns=True, in_netns=False, out=OUT)
        raise RecordingError("npm is not installed")

    monkeypatch.setattr(record, "run", fail)
    assert record.main(["--no-netns"]) == 1
    assert capsys.readouterr().err == "recording failed: npm is not installed\n"
    assert installed == [signal.SIGTERM, signal.SIGHUP]


def test_ctrl_c_is_one_line_and_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(signal, "signal", lambda _sig, _handler: None)

    def interrupted(_opts: record.Options) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(record, "run", interrupted)
    assert record.main([]) == 130
    assert capsys.readouterr().err == "recording interrupted: every process it started was stopped\n"
