"""Engine and reference side by side at the exact boundaries the differential test aims for.

Each case here is one short, fixed sequence: the differential machine reaches these boundaries too,
but only as one of many paths; these keep each boundary covered whatever the machine draws.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsm.engine import DEFAULT_EPOCH_MS, Engine
from fsm.errors import LifecycleError

from .records import Refusal
from .steps import Reference
from .test_differential import CLOCK_TRIGGERS, clock_story, comparable, engine_world, reference_world

HOUR = 3_600_000


class Pair:
    """One engine and one reference, built alike; ``both`` runs an operation on each and compares."""

    def __init__(self, protocol: tuple[int, int] = (5, 7), observe: bool = False) -> None:
        self.engine = Engine(seed=1)
        self.ref = Reference(DEFAULT_EPOCH_MS)
        for name, type_, journal_s, completion_s in [
            ("Steps", "service", 86_400, None),
            ("Short", "service", 3_600, 7_200),
            ("Locker", "virtual_object", 86_400, None),
        ]:
            self.engine.register_service(name, type_, journal_s, completion_s)
            self.ref.register_service(name, type_, journal_s, completion_s)
        self.deployment = self.engine.register_deployment(["Steps", "Short", "Locker"], protocol)
        self.ref.register_deployment(self.deployment, ("Steps", "Short", "Locker"), *protocol)
        self.log: list[tuple[int, str, str]] = []
        self.observe = observe
        if observe:
            self.engine.machine.after_state_change = [
                lambda event: self.log.append((self.engine.now_ms, event.event.name, event.model.id))
            ]

    def both(self, operation: str, *args: Any, numbered: bool = False) -> Any:
        try:
            got: Any = ("ok", comparable(getattr(self.engine, operation)(*args)))
        except LifecycleError as exc:
            got = ("refused", (exc.http_status, exc.reason, exc.message, exc.check if numbered else None))
        try:
            want: Any = ("ok", comparable(getattr(self.ref, operation)(*args)))
        except Refusal as refusal:
            want = ("refused", refusal.answer())
        assert got == want, f"{operation}{args}: engine {got!r}, reference {want!r}"
        assert engine_world(self.engine) == reference_world(self.ref)
        return got

    def restart(self, inv: str, from_: int | None, deployment: str | None) -> Any:
        """Restart on the engine, then on the reference with the engine's new id; the same answer."""
        try:
            new = self.engine.restart_as_new(inv, from_, deployment)
            got: Any = ("ok", comparable(new))
        except LifecycleError as exc:
            got = ("refused", (exc.http_status, exc.reason, exc.message, exc.check))
        new_id = got[1][0] if got[0] == "ok" else "inv_1" + "0" * 33
        try:
            want: Any = ("ok", comparable(self.ref.restart_as_new(inv, from_, deployment, new_id)))
        except Refusal as refusal:
            want = ("refused", refusal.answer())
        assert got == want, f"restart_as_new: engine {got!r}, reference {want!r}"
        assert engine_world(self.engine) == reference_world(self.ref)
        return got

    def call(self, service: str = "Steps", key: str | None = None, delay_ms: int = 0) -> str:
        inv = self.engine.call(service, "run", key, delay_ms=delay_ms)
        self.ref.call(service, "run", key, inv, delay_ms)
        return inv

    def completed(self, service: str = "Steps") -> str:
        """Input, Run and its completion, Output: a completed invocation with a complete prefix."""
        inv = self.call(service)
        self.both("append_command", inv, "Run")
        self.both("complete_command", inv, 1)
        self.both("complete", inv)
        return inv

    def advance(self, ms: int) -> None:
        self.log.clear()
        self.ref.clock_log.clear()
        self.engine.advance(ms)
        self.ref.advance(ms)
        assert engine_world(self.engine) == reference_world(self.ref)
        if not self.observe:
            return
        seen = [(t, CLOCK_TRIGGERS[name], i) for t, name, i in self.log if name in CLOCK_TRIGGERS]
        assert clock_story(seen) == clock_story(self.ref.clock_log), "the clock fired in another order"


@pytest.mark.parametrize("protocol", [3, 4, 5, 6])
@pytest.mark.parametrize("from_", [0, 1])
@pytest.mark.parametrize("deployment", [None, "keep", "latest"])
def test_restart_around_the_protocol_boundaries(protocol: int, from_: int, deployment: str | None) -> None:
    """Section 7: protocols below 4 take check 10's path; 4 and 5 refuse prefixes (check 11); 6 allows them."""
    pair = Pair((protocol, protocol))
    pair.restart(pair.completed(), from_, deployment)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_the_cleaner_at_the_exact_expiry(offset: int) -> None:
    """Section 1: the cleaner runs on the hour and drops what expired by then, expiry at the run included."""
    pair = Pair()
    inv = pair.completed("Short")  # completed at the epoch, on the hour: journal due +1 h, status +2 h
    pair.advance(HOUR + offset)
    assert (pair.ref.invocations[inv].journal is None) == (offset >= 0)
    pair.advance(HOUR)
    assert (inv in pair.ref.invocations) == (offset < 0)


BAD_VERSIONS = ["dp_2" + "0" * 22, "dp_x", "sub_2abc", "inv_2" + "0" * 33, "dp__", "vq_", "dp_1" + "0" * 22]


@pytest.mark.parametrize("raw", BAD_VERSIONS)
def test_the_id_version_is_checked_before_its_type(raw: str) -> None:
    """Section 4, id parse reasons 4 then 5: a bad version is reported before a wrong type."""
    pair = Pair()
    for operation in ("cancel", "kill", "purge", "purge_journal", "pause", "resume"):
        pair.both(operation, raw)
    pair.both("append_command", raw, "Run")
    pair.restart(raw, None, None)


@pytest.mark.parametrize("raw", [r.replace("inv_", "dp_").replace("dp_", "inv_", 1) for r in BAD_VERSIONS])
def test_the_deployment_id_version_is_checked_before_its_type(raw: str) -> None:
    """The same order for the `deployment` parameter (check 3), on an invocation that could take it."""
    pair = Pair()
    inv = pair.completed()
    pair.restart(inv, None, raw)
    pair.both("resume", inv, raw)


@pytest.mark.parametrize("due", [HOUR - 1, HOUR, HOUR + 1])
def test_a_timer_due_with_the_cleaner_fires_first(due: int) -> None:
    """A sleep and a delayed call due at the instant of a cleaner run fire before it (engine API)."""
    pair = Pair(observe=True)
    pair.completed("Short")  # its journal expires at the cleaner run one hour later
    sleeper = pair.call()
    pair.both("sleep", sleeper, due)
    pair.call("Locker", "k", delay_ms=due)
    pair.advance(2 * HOUR)
