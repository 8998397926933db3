"""gRPC on loopback: server start-to-ready, and ``RestartAsNew`` against the ``Echo`` floor.

The server is the real one, started as ``python -m grpc_server`` (JSON logs on, one line per admin
call, to a file) in its own process, on 127.0.0.1 and a port the OS picks.

The load comes from h2load (:mod:`bench.h2load`): N clients = N HTTP/2 connections with one call in
flight each, in a closed loop. On 2 cores the load generator shares the machine with the server, so
it has to be cheap: a Python client costs more CPU per call than the server. The same scenario is
also run from Python clients (:mod:`bench.grpc_client`, separate processes: 1 client is one process,
8 clients are 2 processes x 4 threads, one channel each), which is what a Python test suite sees;
when h2load is missing, only those run.

The world is preloaded (``--snapshot``) with completed invocations, so ``RestartAsNew`` takes its
200 path; the refusal path is ``RestartAsNew`` on a running invocation (409 STILL_RUNNING). Each
answer is checked (a real gRPC call first, then every answer's size). Echo, restart and refusal run
interleaved, round after round, against the same server.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fsm.snapshot import dump_world
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, admin_pb2_grpc, simulation_pb2, simulation_pb2_grpc

from . import h2load, lifecycle
from .common import JSON, ROOT, median, percentile, stop
from .grpc_client import ECHO_PAYLOAD

CLIENT_LAYOUT = {1: (1, 1), 8: (2, 4)}  # clients -> (processes, threads per process)
READY_TIMEOUT_S = 30.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    target: str
    listening_s: float
    ready_s: float
    log: IO[bytes]
    http_port: int | None = None  # Restate's HTTP admin API, when the server serves it

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used (from /proc; 0.0 where unavailable)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop(self.proc)
        self.log.close()


def read_line(stream: IO[str], deadline: float) -> str:
    """One line from a child's stdout, or '' when nothing came before the deadline."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
        return ""
    return stream.readline()


def start_server(
    snapshot: Path | None, log_path: Path, extra: Sequence[str] = (), program: Sequence[str] = ()
) -> ServerProcess:
    """Spawn ``python -m grpc_server`` (or ``program``, taking its flags); ready = the first SERVING
    answer of the health service."""
    command = program or (sys.executable, "-m", "grpc_server")
    args = [*command, "--host", "127.0.0.1", "--port", "0", "--http-port", "0", *extra]
    if snapshot is not None:
        args += ["--snapshot", str(snapshot)]
    log = open(log_path, "wb")
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = read_line(proc.stdout, time.monotonic() + READY_TIMEOUT_S)
        if "listening on" not in line:
            raise RuntimeError(f"the server did not start: {line!r}; see {log_path}")
        listening = time.perf_counter() - started
        target = line.split()[-1]
        http_line = proc.stdout.readline()  # printed right after the gRPC line
        http_port = int(http_line.rsplit(":", 1)[1]) if "HTTP admin API listening on" in http_line else None
        with grpc.insecure_channel(target) as channel:
            check = health_pb2_grpc.HealthStub(channel).Check
            while True:
                try:
                    if (
                        check(health_pb2.HealthCheckRequest(service=""), timeout=1).status
                        == health_pb2.HealthCheckResponse.SERVING
                    ):
                        break
                except grpc.RpcError:
                    if time.perf_counter() - started > READY_TIMEOUT_S:
                        raise
                    time.sleep(0.005)
        return ServerProcess(proc, target, listening, time.perf_counter() - started, log, http_port)
    except BaseException:
        stop(proc)
        log.close()
        raise


def measure_ready(runs: int, workdir: Path) -> JSON:
    """Spawn-to-ready of an empty server, ``runs`` times (after one unmeasured warm-up start)."""
    listening, ready = [], []
    for run in range(runs + 1):
        server = start_server(None, workdir / f"ready-{run}.log")
        server.stop()
        if run:
            listening.append(server.listening_s)
            ready.append(server.ready_s)
    return {
        "runs": runs,
        "ready_s_median": round(median(ready), 3),
        "ready_s": [round(x, 3) for x in ready],
        "listening_s_median": round(median(listening), 3),
        "what": "process spawn -> first SERVING answer of grpc.health.v1.Health/Check (empty world)",
    }


def build_world(completed: int, workdir: Path) -> tuple[Path, Path, Path]:
    """A snapshot with ``completed`` completed invocations and one running; files of their ids."""
    engine = lifecycle.new_engine()
    lifecycle.drive(engine, completed, batch=1_000)
    done = list(engine.invocations)
    running = engine.call(lifecycle.SERVICE, lifecycle.HANDLER)
    world = workdir / "world.json"
    world.write_text(json.dumps(dump_world(engine)))
    done_ids, running_ids = workdir / "completed.txt", workdir / "running.txt"
    done_ids.write_text("\n".join(done))
    running_ids.write_text(running)
    return world, done_ids, running_ids


def run_python_clients(
    server: ServerProcess, rpc: str, clients: int, duration: float, warmup: int, ids: Path | None
) -> JSON:
    """One closed-loop run of ``clients`` Python callers; returns rps and latency percentiles."""
    processes, threads = CLIENT_LAYOUT.get(clients, (1, clients))
    children: list[subprocess.Popen[str]] = []
    try:
        for index in range(processes):
            args = [
                sys.executable,
                "-m",
                "bench.grpc_client",
                "--target",
                server.target,
                "--rpc",
                rpc,
                "--threads",
                str(threads),
                "--duration",
                str(duration),
                "--warmup",
                str(warmup),
                "--offset",
                str(index * 104_729),
            ]
            if ids is not None:
                args += ["--ids", str(ids)]
            children.append(subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for child in children:
            assert child.stdout is not None
            line = read_line(child.stdout, deadline)
            if line.strip() != "ready":
                raise RuntimeError(f"a {rpc} client did not get ready: {line!r}")
        cpu_before = server.cpu_s()
        start_at = time.monotonic() + 0.1
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start_at}\n")
            child.stdin.flush()
        results: list[dict[str, Any]] = []
        for child in children:
            out, _ = child.communicate(timeout=duration + READY_TIMEOUT_S)
            results.append(json.loads(out.strip().splitlines()[-1]))
        cpu = server.cpu_s() - cpu_before
    finally:
        for child in children:
            stop(child)
    latencies = [x / 1000 for r in results for x in r["latencies_us"]]
    calls = sum(r["calls"] for r in results)
    elapsed = max(r["last_end"] for r in results) - start_at
    return {
        "rpc": rpc,
        "clients": clients,
        "layout": f"Python: {processes} process(es) x {threads} thread(s)",
        "calls": calls,
        "unexpected_answers": sum(r["unexpected"] for r in results),
        "seconds": round(elapsed, 3),
        "rps": round(calls / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "mean_ms": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
        "server_cpu_us_per_call": round(cpu / calls * 1e6, 1) if calls else None,
        "client_cpu_us_per_call": round(sum(r["cpu_s"] for r in results) / calls * 1e6, 1) if calls else None,
    }


@dataclass(frozen=True)
class Call:
    """One scenario's request, as h2load sends it, and the size of the answer it must get."""

    method: str
    body: bytes
    answer_bytes: int  # 0: refused (no message, status in trailers)


def prepare_calls(target: str, done_ids: Path, running_ids: Path) -> dict[str, Call]:
    """The three requests, each checked once with a real gRPC client (code and answer)."""
    restart_request = admin_pb2.RestartAsNewRequest(invocation_id=done_ids.read_text().split()[0])
    refusal_request = admin_pb2.RestartAsNewRequest(invocation_id=running_ids.read_text().split()[0])
    echo_request = simulation_pb2.EchoRequest(payload=ECHO_PAYLOAD)
    with grpc.insecure_channel(target) as channel:
        echo = simulation_pb2_grpc.SimulationServiceStub(channel).Echo(echo_request, timeout=10)
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        restarted = admin.RestartAsNew(restart_request, timeout=10)
        try:
            admin.RestartAsNew(refusal_request, timeout=10)
            raise RuntimeError("the refusal scenario's RestartAsNew was not refused")
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
    if echo.payload != ECHO_PAYLOAD or not restarted.new_invocation_id:
        raise RuntimeError("unexpected answers to the benchmark's requests")
    restart_method = "/invocation_lifecycle.v1.AdminService/RestartAsNew"
    return {
        "echo": Call(
            "/invocation_lifecycle.v1.SimulationService/Echo", h2load.grpc_frame(echo_request), 5 + echo.ByteSize()
        ),
        "restart": Call(restart_method, h2load.grpc_frame(restart_request), 5 + restarted.ByteSize()),
        "refusal": Call(restart_method, h2load.grpc_frame(refusal_request), 0),
    }


def run_h2load(server: ServerProcess, rpc: str, call: Call, clients: int, duration: float, warmup: int) -> JSON:
    """One closed-loop run of ``clients`` h2load connections; the same figures as the Python clients'."""
    cpu_before = server.cpu_s()
    out = h2load.run(
        server.target,
        call.method,
        call.body,
        clients=clients,
        duration=duration,
        warmup_requests=warmup * clients,
        answer_bytes=call.answer_bytes,
    )
    cpu = server.cpu_s() - cpu_before
    calls = out["calls"]
    return {
        "rpc": rpc,
        "clients": clients,
        "layout": f"h2load: {clients} connection(s) x 1 call in flight",
        "calls": calls,
        "unexpected_answers": out["unexpected_answers"],
        "seconds": out["seconds"],
        "rps": out["rps"],
        "p50_ms": out["p50_ms"],
        "p99_ms": out["p99_ms"],
        "mean_ms": out["mean_ms"],
        "server_cpu_us_per_call": round(cpu / calls * 1e6, 1) if calls else None,
        "client_cpu_us_per_call": round(out["client_cpu_s"] / calls * 1e6, 1) if calls else None,
    }


def _summary(runs: list[JSON]) -> JSON:
    """The median of each figure over the rounds, with every round kept."""
    keys = ("rps", "p50_ms", "p99_ms", "mean_ms", "server_cpu_us_per_call", "client_cpu_us_per_call")
    out: JSON = {k: runs[0][k] for k in ("rpc", "clients", "layout")}
    for key in keys:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = round(median(values), 3) if values else None
    out["calls"] = sum(r["calls"] for r in runs)
    out["unexpected_answers"] = sum(r["unexpected_answers"] for r in runs)
    out["rounds"] = [{k: r[k] for k in ("rps", "p50_ms", "p99_ms", "calls")} for r in runs]
    return out


def measure(
    *, rounds: int, duration: float, warmup: int, completed: int, ready_runs: int, clients: tuple[int, ...] = (1, 8)
) -> JSON:
    """The whole gRPC section: start-to-ready, then echo / restart / refusal at each client count."""
    use_h2load = h2load.path() is not None
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp:
        workdir = Path(tmp)
        ready = measure_ready(ready_runs, workdir)
        world, done_ids, running_ids = build_world(completed, workdir)
        server = start_server(world, workdir / "server.log")
        # The same server without its per-call log line: what that line costs RestartAsNew.
        quiet = start_server(world, workdir / "quiet.log", ["--log-level", "WARNING"])
        try:
            calls = prepare_calls(server.target, done_ids, running_ids)
            quiet_calls = prepare_calls(quiet.target, done_ids, running_ids)
            plan = [("echo", None), ("restart", done_ids), ("refusal", running_ids)]
            most = clients[-1]
            runs: dict[str, list[JSON]] = {}

            def load(
                name: str,
                on: ServerProcess,
                on_calls: dict[str, Call],
                rpc: str,
                count: int,
                ids: Path | None,
                python: bool = not use_h2load,
            ) -> None:
                """One run of ``rpc`` at ``count`` clients, from h2load or (``python``) Python clients."""
                result = (
                    run_python_clients(on, rpc, count, duration, warmup, ids)
                    if python
                    else run_h2load(on, rpc, on_calls[rpc], count, duration, warmup)
                )
                runs.setdefault(name, []).append(result)

            for _ in range(rounds):
                for count in clients:
                    for rpc, ids in plan:
                        load(f"{rpc}@{count}", server, calls, rpc, count, ids)
                load(f"restart@{most} --log-level WARNING", quiet, quiet_calls, "restart", most, done_ids)
                if use_h2load:  # what a Python test suite sees: its own client's CPU on the same 2 cores
                    for rpc, ids in plan[:2]:
                        load(f"{rpc}@{most} Python clients", server, calls, rpc, most, ids, python=True)
        finally:
            server.stop()
            quiet.stop()
        log_lines = sum(1 for _ in open(workdir / "server.log", "rb"))
        scenarios = {name: _summary(r) for name, r in runs.items()}
        return {
            "server_ready": ready,
            "load_generator": "h2load" if use_h2load else "Python gRPC clients (h2load not installed)",
            "preloaded_world": {
                "completed_invocations": completed,
                "running_invocations": 1,
                "ready_s": round(server.ready_s, 3),
            },
            "duration_s_per_round": duration,
            "rounds": rounds,
            "server_log_lines": log_lines,
            "scenarios": scenarios,
        }
