"""Installs what a recording needs into ``recording/.work/``, re-installing only a missing version.

- ``@restatedev/restate-server`` from npm (``--ignore-scripts``) into ``.work/npm/``;
- ``restate-sdk`` and ``hypercorn`` from PyPI into their own venv, ``.work/venv/`` (the SDK's
  top-level package is ``restate``: it never enters the project's venv).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from .common import WORK, RecordingError, log

RESTATE_VERSION = "1.7.12"
SDK_VERSION = "1.3.0"
HYPERCORN_VERSION = "0.18.0"

_SDK_CHECK = (
    "from importlib.metadata import version as v; import restate, hypercorn; print(v('restate-sdk'), v('hypercorn'))"
)


def run_checked(
    cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``cmd``; a non-zero exit is a :class:`RecordingError` carrying the output's tail."""
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=timeout)
    if res.returncode != 0:
        raise RecordingError(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout[-3000:]}")
    return res


def npm_platform(system: str | None = None, machine: str | None = None) -> str:
    """The suffix of the npm package holding the server binary for this machine, e.g. ``linux-x64``."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine.lower())
    os_name = {"linux": "linux", "darwin": "darwin"}.get(system.lower())
    if not arch or not os_name:
        raise RecordingError(f"restate-server has no npm build for {system}/{machine}")
    return f"{os_name}-{arch}"


def server_binary(work: Path = WORK) -> Path:
    """Where npm puts the ``restate-server`` binary under ``work``."""
    package = f"restate-server-{npm_platform()}"
    return work / "npm" / "node_modules" / "@restatedev" / package / "bin" / "restate-server"


def sdk_python(work: Path = WORK) -> Path:
    """The python of the SDK's own venv under ``work``."""
    return work / "venv" / "bin" / "python"


def install_server() -> Path:
    npm_dir = WORK / "npm"
    binary = server_binary()
    if binary.exists():
        out = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, text=True).stdout
        if RESTATE_VERSION in out:
            return binary
    if not shutil.which("npm"):
        raise RecordingError("npm is not installed (needed to install @restatedev/restate-server)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    log(f"installing @restatedev/restate-server@{RESTATE_VERSION} from npm into {npm_dir}")
    env = dict(os.environ, SCARF_ANALYTICS="false", npm_config_update_notifier="false", npm_config_fund="false")
    run_checked(
        [
            "npm",
            "install",
            "--prefix",
            str(npm_dir),
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            f"@restatedev/restate-server@{RESTATE_VERSION}",
        ],
        env=env,
    )
    if not binary.exists():
        raise RecordingError(f"npm did not install the server binary at {binary}")
    out = run_checked([str(binary), "--version"]).stdout
    if RESTATE_VERSION not in out:
        raise RecordingError(f"unexpected restate-server version: {out.strip()}")
    return binary


def install_sdk() -> Path:
    venv = WORK / "venv"
    py = sdk_python()
    if py.exists():
        res = subprocess.run([str(py), "-c", _SDK_CHECK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if res.returncode == 0 and res.stdout.split() == [SDK_VERSION, HYPERCORN_VERSION]:
            return py
    log(f"creating {venv} with restate-sdk=={SDK_VERSION} hypercorn=={HYPERCORN_VERSION} from PyPI")
    base = getattr(sys, "_base_executable", None) or sys.executable
    run_checked([base, "-m", "venv", "--clear", str(venv)])
    run_checked(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"restate-sdk=={SDK_VERSION}",
            f"hypercorn=={HYPERCORN_VERSION}",
        ]
    )
    res = run_checked([str(py), "-c", _SDK_CHECK])
    if res.stdout.split() != [SDK_VERSION, HYPERCORN_VERSION]:
        raise RecordingError(f"unexpected SDK versions in {venv}: {res.stdout.strip()}")
    return py
