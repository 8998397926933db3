"""The public stateful base (fsm.testing.EngineStateMachine), used as a user would, and its counterexamples.

The project's own machine subclasses it: more deployments, partitions, a service without
journal retention, and FIFO inboxes checked step by step. A user's subclass with a property that
does not hold fails, and the program it prints replays the counterexample without Hypothesis.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from fsm import Engine
from fsm.model import Invocation
from fsm.snapshot import dump_invocation
from fsm.testing import EngineStateMachine
from tests.budget import budget


class EngineMachine(EngineStateMachine):
    """Everything the base drives, plus deployments coming and going, partitions and FIFO inboxes."""

    def make_engine(self) -> Engine:
        engine = super().make_engine()
        engine.register_service("NoRet", journal_retention_s=0)
        engine.register_deployment(["Steps", "Locker", "WF", "NoRet"], (5, 7))
        self.inbox_order: dict[str, int] = {}
        return engine

    @rule(protocol=st.sampled_from([(5, 7), (5, 5), (1, 3)]))
    def add_deployment(self, protocol: tuple[int, int]) -> None:
        self.attempt("register_deployment", ["Steps", "Locker", "WF", "NoRet"], protocol)

    @rule(data=st.data())
    def remove_deployment(self, data: st.DataObject) -> None:
        if len(self.engine.deployments) > 1:
            self.attempt("remove_deployment", data.draw(st.sampled_from(sorted(self.engine.deployments))))

    @rule(partition=st.integers(0, 23), available=st.sampled_from([True, True, True, False]))
    def partition(self, partition: int, available: bool) -> None:
        self.attempt("set_partition_available", partition, available)

    @rule(data=st.data(), deployment=st.sampled_from(["keep", "latest", "first"]))
    def resume_on(self, data: st.DataObject, deployment: str) -> None:
        inv = self.pick(data)
        if inv is not None:
            chosen = next(iter(self.engine.deployments)) if deployment == "first" else deployment
            self.attempt("resume", inv, chosen)

    @rule(where=st.sampled_from([("NoRet", None)]))
    def call_without_retention(self, where: tuple[str, None]) -> None:
        self.attempt("call", where[0], "run", where[1])

    @invariant()
    def inboxes_keep_arrival_order(self) -> None:
        for inv_id, inv in self.engine.invocations.items():
            if inv.state == "inboxed" and inv_id not in self.inbox_order:
                self.inbox_order[inv_id] = len(self.inbox_order)
        for inbox in self.engine.inboxes.values():
            order = [self.inbox_order[i] for i in inbox if i in self.inbox_order]
            assert order == sorted(order), "an inbox does not drain first in, first out"


EngineMachine.TestCase.settings = budget(150, steps=50, slow_ok=True)
TestEngineMachine = EngineMachine.TestCase


class ChangesAreNoted(EngineMachine):
    """A store writes what ``take_changes`` lists: every invocation an operation changed must be in it."""

    def make_engine(self) -> Engine:
        engine = super().make_engine()
        engine.track_changes()
        engine.take_changes()
        return engine

    def records(self) -> dict[str, object]:
        timers = self.engine.pending_sleeps()
        return {i: dump_invocation(self.engine, inv, timers) for i, inv in self.engine.invocations.items()}

    def attempt(self, method: str, *args: Any, **kwargs: Any) -> Any:
        before = self.records()
        result = super().attempt(method, *args, **kwargs)
        after = self.records()
        changed = {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}
        noted = self.engine.take_changes()
        assert changed <= noted, f"engine.{method} changed {sorted(changed - noted)} without noting them"
        return result


ChangesAreNoted.TestCase.settings = budget(100, steps=50, slow_ok=True)
TestChangesAreNoted = ChangesAreNoted.TestCase


class NothingStaysPaused(EngineStateMachine):
    """A user's property that does not hold: retries run out (after two attempts) and pause."""

    @invariant()
    def no_paused_invocation(self) -> None:
        assert all(inv.state != "paused" for inv in self.engine.invocations.values()), "an invocation is paused"


def test_a_failing_user_machine_prints_a_program_that_replays_the_counterexample() -> None:
    with pytest.raises(AssertionError, match="an invocation is paused") as caught:
        run_state_machine_as_test(
            NothingStaysPaused, settings=settings(max_examples=500, derandomize=True, database=None, deadline=None)
        )
    text = "\n".join(getattr(caught.value, "__notes__", []))  # Hypothesis reports the failing run as notes
    marker = "# Replay this counterexample (runs without Hypothesis):\n"
    assert marker in text, text
    program = text[text.index(marker) + len(marker) :].split("\n\n")[0]  # what Hypothesis adds comes after
    lines = program.splitlines()
    assert lines[:2] == ["import json", "from fsm import load_world"]
    assert lines[2].startswith("engine = load_world(json.loads(")
    assert lines[3:] == [
        "inv1 = engine.call('Steps', 'run', None, delay_ms=0, idempotency_key=None)",
        "engine.pause(inv1)",
    ]
    namespace: dict[str, object] = {}
    exec(program, namespace)  # the printed program, run as it is
    engine = namespace["engine"]
    assert isinstance(engine, Engine)
    assert [inv.state for inv in engine.invocations.values()] == ["paused"]


def test_a_fork_that_shares_a_journal_with_its_engine_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Invocation.copy

    def shallow(self: Invocation) -> Invocation:
        twin = original(self)
        twin.journal = self.journal  # the planted bug: one list for both engines
        return twin

    monkeypatch.setattr(Invocation, "copy", shallow)
    with pytest.raises(AssertionError, match="twin"):
        run_state_machine_as_test(
            EngineMachine,
            settings=settings(max_examples=400, stateful_step_count=30, deadline=None, database=None, derandomize=True),
        )
