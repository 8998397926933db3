"""Shared worlds for the fsm tests: built through the engine's own operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsm import Engine
from tests import examples

ROOT = Path(__file__).resolve().parents[2]
#: The shared examples: ../shared beside the checkout, or the copy kept in the repository (tests/examples.py).
EXAMPLES = str(examples.EXAMPLES)


class World:
    """A small world like the recorded one: services of every type, four deployments."""

    def __init__(self, seed: int = 7) -> None:
        self.engine = e = Engine(seed=seed)
        e.register_service("Steps")
        e.register_service("NoRet", journal_retention_s=0)
        e.register_service("Locker", "virtual_object")
        e.register_service("WF", "workflow")
        e.register_service("Other")
        served = ["Steps", "NoRet", "Locker", "WF"]
        self.d1 = e.register_deployment(served, (5, 7), name="D1")
        self.proto5 = e.register_deployment(served, (5, 5), name="proto5")
        self.d2 = e.register_deployment(served, (5, 7), name="D2")
        self.other = e.register_deployment(["Other"], (5, 7), name="other")

    def completed(
        self, steps: int = 3, service: str = "Steps", key: str | None = None, pin_to: str | None = None
    ) -> str:
        """A completed invocation: Input, ``steps`` x (Run, its completion), Output."""
        e = self.engine
        inv = e.call(service, "run", key)
        if pin_to is not None:  # pin by making the chosen deployment the latest for a moment
            e.invocations[inv].pinned_deployment = pin_to
            e.invocations[inv].pinned_protocol = 6
        for i in range(steps):
            entry = e.append_command(inv, "Run", f"step{i + 1}")
            e.complete_command(inv, entry.completion_ids[0])
        e.complete(inv)
        return inv


@pytest.fixture
def world() -> World:
    return World()
