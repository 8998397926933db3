"""A big world kept in SQLite: start-up from the file, memory, and the reads tools make of it.

    python -m bench.big_world [--invocations 1000000] [--calls 500]

Builds a world of ``invocations`` invocations through the 5-step lifecycle of
:mod:`bench.lifecycle` (each completed with its 6-entry journal), writes it to a SQLite file with
the server's own store, then starts ``python -m grpc_server --db FILE`` and measures: spawn to the
first SERVING health answer, the server's RSS once ready, and the latency of ``calls``
GetInvocation calls (random ids) and ``calls`` ListInvocations pages of 100 (from random cursors),
one call at a time from one Python client. Where h2load is installed the same reads are measured
from it too, as the other gRPC figures are (a Python client spends as much CPU per call as the
server): one connection, one call in flight, a second on each of five random ids and cursors; the
worst p99 of the five is the figure. An empty server is started too, for its start-up and RSS.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from google.protobuf.message import Message

from grpc_server.admin import encode_page_token
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc
from grpc_server.store.sqlite import Store

from . import h2load, lifecycle
from .common import JSON, emit, memory_mib, percentile
from .grpc_bench import ServerProcess, start_server

PAGE = 100


def build(path: Path, invocations: int) -> tuple[list[str], JSON]:
    """The world's file; a sample of its ids, and how long building and writing took."""
    started = time.perf_counter()
    engine = lifecycle.new_engine()
    lifecycle.drive(engine, invocations, 1_000)
    built = time.perf_counter() - started
    started = time.perf_counter()
    store = Store(path)
    store.replace(engine)
    store.close()
    written = time.perf_counter() - started
    ids = list(engine.invocations)
    del engine
    gc.collect()
    return ids, {
        "build_s": round(built, 1),
        "write_s": round(written, 1),
        "file_mb": round(path.stat().st_size / 1e6, 1),
    }


def _latencies_ms(calls: list[Callable[[], object]]) -> JSON:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
    return {"calls": len(times), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}


def reads(server: ServerProcess, ids: list[str], calls: int, rng: random.Random) -> JSON:
    with grpc.insecure_channel(server.target) as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)

        def get(inv_id: str) -> Callable[[], object]:
            return lambda: admin.GetInvocation(adm.GetInvocationRequest(invocation_id=inv_id), timeout=30)

        def page(token: str) -> Callable[[], object]:
            request = adm.ListInvocationsRequest(page_size=PAGE, page_token=token)
            return lambda: admin.ListInvocations(request, timeout=30)

        gets = [get(i) for i in rng.sample(ids, min(calls, len(ids)))]
        pages = [page("")] + [page(encode_page_token(i)) for i in rng.sample(ids, min(calls, len(ids)) - 1)]
        for warm in (*gets[:20], *pages[:20]):  # connection and first-call costs
            warm()
        out = {"get_invocation": _latencies_ms(gets), "list_invocations_page": _latencies_ms(pages)}
        if h2load.path() is not None:
            out["h2load"] = {
                "get_invocation": _h2load(
                    server,
                    "GetInvocation",
                    [adm.GetInvocationRequest(invocation_id=i) for i in rng.sample(ids, 5)],
                    lambda r: admin.GetInvocation(r, timeout=30),
                ),
                "list_invocations_page": _h2load(
                    server,
                    "ListInvocations",
                    [
                        adm.ListInvocationsRequest(page_size=PAGE, page_token=encode_page_token(i))
                        for i in rng.sample(ids, 5)
                    ],
                    lambda r: admin.ListInvocations(r, timeout=30),
                ),
            }
        return out


def _h2load(server: ServerProcess, rpc: str, requests: list[Message], call: Callable[[Message], Message]) -> JSON:
    """One h2load connection, one call in flight, a second on each request; the worst p99."""
    runs = []
    for request in requests:
        answer = call(request).SerializeToString()  # checked by a real client first: its size
        runs.append(
            h2load.run(
                server.target,
                f"/invocation_lifecycle.v1.AdminService/{rpc}",
                h2load.grpc_frame(request),
                clients=1,
                duration=1.0,
                warmup_requests=20,
                answer_bytes=len(answer) + 5,
            )
        )
    return {
        "runs": len(runs),
        "calls": sum(r["calls"] for r in runs),
        "unexpected_answers": sum(r["unexpected_answers"] for r in runs),
        "p50_ms": round(sorted(r["p50_ms"] for r in runs)[len(runs) // 2], 2),
        "p99_ms": round(max(r["p99_ms"] for r in runs), 2),
    }


def measure(invocations: int, calls: int) -> JSON:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="big-world-") as folder:
        path = Path(folder) / "world.db"
        ids, made = build(path, invocations)
        server = start_server(None, Path(folder) / "big.log", ["--db", str(path), "--log-level", "ERROR"])
        try:
            rss, peak = memory_mib(server.proc.pid)
            out: JSON = {
                "invocations": invocations,
                **made,
                "ready_s": round(server.ready_s, 2),
                "rss_mib": round(rss, 1),
                "peak_rss_mib": round(peak, 1),
                **reads(server, ids, calls, rng),
                "page_size": PAGE,
            }
        finally:
            server.stop()
        empty = start_server(None, Path(folder) / "empty.log", ["--log-level", "ERROR"])
        try:
            out["empty_server"] = {
                "ready_s": round(empty.ready_s, 3),
                "rss_mib": round(memory_mib(empty.proc.pid)[0], 1),
            }
        finally:
            empty.stop()
    out["what"] = "spawn -> first SERVING health answer; RSS once ready; one Python gRPC client, one call at a time"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.big_world", description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=1_000_000, help="world size (default 1,000,000)")
    parser.add_argument("--calls", type=int, default=500, help="calls of each read (default 500)")
    args = parser.parse_args(argv)
    if args.invocations < 2 or args.calls < 2:
        parser.error("--invocations and --calls must be at least 2")
    try:
        emit(measure(args.invocations, args.calls))
    except grpc.RpcError as exc:
        print(f"bench.big_world: a call failed: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    except (OSError, RuntimeError) as exc:  # a server that did not start, h2load that failed, a full disk
        print(f"bench.big_world: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
