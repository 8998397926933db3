"""``make fuzz``: a live server against random bytes and well-typed extreme values, every method.

    python -m bench.fuzz [--requests 100000] [--seed 1] [--random-only]

Starts ``python -m grpc_server`` on 127.0.0.1 (a port of its own), then sends ``--requests`` calls
spread over every method of both services: half random bodies (0-64 random bytes), half well-typed
requests whose fields take extreme values (empty, huge, malformed, the largest of their type,
unknown enums; :mod:`tests.grpc_server.test_limits` uses the same values on one field at a time).
``--random-only`` sends random bodies only (nothing is accepted, so memory must stay flat).
It prints requests, answers by gRPC code, the INTERNAL/UNKNOWN count, the server's RSS before and
after, and the slowest call; the exit code is 1 when anything answered INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from grpc_server.rpc import METHODS, REQUEST_TYPES, SERVICES

from .common import memory_mib
from .grpc_bench import start_server

WAIT_S = 30
#: Values a field of each type takes (strings get a few live-looking ids too).
EXTREMES: dict[int, list[Any]] = {
    FieldDescriptor.TYPE_STRING: ["", "x" * 100_000, "\x00", "inv_bogus", "dp_bogus", "é" * 40, "Steps"],
    FieldDescriptor.TYPE_UINT32: [0, 1, 2**31, 2**32 - 1],
    FieldDescriptor.TYPE_UINT64: [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1],
    FieldDescriptor.TYPE_BOOL: [True, False],
    FieldDescriptor.TYPE_ENUM: [0, 1, 2, 99, 2**31 - 1],
    FieldDescriptor.TYPE_BYTES: [b"", b"\xff" * 1000],
    FieldDescriptor.TYPE_DOUBLE: [0.0, 0.5, 1.0, 2.0, 1e308, float("inf"), float("-inf"), float("nan")],
}


def rss_mib(pid: int) -> float:
    """Resident memory of a process (0.0 where unavailable)."""
    try:
        return memory_mib(pid)[0]
    except (OSError, KeyError, ValueError):
        return 0.0


def extreme_request(rng: random.Random, request_type: type[Message]) -> bytes:
    """A well-typed request whose fields take extreme values, serialised."""
    request = request_type()
    _fill(rng, request)
    return request.SerializeToString()


def _fill(rng: random.Random, message: Message) -> None:
    """Give some of ``message``'s fields extreme values (sub-messages too, one level down each)."""
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.3:
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            _fill(rng, getattr(message, field.name))
            continue
        values = EXTREMES.get(field.type)
        if not values:
            continue
        value = rng.choice(values)
        if field.is_repeated:
            getattr(message, field.name).append(value)
        else:
            setattr(message, field.name, value)


def fuzz(target: str, requests: int, seed: int, random_only: bool = False) -> tuple[dict[str, int], tuple[float, str]]:
    """Send the calls; answers by code, and the slowest call (seconds, method)."""
    rng = random.Random(seed)
    codes: dict[str, int] = {}
    slowest = (0.0, "")
    with grpc.insecure_channel(target) as channel:
        calls = {
            (service, method): channel.unary_unary(f"/{SERVICES[service].full_name}/{method}")
            for service, method in METHODS
        }
        for i in range(requests):
            service, method = rng.choice(METHODS)
            if i % 2 or random_only:
                body = rng.randbytes(rng.randrange(65))
            else:
                body = extreme_request(rng, REQUEST_TYPES[service, method])
            started = time.perf_counter()
            try:
                calls[service, method](body, timeout=WAIT_S)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name
            took = time.perf_counter() - started
            if took > slowest[0]:
                slowest = (took, method)
            codes[code] = codes.get(code, 0) + 1
    return codes, slowest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="calls to send (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random calls (default 1)")
    parser.add_argument("--random-only", action="store_true", help="random bodies only, no well-typed requests")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            server = start_server(None, Path(tmp) / "server.log", ["--log-level", "WARNING"])
        except (OSError, RuntimeError) as exc:
            print(f"cannot start the server: {exc}", file=sys.stderr)
            return 2
        try:
            warm = min(1_000, args.requests)
            fuzz(
                server.target, warm, args.seed + 1, args.random_only
            )  # warm up: the first calls grow caches, not leaks
            before = rss_mib(server.proc.pid)
            started = time.perf_counter()
            codes, slowest = fuzz(server.target, args.requests, args.seed, args.random_only)
            elapsed = time.perf_counter() - started
            after = rss_mib(server.proc.pid)
        finally:
            server.stop()
    broken = codes.get("INTERNAL", 0) + codes.get("UNKNOWN", 0)
    kind = "random bodies" if args.random_only else "calls, half random bodies, half extreme values"
    print(f"requests        {args.requests:,} {kind} in {elapsed:.1f} s (seed {args.seed}, after {warm:,} warm-up)")
    print("answers         " + ", ".join(f"{code} {count:,}" for code, count in sorted(codes.items())))
    print(f"INTERNAL/UNKNOWN {broken}")
    print(f"server RSS      {before:.1f} -> {after:.1f} MiB ({after - before:+.1f} MiB)")
    print(f"slowest call    {slowest[0] * 1000:.1f} ms ({slowest[1]})")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
