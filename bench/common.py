"""What every section shares: the machine, statistics, and child processes stopped by PID."""

from __future__ import annotations

import http.client
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"

JSON = dict[str, Any]


def machine() -> JSON:
    """What the figures were measured on (they mean little without it)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average_at_start": load,
    }


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a running process in MiB, from /proc; OSError once it is gone."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def stop(proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    """SIGTERM the child by its PID, then SIGKILL if it is still there after ``timeout_s``."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=timeout_s)


def run_child(module: str, args: list[str], timeout_s: float, prefix: Sequence[str] = ()) -> JSON:
    """Run ``python -m module args`` and return the JSON object on its last stdout line.

    A child keeps a section's heap, GC state and threads away from the next section's figures.
    ``prefix`` runs it under another command (``unshare --net --``). Stopped by PID when it
    overruns ``timeout_s``; a failure is returned as ``{"error": ...}``.
    """
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(proc)
        proc.communicate()
        return {"error": f"python -m {module} did not finish within {timeout_s:.0f}s"}
    finally:
        stop(proc)
    lines = [line for line in out.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"python -m {module} exited {proc.returncode}: {err.strip()[-800:]}"}
    try:
        result: JSON = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"python -m {module} printed no JSON: {lines[-1][:200]}"}
    return result


def emit(result: JSON) -> None:
    """A child's answer to :func:`run_child`: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def _connection(port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK waits
    return conn


def timed_patch(port: int, path: str, count: int, expect: int) -> tuple[list[float], int]:
    """``count`` PATCHes on one kept-alive connection: latencies (ms) and answers other than ``expect``."""
    conn = _connection(port)
    latencies: list[float] = []
    unexpected = 0
    try:
        for _ in range(count):
            started = time.perf_counter()
            conn.request("PATCH", path)
            response = conn.getresponse()
            response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            unexpected += response.status != expect
    finally:
        conn.close()
    return latencies, unexpected


def latency(latencies: list[float], unexpected: int) -> JSON:
    """p50/p99/mean of one client's sequential calls, and the rate they came at."""
    total_s = sum(latencies) / 1000
    return {
        "calls": len(latencies),
        "unexpected_answers": unexpected,
        "p50_ms": round(percentile(latencies, 0.5), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "mean_ms": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
        "rps_one_client": round(len(latencies) / total_s, 1) if total_s else 0.0,
    }


def concurrent_patch(port: int, path: str, clients: int, per_client: int, expect: int) -> JSON:
    """``clients`` threads, each on its own kept-alive connection, ``per_client`` PATCHes each:
    requests per second over the wall time, and latency percentiles over all calls."""
    results: list[tuple[list[float], int]] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        start.wait()
        found = timed_patch(port, path, per_client, expect)
        with lock:
            results.append(found)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    all_calls = [ms for calls, _ in results for ms in calls]
    return {
        "clients": clients,
        "calls": len(all_calls),
        "unexpected_answers": sum(bad for _, bad in results),
        "rps": round(len(all_calls) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(all_calls, 0.5), 3),
        "p99_ms": round(percentile(all_calls, 0.99), 3),
    }
