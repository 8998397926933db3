"""One client process of the gRPC benchmark: ``threads`` closed-loop callers, each on its own channel.

Clients live in their own processes so that their Python work does not share the server's GIL.
Protocol with :mod:`bench.grpc_bench`: the process warms up, prints ``ready``, reads the start
time (``time.monotonic()``, shared by all processes on Linux) from stdin, calls for ``duration``
seconds from then, and prints one JSON line: calls, unexpected answers, latencies (µs), and when
the last call ended.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, admin_pb2_grpc, simulation_pb2, simulation_pb2_grpc

from .common import emit

#: One connection per channel (gRPC otherwise shares a subchannel between channels to one target).
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
ECHO_PAYLOAD = b"inv_1abcdefghijklmnopqrstuvwxyzABCDEFG"  # the size of an invocation id
RPCS = ("echo", "restart", "refusal")


def caller(rpc: str, channel: grpc.Channel, ids: list[str], offset: int) -> Callable[[int], bool]:
    """A function making call number ``n``; True when the answer is the expected one."""
    if rpc == "echo":
        echo = simulation_pb2_grpc.SimulationServiceStub(channel).Echo
        request = simulation_pb2.EchoRequest(payload=ECHO_PAYLOAD)
        return lambda n: echo(request, timeout=10).payload == ECHO_PAYLOAD
    restart = admin_pb2_grpc.AdminServiceStub(channel).RestartAsNew
    requests = [admin_pb2.RestartAsNewRequest(invocation_id=i) for i in ids]
    if rpc == "restart":
        return lambda n: bool(restart(requests[(offset + n) % len(requests)], timeout=10).new_invocation_id)

    def refused(n: int) -> bool:
        try:
            restart(requests[(offset + n) % len(requests)], timeout=10)
        except grpc.RpcError as exc:
            return bool(exc.code() == grpc.StatusCode.FAILED_PRECONDITION)
        return False

    return refused


class Worker(threading.Thread):
    def __init__(self, call: Callable[[int], bool]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.start_at = 0.0
        self.end_at = 0.0
        self.latencies_us: list[int] = []
        self.unexpected = 0
        self.last_end = 0.0
        self.go = threading.Event()

    def run(self) -> None:
        self.go.wait()
        n = 0
        while time.monotonic() < self.start_at:
            pass
        clock = time.perf_counter
        while time.monotonic() < self.end_at:
            started = clock()
            ok = self.call(n)
            self.latencies_us.append(int((clock() - started) * 1e6))
            self.unexpected += not ok
            n += 1
        self.last_end = time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_client", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--rpc", choices=RPCS, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=int, default=50, help="calls per thread before the start")
    parser.add_argument("--ids", type=Path, help="invocation ids, one a line (restart, refusal)")
    parser.add_argument("--offset", type=int, default=0, help="where in --ids this process starts")
    args = parser.parse_args(argv)
    ids = args.ids.read_text().split() if args.ids else []
    channels = [grpc.insecure_channel(args.target, options=CHANNEL_OPTIONS) for _ in range(args.threads)]
    workers: list[Worker] = []
    for index, channel in enumerate(channels):
        grpc.channel_ready_future(channel).result(timeout=30)
        call = caller(args.rpc, channel, ids, args.offset + index * 7919)
        for n in range(args.warmup):
            call(-1 - n)
        workers.append(Worker(call))
    for worker in workers:
        worker.start()
    print("ready", flush=True)
    start_at = float(sys.stdin.readline())
    cpu_started = time.process_time()
    for worker in workers:
        worker.start_at, worker.end_at = start_at, start_at + args.duration
        worker.go.set()
    for worker in workers:
        worker.join()
    cpu = time.process_time() - cpu_started
    for channel in channels:
        channel.close()
    result: dict[str, Any] = {
        "calls": sum(len(w.latencies_us) for w in workers),
        "unexpected": sum(w.unexpected for w in workers),
        "last_end": max(w.last_end for w in workers),
        "cpu_s": cpu,
        "latencies_us": [x for w in workers for x in w.latencies_us],
    }
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
