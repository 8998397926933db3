"""A seeded workload generator that drives very many invocations through the engine.

    python -m fsm.tools.simulate --invocations 1000000 --seed 1 [--shards 8] [--json] [--out DIR]
                                 [--workers 2 | --scheduler tcp://HOST:8786] [--trace run.jsonl]
                                 [--set rate_per_s=500 --set keys=100 ...] [--progress]
    python -m fsm.tools.simulate --replay run.jsonl

The simulator itself (:class:`fsm.simulate.Workload`, every knob settable with ``--set name=value``)
runs one shard of a run in memory. Here is what touches the machine: running the shards (here, one
after the other, or on Dask distributed: ``--workers N`` starts a LocalCluster of N worker
processes, ``--scheduler ADDRESS`` uses a running cluster), the files (``--trace``: every engine
call, one file per shard, replayable with ``--replay``; ``--out DIR``: the event trace, the
samples, the summary and a plot), and the progress on stderr. The summary goes to stdout; its
``trace_sha256`` is the same for the same workload however the shards ran.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO

from fsm.engine import Engine
from fsm.lifecycle import LIVE_STATES
from fsm.simulate import KNOBS, ReplayError, Summary, TraceWriter, Workload, merge, replay, simulate
from fsm.tools.parser import Parser, run

#: How long connecting to a scheduler may take before the run gives up, in seconds.
CONNECT_TIMEOUT_S = 10

# --- files ------------------------------------------------------------------------------------------


def replay_file(path: str | Path) -> Engine:
    """The engine a trace file ends in: :func:`fsm.simulate.replay` over its lines."""
    with open(path, encoding="utf-8") as handle:
        return replay(handle)


def shard_trace_path(path: str | Path, shard: int, shards: int) -> Path:
    """Where shard ``shard`` writes its trace: ``run.jsonl`` itself, or ``run.shard1.jsonl``."""
    path = Path(path)
    return path if shards == 1 else path.with_name(f"{path.stem}.shard{shard}{path.suffix}")


def events_path(out: str | Path, shard: int) -> Path:
    """Where shard ``shard`` writes its event trace under ``--out``."""
    return Path(out) / f"events.shard{shard}.csv"


# --- running the shards -----------------------------------------------------------------------------


def run_shard(workload: Workload, shard: int, trace_path: str | None = None, out: str | None = None) -> Summary:
    """One shard, here or on a Dask worker: with its trace file and its event trace when asked."""
    with contextlib.ExitStack() as files:
        trace: TextIO | None = None
        events: TextIO | None = None
        if trace_path is not None:
            path = shard_trace_path(trace_path, shard, workload.shards)
            trace = files.enter_context(open(path, "w", encoding="utf-8"))
        if out is not None:
            events = files.enter_context(open(events_path(out, shard), "w", encoding="utf-8"))
            events.write("t_ms,event,invocation,arg,state\n")
        writer = None if trace is None else TraceWriter(trace, workload.engine_settings(shard))
        return simulate(workload, trace=writer, shard=shard, events=events)[0]


class SchedulerError(Exception):
    """Dask's scheduler could not be reached or started: the message says where and why."""


def run_serial(
    workload: Workload,
    *,
    trace_path: str | None = None,
    out: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Every shard here, in shard order; ``progress(calls done)`` after each."""
    parts = []
    done = 0
    for shard in range(workload.shards):
        parts.append(run_shard(workload, shard, trace_path, out))
        done += parts[-1].calls
        if progress is not None:
            progress(done)
    return merge(workload, parts)


def run_on_dask(
    workload: Workload,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    trace_path: str | None = None,
    out: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Every shard as a Dask task: on a LocalCluster of ``workers`` processes, or on the cluster
    whose ``scheduler`` address is given (its workers must import this package and see ``out``).
    The summaries come back and are merged in shard order, so the result is the serial one."""
    try:
        dask: Any = importlib.import_module("distributed")  # untyped: used through Any
    except ImportError as exc:
        raise SchedulerError(f"Dask is not installed ({exc}): pip install 'invocation-lifecycle[sim]'") from None
    Client, LocalCluster, as_completed = dask.Client, dask.LocalCluster, dask.as_completed
    cluster = None
    try:
        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(
                    f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s ({exc})"
                ) from None
        else:
            cluster = LocalCluster(
                n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
            )
            client = Client(cluster)
        with client:
            shard_of = {
                client.submit(run_shard, workload, shard, trace_path, out, key=f"shard-{shard}", pure=False): shard
                for shard in range(workload.shards)
            }
            parts: dict[int, Summary] = {}
            done = 0
            for future in as_completed(shard_of):
                summary = future.result()
                parts[shard_of[future]] = summary
                done += summary.calls
                if progress is not None:
                    progress(done)
        return merge(workload, [parts[shard] for shard in range(workload.shards)])
    finally:
        if cluster is not None:
            cluster.close()


# --- what --out writes ------------------------------------------------------------------------------


def write_out(out: Path, summary: Summary) -> list[Path]:
    """The summary (JSON), the samples (CSV) and a plot (PNG and SVG) under ``out``; the paths."""
    written = [out / "summary.json", out / "intervals.csv"]
    written[0].write_text(json.dumps(summary.to_json(), indent=1) + "\n", encoding="utf-8")
    with open(written[1], "w", encoding="utf-8") as csv:
        states = list(summary.intervals[0]["states"]) if summary.intervals else []
        statuses = list(summary.intervals[0]["restarts"]) if summary.intervals else []
        csv.write(",".join(["t_s", "calls", "restarted", *states, *(f"restart_{s}" for s in statuses)]) + "\n")
        for row in summary.intervals:
            values = [row["t_s"], row["calls"], row["restarted"]]
            values += [row["states"][s] for s in states] + [row["restarts"][s] for s in statuses]
            csv.write(",".join(str(v) for v in values) + "\n")
    from fsm.tools.plots import plot_simulation

    written += plot_simulation(summary, out / "simulation")
    return written


# --- command line ------------------------------------------------------------------------------------


class Progress:
    """One line on stderr, redrawn in place: calls done of the run's total, and the time."""

    def __init__(self, stream: IO[str], total: int) -> None:
        self.stream = stream
        self.total = total
        self.started = time.perf_counter()

    def __call__(self, done: int) -> None:
        share = done / self.total if self.total else 1.0
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{share:6.1%} {done:,}/{self.total:,} calls, {elapsed:.1f} s")
        if done >= self.total:
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
        "--shards", type=int, help=f"partition-key ranges the run is split into (default {defaults.shards})"
    )
    parser.add_argument(
        "--set",
        type=_parse_knob,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any knob below, e.g. rate_per_s=500, keys=10, fail=0.05, seed=3 (repeatable)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="run the shards on a Dask LocalCluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run the shards on this Dask scheduler's cluster")
    parser.add_argument("--out", metavar="DIR", help="write the event trace, the samples, the summary and a plot there")
    parser.add_argument("--trace", metavar="FILE.jsonl", help="write every engine call, replayable with --replay")
    parser.add_argument("--replay", metavar="FILE.jsonl", help="replay a trace and print the end state's counts")
    parser.add_argument("--progress", action="store_true", help="show the progress even when stderr is no TTY")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.replay:
        started = time.perf_counter()
        try:
            engine = replay_file(args.replay)
        except OSError as exc:
            print(f"simulate: cannot read {args.replay}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except (ReplayError, ValueError, TypeError, KeyError, StopIteration) as exc:
            said = str(exc) if isinstance(exc, ReplayError) else "not a trace written by --trace"
            print(f"simulate: {args.replay}: {said}", file=sys.stderr)
            return 2
        counts = Counter(inv.state for inv in engine.invocations.values())
        print(json.dumps({state: counts.get(state, 0) for state in LIVE_STATES}))
        print(f"replayed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return 0
    if args.workers is not None and args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    knobs = dict(args.set)
    for flag in ("invocations", "seed", "shards"):  # --seed 3 is --set seed=3; both must agree
        given = getattr(args, flag)
        if given is not None:
            if flag in knobs and knobs[flag] != given:
                parser.error(f"--{flag} {given} and --set {flag}={knobs[flag]} disagree: give one")
            knobs[flag] = given
    try:
        workload = dataclasses.replace(defaults, **knobs)
    except ValueError as error:
        parser.error(str(error))
    out = None
    if args.out is not None:
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--out {args.out}: {exc.strerror or exc}")
        out = str(Path(args.out).resolve())
    progress = Progress(sys.stderr, workload.invocations) if args.progress or sys.stderr.isatty() else None
    started = time.perf_counter()
    try:
        if args.workers is None and args.scheduler is None:
            summary = run_serial(workload, trace_path=args.trace, out=out, progress=progress)
            ran = "serially"
        else:
            summary = run_on_dask(
                workload,
                workers=args.workers,
                scheduler=args.scheduler,
                trace_path=args.trace,
                out=out,
                progress=progress,
            )
            ran = (
                f"on {args.workers} Dask workers"
                if args.scheduler is None
                else f"on the Dask cluster at {args.scheduler}"
            )
        elapsed = time.perf_counter() - started
        if out is not None:
            write_out(Path(out), summary)
    except SchedulerError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        said = f"cannot write {exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
        print(f"simulate: {said}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_json(), indent=1))
    else:
        sys.stdout.write(summary.table())
    print(
        f"\n{summary.calls:,} calls simulated in {workload.shards} shards {ran} in {elapsed:.1f} s wall clock "
        f"({_machine()})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    run(main, "python -m fsm.tools.simulate")
