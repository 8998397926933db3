"""The simulator figure: invocations driven through a 5-step lifecycle with the engine's public API.

Each invocation: ``call`` (running) -> ``append_command("Run")`` -> ``complete_command`` (the Run's
result) -> ``sleep`` (suspends on a timer) -> the clock wakes it -> ``complete``. Invocations go in
batches, as a simulator keeps many in flight: a batch is called, stepped, its timers fire in one
``advance``, and it completes. Completed invocations stay in the engine (24 h retention), as in
Restate, so the last invocation runs in a world holding all the others.

Run as a child (``python -m bench.lifecycle --invocations N``): it prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import time

from fsm.engine import Engine
from fsm.lifecycle import COMPLETED

from .common import JSON, emit

SERVICE = "Checkout"
HANDLER = "run"
SLEEP_MS = 1_000
STEPS = ("call", "append_command(Run)", "complete_command", "sleep -> wake", "complete")


def new_engine() -> Engine:
    engine = Engine(seed=1)
    engine.register_service(SERVICE)
    engine.register_deployment([SERVICE])
    return engine


def drive(engine: Engine, invocations: int, batch: int) -> None:
    """Push ``invocations`` through the five steps, ``batch`` at a time."""
    call, append, deliver = engine.call, engine.append_command, engine.complete_command
    sleep, advance, complete = engine.sleep, engine.advance, engine.complete
    left = invocations
    while left > 0:
        ids = [call(SERVICE, HANDLER) for _ in range(min(batch, left))]
        for inv_id in ids:
            deliver(inv_id, append(inv_id, "Run").completion_ids[0])
            sleep(inv_id, SLEEP_MS)
        advance(SLEEP_MS)
        for inv_id in ids:
            complete(inv_id)
        left -= len(ids)


def check(engine: Engine, invocations: int) -> None:
    """Every invocation completed with its 6-entry journal (a fast wrong engine is no result)."""
    assert len(engine.invocations) == invocations, len(engine.invocations)
    for inv in engine.invocations.values():
        assert inv.state == COMPLETED and inv.journal is not None and len(inv.journal) == 6, inv


def measure(invocations: int, batch: int, warmup: int) -> JSON:
    drive(new_engine(), warmup, batch)  # warm caches and code paths on a throwaway world
    engine = new_engine()
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    drive(engine, invocations, batch)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    check(engine, invocations)
    return {
        "invocations": invocations,
        "batch": batch,
        "steps": list(STEPS),
        "seconds": round(seconds, 3),
        "invocations_per_s": round(invocations / seconds),
        "us_per_invocation": round(seconds / invocations * 1e6, 2),
        "cpu_seconds": round(cpu_seconds, 3),  # this process on CPU: less sensitive to a busy machine
        "gc": "enabled (interpreter defaults)" if gc.isenabled() else "disabled",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--warmup", type=int, default=10_000)
    args = parser.parse_args(argv)
    emit(measure(args.invocations, args.batch, args.warmup))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
