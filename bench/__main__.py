"""``python -m bench`` (``make bench``): every figure in one run, a table and bench/results.json.

    python -m bench                       # the full run (1,000,000 invocations; a few minutes)
    python -m bench --quick               # tiny sizes, seconds: a smoke test, not a measurement
    python -m bench --invocations 200000 --skip restate --output /tmp/r.json
    python -m bench --explore-depth 6     # the explorer at depth 7 alone takes ~20 min on 2 vCPUs

Sections run one after another (the memory child runs beside ``python -m fsm.tools.simulate``: its
figures are allocation counts, which CPU contention does not change). Nothing here asserts a
timing: the targets are judged in the table and in ``targets`` of the JSON, honestly.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fsm.tools.parser import Parser

from . import grpc_bench, holding, hotpath, http_bench, report, restate, scale, sql_bench
from .common import JSON, RESULTS, ROOT, machine, run_child, stop

SECTIONS = (
    "hotpath",
    "simulator",
    "memory",
    "fsm-simulate",
    "grpc",
    "http",
    "sql",
    "holding",
    "big-world",
    "sim-dask",
    "explore",
    "restate",
)


@dataclass(frozen=True)
class Sizes:
    invocations: int
    memory_invocations: int
    sim_repeats: int
    hot_rounds: int
    hot_seconds: float
    grpc_rounds: int
    grpc_duration: float
    grpc_warmup: int
    grpc_completed: int
    ready_runs: int
    restate_runs: int
    restate_restarts: int
    health_checks: int
    sleepers: int
    sql_invocations: int
    big_world: int
    big_world_calls: int
    dask_invocations: int
    explore_depth: int


FULL = Sizes(
    1_000_000, 1_000_000, 2, 7, 0.25, 3, 2.5, 50, 1_000, 5, 3, 200, 200, 10_000, 100_000, 1_000_000, 500, 10_000_000, 7
)
QUICK = Sizes(2_000, 2_000, 1, 3, 0.02, 1, 0.3, 5, 50, 1, 1, 10, 20, 100, 2_000, 2_000, 20, 20_000, 3)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the bench runs, measures little")
    parser.add_argument("--invocations", type=int, help="simulator and memory size (default 1,000,000)")
    parser.add_argument("--sim-repeats", type=int, help="runs of the simulator figure (best is reported)")
    parser.add_argument("--grpc-duration", type=float, help="seconds per gRPC run")
    parser.add_argument("--grpc-rounds", type=int, help="rounds of every gRPC scenario (median is reported)")
    parser.add_argument("--explore-depth", type=int, help="depth of the explorer's figure (default 7: its target's)")
    parser.add_argument("--skip", action="append", default=[], choices=SECTIONS, help="leave a section out")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.invocations is not None and args.invocations < 1:
        parser.error("--invocations must be at least 1")
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else FULL
    n = args.invocations
    return Sizes(
        invocations=n or base.invocations,
        memory_invocations=n or base.memory_invocations,
        sim_repeats=args.sim_repeats or base.sim_repeats,
        hot_rounds=base.hot_rounds,
        hot_seconds=base.hot_seconds,
        grpc_rounds=args.grpc_rounds or base.grpc_rounds,
        grpc_duration=args.grpc_duration or base.grpc_duration,
        grpc_warmup=base.grpc_warmup,
        grpc_completed=base.grpc_completed,
        ready_runs=base.ready_runs,
        restate_runs=base.restate_runs,
        restate_restarts=base.restate_restarts,
        health_checks=base.health_checks,
        sleepers=base.sleepers,
        sql_invocations=base.sql_invocations,
        big_world=base.big_world,
        big_world_calls=base.big_world_calls,
        dask_invocations=10 * n if n else base.dask_invocations,
        explore_depth=args.explore_depth or base.explore_depth,
    )


def simulator(sizes: Sizes) -> JSON:
    """The engine-API lifecycle, ``sim_repeats`` fresh children (each warms up first); best is the figure."""
    runs = []
    for _ in range(sizes.sim_repeats):
        run = run_child(
            "bench.lifecycle",
            ["--invocations", str(sizes.invocations), "--warmup", str(min(10_000, sizes.invocations))],
            timeout_s=600,
        )
        if "error" in run:
            return run
        runs.append(run)
    best = min(runs, key=lambda r: float(r["seconds"]))
    return {
        "invocations": sizes.invocations,
        "steps": best["steps"],
        "batch": best["batch"],
        "gc": best["gc"],
        "best_seconds": best["seconds"],
        "best_invocations_per_s": best["invocations_per_s"],
        "best_us_per_invocation": best["us_per_invocation"],
        "runs": [{k: r[k] for k in ("seconds", "invocations_per_s")} for r in runs],
    }


def fsm_simulate(invocations: int, timeout_s: float) -> JSON:
    """Time ``python -m fsm.tools.simulate`` end to end, as a user runs it (start-up included)."""
    args = [sys.executable, "-m", "fsm.tools.simulate", "--invocations", str(invocations), "--seed", "1"]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout_s:.0f}s", "command": " ".join(args[1:])}
    finally:
        stop(proc)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": f"exited {proc.returncode}: {err.strip()[-500:]}"}
    return {
        "invocations": invocations,
        "seconds": round(seconds, 2),
        "invocations_per_s": round(invocations / seconds),
        "command": "python -m fsm.tools.simulate --invocations N --seed 1",
        "what": "its own workload (not the 5-step lifecycle); wall clock of the process, startup included",
        "note": "1 run, process wall clock",
    }


def run(args: argparse.Namespace) -> JSON:
    sizes = sizes_from(args)
    skip = set(args.skip)
    started = time.perf_counter()
    results: JSON = {
        "machine": machine(),
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "sizes": sizes.__dict__,
    }

    def section(name: str, text: str) -> bool:
        if name in skip:
            return False
        print(f"[bench {time.perf_counter() - started:6.1f}s] {text}", flush=True)
        return True

    if section("hotpath", "hot path: dict floor vs compiled fire vs engine step vs transitions"):
        results["hot_path"] = hotpath.measure(sizes.hot_rounds, sizes.hot_seconds)
    if section("simulator", f"simulator: {sizes.invocations:,} invocations x {sizes.sim_repeats} runs"):
        results["simulator"] = {"lifecycle": simulator(sizes)}
    with ThreadPoolExecutor(max_workers=1) as beside:
        memory = None
        if section("memory", f"memory: {sizes.memory_invocations:,} invocations under tracemalloc (in the background)"):
            memory = beside.submit(run_child, "bench.memory", ["--invocations", str(sizes.memory_invocations)], 900)
        if section("fsm-simulate", f"python -m fsm.tools.simulate --invocations {sizes.invocations:,} --seed 1"):
            other = fsm_simulate(sizes.invocations, timeout_s=900)
            if memory is not None and "seconds" in other:
                other["note"] += ", beside the memory child"
            results.setdefault("simulator", {})["fsm_simulate"] = other
        if memory is not None:
            results["memory"] = memory.result()
    if section("grpc", "gRPC: server start-to-ready, echo / restart / refusal at 1 and 8 clients"):
        results["grpc"] = grpc_bench.measure(
            rounds=sizes.grpc_rounds,
            duration=sizes.grpc_duration,
            warmup=sizes.grpc_warmup,
            completed=sizes.grpc_completed,
            ready_runs=sizes.ready_runs,
        )
    if section("http", "HTTP: restart-as-new over Restate's admin API at 1 and 8 clients"):
        results["http"] = http_bench.measure(sizes.restate_restarts)
    if section("sql", f"SQL: read, build and query over {sizes.sql_invocations:,} invocations"):
        results["sql"] = sql_bench.measure(sizes.sql_invocations)
    if section("holding", "the server holds: health under 8 and 100 stalled streams, AdvanceClock(10^15)"):
        results["holding"] = holding.measure(sizes.health_checks, sizes.sleepers)
    if section("big-world", f"a {sizes.big_world:,}-invocation world kept in SQLite: start, RSS, reads"):
        big = ["--invocations", str(sizes.big_world), "--calls", str(sizes.big_world_calls)]
        results["big_world"] = run_child("bench.big_world", big, timeout_s=1200)
    if section("sim-dask", f"python -m fsm.tools.simulate --invocations {sizes.dask_invocations:,} --workers 2"):
        results.setdefault("simulator", {})["dask"] = scale.simulate_on_dask(sizes.dask_invocations, 2, 3600)
        results["simulator"]["dask_serial_shard"] = run_child(
            "bench.scale", ["shard", str(sizes.dask_invocations)], timeout_s=1800
        )
    if section("explore", f"python -m fsm.tools.explore --depth {sizes.explore_depth} --invocations 3"):
        results["explore"] = scale.explore(sizes.explore_depth, 3, 7200)
    if section("restate", "real restate-server: start-to-ready and restart-as-new"):
        results["restate_server"] = restate.measure(sizes.restate_runs, sizes.restate_restarts)
    results["targets"] = report.targets(results)
    results["duration_s"] = round(time.perf_counter() - started, 1)
    try:
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(report.table(results))
    print(f"\nwritten to {args.output} in {results['duration_s']} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
