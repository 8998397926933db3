"""Clients in other languages call RestartAsNew and read the HTTP status and reason from the
ErrorInfo in grpc-status-details-bin, each with its own small helper: Node.js (@grpc/grpc-js +
@grpc/proto-loader, tests/node) and Java (Debian's grpc-java, tests/java). Both print the same JSON.

Node needs node on PATH and ``npm ci --prefix tests/node``; Java needs Debian's packages (``make
java-deps`` as root) and ``make java-client``. ``make test`` does both where it can. Without them
these tests skip, saying what to do, unless ``INVOCATION_LIFECYCLE_REQUIRE_CLIENTS`` is set: CI
sets it, and there they fail instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import pytest
from google.rpc import status_pb2

from grpc_server.server import Server

from .conftest import ROOT, World, client_missing

NODE_DIR = ROOT / "tests" / "node"
#: Where googleapis-common-protos installed google/rpc/status.proto and error_details.proto.
GOOGLEAPIS = Path(status_pb2.__file__).resolve().parents[2]
JAVA_SOURCE = ROOT / "tests" / "java" / "RestartAsNew.java"
JAVA_BUILD = ROOT / "build" / "java"
WAIT_S = 120  # an upper bound for a client to answer, never a measured timing


class Client(Protocol):
    def __call__(self, server: Server, *args: str) -> dict[str, Any]: ...


def _run(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S, check=False)
    assert done.returncode == 0, f"client failed: {done.stdout}\n{done.stderr}"
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def node_restart(server: Server, *args: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        client_missing("node is not on PATH: install Node.js (18 or later), then run `npm ci --prefix tests/node`")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        client_missing("tests/node/node_modules is missing: run `npm ci --prefix tests/node` (make test does it)")
    script = NODE_DIR / "restart_as_new.js"
    return _run([node, str(script), "--target", server.target, "--googleapis", str(GOOGLEAPIS), *args])


def java_restart(server: Server, *args: str) -> dict[str, Any]:
    java = shutil.which("java")
    built = JAVA_BUILD / "classes" / "RestartAsNew.class"
    if java is None or not built.exists():
        client_missing(
            "the Java client is not built: run `make java-client` (make test does it); it needs Debian's "
            "grpc-java, protobuf-java and protoc, which `make java-deps` installs as root"
        )
    sources = [JAVA_SOURCE, *(ROOT / "protos" / "invocation_lifecycle" / "v1").glob("*.proto")]
    stale = [s.name for s in sources if s.stat().st_mtime > built.stat().st_mtime]
    assert not stale, f"the Java client is older than {stale}: run `make java-client`"
    classpath = f"{JAVA_BUILD / 'classes'}:{(JAVA_BUILD / 'classpath').read_text().strip()}"
    return _run([java, "-cp", classpath, "RestartAsNew", "--target", server.target, *args])


@pytest.fixture(params=[node_restart, java_restart], ids=["node", "java"])
def client(request: pytest.FixtureRequest) -> Client:
    restart: Client = request.param
    return restart


def test_the_client_reads_http_status_from_the_error_details(server: Server, world: World, client: Client) -> None:
    assert (GOOGLEAPIS / "google" / "rpc" / "error_details.proto").is_file()
    inv = world.suspended()
    answer = client(server, inv)
    message = f"The invocation '{inv}' is still running."
    assert answer == {
        "ok": False,
        "code": 9,
        "code_name": "FAILED_PRECONDITION",
        "message": message,
        "status": {"code": 9, "message": message},
        "reason": "STILL_RUNNING",
        "domain": "invocation-lifecycle.dev",
        "metadata": {"http_status": "409", "check": "7"},
        "http_status": "409",
    }


def test_the_client_sees_out_of_range_apart_from_other_400s(server: Server, world: World, client: Client) -> None:
    inv = world.completed()
    out_of_range = client(server, inv, "--from", "4294967295")
    assert (out_of_range["code_name"], out_of_range["http_status"], out_of_range["reason"]) == (
        "OUT_OF_RANGE",
        "400",
        "JOURNAL_INDEX_OUT_OF_RANGE",
    )
    malformed = client(server, inv, "--deployment", "dp_bogus")
    assert (malformed["code_name"], malformed["http_status"], malformed["reason"]) == (
        "INVALID_ARGUMENT",
        "400",
        "INVALID_DEPLOYMENT_ID",
    )


def test_the_client_restarts(server: Server, world: World, client: Client) -> None:
    inv = world.completed(steps=2)
    answer = client(server, inv, "--from", "2", "--deployment", "keep")
    assert answer["ok"] is True
    new = world.get(answer["new_invocation_id"])
    assert new.restarted_from == inv and [e.index for e in new.journal] == [0, 1, 2]
