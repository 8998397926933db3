"""Per-transition cost: a plain dict table (the floor), the compiled fast path, the engine's step,
and `transitions` itself.

All variants move the same record (a real :class:`fsm.model.Invocation`) around the same cycle of
five transitions the engine fires for a typical invocation: ``invoke`` (with the guard facts) ->
``suspend`` -> ``wake`` -> ``complete`` -> ``purge``, back to ``free``.

- ``dict_floor``: the least a table-driven machine can do: one dict lookup by ``(state, trigger)``
  and one attribute store, in a function;
- ``compiled_fire``: :meth:`fsm.lifecycle.Lifecycle.fire`, the table compiled from the definition's
  `transitions` Machine, given the guard facts as a dict (built per call, as a caller would);
- ``engine_step``: what an engine that nobody asked for its machine does per trigger (its world's
  ``step``: the compiled quick map when no fact is true);
- ``previous_step``: the baseline for it, the engine's step as it was before the machine ran the
  lifecycle (a method doing one lookup in a (state, trigger) -> state map), rebuilt here so that
  both run in the same process on the same machine;
- ``transitions``: ``machine.events[trigger].trigger(inv, **facts)`` on an engine's own Machine
  (``send_event=True``, no callbacks), the cost of one trigger through `transitions`;
- ``engine_step_machine``: the engine's step once its machine is in use (the definition's
  conditions resolved, then the trigger fired through `transitions`);
- ``engine_step_observed``: the same with one observer subscribed (:mod:`fsm.observers`): a
  TransitionEvent recorded by the machine's callback and delivered to it. An engine nobody
  subscribes to runs ``engine_step``: observing costs nothing until someone observes.

The variants run interleaved, round after round, so that the shared machine's noise hits them alike;
each figure is the best round (the least disturbed), the median is reported too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fsm.engine import Engine
from fsm.lifecycle import FREE, LIFECYCLE
from fsm.model import Invocation

from .common import JSON, median

#: The cycle: (trigger, guard facts as the engine passes them).
CYCLE: tuple[tuple[str, dict[str, bool]], ...] = (
    ("invoke", {"delayed": False, "key_locked": False}),
    ("suspend", {}),
    ("wake", {}),
    ("complete", {}),
    ("purge", {}),
)
PER_CYCLE = len(CYCLE)


def floor_table() -> dict[tuple[str, str], str]:
    """The plain dict transition table for the cycle: ``(state, trigger) -> state``, no guards."""
    table: dict[tuple[str, str], str] = {}
    state = FREE
    for trigger, facts in CYCLE:
        dest = LIFECYCLE.next_state(state, trigger, facts)
        assert dest is not None, f"{trigger} is not allowed from {state}"
        table[(state, trigger)] = dest
        state = dest
    assert state == FREE, "the cycle must return to free"
    return table


FLOOR = floor_table()


def floor_fire(model: Any, trigger: str) -> None:
    model.state = FLOOR[(model.state, trigger)]


def _record() -> Invocation:
    return Invocation("inv_1bench", "Svc", "run", None, FREE, 86_400, 86_400)


def _run_steps(step: Callable[[Any, str], object], cycles: int) -> float:
    """``cycles`` cycles through ``step(model, trigger)``, unrolled as the engine's calls are."""
    inv = _record()
    started = time.perf_counter()
    for _ in range(cycles):
        step(inv, "invoke")
        step(inv, "suspend")
        step(inv, "wake")
        step(inv, "complete")
        step(inv, "purge")
    return time.perf_counter() - started


def run_floor(cycles: int) -> float:
    return _run_steps(floor_fire, cycles)


def run_compiled_fire(cycles: int) -> float:
    inv, fire = _record(), LIFECYCLE.fire
    started = time.perf_counter()
    for _ in range(cycles):
        fire(inv, "invoke", {"delayed": False, "key_locked": False})
        fire(inv, "suspend")
        fire(inv, "wake")
        fire(inv, "complete")
        fire(inv, "purge")
    return time.perf_counter() - started


class PreviousStep:
    """The engine's step before the machine ran the lifecycle, rebuilt over today's compiled map."""

    __slots__ = ("_quick",)

    def __init__(self) -> None:
        self._quick = dict(LIFECYCLE.quick)

    def step(self, inv: Invocation, trigger: str) -> str:
        dest = self._quick.get((inv.state, trigger))
        if dest is None:
            return LIFECYCLE.fire(inv, trigger)
        inv.state = dest
        return dest


def run_previous_step(cycles: int) -> float:
    return _run_steps(PreviousStep().step, cycles)


def engine_step() -> Callable[[Any, str], object]:
    """The fast-path step of a fresh engine (no fact true in the cycle: what the engine passes is None)."""
    return Engine(seed=0)._world.step


def machine_engine() -> Engine:
    engine = Engine(seed=0)
    assert engine.machine is not None  # from now on this engine fires through `transitions`
    return engine


def run_engine_step(cycles: int) -> float:
    return _run_steps(engine_step(), cycles)


def run_engine_step_machine(cycles: int) -> float:
    return _run_steps(machine_engine()._world.step, cycles)


def observed_step() -> Callable[[Any, str], object]:
    """The step of an engine with one observer subscribed, its events delivered after each step."""
    engine = Engine(seed=0)
    heard: list[object] = []
    engine.subscribe(lambda event: heard.clear())
    step, deliver = engine._world.step, engine._world.observers.deliver

    def observed(inv: Any, trigger: str) -> None:
        step(inv, trigger)
        deliver()

    return observed


def run_engine_step_observed(cycles: int) -> float:
    return _run_steps(observed_step(), cycles)


def run_transitions(cycles: int) -> float:
    inv = _record()
    events = machine_engine().machine.events
    invoke, suspend, wake, complete, purge = (events[t].trigger for t, _ in CYCLE)
    started = time.perf_counter()
    for _ in range(cycles):
        invoke(inv, delayed=False, key_locked=False)
        suspend(inv)
        wake(inv)
        complete(inv)
        purge(inv)
    return time.perf_counter() - started


VARIANTS: dict[str, Callable[[int], float]] = {
    "dict_floor": run_floor,
    "compiled_fire": run_compiled_fire,
    "engine_step": run_engine_step,
    "previous_step": run_previous_step,
    "transitions": run_transitions,
    "engine_step_machine": run_engine_step_machine,
    "engine_step_observed": run_engine_step_observed,
}


def _calibrate(run: Callable[[int], float], seconds: float) -> int:
    """Cycles that take about ``seconds`` (after a warm-up run)."""
    cycles = 64
    while True:
        took = run(cycles)
        if took >= 0.02 or cycles >= 1 << 24:
            return max(1, int(cycles * seconds / max(took, 1e-9)))
        cycles *= 4


def check_agreement() -> None:
    """All variants end each step in the same state (a benchmark of wrong code is worthless)."""
    records = [_record() for _ in VARIANTS]
    fast, slow = engine_step(), machine_engine()
    machine_step = slow._world.step
    observed = observed_step()
    events = slow.machine.events
    previous = PreviousStep()
    for trigger, facts in CYCLE:
        floor_fire(records[0], trigger)
        LIFECYCLE.fire(records[1], trigger, facts)
        assert not any(facts.values())  # the cycle's facts are all false: what the engine's step assumes
        fast(records[2], trigger)
        previous.step(records[3], trigger)
        events[trigger].trigger(records[4], **facts)
        machine_step(records[5], trigger)
        observed(records[6], trigger)
        states = {r.state for r in records}
        assert len(states) == 1, (trigger, [r.state for r in records])


def measure(rounds: int = 7, seconds_per_round: float = 0.25) -> JSON:
    """ns per transition for each variant: best and median of ``rounds`` interleaved rounds."""
    check_agreement()
    cycles = {name: _calibrate(run, seconds_per_round) for name, run in VARIANTS.items()}
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, run in VARIANTS.items():
            samples[name].append(run(cycles[name]) / (cycles[name] * PER_CYCLE) * 1e9)
    best = {name: min(values) for name, values in samples.items()}
    mid = {name: median(values) for name, values in samples.items()}
    floor_best, floor_mid = best["dict_floor"], mid["dict_floor"]
    return {
        "cycle": [trigger for trigger, _ in CYCLE],
        "rounds": rounds,
        "transitions_per_round": {name: n * PER_CYCLE for name, n in cycles.items()},
        "ns_per_transition_best": {name: round(v, 1) for name, v in best.items()},
        "ns_per_transition_median": {name: round(v, 1) for name, v in mid.items()},
        "ratio_to_floor_best": {name: round(v / floor_best, 2) for name, v in best.items()},
        "ratio_to_floor_median": {name: round(v / floor_mid, 2) for name, v in mid.items()},
        "samples_ns": {name: [round(v, 1) for v in values] for name, values in samples.items()},
    }
