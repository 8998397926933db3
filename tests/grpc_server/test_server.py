"""The server itself: health, reflection, limits, bugs, concurrency, the command line and shutdown."""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from bench.grpc_bench import read_line
from fsm.engine import Engine
from fsm.snapshot import dump_world, load_world
from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.server import ADMIN_SERVICE, SIMULATION_SERVICE, Server, start

from .conftest import BASE_WORLD, EXAMPLES, ROOT, World, expect_error

C = grpc.StatusCode
WAIT_S = 60  # an upper bound for a subprocess to answer, never a measured timing


def test_health_reports_serving(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", ADMIN_SERVICE, SIMULATION_SERVICE):
        answer = stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as caught:
        stub.Check(health_pb2.HealthCheckRequest(service="nope"))
    assert caught.value.code() == C.NOT_FOUND


def test_reflection_lists_and_describes_the_services(channel: grpc.Channel) -> None:
    database = ProtoReflectionDescriptorDatabase(channel)
    services = set(database.get_services())
    assert {ADMIN_SERVICE, SIMULATION_SERVICE, "grpc.health.v1.Health"} <= services
    described = database.FindFileContainingSymbol("invocation_lifecycle.v1.AdminService")
    assert described.name == "invocation_lifecycle/v1/admin.proto"
    assert "RestartAsNew" in [m.name for m in described.service[0].method]


def test_message_size_limit() -> None:
    small = start(port=0, max_message_bytes=4096)
    try:
        with grpc.insecure_channel(small.target) as ch:
            stub = simulation_pb2_grpc.SimulationServiceStub(ch)
            big = {**BASE_WORLD, "padding": "x" * 10_000}
            with pytest.raises(grpc.RpcError) as caught:
                stub.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(big)))
            assert caught.value.code() == C.RESOURCE_EXHAUSTED
            assert stub.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(BASE_WORLD))).services == 6
    finally:
        small.stop(0)


def test_an_unexpected_exception_is_internal_and_the_server_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inv = world.completed()

    def boom(self: Engine, invocation_id: str) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(Engine, "purge", boom)
    with caplog.at_level(logging.ERROR, logger="grpc_server.calls"):
        expect_error(
            lambda: world.admin.Purge(adm.PurgeRequest(invocation_id=inv)),
            C.INTERNAL,
            "INTERNAL",
            500,
            "Internal error: RuntimeError: boom",
        )
    assert any(r.exc_info for r in caplog.records), "the traceback is logged"
    monkeypatch.undo()
    assert world.admin.Purge(adm.PurgeRequest(invocation_id=inv)).http_status == 200


def test_concurrent_calls_leave_a_consistent_world(server: Server, world: World) -> None:
    """8 threads x 40 mixed calls; every answer is a success or an expected refusal, and the world adds up."""
    completed = [world.completed(steps=1) for _ in range(6)] + [world.completed(service="Locker", key="k0")]
    restarts = [0] * 8
    unexpected: list[str] = []

    def worker(n: int) -> None:
        rnd = random.Random(n)
        with grpc.insecure_channel(server.target) as ch:
            admin, simulation = admin_pb2_grpc.AdminServiceStub(ch), simulation_pb2_grpc.SimulationServiceStub(ch)
            mine: list[str] = []
            for _ in range(40):
                action = rnd.choice(["restart", "call", "complete", "pause", "list", "explain"])
                try:
                    if action == "restart":
                        target = rnd.choice(completed)
                        request = adm.RestartAsNewRequest(invocation_id=target, from_index=rnd.choice([0, 1, 2]))
                        admin.RestartAsNew(request)
                        restarts[n] += 1
                    elif action == "call":
                        mine.append(
                            simulation.Call(
                                sim.CallRequest(service="Locker", handler="add", key=f"k{rnd.randrange(3)}")
                            ).invocation_id
                        )
                    elif action == "complete" and mine:
                        simulation.Complete(sim.CompleteRequest(invocation_id=mine.pop(rnd.randrange(len(mine)))))
                    elif action == "pause" and mine:
                        admin.Pause(adm.PauseRequest(invocation_id=rnd.choice(mine)))
                    elif action == "list":
                        admin.ListInvocations(adm.ListInvocationsRequest(page_size=5))
                    elif action == "explain":
                        simulation.ExplainRestartAsNew(adm.RestartAsNewRequest(invocation_id=rnd.choice(completed)))
                except grpc.RpcError as exc:
                    error = errors.read_error(exc)
                    if error.code != C.FAILED_PRECONDITION:
                        unexpected.append(f"{action}: {error}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert not any(t.is_alive() for t in threads)
    assert unexpected == []
    server.world.run(lambda engine: engine.check_invariants())
    exported = world.export()
    reloaded = load_world(exported)
    reloaded.check_invariants()
    assert dump_world(reloaded) == exported
    assert sum(restarts) > 0
    assert sum(1 for inv in exported["invocations"] if inv.get("restarted_from")) == sum(restarts)


def test_console_script_is_declared() -> None:
    (script,) = metadata.entry_points(group="console_scripts", name="invocation-lifecycle-server")
    assert script.value == "grpc_server.__main__:main"
    executable = Path(sys.executable).parent / "invocation-lifecycle-server"
    assert executable.exists(), "reinstall the project: pip install -e ."
    done = subprocess.run([str(executable), "--help"], capture_output=True, text=True, timeout=WAIT_S, check=False)
    assert done.returncode == 0 and "--snapshot" in done.stdout


# --- the process: python -m grpc_server --------------------------------------------------------


@pytest.fixture
def launch() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)


def _launch(started: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grpc_server", "--port", "0", "--http-port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started.append(proc)
    assert proc.stdout is not None
    line = read_line(proc.stdout, time.monotonic() + WAIT_S)  # its address, once it listens ('' if silent)
    assert "listening on" in line, f"server did not start: {line!r} {proc.communicate(timeout=WAIT_S)}"
    return proc, line.rsplit(" ", 1)[1].strip()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_serves_a_snapshot_and_stops_gracefully(
    launch: list[subprocess.Popen[str]], tmp_path: Path, signum: signal.Signals
) -> None:
    case = json.loads(EXAMPLES.read_text().splitlines()[50])  # a whole case line is accepted
    (tmp_path / "case.json").write_text(json.dumps(case))
    proc, target = _launch(launch, "--snapshot", str(tmp_path / "case.json"), "--seed", "3")
    with grpc.insecure_channel(target) as ch:
        got = admin_pb2_grpc.AdminServiceStub(ch).GetInvocation(
            adm.GetInvocationRequest(invocation_id=case["request"]["invocation_id"]), timeout=WAIT_S
        )
        assert got.id == case["request"]["invocation_id"]
    proc.send_signal(signum)
    assert proc.wait(timeout=WAIT_S) == 0
    assert proc.stderr is not None
    logs = [json.loads(line) for line in proc.stderr.read().splitlines()]
    assert any(r.get("rpc") == "GetInvocation" and r.get("code") == "OK" for r in logs)
    assert any(f"received {signum.name}" in r.get("message", "") for r in logs)


def test_process_refuses_a_bad_snapshot_and_a_taken_port(launch: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"services": 3}')
    done = subprocess.run(
        [sys.executable, "-m", "grpc_server", "--snapshot", str(tmp_path / "bad.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 2
    assert "Invalid world at 'world.services': must be a list, got int" in done.stderr
    _, target = _launch(launch)
    port = target.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "grpc_server", "--port", port, "--http-port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 1 and "cannot listen" in done.stderr
    with pytest.raises(OSError, match="cannot listen"):
        start(port=int(port))


def test_the_process_serves_restates_http_admin_api_beside_grpc(launch: list[subprocess.Popen[str]]) -> None:
    proc, target = _launch(launch)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed right after the gRPC line (maybe already buffered with it)
    assert line.startswith("invocation-lifecycle HTTP admin API listening on http://127.0.0.1:"), line
    port = int(line.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_S)
    conn.request("PATCH", "/invocations/inv_bogus/cancel")
    answer = conn.getresponse()
    assert answer.status == 400 and answer.read().startswith(b'{"message":"The request field')
    conn.close()
    with grpc.insecure_channel(target) as ch:  # one engine behind both
        assert admin_pb2_grpc.AdminServiceStub(ch).ListServices(adm.ListServicesRequest(), timeout=WAIT_S) is not None


@pytest.mark.parametrize(
    ("args", "env", "problem"),
    [
        (["--http-port", "70000"], {}, "--http-port must be 0..65535, got 70000"),
        ([], {"HTTP_PORT": "nine"}, "HTTP_PORT must be a port number, got 'nine'"),
    ],
)
def test_bad_http_ports_are_refused_in_one_line(args: list[str], env: dict[str, str], problem: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grpc_server", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == f"python -m grpc_server: {problem} (see python -m grpc_server --help)\n"


def test_no_http_serves_grpc_only_and_a_taken_http_port_is_named(launch: list[subprocess.Popen[str]]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grpc_server", "--port", "0", "--no-http"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    launch.append(proc)
    assert proc.stdout is not None
    assert "gRPC server listening on" in read_line(proc.stdout, time.monotonic() + WAIT_S)
    assert read_line(proc.stdout, time.monotonic() + 1.0) == ""  # no HTTP line
    holder = start(port=0, http_port=0)
    try:
        assert holder.http is not None
        done = subprocess.run(
            [sys.executable, "-m", "grpc_server", "--port", "0", "--http-port", str(holder.http.port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
        assert done.returncode == 1
        assert f"cannot listen for HTTP on 127.0.0.1:{holder.http.port}" in done.stderr
    finally:
        holder.stop(0)
