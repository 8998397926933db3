"""The two ways a world fires a trigger agree: the compiled fast path and `transitions` itself.

Random operation sequences run through two engines built alike: one that nobody asks for its
machine (the fast path, compiled from the definition), and one whose machine is in use with
callbacks on every state and event. After every operation both must have answered the same
(value or refusal: status, reason, message, check) and hold the same world.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fsm import Engine, LifecycleError, conformance, dump_world, load_world
from fsm.conformance import InProcess
from fsm.lifecycle import LIFECYCLE, STATES, Lifecycle
from fsm.restart import Decision
from fsm.tools.conformance import read_cases
from tests.budget import budget

from .conftest import EXAMPLES

RECORDED = sorted((Path(__file__).resolve().parents[1] / "conformance" / "recorded").glob("*.jsonl"))

Op = tuple[Any, ...]

SERVICES = [("Steps", None), ("Locker", "a"), ("Locker", "a"), ("Locker", "b"), ("WF", "w"), ("Brief", None)]
FROMS = [None, 0, 1, 2, 3, 4294967295, "abc"]
DEPLOYMENTS = [None, "keep", "latest", "first", "last", "dp_bad"]

targets = st.integers(-2, 6)  # an index into the invocations in creation order; -1 malformed, -2 absent
#: Every kind of operation, for programs drawn at random (see ``differences``).
ops: st.SearchStrategy[Op] = st.one_of(
    st.tuples(st.just("call"), st.sampled_from(SERVICES), st.sampled_from([0, 0, 2_000]), st.sampled_from([None, "i"])),
    st.tuples(st.just("append_command"), targets, st.sampled_from(["Run", "Call", "Sleep", "SetState"])),
    st.tuples(st.just("complete_command"), targets, st.integers(1, 5)),
    st.tuples(st.just("suspend"), targets, st.sampled_from([None, 1, 2, 3])),
    st.tuples(st.just("sleep"), targets, st.sampled_from([0, 1_000, 90_000_000])),
    st.tuples(st.just("fail_attempt"), targets, st.integers(1, 3), st.sampled_from(["pause", "kill"])),
    st.tuples(st.just("complete"), targets, st.booleans()),
    st.tuples(st.sampled_from(["cancel", "kill", "purge", "purge_journal", "pause"]), targets),
    st.tuples(st.just("resume"), targets, st.sampled_from(DEPLOYMENTS)),
    st.tuples(st.sampled_from(["restart_as_new", "explain_restart_as_new"]), targets, st.sampled_from(FROMS),
              st.sampled_from(DEPLOYMENTS)),
    st.tuples(st.just("advance"), st.sampled_from([0, 1_000, 60_000, 3_600_000, 90_000_000])),
    st.tuples(st.just("register_deployment"), st.sampled_from([(5, 7), (5, 5), (1, 3)])),
    st.tuples(st.just("remove_deployment"), st.sampled_from(["first", "last"])),
    st.tuples(st.just("set_partition_available"), targets, st.booleans()),
)  # fmt: skip


def watch_everything(engine: Engine) -> Engine:
    """From now on every trigger fires through `transitions`, with callbacks on every state and event."""
    m = engine.machine
    for state in STATES:
        getattr(m, f"on_enter_{state}")(lambda event: None)
        getattr(m, f"on_exit_{state}")(lambda event: None)
    for trigger in m.events:
        getattr(m, f"before_{trigger}")(lambda event: None)
        getattr(m, f"after_{trigger}")(lambda event: None)
    return engine


def new_engine(lifecycle: Lifecycle, *, machine: bool) -> Engine:
    e = Engine(seed=7, lifecycle=lifecycle, partitions=4)
    if machine:
        watch_everything(e)
    e.register_service("Steps")
    e.register_service("Locker", "virtual_object")
    e.register_service("WF", "workflow")
    e.register_service("Brief", journal_retention_s=0, completion_retention_s=0)
    e.register_deployment(["Steps", "Locker", "WF", "Brief"], (5, 7))
    return e


def _target(engine: Engine, index: int) -> str:
    if index == -1:
        return "inv_bogus"
    if index == -2:
        return "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"
    ids = list(engine.invocations)
    return ids[index % len(ids)] if ids else "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"


def _deployment(engine: Engine, choice: Any) -> Any:
    ids = list(engine.deployments)
    if choice == "first":
        return ids[0] if ids else "dp_16hyvaGLkmYCmSH4nzeUDZv"
    if choice == "last":
        return ids[-1] if ids else "dp_16hyvaGLkmYCmSH4nzeUDZv"
    return choice


def apply(engine: Engine, op: Op) -> Any:
    """Run one operation; its answer, or the refusal, as plain data."""
    name = op[0]
    try:
        if name == "call":
            (service, key), delay, idem = op[1], op[2], op[3]
            result: Any = engine.call(service, "run", key, delay_ms=delay, idempotency_key=idem)
        elif name in ("append_command", "complete_command", "complete"):
            result = getattr(engine, name)(_target(engine, op[1]), op[2])
        elif name == "suspend":
            result = None
            engine.suspend(_target(engine, op[1]), op[2])
        elif name == "sleep":
            result = engine.sleep(_target(engine, op[1]), op[2])
        elif name == "fail_attempt":
            result = engine.fail_attempt(_target(engine, op[1]), op[2], op[3])
        elif name in ("cancel", "kill", "purge", "purge_journal", "pause"):
            result = getattr(engine, name)(_target(engine, op[1]))
        elif name == "resume":
            result = engine.resume(_target(engine, op[1]), _deployment(engine, op[2]))
        elif name in ("restart_as_new", "explain_restart_as_new"):
            result = getattr(engine, name)(_target(engine, op[1]), op[2], _deployment(engine, op[3]))
        elif name == "advance":
            result = None
            engine.advance(op[1])
        elif name == "register_deployment":
            result = engine.register_deployment(["Steps", "Locker", "WF", "Brief"], op[1])
        elif name == "remove_deployment":
            result = None
            engine.remove_deployment(_deployment(engine, op[1]))
        else:
            assert name == "set_partition_available"
            result = None
            engine.set_partition_available(engine.partition_of(_pk(engine, op[1])), op[2])
    except LifecycleError as refused:
        return ("refused", type(refused).__name__, refused.http_status, refused.reason, refused.message, refused.check)
    if isinstance(result, Decision):
        plan = None if result.plan is None else dataclasses.asdict(result.plan)
        error = None if result.error is None else (result.error.http_status, result.error.reason, result.error.message)
        return ("decision", result.check.number, error, plan, result.resolved_deployment)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return result


def _pk(engine: Engine, index: int) -> int:
    from fsm.ids import partition_key_of

    target = _target(engine, index)
    return partition_key_of(target) if target != "inv_bogus" else 0


def world_of(engine: Engine) -> tuple[Any, ...]:
    """Everything an engine holds that a later answer can depend on."""
    return (
        dump_world(engine),
        engine.now_ms,
        sorted(engine.lock_holders.items()),
        sorted((lock, list(inbox)) for lock, inbox in engine.inboxes.items()),
        engine.pending_sleeps(),
        sorted(engine.idempotency.items(), key=repr),
    )


def differences(program: list[Op], lifecycle: Lifecycle = LIFECYCLE) -> list[str]:
    """Where the two paths part, operation by operation (empty when they agree throughout)."""
    fast, slow = new_engine(lifecycle, machine=False), new_engine(lifecycle, machine=True)
    assert fast._world.machine is None and slow._world.machine is not None
    for step, op in enumerate(program):
        answers = apply(fast, op), apply(slow, op)
        if answers[0] != answers[1]:
            return [f"operation {step} {op}: fast path answered {answers[0]!r}, transitions {answers[1]!r}"]
        if world_of(fast) != world_of(slow):
            return [f"operation {step} {op}: the worlds differ after it"]
        fast.check_invariants()
        slow.check_invariants()
    return []


class BothPaths(RuleBasedStateMachine):
    """Drives both engines in lockstep; targets are drawn mostly among invocations where the step applies."""

    def __init__(self) -> None:
        super().__init__()
        self.fast = new_engine(LIFECYCLE, machine=False)
        self.slow = new_engine(LIFECYCLE, machine=True)

    def run(self, op: Op) -> None:
        answers = apply(self.fast, op), apply(self.slow, op)
        event(f"{op[0]}: {'refused' if isinstance(answers[0], tuple) and answers[0][0] == 'refused' else 'done'}")
        assert answers[0] == answers[1], f"{op}: fast path answered {answers[0]!r}, transitions {answers[1]!r}"

    def pick(self, data: st.DataObject, *states: str) -> int:
        """Mostly an invocation in one of ``states``; sometimes any, malformed or absent."""
        ids = list(self.fast.invocations)
        fitting = [i for i, inv_id in enumerate(ids) if self.fast.invocations[inv_id].state in states]
        if fitting and data.draw(st.integers(0, 9)) < 8:
            return data.draw(st.sampled_from(fitting))
        return data.draw(targets)

    @rule(where=st.sampled_from(SERVICES), delay=st.sampled_from([0, 0, 2_000]), idem=st.sampled_from([None, "i"]))
    def call(self, where: tuple[str, str | None], delay: int, idem: str | None) -> None:
        self.run(("call", where, delay, idem))

    @rule(where=st.sampled_from(SERVICES), steps=st.integers(0, 3), success=st.booleans())
    def run_to_completion(self, where: tuple[str, str | None], steps: int, success: bool) -> None:
        """A call that journals ``steps`` Runs, gets their results and completes (if its key is free)."""
        self.run(("call", where, 0, None))
        new = len(self.fast.invocations) - 1
        for completion in range(1, steps + 1):
            self.run(("append_command", new, "Run"))
            self.run(("complete_command", new, completion))
        self.run(("complete", new, success))

    @rule(data=st.data(), kind=st.sampled_from(["Run", "Call", "Sleep", "SetState"]))
    def append_command(self, data: st.DataObject, kind: str) -> None:
        self.run(("append_command", self.pick(data, "running"), kind))

    @rule(data=st.data(), completion=st.integers(1, 5))
    def complete_command(self, data: st.DataObject, completion: int) -> None:
        self.run(("complete_command", self.pick(data, "running", "suspended"), completion))

    @rule(data=st.data(), awaiting=st.sampled_from([None, None, 1, 2, 3]))
    def suspend(self, data: st.DataObject, awaiting: int | None) -> None:
        self.run(("suspend", self.pick(data, "running"), awaiting))

    @rule(data=st.data(), ms=st.sampled_from([0, 1_000, 90_000_000]))
    def sleep(self, data: st.DataObject, ms: int) -> None:
        self.run(("sleep", self.pick(data, "running"), ms))

    @rule(data=st.data(), attempts=st.integers(1, 3), then=st.sampled_from(["pause", "kill"]))
    def fail_attempt(self, data: st.DataObject, attempts: int, then: str) -> None:
        self.run(("fail_attempt", self.pick(data, "running"), attempts, then))

    @rule(data=st.data(), success=st.booleans())
    def complete(self, data: st.DataObject, success: bool) -> None:
        self.run(("complete", self.pick(data, "running"), success))

    @rule(data=st.data())
    def suspend_on_a_new_command(self, data: st.DataObject) -> None:
        target = self.pick(data, "running")
        self.run(("append_command", target, "Run"))
        self.run(("suspend", target, None))

    @rule(data=st.data(), operation=st.sampled_from(["cancel", "kill", "pause"]))
    def stop(self, data: st.DataObject, operation: str) -> None:
        self.run((operation, self.pick(data, "scheduled", "inboxed", "running", "suspended", "paused")))

    @rule(data=st.data(), operation=st.sampled_from(["purge", "purge_journal"]))
    def purge(self, data: st.DataObject, operation: str) -> None:
        self.run((operation, self.pick(data, "completed")))

    @rule(data=st.data(), deployment=st.sampled_from(DEPLOYMENTS))
    def resume(self, data: st.DataObject, deployment: str | None) -> None:
        self.run(("resume", self.pick(data, "suspended", "paused"), deployment))

    @rule(
        data=st.data(),
        operation=st.sampled_from(["restart_as_new", "explain_restart_as_new"]),
        from_=st.sampled_from(FROMS),
        deployment=st.sampled_from(DEPLOYMENTS),
    )
    def restart(self, data: st.DataObject, operation: str, from_: Any, deployment: str | None) -> None:
        self.run((operation, self.pick(data, "completed"), from_, deployment))

    @rule(ms=st.sampled_from([0, 1_000, 60_000, 3_600_000, 90_000_000]))
    def advance(self, ms: int) -> None:
        self.run(("advance", ms))

    @rule(protocol=st.sampled_from([(5, 7), (5, 5), (1, 3)]))
    def register_deployment(self, protocol: tuple[int, int]) -> None:
        self.run(("register_deployment", protocol))

    @rule(which=st.sampled_from(["first", "last"]))
    def remove_deployment(self, which: str) -> None:
        self.run(("remove_deployment", which))

    @rule(data=st.data(), available=st.sampled_from([True, True, False]))
    def partition(self, data: st.DataObject, available: bool) -> None:
        self.run(("set_partition_available", self.pick(data, *STATES), available))

    @invariant()
    def same_world(self) -> None:
        assert world_of(self.fast) == world_of(self.slow)
        self.fast.check_invariants()
        self.slow.check_invariants()


TestBothPaths = BothPaths.TestCase
TestBothPaths.settings = budget(100, steps=40)


#: A program that runs through most kinds of steps: every check of it must agree.
TOUR: list[Op] = [
    ("call", ("Locker", "a"), 0, None),
    ("call", ("Locker", "a"), 0, None),
    ("append_command", 0, "Run"),
    ("complete_command", 0, 1),
    ("sleep", 0, 1_000),
    ("advance", 1_000),
    ("fail_attempt", 0, 2, "pause"),
    ("fail_attempt", 0, 2, "pause"),
    ("resume", 0, "latest"),
    ("complete", 0, True),
    ("restart_as_new", 0, 2, "keep"),
    ("explain_restart_as_new", 0, 9, None),
    ("kill", 1),
    ("advance", 90_000_000),
]


def test_the_tour_agrees() -> None:
    assert differences(TOUR) == []


def test_a_divergent_fast_path_is_caught() -> None:
    """Plant a divergence in the compiled quick map: the comparison must report it."""
    planted = Lifecycle()
    planted.quick[("running", "append_command")] = "suspended"  # a step that keeps the state, moved
    found = differences(TOUR, planted)
    assert found and "operation 2 ('append_command', 0, 'Run')" in found[0]


def test_every_recorded_case_answers_alike_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared examples and our recording, replayed once on each path: every outcome identical."""
    cases = list(read_cases([EXAMPLES, *RECORDED]))
    fast = [InProcess().run(case) for case in cases]

    def load_watched(world: Any, *, seed: int | str | None = 0) -> Engine:
        return watch_everything(load_world(world, seed=seed))

    monkeypatch.setattr(conformance, "load_world", load_watched)
    slow = [InProcess().run(case) for case in cases]
    assert len(cases) > 2000
    for case, a, b in zip(cases, fast, slow, strict=True):
        assert a == b, case["name"]
