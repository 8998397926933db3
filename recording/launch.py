"""Starts what a recording talks to: ``restate-server`` (every listener on 127.0.0.1) and the SDK services.

The server gets a fresh data directory and :data:`SERVER_CONFIG`; the services run
``python -m recording.serve`` in the SDK's own venv. :func:`wait_ready` waits until both answer.
``bench/restate.py`` starts the server the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from .client import call
from .common import ROOT, RecordingError
from .processes import free_port, tail

SERVER_CONFIG = """\
# Written by recording/launch.py for one run.
cluster-name = "recording"
listen-mode = "tcp"
bind-address = "127.0.0.1:{fabric}"
advertised-address = "http://127.0.0.1:{fabric}/"
disable-telemetry = true
shutdown-timeout = "5s"
log-filter = "warn,restate=info"
log-disable-ansi-codes = true
# Retention: the defaults, spelled out. Nothing expires during a run of a few minutes.
default-journal-retention = "1d"
default-idempotency-retention = "1d"
default-workflow-completion-retention = "1d"

[worker]
cleanup-interval = "1h"

[admin]
bind-address = "127.0.0.1:{admin}"
advertised-address = "http://127.0.0.1:{admin}/"

[ingress]
bind-address = "127.0.0.1:{ingress}"
advertised-address = "http://127.0.0.1:{ingress}/"
"""


def free_ports(*names: str) -> dict[str, int]:
    """One free 127.0.0.1 port per name, all distinct."""
    ports = {name: free_port() for name in names}
    if len(set(ports.values())) != len(ports):
        raise RecordingError("could not pick distinct free ports")
    return ports


def prepare_server(workdir: Path, ports: dict[str, int]) -> tuple[Path, Path]:
    """Writes ``restate.toml`` for ``ports`` (admin, ingress, fabric) and a fresh ``restate-data/``."""
    data_dir = workdir / "restate-data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    config = workdir / "restate.toml"
    config.write_text(SERVER_CONFIG.format(**ports))
    return config, data_dir


def server_args(binary: Path, config: Path, data_dir: Path, node_name: str) -> list[str]:
    return [
        str(binary),
        "--config-file",
        str(config),
        "--base-dir",
        str(data_dir),
        "--node-name",
        node_name,
        "--no-logo",
    ]


def server_env() -> dict[str, str]:
    return dict(os.environ, RUST_LOG_STYLE="never", NO_COLOR="1")


def services_args(sdk_python: Path, port: int) -> list[str]:
    """``recording/serve.py`` in the SDK's venv (run with ``cwd`` at the repository root)."""
    return [str(sdk_python), "-m", "recording.serve", "127.0.0.1", str(port)]


def services_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.pop("VIRTUAL_ENV", None)
    return env


def wait_ready(
    server: subprocess.Popen[bytes],
    server_log: Path,
    services: subprocess.Popen[bytes],
    services_log: Path,
    ports: dict[str, int],
    timeout: float = 90.0,
) -> None:
    """Until the admin API, the ingress, the SQL endpoint and the services all answer 200."""
    deadline = time.monotonic() + timeout
    need = {"admin": False, "ingress": False, "query": False, "services": False}
    checks: dict[str, tuple[int, str, str, bytes | None]] = {
        "admin": (ports["admin"], "GET", "/health", None),
        "ingress": (ports["ingress"], "GET", "/restate/health", None),
        "query": (
            ports["admin"],
            "POST",
            "/query",
            json.dumps({"query": "SELECT count(*) AS n FROM sys_invocation"}).encode(),
        ),
        "services": (ports["services"], "GET", "/_health", None),
    }
    while not all(need.values()):
        if server.poll() is not None:
            raise RecordingError(f"restate-server exited with {server.returncode}:\n{tail(server_log)}")
        if services.poll() is not None:
            raise RecordingError(f"the SDK services exited with {services.returncode}:\n{tail(services_log)}")
        if time.monotonic() > deadline:
            raise RecordingError(f"restate-server not reachable after {timeout:.0f}s ({need}):\n{tail(server_log)}")
        for name, (port, method, path, body) in checks.items():
            if need[name]:
                continue
            try:
                status, _, _ = call(
                    method,
                    port,
                    path,
                    body,
                    {"content-type": "application/json", "accept": "application/json"},
                    timeout=5,
                )
                need[name] = status == 200
            except OSError:
                pass
        time.sleep(0.2)
