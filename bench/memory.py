"""Bytes per invocation, traced by tracemalloc: everything the engine holds for it, journal or not.

Two worlds of N invocations, each created through the engine's public API in a fresh engine:

- ``completed`` (the figure): N invocations through the 5-step lifecycle of :mod:`bench.lifecycle`,
  completed and retained (24 h) with their 6-entry journals, as a simulator holds them;
- ``running``: just called, each running with its one-entry journal (Input), at most 100,000 of
  them (tracing is slow: ~100 us per invocation, mostly the big-integer arithmetic of the ids).

"With journals" is what the engine grew by (records, ids, indexes, retention queues, journals);
"without" is measured again after dropping every journal (``inv.journal = None``), so it is the
same world minus exactly the journal lists and their entries. Run as a child
(``python -m bench.memory --invocations N``): tracemalloc slows everything it traces.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

from fsm.engine import Engine

from . import lifecycle
from .common import JSON, emit


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure_world(kind: str, invocations: int) -> JSON:
    engine = lifecycle.new_engine()
    base = _traced()
    if kind == "running":
        call = engine.call
        for _ in range(invocations):
            call(lifecycle.SERVICE, lifecycle.HANDLER)
    else:
        lifecycle.drive(engine, invocations, batch=1_000)
    with_journals = _traced() - base
    entries = sum(len(inv.journal) for inv in engine.invocations.values() if inv.journal is not None)
    _drop_journals(engine)
    without = _traced() - base
    return {
        "invocations": invocations,
        "journal_entries_per_invocation": round(entries / invocations, 2),
        "bytes_per_invocation_with_journal": round(with_journals / invocations, 1),
        "bytes_per_invocation_without_journal": round(without / invocations, 1),
    }


def _drop_journals(engine: Engine) -> None:
    for inv in engine.invocations.values():
        inv.journal = None


RUNNING_MAX = 100_000


def measure(invocations: int) -> JSON:
    tracemalloc.start()
    try:
        worlds = {
            "completed": measure_world("completed", invocations),
            "running": measure_world("running", min(invocations, RUNNING_MAX)),
        }
    finally:
        tracemalloc.stop()
    return {
        "invocations": invocations,
        "worlds": worlds,
        "worst_without_journal": max(w["bytes_per_invocation_without_journal"] for w in worlds.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    emit(measure(args.invocations))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
