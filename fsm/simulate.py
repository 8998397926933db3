"""A seeded workload generator that drives very many invocations through the engine.

    python -m fsm.tools.simulate --invocations 1000000 --seed 1 [--trace run.jsonl] [--progress] [--json]
                                 [--set rate_per_s=500 --set keys=100 ...] [--shards 8] [--workers 2] [--out DIR]
    python -m fsm.tools.simulate --replay run.jsonl

Why: simulators embed the lifecycle and need volume, reproducibility and a record they can
replay. Everything runs on the engine's virtual clock: the same seed gives the same summary and
the same end state, whatever the machine; wall-clock time is printed as run information only.

The workload (every knob is a :class:`Workload` field, settable with ``--set name=value``):
arrivals at ``rate_per_s`` (exponential gaps) to a plain service, a virtual object (``keys``
keys: contention, inboxes) and a workflow; some calls delayed; each handler runs up to
``steps_max`` steps (a ``Run``, a ``Sleep``, or a ``Call`` awaiting two completions) separated
by exponential delays; attempts fail with ``fail`` (retries, then pause or kill after
``max_attempts``); an operator pauses, cancels, kills and resumes; completed invocations are kept
for their retention and some are restarted as new with a random ``from`` and ``deployment``;
deployments are added (some speak only protocol 5) and the oldest removed; partitions become
unavailable for a while (restarts routed there answer 503, handler steps retry).

The simulator keeps only what is in flight (a plan per running invocation, a heap of events);
the engine keeps what Restate would keep (completed invocations until their retention runs out).

A run is split into ``shards`` worlds by partition-key range, as Restate splits its work among
partitions: shard ``i`` owns a contiguous run of the ``partitions`` and every invocation whose
partition key falls there (its unkeyed ids are drawn in its range, its virtual-object keys are
the keys that hash there). Each shard has its share of the calls and of the rate, its own random
stream seeded from (seed, shard), and its own outages; deployments come and go on one schedule
for all. :func:`merge` adds the shards up in shard order. The number of shards is part of the
workload, so the result never depends on where or how many at a time the shards run.

Each shard keeps its event trace itself (time, event, invocation, argument, the invocation's
state after it) and hashes it as it goes: ``Summary.trace_sha256`` is the hash over the shards'
hashes in shard order, equal for equal workloads. Every ``sample_every_s`` of virtual time a shard
samples its counts (states, calls, restart answers) into ``Summary.intervals``.

This module runs one shard in memory; the command line (:mod:`fsm.tools.simulate`) runs them all,
serially or on Dask, and writes the files and the plot.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import heapq
import itertools
import json
import marshal
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .engine import DEFAULT_EPOCH_MS, Engine
from .errors import LifecycleError, Unavailable
from .ids import key_partition_key
from .lifecycle import COMPLETED, INBOXED, LIVE_STATES, PAUSED, RUNNING, SCHEDULED
from .model import SERVICE, VIRTUAL_OBJECT, WORKFLOW, Invocation

TRACE_FORMAT = "fsm.simulate trace v1"
U32_MAX = (1 << 32) - 1

# step kinds of a handler plan
_RUN, _SLEEP, _CALL = 0, 1, 2
# event kinds; events at the same ms run in the order they were scheduled (a sequence number)
_ARRIVAL, _START, _STEP, _DELIVER, _RESUME, _RESTART, _DEPLOY, _OUTAGE, _OUTAGE_END = range(9)
#: The events' names, as the event trace writes them.
EVENTS = ("arrival", "start", "step", "deliver", "resume", "restart", "deploy", "outage", "outage_end")
#: Events kept before they are hashed (and written): the trace never grows beyond this.
_TRACE_CHUNK = 1 << 15
#: The statuses the interval samples count restart answers by.
RESTART_STATUSES = (200, 400, 404, 409, 410, 422, 425, 503)

SERVICES: tuple[tuple[str, str], ...] = (("Greeter", SERVICE), ("Counter", VIRTUAL_OBJECT), ("Checkout", WORKFLOW))


#: What each knob of :class:`Workload` means (``--help`` of ``python -m fsm.tools.simulate`` lists them
#: with their defaults). Probabilities are per event; times are virtual means.
KNOBS: dict[str, str] = {
    "invocations": "calls to make",
    "seed": "seed of every random choice (same seed and knobs, same run)",
    "rate_per_s": "calls per virtual second",
    "service_share": "share of calls to a plain service",
    "object_share": "share of calls to a virtual object (the rest go to workflows)",
    "keys": "virtual-object keys: fewer keys, more contention",
    "delayed": "share of calls with a delay",
    "delay_ms": "mean delay of a delayed call",
    "steps_max": "steps per handler: uniform 0..steps_max",
    "sleep": "share of steps that sleep",
    "call": "share of steps that call another handler (two completions)",
    "step_ms": "mean time a step takes",
    "sleep_ms": "mean sleep",
    "fail": "an attempt fails",
    "max_attempts": "attempts before retries run out",
    "pause_on_max": "retries exhausted: pause (else kill)",
    "pause": "the operator pauses a running invocation (per step)",
    "cancel": "the operator cancels (per step)",
    "kill": "the operator kills (per step)",
    "resume": "a paused invocation is resumed after resume_ms (else left paused)",
    "resume_ms": "mean wait before a resume",
    "terminal_failure": "the handler ends with a terminal error",
    "journal_retention_s": "journal retention of the services",
    "completion_retention_s": "completion retention of the services",
    "cleanup_interval_s": "how often the cleaner runs",
    "restart": "a completed invocation is restarted as new (some after their retention)",
    "restart_ms": "mean wait before a restart",
    "restart_live": "the operator tries to restart an invocation still in flight (409, 425)",
    "deploy_every_s": "mean time between new deployments (0: never)",
    "incompatible_deploy": "a new deployment speaks only protocol 5 (restarts may get 400)",
    "max_deployments": "deployments kept at most",
    "outage_every_s": "mean time between partition outages (0: never)",
    "outage_ms": "mean outage",
    "retry_ms": "a step refused by an unavailable partition is retried after this",
    "partitions": "partitions of the world",
    "drain": "after the last call, run until nothing is in flight (else stop right there)",
    "shards": "worlds the run is split into by partition-key range (each a run of partitions)",
    "sample_every_s": "virtual seconds between two samples of the counts (states, calls, restarts)",
}


@dataclass(frozen=True)
class Workload:
    """Every knob of the generator, with its default; :data:`KNOBS` says what each means.
    Probabilities are per event; times are virtual means (ms or s)."""

    invocations: int = 10_000
    seed: int = 1
    rate_per_s: float = 200.0
    service_share: float = 0.6
    object_share: float = 0.3
    keys: int = 1_000
    delayed: float = 0.05
    delay_ms: float = 2_000.0
    steps_max: int = 3
    sleep: float = 0.1
    call: float = 0.1
    step_ms: float = 20.0
    sleep_ms: float = 1_000.0
    fail: float = 0.03
    max_attempts: int = 2
    pause_on_max: float = 0.8
    pause: float = 0.001
    cancel: float = 0.0005
    kill: float = 0.0005
    resume: float = 0.9
    resume_ms: float = 10_000.0
    terminal_failure: float = 0.02
    journal_retention_s: int = 600
    completion_retention_s: int = 1_800
    cleanup_interval_s: int = 60
    restart: float = 0.01
    restart_ms: float = 300_000.0
    restart_live: float = 0.0005
    deploy_every_s: float = 300.0
    incompatible_deploy: float = 0.2
    max_deployments: int = 3
    outage_every_s: float = 600.0
    outage_ms: float = 5_000.0
    retry_ms: float = 1_000.0
    partitions: int = 24
    drain: bool = False
    shards: int = 8
    sample_every_s: float = 60.0

    def __post_init__(self) -> None:
        """Refuse a workload that cannot run, naming the knob (rather than a ZeroDivisionError later)."""
        shares = (
            "service_share",
            "object_share",
            "delayed",
            "sleep",
            "call",
            "fail",
            "pause_on_max",
            "pause",
            "cancel",
            "kill",
            "resume",
            "terminal_failure",
            "restart",
            "restart_live",
            "incompatible_deploy",
        )
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability: between 0 and 1, got {getattr(self, name)}")
        for name in (
            "rate_per_s",
            "keys",
            "max_attempts",
            "partitions",
            "shards",
            "cleanup_interval_s",
            "max_deployments",
            "sample_every_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("invocations", "steps_max", "journal_retention_s", "completion_retention_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.service_share + self.object_share > 1.0 or self.sleep + self.call > 1.0:
            raise ValueError("service_share + object_share and sleep + call must each be at most 1")
        if self.shards > self.partitions:
            raise ValueError(f"shards must be at most partitions ({self.partitions}): each shard owns partitions")

    def shard_partitions(self, shard: int) -> range:
        """The partitions ``shard`` owns: a contiguous run, the runs as even as they can be."""
        return range(-(-shard * self.partitions // self.shards), -(-(shard + 1) * self.partitions // self.shards))

    def shard_keys(self, shard: int) -> tuple[int, int]:
        """The partition keys ``shard`` owns, ``[low, high)``: those of its partitions."""
        owned = self.shard_partitions(shard)
        return (_ceil_div(owned.start << 64, self.partitions), _ceil_div(owned.stop << 64, self.partitions))

    def shard_calls(self, shard: int) -> int:
        """The calls ``shard`` makes: its partitions' share of ``invocations`` (they add up exactly)."""
        owned = self.shard_partitions(shard)
        return self.invocations * owned.stop // self.partitions - self.invocations * owned.start // self.partitions

    def engine_settings(self, shard: int = 0) -> dict[str, Any]:
        """How the engine of ``shard`` is built (the trace's header says the same)."""
        settings: dict[str, Any] = {
            "seed": self.seed if self.shards == 1 else f"{self.seed}/{shard}/{self.shards}",
            "partitions": self.partitions,
            "cleanup_interval_ms": self.cleanup_interval_s * 1000,
            "now_ms": DEFAULT_EPOCH_MS,
        }
        if self.shards > 1:
            settings["partition_keys"] = list(self.shard_keys(shard))
        return settings

    def engine(self, shard: int = 0) -> Engine:
        return Engine(**self.engine_settings(shard))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Summary:
    """What a run produced; equal for equal workloads (no wall-clock numbers in here)."""

    workload: Workload
    calls: int = 0
    restarted: int = 0  # invocations created by restart-as-new
    virtual_ms: int = 0
    states: dict[str, int] = field(default_factory=dict)  # at the end, "free" included
    restarts: Counter[tuple[int, str]] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    refusals: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # other refused operations
    #: restart chains: how many new invocations are the n-th restart of an original call
    chains: Counter[int] = field(default_factory=Counter)
    #: the event trace's SHA-256 (of one shard; merged: over the shards' hashes in shard order)
    trace_sha256: str = ""
    events: int = 0  # events in the trace
    #: a sample every ``sample_every_s`` of virtual time: t_s, calls, restarted, states, restarts
    intervals: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": dataclasses.asdict(self.workload),
            "calls": self.calls,
            "restarted": self.restarted,
            "virtual_ms": self.virtual_ms,
            "states": self.states,
            "restarts": [{"http_status": s, "reason": r, "count": n} for (s, r), n in sorted(self.restarts.items())],
            "operations": dict(sorted(self.operations.items())),
            "refusals": [
                {"operation": o, "http_status": s, "reason": r, "count": n}
                for (o, s, r), n in sorted(self.refusals.items())
            ],
            "restart_chains": {str(n): c for n, c in sorted(self.chains.items())},
            "events": self.events,
            "trace_sha256": self.trace_sha256,
        }

    def table(self) -> str:
        """The summary as Markdown tables (they paste into the README as they are)."""
        total = self.calls + self.restarted
        hours = self.virtual_ms / 3_600_000
        lines = [
            f"{self.calls:,} calls and {self.restarted:,} restarts over {hours:.2f} h of virtual time "
            f"(seed {self.workload.seed})",
            "",
            "| state at the end | invocations | share |",
            "|---|---:|---:|",
        ]
        for state, n in self.states.items():
            lines.append(f"| {state} | {n:,} | {100 * n / total if total else 0:.2f}% |")
        restarts = sum(self.restarts.values())
        lines += ["", "| restart-as-new answer | reason | count | share |", "|---:|---|---:|---:|"]
        for (status, reason), n in sorted(self.restarts.items()):
            lines.append(f"| {status} | {reason} | {n:,} | {100 * n / restarts if restarts else 0:.2f}% |")
        lines += ["", "| operation | count |", "|---|---:|"]
        lines += [f"| {op} | {n:,} |" for op, n in sorted(self.operations.items())]
        if self.refusals:
            lines += ["", "| refused operation | status | reason | count |", "|---|---:|---|---:|"]
            lines += [f"| {op} | {s} | {r} | {n:,} |" for (op, s, r), n in sorted(self.refusals.items())]
        return "\n".join(lines) + "\n"


# --- the trace ---------------------------------------------------------------------------------


class TraceWriter:
    """Writes every engine call as one JSON line: ``[method, args, kwargs, outcome]``.

    ``outcome`` is the returned id (calls, restarts), null, or ``{"error": [status, reason]}``.
    The first line names the format and the engine's settings. It writes to the stream it is
    given and opens nothing: the format lives here, beside :func:`replay` that reads it; where
    the lines go (a file, a buffer) is the caller's choice.
    """

    def __init__(self, out: TextIO, settings: dict[str, Any]) -> None:
        self.out = out
        out.write(json.dumps({"format": TRACE_FORMAT, "engine": settings}) + "\n")

    def record(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], outcome: Any) -> None:
        self.out.write(json.dumps([method, list(args), kwargs or None, outcome], separators=(",", ":")) + "\n")


class _Traced:
    """The engine's operations, each recorded before its result is returned."""

    def __init__(self, engine: Engine, writer: TraceWriter) -> None:
        self._engine = engine
        self._writer = writer

    def __getattr__(self, method: str) -> Callable[..., Any]:
        target = getattr(self._engine, method)
        writer = self._writer

        def traced(*args: Any, **kwargs: Any) -> Any:
            try:
                result = target(*args, **kwargs)
            except LifecycleError as error:
                writer.record(method, args, kwargs, {"error": [error.http_status, error.reason]})
                raise
            outcome = result if isinstance(result, str) else getattr(result, "new_invocation_id", None)
            writer.record(method, args, kwargs, outcome)
            return result

        return traced


class ReplayError(Exception):
    """The trace and the engine disagree: the line number and what differed."""


def replay(lines: Iterable[str]) -> Engine:
    """A fresh engine driven through every call of a trace; it ends in the simulated end state."""
    it = iter(lines)
    header = json.loads(next(it))
    if header.get("format") != TRACE_FORMAT:
        raise ReplayError(f"line 1: not a {TRACE_FORMAT!r} trace")
    engine = Engine(**header["engine"])
    for number, line in enumerate(it, 2):
        method, args, kwargs, expected = json.loads(line)
        if method.startswith("_") or not hasattr(engine, method):
            raise ReplayError(f"line {number}: unknown operation {method!r}")
        try:
            result = getattr(engine, method)(*args, **(kwargs or {}))
        except LifecycleError as error:
            got: Any = {"error": [error.http_status, error.reason]}
        else:
            got = result if isinstance(result, str) else getattr(result, "new_invocation_id", None)
        if got != expected:
            raise ReplayError(f"line {number}: {method}{tuple(args)} gave {got!r}, the trace says {expected!r}")
    return engine


# --- the simulator ---------------------------------------------------------------------------------


class Simulation:
    """One run. ``run()`` returns the :class:`Summary`; ``engine`` holds the end state."""

    def __init__(
        self,
        workload: Workload,
        *,
        trace: TraceWriter | None = None,
        progress: Callable[[int, int], None] | None = None,
        shard: int = 0,
        events: TextIO | None = None,
    ) -> None:
        """One shard of ``workload``; ``trace`` records every engine call (for :func:`replay`),
        ``events`` receives the event trace as CSV lines (``t_ms,event,invocation,arg,state``)."""
        if not 0 <= shard < workload.shards:
            raise ValueError(f"shard must be below {workload.shards}")
        self.w = workload
        self.shard = shard
        self.rng = random.Random(
            f"fsm.simulate:{workload.seed}" + (f"/{shard}/{workload.shards}" if workload.shards > 1 else "")
        )
        #: deployments come and go on one schedule for every shard (they are the cluster's)
        self.deploy_rng = random.Random(f"fsm.simulate:{workload.seed}:deployments")
        self.engine = workload.engine(shard)
        #: this shard's partitions, share of the calls, and virtual-object keys (those that hash here)
        self.partitions_here = workload.shard_partitions(shard)
        self.calls_here = workload.shard_calls(shard)
        low, high = workload.shard_keys(shard)
        self.keys_here = (
            [key for key in (f"k{i}" for i in range(workload.keys)) if low <= key_partition_key(key) < high]
            if workload.shards > 1
            else [f"k{i}" for i in range(workload.keys)]
        )
        self.ops: Any = self.engine if trace is None else _Traced(self.engine, trace)
        self.events_out = events
        self._trace: list[tuple[int, int, str, int, str]] = []
        self._hash = hashlib.sha256()
        self.chain: dict[str, int] = {}  # restarted invocations still tracked: their place in a chain
        self._sample_ms = int(workload.sample_every_s * 1000)
        self.progress = progress
        self.summary = Summary(workload)
        self._heap: list[tuple[int, int, int, str, int]] = []
        self._next_seq = itertools.count().__next__
        self._random = self.rng.random
        self.plans: dict[str, list[int]] = {}  # in-flight handlers: remaining steps (popped from the end)
        self.waiting: set[str] = set()  # inboxed invocations that start when their key is released
        self.deployments: list[str] = []  # every deployment ever registered (restarts may name removed ones)
        self.outages: Counter[int] = Counter()
        self.arrivals_done = False
        self.service_names = [name for name, _ in SERVICES]
        # thresholds of the per-step draws, added up once (the hot path compares, never adds)
        w = workload
        self._p_pause = w.pause
        self._p_cancel = w.pause + w.cancel
        self._p_operator = w.pause + w.cancel + w.kill
        self._p_object = w.service_share + w.object_share
        self._p_sleep = w.sleep
        self._p_call = w.sleep + w.call
        share = len(self.partitions_here) / w.partitions
        self._arrival_gap_ms = 1000.0 / (w.rate_per_s * share)
        self._outage_gap_ms = w.outage_every_s * 1000 / share
        self._arrivals_at = float(self.engine.now_ms)
        self._next_sample = self.engine.now_ms + self._sample_ms

    # --- events ---

    def _push(self, t: float | int, kind: int, inv: str = "", arg: int = 0) -> None:
        heapq.heappush(self._heap, (int(t + 0.5), self._next_seq(), kind, inv, arg))  # to the nearest ms

    def _exp(self, mean: float, draw: Callable[[], float] | None = None) -> float:
        """An exponential draw (the gaps of a Poisson process) with this mean, from this shard's
        stream or from ``draw``."""
        return -mean * math.log(1.0 - (draw or self._random)())

    def run(self) -> Summary:
        """Run to the last call (or, with ``drain``, until nothing is in flight).

        The cyclic garbage collector is paused meanwhile: the engine's records form no cycles, and
        with a million live objects its full passes cost a quarter of the run.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self) -> Summary:
        w = self.w
        ops = self.ops
        now = self.engine.now_ms
        for service, service_type in SERVICES:
            ops.register_service(service, service_type, w.journal_retention_s, w.completion_retention_s)
        self.deployments.append(ops.register_deployment(self.service_names, (5, 7)))
        self.summary.operations["register_deployment"] += 1
        if self.calls_here > 0:
            self._push(now, _ARRIVAL)
        else:
            self.arrivals_done = True
        if w.deploy_every_s > 0:
            self._push(now + self._deploy_gap(), _DEPLOY)
        if w.outage_every_s > 0:
            self._push(now + self._exp(self._outage_gap_ms), _OUTAGE)
        heap = self._heap
        engine = self.engine
        invocations = engine.invocations
        step = self._step
        pop = heapq.heappop
        drain = w.drain
        trace = self._trace
        record = trace.append
        next_sample = self._next_sample
        while heap:
            if self.arrivals_done and not drain:
                break
            t, _, kind, inv, arg = pop(heap)
            if self.arrivals_done and (kind == _DEPLOY or kind == _OUTAGE):
                continue  # the world stops changing once the last call is made
            if t > now:
                if t >= next_sample:
                    next_sample = self._sample(t)
                ops.advance_to(t)
                now = t
            if kind == _STEP:
                step(inv, t)
            elif kind == _ARRIVAL:
                inv = self._arrival(t)  # the trace names the invocation the call created
            elif kind == _DELIVER:
                self._deliver(inv, arg, t)
            elif kind == _START:
                self._start(inv, t)
            elif kind == _RESUME:
                self._resume(inv, t)
            elif kind == _RESTART:
                self._restart(inv, t)
            elif kind == _DEPLOY:
                self._deploy(t)
            elif kind == _OUTAGE:
                self._outage(t)
            elif kind == _OUTAGE_END:
                self._outage_end(arg)
            if inv:
                found = invocations.get(inv)
                record((t, kind, inv, arg, found.state if found is not None else "free"))
            else:
                record((t, kind, inv, arg, ""))
            if len(trace) >= _TRACE_CHUNK:
                self._flush()
        self._flush()
        s = self.summary
        s.virtual_ms = engine.now_ms - DEFAULT_EPOCH_MS
        s.states = self._states()
        s.trace_sha256 = self._hash.hexdigest()
        self._sample(engine.now_ms + self._sample_ms, final=True)
        if self.progress is not None:
            self.progress(self.calls_here, self.calls_here)
        return s

    # --- what a run leaves: the event trace, its hash, the samples ---

    def _flush(self) -> None:
        """Hash the events kept so far (and write them), then forget them."""
        trace = self._trace
        if not trace:
            return
        self.summary.events += len(trace)
        self._hash.update(marshal.dumps(trace, 2))  # version 2: no references, the same bytes for equal events
        if self.events_out is not None:
            names = EVENTS
            self.events_out.write(
                "".join(f"{t},{names[kind]},{inv},{arg},{state}\n" for t, kind, inv, arg, state in trace)
            )
        trace.clear()

    def _states(self) -> dict[str, int]:
        s = self.summary
        counts = Counter(inv.state for inv in self.engine.invocations.values())
        states = {state: counts.get(state, 0) for state in LIVE_STATES}
        states["free"] = s.calls + s.restarted - len(self.engine.invocations)
        return states

    def _sample(self, t: int, final: bool = False) -> int:
        """Sample the counts at every sample time up to ``t`` (the world as it stands: nothing has
        happened since the last event); returns the next sample time."""
        s = self.summary
        states = self._states()
        restarts = {status: 0 for status in RESTART_STATUSES}
        for (status, _), n in s.restarts.items():
            restarts[status] = restarts.get(status, 0) + n
        while self._next_sample <= t:
            s.intervals.append(
                {
                    "t_s": (self._next_sample - DEFAULT_EPOCH_MS) / 1000,
                    "calls": s.calls,
                    "restarted": s.restarted,
                    "states": dict(states),
                    "restarts": dict(restarts),
                }
            )
            self._next_sample += self._sample_ms
            if final:
                break
        return self._next_sample

    def _arrival(self, t: int) -> str:
        w = self.w
        random = self._random
        s = self.summary
        s.calls += 1
        u = random()
        delay = int(self._exp(w.delay_ms)) + 1 if random() < w.delayed else 0
        inv: str
        if u < w.service_share or not self.keys_here:  # no key hashing into this shard: a plain call instead
            inv = self.ops.call("Greeter", "greet", delay_ms=delay) if delay else self.ops.call("Greeter", "greet")
        else:
            name = "Counter" if u < self._p_object else "Checkout"
            key = self.keys_here[int(random() * len(self.keys_here))]
            inv = self.ops.call(name, "run", key, delay_ms=delay) if delay else self.ops.call(name, "run", key)
        self._begin(inv, t)
        if random() < w.restart_live:
            self._push(t + self._exp(w.step_ms), _RESTART, inv)  # too early: 425 or 409
        if s.calls < self.calls_here:
            # arrival times accumulate unrounded, so the rate is exactly rate_per_s on average
            self._arrivals_at += -self._arrival_gap_ms * math.log(1.0 - random())
            heapq.heappush(
                self._heap,
                (int(self._arrivals_at + 0.5), self._next_seq(), _ARRIVAL, "", 0),
            )
            if self.progress is not None and s.calls & 0x3FFF == 0:
                self.progress(s.calls, self.calls_here)
        else:
            self.arrivals_done = True
        return inv

    def _plan(self) -> list[int]:
        """A handler: its steps, popped from the end."""
        random = self._random
        p_sleep, p_call = self._p_sleep, self._p_call
        plan = []
        for _ in range(int(random() * (self.w.steps_max + 1))):
            u = random()
            plan.append(_SLEEP if u < p_sleep else _CALL if u < p_call else _RUN)
        return plan

    def _begin(self, inv_id: str, t: int, plan: list[int] | None = None) -> None:
        """A new invocation (called or restarted): give it a handler and start it when it can run."""
        self.plans[inv_id] = self._plan() if plan is None else plan
        state = self.engine.invocations[inv_id].state
        if state == RUNNING:
            self._push(t + self._exp(self.w.step_ms), _STEP, inv_id)
        elif state == INBOXED:
            self.waiting.add(inv_id)
        elif state == SCHEDULED:
            due = self.engine.invocations[inv_id].due_ms
            assert due is not None
            self._push(due, _START, inv_id)

    def _start(self, inv_id: str, t: int) -> None:
        """A delayed call came due: the engine made it running, or inboxed behind its key."""
        inv = self.engine.invocations.get(inv_id)
        if inv is None:
            self.plans.pop(inv_id, None)
        elif inv.state == RUNNING:
            self._push(t + self._exp(self.w.step_ms), _STEP, inv_id)
        elif inv.state == INBOXED:
            self.waiting.add(inv_id)

    def _refused(self, op: str, error: LifecycleError) -> None:
        self.summary.refusals[(op, error.http_status, error.reason)] += 1

    def _step(self, inv_id: str, t: int) -> None:
        """One attempt of a handler step: an operator action, a failure, or the step itself.

        The hot path of a run (most events are steps): draws are compared with thresholds added
        up in advance, and the next step is pushed without a helper call.
        """
        inv = self.engine.invocations.get(inv_id)
        if inv is None or inv.state != RUNNING:
            if inv is None:
                self.plans.pop(inv_id, None)
            return
        w = self.w
        random = self._random
        ops = self.ops
        counts = self.summary.operations
        try:
            u = random()
            if u < self._p_operator:
                if u < self._p_pause:
                    ops.pause(inv_id)
                    counts["pause"] += 1
                    self._push(t + self._exp(w.resume_ms), _RESUME, inv_id)
                    return
                if u < self._p_cancel:
                    ops.cancel(inv_id)  # the handler sees the signal and ends with failure "cancelled"
                    ops.complete(inv_id, False)
                    counts["cancel"] += 1
                    counts["complete"] += 1
                else:
                    ops.kill(inv_id)
                    counts["kill"] += 1
                self._ended(inv, t)
                return
            if random() < w.fail:
                state = ops.fail_attempt(inv_id, w.max_attempts, "pause" if random() < w.pause_on_max else "kill")
                counts["fail_attempt"] += 1
                if state == RUNNING:  # its next attempt, once the retry policy's backoff is over
                    self._push(max(t + self._exp(w.step_ms * 5), inv.next_attempt_ms or t), _STEP, inv_id)
                elif state == PAUSED:
                    if random() < w.resume:
                        self._push(t + self._exp(w.resume_ms), _RESUME, inv_id)
                else:
                    self._ended(inv, t)
                return
            plan = self.plans[inv_id]
            if not plan:
                ops.complete(inv_id, random() >= w.terminal_failure)
                counts["complete"] += 1
                self._ended(inv, t)
                return
            kind = plan[-1]
            if kind == _RUN:
                entry = ops.append_command(inv_id, "Run")
                ops.complete_command(inv_id, entry.completion_ids[0])
                counts["append_command"] += 1
                counts["complete_command"] += 1
                plan.pop()
                heapq.heappush(
                    self._heap,
                    (t + int(0.5 - w.step_ms * math.log(1.0 - random())), self._next_seq(), _STEP, inv_id, 0),
                )
            elif kind == _SLEEP:
                duration = int(self._exp(w.sleep_ms)) + 1
                ops.sleep(inv_id, duration)  # the engine's timer wakes it at t + duration
                counts["sleep"] += 1
                plan.pop()
                self._push(t + duration, _STEP, inv_id)
            else:
                entry = ops.append_command(inv_id, "Call")
                first, second = entry.completion_ids
                ops.complete_command(inv_id, first)  # the callee's invocation id
                ops.suspend(inv_id, second)
                counts["append_command"] += 1
                counts["complete_command"] += 1
                counts["suspend"] += 1
                plan.pop()
                self._push(t + self._exp(w.step_ms * 2), _DELIVER, inv_id, second)
        except Unavailable as error:
            self._refused("step", error)
            self._push(t + w.retry_ms, _STEP, inv_id)

    def _deliver(self, inv_id: str, completion_id: int, t: int) -> None:
        """The called handler's result arrives: the invocation wakes up and goes on."""
        try:
            self.ops.complete_command(inv_id, completion_id)
        except Unavailable as error:
            self._refused("complete_command", error)
            self._push(t + self.w.retry_ms, _DELIVER, inv_id, completion_id)
            return
        self.summary.operations["complete_command"] += 1
        self._step(inv_id, t)

    def _resume(self, inv_id: str, t: int) -> None:
        inv = self.engine.invocations.get(inv_id)
        if inv is None or inv.state != PAUSED:
            return
        try:
            self.ops.resume(inv_id)
        except Unavailable as error:
            self._refused("resume", error)
            self._push(t + self.w.retry_ms, _RESUME, inv_id)
            return
        self.summary.operations["resume"] += 1
        self._push(t + self._exp(self.w.step_ms), _STEP, inv_id)

    def _ended(self, inv: Invocation, t: int) -> None:
        """The invocation completed (or was freed): start the next holder of its key, maybe restart it later."""
        self.plans.pop(inv.id, None)
        if inv.key is not None:
            holder = self.engine.lock_holders.get((inv.service, inv.key))
            if holder is not None and holder in self.waiting:
                self.waiting.discard(holder)
                self._push(t + self._exp(self.w.step_ms), _STEP, holder)
        if inv.state == COMPLETED and self.rng.random() < self.w.restart:
            self._push(t + self._exp(self.w.restart_ms), _RESTART, inv.id)

    def _restart(self, inv_id: str, t: int) -> None:
        """Restart as new with a random ``from`` and ``deployment``; the answer is tallied."""
        rng = self.rng
        inv = self.engine.invocations.get(inv_id)
        length = len(inv.journal) if inv is not None and inv.journal is not None else 1
        u = rng.random()
        from_: int | str | None
        if u < 0.3:
            from_ = None
        elif u < 0.5:
            from_ = 0
        elif u < 0.95:
            from_ = int(rng.random() * (length + 1))  # may be past the end: check 14
        elif u < 0.98:
            from_ = U32_MAX  # check 15
        else:
            from_ = "abc"  # check 1
        u = rng.random()
        deployment: str | None
        if u < 0.4:
            deployment = None
        elif u < 0.7:
            deployment = "keep"
        elif u < 0.8:
            deployment = "latest"
        elif u < 0.97:
            deployment = self.deployments[int(rng.random() * len(self.deployments))]  # maybe removed: check 12
        else:
            deployment = "dp_bad"  # check 3
        try:
            result = self.ops.restart_as_new(inv_id, from_, deployment)
        except LifecycleError as error:
            self.summary.restarts[(error.http_status, error.reason)] += 1
            return
        self.summary.restarts[(200, "OK")] += 1
        self.summary.restarted += 1
        place = self.chain.pop(inv_id, 0) + 1  # the old one is not restarted twice by the simulator
        self.chain[result.new_invocation_id] = place
        self.summary.chains[place] += 1
        self._begin(result.new_invocation_id, t)

    def _deploy(self, t: int) -> None:
        """A new deployment becomes the latest; the oldest is removed when there are too many."""
        w = self.w
        protocol = (5, 5) if self.deploy_rng.random() < w.incompatible_deploy else (5, 7)
        self.deployments.append(self.ops.register_deployment(self.service_names, protocol))
        self.summary.operations["register_deployment"] += 1
        if len(self.engine.deployments) > w.max_deployments:
            self.ops.remove_deployment(next(iter(self.engine.deployments)))
            self.summary.operations["remove_deployment"] += 1
        self._push(t + self._deploy_gap(), _DEPLOY)

    def _deploy_gap(self) -> float:
        """The wait for the next deployment, from the schedule every shard shares."""
        return self._exp(self.w.deploy_every_s * 1000, self.deploy_rng.random)

    def _outage(self, t: int) -> None:
        w = self.w
        owned = self.partitions_here
        partition = owned.start + int(self.rng.random() * len(owned))
        if self.outages[partition] == 0:
            self.ops.set_partition_available(partition, False)
            self.summary.operations["partition_unavailable"] += 1
        self.outages[partition] += 1
        self._push(t + self._exp(w.outage_ms), _OUTAGE_END, "", partition)
        self._push(t + self._exp(self._outage_gap_ms), _OUTAGE)

    def _outage_end(self, partition: int) -> None:
        self.outages[partition] -= 1
        if self.outages[partition] == 0:
            self.ops.set_partition_available(partition, True)


def simulate(
    workload: Workload | None = None,
    *,
    trace: TraceWriter | None = None,
    progress: Callable[[int, int], None] | None = None,
    shard: int = 0,
    events: TextIO | None = None,
    **knobs: Any,
) -> tuple[Summary, Engine]:
    """Run one shard of ``workload``; returns its summary and its engine in the end state."""
    if workload is None:
        workload = Workload(**knobs)
    elif knobs:
        workload = dataclasses.replace(workload, **knobs)
    sim = Simulation(workload, trace=trace, progress=progress, shard=shard, events=events)
    return sim.run(), sim.engine


def merge(workload: Workload, summaries: Sequence[Summary]) -> Summary:
    """The summary of all shards, given in shard order: counts added, virtual time the longest,
    the trace hash over the shards' hashes, samples added up time by time (a shard that ended
    earlier counts as it ended)."""
    if len(summaries) != workload.shards:
        raise ValueError(f"merge needs the {workload.shards} shards' summaries, got {len(summaries)}")
    total = Summary(workload)
    hashes = hashlib.sha256()
    for part in summaries:
        total.calls += part.calls
        total.restarted += part.restarted
        total.virtual_ms = max(total.virtual_ms, part.virtual_ms)
        for state, n in part.states.items():
            total.states[state] = total.states.get(state, 0) + n
        total.restarts.update(part.restarts)
        total.operations.update(part.operations)
        total.refusals.update(part.refusals)
        total.chains.update(part.chains)
        total.events += part.events
        hashes.update(bytes.fromhex(part.trace_sha256))
    total.trace_sha256 = hashes.hexdigest() if len(summaries) > 1 else summaries[0].trace_sha256
    longest = max(len(part.intervals) for part in summaries)
    for i in range(longest):
        rows = [part.intervals[min(i, len(part.intervals) - 1)] for part in summaries if part.intervals]
        total.intervals.append(
            {
                "t_s": (i + 1) * workload.sample_every_s,  # every shard samples at the same times
                "calls": sum(row["calls"] for row in rows),
                "restarted": sum(row["restarted"] for row in rows),
                "states": _add(row["states"] for row in rows),
                "restarts": _add(row["restarts"] for row in rows),
            }
        )
    return total


def _add(counts: Iterable[dict[Any, int]]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for one in counts:
        for k, n in one.items():
            out[k] = out.get(k, 0) + n
    return out


_undescribed = {f.name for f in dataclasses.fields(Workload)} ^ set(KNOBS)
if _undescribed:  # a definition-time check: --help lists every knob with what it means
    raise RuntimeError(f"Workload fields and KNOBS differ: {', '.join(sorted(_undescribed))}")
