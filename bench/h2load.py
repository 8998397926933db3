"""Load from h2load (nghttp2's HTTP/2 benchmark client, in C) speaking gRPC's wire format.

Why not a Python client: on a 2-core machine the load generator shares the cores with the server,
and a Python gRPC client spends 350-680 µs of CPU per call (measured by ``make bench``), more than
the server does; the figure would be the client's. h2load spends a few tens of µs.

A gRPC unary call is an HTTP/2 POST to ``/package.Service/Method`` with ``content-type:
application/grpc`` and ``te: trailers``, whose body is one length-prefixed message
(:func:`grpc_frame`). h2load sends the same body every time and checks only the HTTP status (always
200 in gRPC; the gRPC status is in the trailers), so the answers are checked by size: a success
carries one message of the size the caller expects, a refusal carries none (its status and details
are in trailers only). The caller checks one answer of each kind with a real gRPC client first.
"""

from __future__ import annotations

import re
import resource
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from google.protobuf.message import Message

from .common import JSON, percentile

_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout"
)
_DATA = re.compile(r"traffic: .*?, .*? headers .*?, \S+ \((\d+)\) data")


def path() -> str | None:
    """The h2load executable, or None (``make bench`` installs Debian's nghttp2-client when it can)."""
    return shutil.which("h2load")


def grpc_frame(message: Message) -> bytes:
    """``message`` as a gRPC request body: not compressed (0), big-endian length, the bytes."""
    payload = message.SerializeToString()
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def parse_summary(stdout: str) -> tuple[int, int, int]:
    """(requests done, requests succeeded, answer data bytes) from h2load's summary."""
    counts, data = _REQUESTS.search(stdout), _DATA.search(stdout)
    if counts is None or data is None:
        raise RuntimeError(f"h2load printed no summary: {stdout[-600:]}")
    return int(counts[3]), int(counts[4]), int(data[1])


def unexpected_answers(finished: int, succeeded: int, data_bytes: int, answer_bytes: int) -> int:
    """How many of ``finished`` calls did not get the expected answer, judged by sizes only.

    A success expected (``answer_bytes`` > 0): each call must carry exactly one frame of that size,
    so every missing frame (or a stray byte) is one unexpected answer. A refusal expected (0): any
    message at all means refusals were not refused, and every call is counted unexpected. Calls
    h2load itself saw fail (HTTP status, reset stream) are always unexpected.
    """
    failed = finished - succeeded
    if answer_bytes:
        whole, stray = divmod(data_bytes, answer_bytes)
        return max(finished - whole, 0) + (1 if stray else 0) + failed
    return (finished if data_bytes else 0) + failed


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    target: str, method: str, body: bytes, *, clients: int, duration: float, warmup_requests: int, answer_bytes: int
) -> JSON:
    """``clients`` connections, one call in flight on each, for ``duration`` seconds.

    ``method`` is ``/package.Service/Method``; ``answer_bytes`` is the size of the expected answer's
    gRPC frame (0 when every call should be refused). A warm-up of ``warmup_requests`` calls on
    the same connections' settings runs first and is not counted.
    """
    executable = path()
    if executable is None:
        raise RuntimeError("h2load is not installed")
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        body_file, log_file = Path(tmp) / "body", Path(tmp) / "requests.tsv"
        body_file.write_bytes(body)
        common = [
            executable,
            "-c",
            str(clients),
            "-m",
            "1",
            "-d",
            str(body_file),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
        ]
        url = f"http://{target}{method}"
        if warmup_requests:
            subprocess.run(
                [*common, "-n", str(max(warmup_requests, clients)), url],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
        cpu_before = _children_cpu_s()
        measured = [*common, "-D", f"{round(duration * 1000)}ms", "--log-file", str(log_file), url]
        done = subprocess.run(measured, capture_output=True, text=True, timeout=duration + 120, check=False)
        client_cpu = _children_cpu_s() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"h2load failed ({done.returncode}): {done.stdout[-600:]} {done.stderr[-600:]}")
        finished, succeeded, data_bytes = parse_summary(done.stdout)
        latencies_ms = [int(line.split("\t")[2]) / 1000 for line in log_file.read_text().splitlines() if line]
    unexpected = unexpected_answers(finished, succeeded, data_bytes, answer_bytes)
    return {
        "calls": finished,
        "unexpected_answers": unexpected,
        "seconds": duration,
        "rps": round(finished / duration, 1),
        "p50_ms": round(percentile(latencies_ms, 0.50), 3),
        "p99_ms": round(percentile(latencies_ms, 0.99), 3),
        "mean_ms": round(sum(latencies_ms) / len(latencies_ms), 3) if latencies_ms else 0.0,
        "client_cpu_s": client_cpu,
        "data_bytes": data_bytes,
    }
