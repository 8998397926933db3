"""``python -m grpc_server --db FILE``: the state survives a kill, and a bad file stops the start in one line."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from bench.grpc_bench import ServerProcess, start_server
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

ROOT = Path(__file__).resolve().parents[3]
WAIT_S = 60  # an upper bound for a subprocess to answer, never a measured timing


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Starts ``python -m grpc_server`` on free ports with the flags given; stops them all at the end."""
    started: list[ServerProcess] = []

    def launch(*args: str) -> ServerProcess:
        started.append(start_server(None, tmp_path / f"server-{len(started)}.log", args))
        return started[-1]

    yield launch
    for server in started:
        server.stop()


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


def test_what_was_answered_is_there_after_a_kill(servers: Callable[..., ServerProcess], tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    first = servers("--db", db, "--seed", "4")
    assert first.http_port is not None
    with grpc.insecure_channel(first.target) as ch:
        admin = admin_pb2_grpc.AdminServiceStub(ch)
        simulation = simulation_pb2_grpc.SimulationServiceStub(ch)
        admin.RegisterService(adm.RegisterServiceRequest(name="Steps"), timeout=WAIT_S)
        admin.RegisterDeployment(adm.RegisterDeploymentRequest(services=["Steps"]), timeout=WAIT_S)
        done = simulation.Call(sim.CallRequest(service="Steps", handler="run"), timeout=WAIT_S).invocation_id
        simulation.Complete(sim.CompleteRequest(invocation_id=done), timeout=WAIT_S)
        simulation.Call(sim.CallRequest(service="Steps", handler="run", delay_ms=5_000), timeout=WAIT_S)
    status, body = patch(first.http_port, f"/invocations/{done}/restart-as-new")
    assert status == 200, body
    before = export(first.target)
    first.proc.kill()  # no shutdown: only what was committed before each answer can be there
    first.proc.wait(timeout=WAIT_S)
    again = servers("--db", db, "--seed", "99")  # the file's id generator wins
    assert export(again.target) == before
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


def test_a_snapshot_does_not_replace_kept_state(servers: Callable[..., ServerProcess], tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    (tmp_path / "world.json").write_text('{"services": [], "deployments": [], "invocations": []}')
    server = servers("--db", str(db), "--snapshot", str(tmp_path / "world.json"))
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=WAIT_S) == 0
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
