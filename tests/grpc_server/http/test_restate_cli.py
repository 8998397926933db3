"""Restate's own CLI (``restate`` 1.7.12 from npm) pointed at the model: it reads, it acts, the model changes.

The CLI reads ``GET /version``, then speaks ``/v4/``: SQL (Arrow) to find invocations and
describe them, JSON for services and deployments, the batch endpoints to act. The binary is
installed once into ``.venv/restate-cli`` (npm, ``--ignore-scripts``); without npm or the
registry these tests are skipped with the reason printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from grpc_server import RESTATE_VERSION
from grpc_server.server import Server, start

from ..conftest import ROOT
from .conftest import Client

PREFIX = ROOT / ".venv" / "restate-cli"
BINARY = PREFIX / "node_modules" / "@restatedev" / "restate-linux-x64" / "bin" / "restate"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def install() -> Path:
    if BINARY.exists():
        return BINARY
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the restate CLI comes from npm")
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PREFIX),
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            f"@restatedev/restate@{RESTATE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not BINARY.exists():
        pytest.skip(f"could not install @restatedev/restate@{RESTATE_VERSION} from npm: {done.stderr.strip()[-300:]}")
    return BINARY


@pytest.fixture(scope="module")
def cli() -> Path:
    return install()


@pytest.fixture
def model() -> Iterator[tuple[Server, Client]]:
    server = start(port=0, http_port=0)
    assert server.http is not None
    client = Client(server.http.port)
    client.request("POST", "/model/services", {"name": "Steps"})
    client.request("POST", "/model/deployments", {"services": ["Steps"], "name": "v1"})
    yield server, client
    client.close()
    server.stop(0)


def run(cli: Path, server: Server, *args: str) -> str:
    done = subprocess.run(
        [str(cli), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "RESTATE_ADMIN_URL": str(server.http_url), "NO_COLOR": "1", "TERM": "dumb"},
    )
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, output
    return output


def call(client: Client, complete: bool = False) -> str:
    inv = str(
        client.request("POST", "/model/invocations", {"service": "Steps", "handler": "run"}).json()["invocation_id"]
    )
    if complete:
        entry = client.request("POST", f"/model/invocations/{inv}/commands", {"type": "Run", "name": "charge"}).json()
        client.request(
            "POST", f"/model/invocations/{inv}/completions", {"completion_id": entry["entry"]["completion_ids"][0]}
        )
        client.request("POST", f"/model/invocations/{inv}/complete", {})
    return inv


def state(client: Client, inv: str) -> str:
    found = client.request("GET", f"/model/invocations/{inv}")
    return str(found.json()["status"]) if found.status == 200 else "free"


def test_the_cli_lists_services_deployments_and_invocations(cli: Path, model: tuple[Server, Client]) -> None:
    server, client = model
    running, done = call(client), call(client, complete=True)
    services = run(cli, server, "services", "list")
    assert re.search(r"Steps\s+1\s+HTTP\s+dp_", services), services
    deployments = run(cli, server, "deployments", "list")
    assert "http://model.invalid/v1" in deployments and "Steps [1]" in deployments
    active = run(cli, server, "invocations", "list")
    assert running in active and done not in active and "Status:  running" in active
    everything = run(cli, server, "invocations", "list", "--all")
    assert done in everything and "completed with success" in everything


def test_the_cli_describes_an_invocation_with_its_journal(cli: Path, model: tuple[Server, Client]) -> None:
    server, client = model
    done = call(client, complete=True)
    described = run(cli, server, "invocations", "describe", done)
    for line in ("#0 Command: Input", "#1 Command: Run [charge]", "#2 Notification: Run", "#3 Command: Output"):
        assert line in described, described
    table = run(cli, server, "sql", "select id, status from sys_invocation")
    assert re.search(rf"{done}\s+completed", table), table


def test_the_cli_acts_and_the_model_changes(cli: Path, model: tuple[Server, Client]) -> None:
    server, client = model
    paused, killed, done = call(client), call(client), call(client, complete=True)
    assert "Paused 1 invocations" in run(cli, server, "invocations", "pause", paused, "-y")
    assert state(client, paused) == "paused"
    assert "Resumed 1 invocations" in run(cli, server, "invocations", "resume", paused, "-y")
    assert state(client, paused) == "running"
    run(cli, server, "invocations", "kill", killed, "-y")
    assert state(client, killed) == "completed"
    restarted = run(cli, server, "invocations", "restart-as-new", done, "-y")
    (new,) = [i for i in re.findall(r"inv_\w{34}", restarted) if i != done]
    assert client.request("GET", f"/model/invocations/{new}").json()["restarted_from"] == done
    run(cli, server, "invocations", "purge", done, "-y")
    assert state(client, done) == "free"
    cancelled = call(client)
    run(cli, server, "invocations", "cancel", cancelled, "-y")
    journal = client.request("GET", f"/model/invocations/{cancelled}").json()["journal"]
    assert journal[-1] == {"index": 1, "kind": "notification", "type": "Signal", "name": "cancel"}
    assert json.loads(client.request("GET", "/model/world").body)["invocations"]


def test_the_cli_filters_invocations_by_status_service_and_key(cli: Path, model: tuple[Server, Client]) -> None:
    server, client = model
    client.request("POST", "/model/services", {"name": "Locker", "type": "virtual_object"})
    client.request("POST", "/model/deployments", {"services": ["Steps", "Locker"], "name": "v2"})
    sleeper = call(client)
    client.request("POST", f"/model/invocations/{sleeper}/sleep", {"duration_ms": 60_000})
    body = {"service": "Locker", "handler": "hold", "key": "k"}
    holder = client.request("POST", "/model/invocations", body).json()["invocation_id"]
    waiting = client.request("POST", "/model/invocations", body).json()["invocation_id"]
    suspended = run(cli, server, "invocations", "list", "--status", "suspended")
    assert sleeper in suspended and holder not in suspended
    pending = run(cli, server, "invocations", "list", "--status", "pending")
    assert waiting in pending and holder not in pending and "Showing 1/1 invocations" in pending
    locker = run(cli, server, "invocations", "list", "--service", "Locker")
    assert holder in locker and waiting in locker and sleeper not in locker
    assert "Showing 2/2 invocations" in run(cli, server, "invocations", "list", "--key", "k")
