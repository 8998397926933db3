"""Exploration and simulation at scale, as a user runs them: the command lines, timed end to end.

- the simulator on Dask: ``python -m fsm.tools.simulate --workers 2`` over ten times the serial
  run's calls, its rate against the serial rate measured in the same ``make bench``;
- the explorer: ``python -m fsm.tools.explore --depth D --invocations 3``: time, states, peak RSS.

Each runs as a child process; its peak RSS is the child's own VmHWM, read every 50 ms while it
runs; its time the wall clock from spawn to exit, start-up included. Nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from .common import JSON, ROOT, memory_mib, stop


def _run(args: list[str], timeout_s: float) -> tuple[JSON | None, float, float, str]:
    """(the JSON it printed or None, seconds, peak RSS in MiB, the end of its stderr)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = started + timeout_s
        peak_mib = 0.0
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_mib = max(peak_mib, _peak_mib(proc.pid))
            if time.perf_counter() > deadline:
                stop(proc)
                return None, timeout_s, 0.0, f"did not finish within {timeout_s:.0f} s"
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        said = err.read()[-600:]
        text = out.read()
        try:
            data = json.loads(text) if proc.returncode in (0, 1) else None
        except json.JSONDecodeError:
            data = None
        return data, seconds, peak_mib, said if data is None else ""


def _peak_mib(pid: int) -> float:
    """The process's peak RSS so far (VmHWM), 0 once it is gone. Read from /proc while it runs:
    ``wait4``'s ru_maxrss would count this (large) parent, whose memory the child had until exec."""
    try:
        return memory_mib(pid)[1]
    except (OSError, KeyError, ValueError):
        return 0.0


def simulate_on_dask(invocations: int, workers: int, timeout_s: float) -> JSON:
    """``fsm.tools.simulate --workers N`` end to end: seconds, rate, its trace hash."""
    args = ["-m", "fsm.tools.simulate", "--invocations", str(invocations), "--seed", "1", "--json"]
    data, seconds, _, err = _run([*args, "--workers", str(workers)], timeout_s)
    if data is None:
        return {"error": err.strip() or "no summary printed", "command": " ".join(args)}
    return {
        "invocations": invocations,
        "workers": workers,
        "shards": data["workload"]["shards"],
        "seconds": round(seconds, 2),
        "invocations_per_s": round(invocations / seconds),
        "trace_sha256": data["trace_sha256"],
        "command": f"python -m fsm.tools.simulate --invocations N --seed 1 --workers {workers}",
        "note": "1 run, process wall clock: the LocalCluster's start and stop included",
    }


def shard_alone(invocations: int) -> JSON:
    """One shard of the ``invocations``-call workload, run alone in this process: the serial rate of
    that workload (a serial run executes its equal shards one after another at this rate)."""
    from fsm.simulate import Workload, simulate

    workload = Workload(invocations=invocations, seed=1)
    started = time.perf_counter()
    summary, _ = simulate(workload, shard=0)
    seconds = time.perf_counter() - started
    return {
        "invocations": invocations,
        "shard_calls": summary.calls,
        "seconds": round(seconds, 2),
        "invocations_per_s": round(summary.calls / seconds),
        "what": "shard 0 of the same workload, alone in one process (a serial run's rate)",
    }


def explore(depth: int, invocations: int, timeout_s: float) -> JSON:
    """``fsm.tools.explore`` end to end: seconds, states, rate, peak RSS, what it found."""
    args = ["-m", "fsm.tools.explore", "--depth", str(depth), "--invocations", str(invocations), "--format", "json"]
    data, seconds, rss_mib, err = _run([*args, "--no-programs"], timeout_s)
    if data is None:
        return {"error": err.strip() or "no report printed", "command": " ".join(args)}
    return {
        "depth": depth,
        "invocations": invocations,
        "seconds": round(seconds, 1),
        "states": data["states"],
        "by_depth": data["by_depth"],
        "states_per_s": round(data["states"] / seconds),
        "peak_rss_mib": round(rss_mib, 1),
        "witnesses": len(data["witnesses"]),
        "answers": len(data["answers"]),
        "violations": len(data["violations"]),
        "command": f"python -m fsm.tools.explore --depth {depth} --invocations {invocations}",
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.scale shard N``: :func:`shard_alone` as a JSON line (the bench runs it as a child)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "shard" or not args[1].isdigit():
        print("usage: python -m bench.scale shard INVOCATIONS", file=sys.stderr)
        return 2
    print(json.dumps(shard_alone(int(args[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
