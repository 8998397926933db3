"""The server holds: health while streams stall, and a clock moved by 10^15 ms, on a live server.

    python -m bench.holding

Starts ``python -m grpc_server`` on 127.0.0.1 and measures, each beside its baseline in the same run:

- **Health under stalled streams.** ``health_checks`` sequential health checks from a fresh client,
  first with nothing else open, then while 8 and then 100 calls sit open with their headers sent and
  their body never coming (what a stalled or hostile client does). Median and worst latency.
- **A far clock move.** ``AdvanceClock(by_ms=10**15)`` over a world with ``sleepers`` sleeping
  invocations (sleeps of up to ~11.6 days), against a move just past the last sleep over the same
  world: both wake every sleeper, a million times apart in distance. What a move costs is what
  falls due on the way, not how far it goes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2_grpc

from .common import JSON
from .grpc_bench import start_server

WAIT_S = 30
FAR_MS = 10**15
LONGEST_SLEEP_MS = 10**9


def _stalled_body(release: threading.Event) -> Iterator[bytes]:
    release.wait()  # the headers went out with the call; the body never comes until released
    yield b""


def health_latencies(target: str, checks: int) -> list[float]:
    """Seconds per health check, one after another on one fresh channel."""
    out = []
    with grpc.insecure_channel(target) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        check(health_pb2.HealthCheckRequest(), timeout=WAIT_S)  # connect first
        for _ in range(checks):
            started = time.perf_counter()
            check(health_pb2.HealthCheckRequest(), timeout=WAIT_S)
            out.append(time.perf_counter() - started)
    return out


def under_stalls(target: str, stalled: int, checks: int) -> list[float]:
    """Health latencies while ``stalled`` calls are open and silent (over 4 channels)."""
    release = threading.Event()
    channels = [grpc.insecure_channel(target) for _ in range(4)]
    try:
        for i in range(stalled):
            call = channels[i % len(channels)].stream_unary(
                "/invocation_lifecycle.v1.AdminService/ListServices",
                request_serializer=lambda raw: raw,
                response_deserializer=lambda raw: raw,
            )
            call.future(_stalled_body(release), timeout=WAIT_S * 4)
        time.sleep(0.5)  # let every stalled stream reach the server
        return health_latencies(target, checks)
    finally:
        release.set()
        for channel in channels:
            channel.close()


def _summary(latencies: list[float]) -> JSON:
    return {
        "checks": len(latencies),
        "median_ms": round(median(latencies) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


def sleepy_world(sleepers: int) -> str:
    """One service, ``sleepers`` suspended invocations, sleeps spread evenly up to LONGEST_SLEEP_MS."""
    from fsm.engine import Engine
    from fsm.snapshot import dump_world

    engine = Engine(seed=1)
    engine.register_service("Sleepy")
    engine.register_deployment(["Sleepy"])
    for i in range(sleepers):
        inv = engine.call("Sleepy", "nap")
        engine.sleep(inv, LONGEST_SLEEP_MS * (i + 1) // sleepers)
    return json.dumps(dump_world(engine))


def clock_move(target: str, world_json: str, by_ms: int) -> float:
    """Seconds one AdvanceClock(by_ms) takes over a freshly imported ``world_json`` (which must wake all)."""
    with grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 * 2**20)]) as channel:
        stub = simulation_pb2_grpc.SimulationServiceStub(channel)
        stub.ImportWorld(sim.ImportWorldRequest(world_json=world_json), timeout=WAIT_S)
        started = time.perf_counter()
        stub.AdvanceClock(sim.AdvanceClockRequest(by_ms=by_ms), timeout=WAIT_S * 4)
        took = time.perf_counter() - started
        world = json.loads(stub.ExportWorld(sim.ExportWorldRequest(), timeout=WAIT_S).world_json)
        asleep = sum(1 for inv in world["invocations"] if inv["status"] == "suspended")
        if asleep:
            raise RuntimeError(f"AdvanceClock({by_ms}) left {asleep} invocations asleep")
        return took


def measure(checks: int = 200, sleepers: int = 1_000, rounds: int = 3) -> JSON:
    """The whole section (see the module's docstring)."""
    world_json = sleepy_world(sleepers)
    with tempfile.TemporaryDirectory(prefix="bench-holding-") as tmp:
        server = start_server(None, Path(tmp) / "server.log", ["--log-level", "WARNING"])
        try:
            health = {
                "no stalled streams": _summary(health_latencies(server.target, checks)),
                "8 stalled streams": _summary(under_stalls(server.target, 8, checks)),
                "100 stalled streams": _summary(under_stalls(server.target, 100, checks)),
            }
            near = [clock_move(server.target, world_json, LONGEST_SLEEP_MS) for _ in range(rounds)]
            far = [clock_move(server.target, world_json, FAR_MS) for _ in range(rounds)]
        finally:
            server.stop()
    return {
        "health": health,
        "advance_clock": {
            "sleepers": sleepers,
            "rounds": rounds,
            "far_by_ms": FAR_MS,
            "far_s_worst": round(max(far), 3),
            "near_by_ms": LONGEST_SLEEP_MS,
            "near_s_worst": round(max(near), 3),
            "what": f"AdvanceClock over {sleepers:,} sleeping invocations; both moves wake every one",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.holding", description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200, help="health checks per condition (default 200)")
    parser.add_argument("--sleepers", type=int, default=1_000, help="sleeping invocations (default 1000)")
    args = parser.parse_args(argv)
    if args.checks < 1 or args.sleepers < 1:
        parser.error("--checks and --sleepers must be at least 1")
    try:
        results = measure(args.checks, args.sleepers)
    except grpc.RpcError as exc:
        print(f"bench.holding: a call failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except (OSError, RuntimeError) as exc:
        print(f"bench.holding: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
