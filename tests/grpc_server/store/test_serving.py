"""``python -m grpc_server --db FILE``: the state survives a kill, and a bad file stops the start in one line."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bench.grpc_bench import read_line
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 60  # an upper bound for a subprocess to answer, never a measured timing


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)


def launch(started: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str, int]:
    """A server on free ports: the process, its gRPC target and its HTTP port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "grpc_server", "--port", "0", "--http-port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    assert proc.stdout is not None
    deadline = time.monotonic() + WAIT_S
    grpc_line = read_line(proc.stdout, deadline)
    http_line = proc.stdout.readline()  # printed right after (maybe already buffered with it)
    assert "listening on" in http_line, f"server did not start: {grpc_line!r} {http_line!r}"
    return proc, grpc_line.rsplit(" ", 1)[1].strip(), int(http_line.rsplit(":", 1)[1])


def patch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    try:
        conn.request("PATCH", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def export(target: str) -> dict[str, object]:
    with grpc.insecure_channel(target) as ch:
        world = simulation_pb2_grpc.SimulationServiceStub(ch).ExportWorld(sim.ExportWorldRequest(), timeout=WAIT_S)
    exported: dict[str, object] = json.loads(world.world_json)
    return exported


def test_what_was_answered_is_there_after_a_kill(servers: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    proc, target, port = launch(servers, "--db", db, "--seed", "4")
    with grpc.insecure_channel(target) as ch:
        admin = admin_pb2_grpc.AdminServiceStub(ch)
        simulation = simulation_pb2_grpc.SimulationServiceStub(ch)
        admin.RegisterService(adm.RegisterServiceRequest(name="Steps"), timeout=WAIT_S)
        admin.RegisterDeployment(adm.RegisterDeploymentRequest(services=["Steps"]), timeout=WAIT_S)
        done = simulation.Call(sim.CallRequest(service="Steps", handler="run"), timeout=WAIT_S).invocation_id
        simulation.Complete(sim.CompleteRequest(invocation_id=done), timeout=WAIT_S)
        simulation.Call(sim.CallRequest(service="Steps", handler="run", delay_ms=5_000), timeout=WAIT_S)
    status, body = patch(port, f"/invocations/{done}/restart-as-new")
    assert status == 200, body
    before = export(target)
    proc.kill()  # no shutdown: only what was committed before each answer can be there
    proc.wait(timeout=WAIT_S)
    _, target, _ = launch(servers, "--db", db, "--seed", "99")  # the file's id generator wins
    assert export(target) == before
    assert json.loads(body)["new_invocation_id"] in json.dumps(before)


def run_server(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "grpc_server", "--port", "0", "--http-port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def test_a_damaged_file_stops_the_start_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    done = run_server("--db", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"cannot open the database {bad}: ")


def test_a_snapshot_does_not_replace_kept_state(servers: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    (tmp_path / "world.json").write_text('{"services": [], "deployments": [], "invocations": []}')
    proc, _, _ = launch(servers, "--db", str(db), "--snapshot", str(tmp_path / "world.json"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT_S) == 0
    done = run_server("--db", str(db), "--snapshot", str(tmp_path / "world.json"))
    assert done.returncode == 2 and done.stderr.strip() == (
        f"--snapshot would replace the state kept in {db}; start from a new file, or without --snapshot"
    )


def test_a_directory_the_server_cannot_write_stops_the_start_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anywhere: run the server without the capability that lets it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: cannot make a directory read-only")
        drop = "-dac_override,-dac_read_search"
        prefix = (setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}")
    done = run_server("--db", str(folder / "state.db"), prefix=prefix)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == f"cannot open the database {folder / 'state.db'}: unable to open database file"
