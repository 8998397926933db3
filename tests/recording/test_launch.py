"""recording.launch: the server's config and command line, the services' environment, readiness."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from recording import launch
from recording.common import ROOT, RecordingError
from recording.processes import free_port

PORTS = {"admin": 19070, "ingress": 18080, "fabric": 15122}
UNUSED_PORTS = {"admin": 1, "ingress": 1, "services": 1}  # never asked: the dead process is seen first


def test_the_config_puts_every_listener_on_loopback_and_spells_out_retention(tmp_path: Path) -> None:
    config, data = launch.prepare_server(tmp_path, PORTS)
    doc = tomllib.loads(config.read_text())
    assert (doc["bind-address"], doc["advertised-address"]) == ("127.0.0.1:15122", "http://127.0.0.1:15122/")
    assert doc["admin"] == {"bind-address": "127.0.0.1:19070", "advertised-address": "http://127.0.0.1:19070/"}
    assert doc["ingress"] == {"bind-address": "127.0.0.1:18080", "advertised-address": "http://127.0.0.1:18080/"}
    assert (doc["listen-mode"], doc["disable-telemetry"]) == ("tcp", True)
    assert doc["default-journal-retention"] == doc["default-workflow-completion-retention"] == "1d"
    assert doc["worker"] == {"cleanup-interval": "1h"}
    assert data == tmp_path / "restate-data" and data.is_dir()


def test_the_data_directory_is_fresh_every_time(tmp_path: Path) -> None:
    _, data = launch.prepare_server(tmp_path, PORTS)
    (data / "old").write_text("state of the last run")
    _, data = launch.prepare_server(tmp_path, PORTS)
    assert list(data.iterdir()) == []


def test_free_ports_are_distinct() -> None:
    ports = launch.free_ports("admin", "ingress", "fabric", "services")
    assert list(ports) == ["admin", "ingress", "fabric", "services"]
    assert len(set(ports.values())) == 4


def test_command_lines_and_environments(monkeypatch: pytest.MonkeyPatch) -> None:
    assert launch.server_args(Path("/b/restate-server"), Path("/w/r.toml"), Path("/w/d"), "recorder") == [
        "/b/restate-server",
        "--config-file",
        "/w/r.toml",
        "--base-dir",
        "/w/d",
        "--node-name",
        "recorder",
        "--no-logo",
    ]
    assert launch.services_args(Path("/v/bin/python"), 9080) == [
        "/v/bin/python",
        "-m",
        "recording.serve",
        "127.0.0.1",
        "9080",
    ]
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")
    env = launch.services_env()
    assert (env["PYTHONPATH"], env["PYTHONUNBUFFERED"], "VIRTUAL_ENV" in env) == (str(ROOT), "1", False)
    assert (launch.server_env()["NO_COLOR"], launch.server_env()["RUST_LOG_STYLE"]) == ("1", "never")


def exited(code: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    proc.wait(timeout=60)
    return proc


def sleeping() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_wait_ready_fails_with_the_log_of_a_server_that_exited(tmp_path: Path) -> None:
    server_log = tmp_path / "server.log"
    server_log.write_text("booting\nERROR address in use\n")
    services = sleeping()
    try:
        with pytest.raises(RecordingError, match="restate-server exited with 2:\nbooting\nERROR address in use"):
            launch.wait_ready(exited(2), server_log, services, tmp_path / "s.log", UNUSED_PORTS)
    finally:
        services.kill()
        services.wait(timeout=60)


def test_wait_ready_fails_when_the_services_exit(tmp_path: Path) -> None:
    (tmp_path / "s.log").write_text("ModuleNotFoundError: restate\n")
    server = sleeping()
    try:
        with pytest.raises(RecordingError, match="the SDK services exited with 1:\nModuleNotFoundError: restate"):
            launch.wait_ready(server, tmp_path / "server.log", exited(1), tmp_path / "s.log", UNUSED_PORTS)
    finally:
        server.kill()
        server.wait(timeout=60)


def test_wait_ready_gives_up_after_its_timeout(tmp_path: Path) -> None:
    server, services = sleeping(), sleeping()
    ports = {name: free_port() for name in ("admin", "ingress", "services")}  # nobody listens there
    try:
        with pytest.raises(RecordingError, match=r"restate-server not reachable after 0s \({'admin': False"):
            launch.wait_ready(server, tmp_path / "server.log", services, tmp_path / "s.log", ports, timeout=0)
    finally:
        for proc in (server, services):
            proc.kill()
            proc.wait(timeout=60)
