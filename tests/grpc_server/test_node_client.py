"""A client in another language: Node.js (@grpc/grpc-js + @grpc/proto-loader) calls RestartAsNew
and reads http_status from the ErrorInfo in grpc-status-details-bin.

Needs node on PATH and ``npm ci --prefix tests/node`` (``make test`` runs it when npm is there).
Without them these tests skip, saying what to install, unless ``INVOCATION_LIFECYCLE_REQUIRE_NODE``
is set: CI sets it (it has Node), and there they fail instead, with the command to run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from google.rpc import status_pb2

from grpc_server.server import Server

from .conftest import ROOT, World, node_missing

NODE_DIR = ROOT / "tests" / "node"
SCRIPT = NODE_DIR / "restart_as_new.js"
#: Where googleapis-common-protos installed google/rpc/status.proto and error_details.proto.
GOOGLEAPIS = Path(status_pb2.__file__).resolve().parents[2]


def node_restart(server: Server, *args: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        node_missing("node is not on PATH: install Node.js (18 or later), then run `npm ci --prefix tests/node`")
    if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        node_missing("tests/node/node_modules is missing: run `npm ci --prefix tests/node` (make test does it)")
    done = subprocess.run(
        [node, str(SCRIPT), "--target", server.target, "--googleapis", str(GOOGLEAPIS), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"node client failed: {done.stdout}\n{done.stderr}"
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_node_reads_http_status_from_the_error_details(server: Server, world: World) -> None:
    assert (GOOGLEAPIS / "google" / "rpc" / "error_details.proto").is_file()
    inv = world.suspended()
    answer = node_restart(server, inv)
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


def test_node_sees_out_of_range_apart_from_other_400s(server: Server, world: World) -> None:
    inv = world.completed()
    out_of_range = node_restart(server, inv, "--from", "4294967295")
    assert (out_of_range["code_name"], out_of_range["http_status"], out_of_range["reason"]) == (
        "OUT_OF_RANGE",
        "400",
        "JOURNAL_INDEX_OUT_OF_RANGE",
    )
    malformed = node_restart(server, inv, "--deployment", "dp_bogus")
    assert (malformed["code_name"], malformed["http_status"], malformed["reason"]) == (
        "INVALID_ARGUMENT",
        "400",
        "INVALID_DEPLOYMENT_ID",
    )


def test_node_restarts(server: Server, world: World) -> None:
    inv = world.completed(steps=2)
    answer = node_restart(server, inv, "--from", "2", "--deployment", "keep")
    assert answer["ok"] is True
    new = world.get(answer["new_invocation_id"])
    assert new.restarted_from == inv and [e.index for e in new.journal] == [0, 1, 2]
