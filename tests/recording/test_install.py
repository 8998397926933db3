"""recording.install: which npm build fits, where things are installed, and checked commands."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from recording import install
from recording.common import WORK, RecordingError


@pytest.mark.parametrize(
    ("system", "machine", "suffix"),
    [
        ("Linux", "x86_64", "linux-x64"),
        ("Linux", "AMD64", "linux-x64"),
        ("Linux", "aarch64", "linux-arm64"),
        ("Darwin", "arm64", "darwin-arm64"),
    ],
)
def test_npm_platform(system: str, machine: str, suffix: str) -> None:
    assert install.npm_platform(system, machine) == suffix


@pytest.mark.parametrize(("system", "machine"), [("Windows", "x86_64"), ("Linux", "riscv64"), ("Linux", "i686")])
def test_no_npm_build_fails_clearly(system: str, machine: str) -> None:
    with pytest.raises(RecordingError, match=f"restate-server has no npm build for {system}/{machine}"):
        install.npm_platform(system, machine)


def test_install_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert install.server_binary(tmp_path) == (
        tmp_path / "npm" / "node_modules" / "@restatedev" / "restate-server-linux-arm64" / "bin" / "restate-server"
    )
    assert install.sdk_python(tmp_path) == tmp_path / "venv" / "bin" / "python"
    assert install.server_binary().parents[5] == WORK


def test_versions_are_the_ones_the_cases_were_recorded_with() -> None:
    assert (install.RESTATE_VERSION, install.SDK_VERSION, install.HYPERCORN_VERSION) == ("1.7.12", "1.3.0", "0.18.0")


def test_run_checked_returns_the_output_or_fails_with_its_tail() -> None:
    ok = install.run_checked([sys.executable, "-c", "print('fine')"], timeout=60)
    assert ok.stdout == "fine\n"
    with pytest.raises(RecordingError) as err:
        install.run_checked(
            [sys.executable, "-c", "import sys; print('x' * 5000 + 'END'); sys.exit(3)"],
            env={"PATH": "/usr/bin:/bin"},
            timeout=60,
        )
    message = str(err.value)
    assert message.startswith(f"command failed (3): {sys.executable} -c import sys;")
    assert message.endswith("xEND\n") and len(message.split("\n", 1)[1]) == 3000
