"""A seeded workload generator that drives very many invocations through the engine.

    python -m fsm.tools.simulate --invocations 1000000 --seed 1 [--trace run.jsonl] [--progress] [--json]
                                 [--set rate_per_s=500 --set keys=100 ...] [--set shards=2 [--jobs 2]]
    python -m fsm.tools.simulate --replay run.jsonl

The simulator itself (:class:`fsm.simulate.Workload`, every knob settable with ``--set name=value``)
runs one world in memory. Here is what touches the machine: the trace files (``--trace``, one
per shard: :func:`shard_trace_path`) and their replay, the progress bar on stderr, and the worker
processes that run the shards of ``--set shards=N`` side by side (``--jobs``, one per core by
default). The result depends on the seed and N, never on the number of jobs. The summary goes
to stdout, the wall-clock time to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from fsm.engine import Engine
from fsm.lifecycle import LIVE_STATES
from fsm.simulate import KNOBS, Summary, TraceWriter, Workload, merge, replay, simulate
from fsm.tools.parser import Parser

# --- files and processes ---------------------------------------------------------------------------


def replay_file(path: str | Path) -> Engine:
    """The engine a trace file ends in: :func:`fsm.simulate.replay` over its lines."""
    with open(path, encoding="utf-8") as handle:
        return replay(handle)


def shard_trace_path(path: str | Path, shard: int, shards: int) -> Path:
    """Where shard ``shard`` writes its trace: ``run.jsonl`` itself, or ``run.shard1.jsonl``."""
    path = Path(path)
    return path if shards == 1 else path.with_name(f"{path.stem}.shard{shard}{path.suffix}")


def _run_shard(job: tuple[Workload, int, str | None, bool]) -> Summary:
    """One shard, in this process or a worker: optional trace file, optional progress bar."""
    workload, shard, trace_path, show_progress = job
    progress = ProgressBar(sys.stderr) if show_progress else None
    if trace_path is None:
        return simulate(workload, progress=progress, shard=shard)[0]
    with open(shard_trace_path(trace_path, shard, workload.shards), "w", encoding="utf-8") as out:
        writer = TraceWriter(out, workload.engine_settings(shard))
        return simulate(workload, trace=writer, progress=progress, shard=shard)[0]


def simulate_all(
    workload: Workload, *, jobs: int = 1, trace_path: str | Path | None = None, progress: bool = False
) -> Summary:
    """Run every shard of ``workload`` (``jobs`` at a time, in worker processes) and merge them.

    The result depends on ``workload`` only, never on ``jobs``. With a progress bar, shard 0
    draws it (the shards advance at about the same pace).
    """
    trace = None if trace_path is None else str(trace_path)
    work = [(workload, shard, trace, progress and shard == 0) for shard in range(workload.shards)]
    if jobs <= 1 or workload.shards == 1:
        return merge(workload, [_run_shard(job) for job in work])
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(min(jobs, workload.shards)) as pool:
        return merge(workload, pool.map(_run_shard, work, chunksize=1))


# --- command line ------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on a stream (stderr); redrawn in place."""

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * self.width)
        elapsed = time.perf_counter() - self.started
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {share:6.1%} {done:,}/{total:,} calls, {elapsed:.1f} s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _parse_knob(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(Workload)}
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in fields:
        raise argparse.ArgumentTypeError(f"unknown knob {name!r}")
    kind = type(getattr(Workload(), name))
    if kind is bool:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise argparse.ArgumentTypeError(f"{name} must be true or false")
        return name, raw.lower() in ("true", "1", "yes")
    try:
        return name, kind(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} must be {'an integer' if kind is int else 'a number'}") from None


def _machine() -> str:
    return f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"


def knobs_help(defaults: Workload) -> str:
    """Every knob with its default and what it means, for ``--help``."""
    rows = [(name, repr(getattr(defaults, name))) for name in KNOBS]
    width = max(len(f"{name}={value}") for name, value in rows)
    lines = [f"  {f'{name}={value}':<{width}}  {KNOBS[name]}" for name, value in rows]
    return "knobs (--set NAME=VALUE; shown with their defaults):\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = Workload()
    parser = Parser(
        prog="python -m fsm.tools.simulate",
        description=__doc__.splitlines()[0],
        epilog=knobs_help(defaults),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--invocations", type=int, help=f"calls to make (default {defaults.invocations})")
    parser.add_argument("--seed", type=int, help=f"seed of the run (default {defaults.seed})")
    parser.add_argument(
        "--set",
        type=_parse_knob,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any knob below, e.g. rate_per_s=500, keys=10, fail=0.05, seed=3 (repeatable)",
    )
    parser.add_argument("--trace", metavar="FILE.jsonl", help="write every engine call, replayable with --replay")
    parser.add_argument("--replay", metavar="FILE.jsonl", help="replay a trace and print the end state's counts")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is no TTY")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--jobs", type=int, help="worker processes for --set shards=N (default: min(N, CPUs))")
    args = parser.parse_args(argv)
    if args.replay:
        started = time.perf_counter()
        engine = replay_file(args.replay)
        counts = Counter(inv.state for inv in engine.invocations.values())
        print(json.dumps({state: counts.get(state, 0) for state in LIVE_STATES}))
        print(f"replayed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    knobs = dict(args.set)
    for flag in ("invocations", "seed"):  # --seed 3 is --set seed=3; both must agree
        given = getattr(args, flag)
        if given is not None:
            if flag in knobs and knobs[flag] != given:
                parser.error(f"--{flag} {given} and --set {flag}={knobs[flag]} disagree: give one")
            knobs[flag] = given
    try:
        workload = dataclasses.replace(defaults, **knobs)
    except ValueError as error:
        parser.error(str(error))
    jobs = args.jobs if args.jobs is not None else min(workload.shards, os.cpu_count() or 1)
    started = time.perf_counter()
    summary = simulate_all(workload, jobs=jobs, trace_path=args.trace, progress=args.progress or sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(summary.to_json(), indent=1))
    else:
        sys.stdout.write(summary.table())
    shards = f" in {workload.shards} shards, {jobs} jobs" if workload.shards > 1 else ""
    print(f"\n{summary.calls:,} calls simulated{shards} in {elapsed:.1f} s wall clock ({_machine()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
