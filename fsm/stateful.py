"""A stateful-testing base: subclass it, add your rules and invariants, let Hypothesis drive an engine.

    from hypothesis.stateful import invariant
    from fsm.testing import EngineStateMachine

    class NothingStaysPaused(EngineStateMachine):
        @invariant()
        def no_paused_invocation(self) -> None:
            assert all(inv.state != "paused" for inv in self.engine.invocations.values())

    TestNothingStaysPaused = NothingStaysPaused.TestCase

**What it drives** (its rules, over the public API of the engine :meth:`make_engine` builds):
calls (delayed, keyed, idempotent), the clock, a deployment's handler steps (commands,
completions, sleeps, suspensions, failed attempts, completing), the admin operations and
restart-as-new. Override :meth:`make_engine` for your own world; add ``@rule``\\ s that call
:meth:`attempt` (and :meth:`record`) to drive it further.

**What it checks after every step:** a refusal is well formed (a known status, an UPPER_SNAKE
reason, ``str(err)`` = ``"<status> <reason>: <message>"``) and leaves the world exactly as it was;
restart-as-new never changes the old invocation; the engine's own invariants
(:meth:`fsm.Engine.check_invariants`: one state per invocation, one lock holder per key, FIFO
inboxes, ...); the world survives a snapshot round trip.

**A failing run prints a program**: the world it started from as JSON and every accepted call on the
public API, with invocations named by variables (refused calls appear as comments: they change
nothing). Paste it into a file and run it to replay the counterexample without Hypothesis.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from .engine import Engine, RestartResult
from .errors import LifecycleError
from .lifecycle import LIVE_STATES
from .snapshot import dump_invocation, dump_world, load_world

#: Every status a refusal may carry (Restate's admin API uses no others).
STATUSES = frozenset({400, 404, 409, 410, 422, 425, 503})
_REASON = re.compile(r"[A-Z][A-Z_]*[A-Z]")

#: Where the default world's calls go: (service, key). Key "k1" comes often, so its inbox fills.
TARGETS = (("Steps", None), ("Locker", "k1"), ("Locker", "k1"), ("Locker", "k2"), ("WF", "w"))


class EngineStateMachine(RuleBasedStateMachine):
    """Random sequences of calls, handler steps, clock moves and admin operations on one engine."""

    #: The seed of the engine's ids.
    seed = 0

    def __init__(self) -> None:
        super().__init__()
        self.engine = self.make_engine()
        #: A world loaded from a snapshot of ``engine`` (:meth:`snapshot`) or forked from it
        #: (:meth:`fork`), then sent every call first: it must answer alike and leave ``engine`` alone.
        self.twin: Engine | None = None
        self.names: dict[str, str] = {}
        begin = dump_world(self.engine)
        begin.pop("id_generator", None)  # 3 KB of noise in a program; the seed draws ids as well
        start = json.dumps(begin, sort_keys=True)
        self.program: list[str] = [
            "import json",
            "from fsm import load_world",
            f"engine = load_world(json.loads({start!r}), seed={self.seed!r})",
        ]

    def make_engine(self) -> Engine:
        """The world each run starts from (override it): three services, one deployment for them."""
        engine = Engine(seed=self.seed)
        engine.register_service("Steps")
        engine.register_service("Locker", "virtual_object")
        engine.register_service("WF", "workflow")
        engine.register_deployment(["Steps", "Locker", "WF"], name="v1")
        return engine

    # --- tools for rules --------------------------------------------------------------------------

    def name(self, value: Any) -> str:
        """How the program spells ``value``: an invocation by its variable, anything else by repr."""
        return self.names.get(value, repr(value)) if isinstance(value, str) else repr(value)

    def record(self, line: str) -> None:
        """Add a line to the counterexample program."""
        self.program.append(line)

    def teardown(self) -> None:
        """Hand Hypothesis the program of this run (it shows the failing run's only)."""
        note("\n# Replay this counterexample (runs without Hypothesis):\n" + "\n".join(self.program))

    def pick(self, data: st.DataObject, states: tuple[str, ...] = LIVE_STATES) -> str | None:
        """An invocation in one of ``states`` (None when there is none)."""
        ids = [i for i, inv in self.engine.invocations.items() if inv.state in states]
        return data.draw(st.sampled_from(ids), label="invocation") if ids else None

    def attempt(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``engine.<method>(*args, **kwargs)``, record it, and check a refusal changed nothing.

        Returns the result, or None when refused. An invocation id returned becomes a variable.
        """
        call = ", ".join([*(self.name(a) for a in args), *(f"{k}={self.name(v)}" for k, v in kwargs.items())])
        text = f"engine.{method}({call})"
        before = dump_world(self.engine)
        twin = self._twin_answer(method, args, kwargs)
        assert twin is None or dump_world(self.engine) == before, f"{text} on the twin changed the engine too"
        try:
            result = getattr(self.engine, method)(*args, **kwargs)
        except LifecycleError as err:
            self.record(f"# {text}  -> refused: {err}")
            check_refusal(err)
            assert dump_world(self.engine) == before, f"a refused {text} changed the world: {err}"
            assert twin in (None, repr(err)), f"{text}: the twin (a snapshot or a fork) answered {twin}, not {err!r}"
            return None
        if self.twin is not None:
            assert twin == repr(result), f"{text}: the twin (a snapshot or a fork) answered {twin}, not {result!r}"
            assert dump_world(self.twin) == dump_world(self.engine), (
                f"{text}: the twin (a snapshot or a fork) went its own way"
            )
        new_id = result.new_invocation_id if isinstance(result, RestartResult) else result
        if isinstance(new_id, str) and new_id in self.engine.invocations and new_id not in self.names:
            self.names[new_id] = f"inv{len(self.names) + 1}"
            text = (
                f"{self.names[new_id]} = {text}"
                if new_id is result
                else f"{self.names[new_id]} = {text}.new_invocation_id"
            )
        self.record(text)
        return result

    def _twin_answer(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """What the twin answers to the same call (its result's or refusal's repr); None without one."""
        if self.twin is None:
            return None
        try:
            return repr(getattr(self.twin, method)(*args, **kwargs))
        except LifecycleError as err:
            return repr(err)

    # --- the world ------------------------------------------------------------------------------

    @rule()
    def snapshot(self) -> None:
        """From here on, a world loaded from a snapshot of this one must answer every call the same."""
        self.twin = load_world(dump_world(self.engine))
        self.record("twin = load_world(dump_world(engine))  # must answer as engine from here on")

    @rule()
    def fork(self) -> None:
        """From here on, a fork of this engine must answer every call the same, and stay apart from it."""
        self.twin = self.engine.fork()
        self.record("twin = engine.fork()  # must answer as engine from here on")

    @rule(where=st.sampled_from(TARGETS), delay=st.sampled_from([0, 0, 0, 5_000]), idem=st.sampled_from([None, "i"]))
    def call(self, where: tuple[str, str | None], delay: int, idem: str | None) -> None:
        service, key = where
        if service in self.engine.services:
            self.attempt("call", service, "run", key, delay_ms=delay, idempotency_key=idem)

    @rule(ms=st.sampled_from([1, 500, 1_000, 60_000, 3_600_000, 90_000_000]))
    def advance(self, ms: int) -> None:
        self.attempt("advance", ms)

    # --- a deployment running handlers ------------------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(["Run", "Call", "SetState", "Sleep"]))
    def append_command(self, data: st.DataObject, kind: str) -> None:
        inv = self.pick(data, ("running",))
        if inv is not None:
            self.attempt("append_command", inv, kind)

    @rule(data=st.data())
    def complete_command(self, data: st.DataObject) -> None:
        inv = self.pick(data, ("running", "suspended", "paused"))
        if inv is not None:
            self.attempt("complete_command", inv, data.draw(st.integers(1, 6), label="completion_id"))

    @rule(data=st.data(), sleep=st.booleans())
    def sleep_or_suspend(self, data: st.DataObject, sleep: bool) -> None:
        inv = self.pick(data, ("running",))
        if inv is not None:
            if sleep:
                self.attempt("sleep", inv, 30_000)
            else:
                self.attempt("suspend", inv)

    @rule(data=st.data(), ending=st.sampled_from([None, "pause", "kill"]))
    def fail_attempt(self, data: st.DataObject, ending: str | None) -> None:
        inv = self.pick(data, ("running",))
        if inv is not None:
            self.attempt("fail_attempt", inv, 2, ending)

    @rule(data=st.data(), success=st.booleans())
    def complete(self, data: st.DataObject, success: bool) -> None:
        inv = self.pick(data, ("running",))
        if inv is not None:
            self.attempt("complete", inv, success)

    # --- admin operations ---------------------------------------------------------------------

    @rule(data=st.data(), operation=st.sampled_from(["cancel", "kill", "purge", "purge_journal", "pause", "resume"]))
    def admin(self, data: st.DataObject, operation: str) -> None:
        inv = self.pick(data)
        if inv is not None:
            self.attempt(operation, inv)

    @rule(
        data=st.data(), from_=st.sampled_from([None, 0, 1, 2, 3, "abc"]), deployment=st.sampled_from([None, "latest"])
    )
    def restart_as_new(self, data: st.DataObject, from_: int | str | None, deployment: str | None) -> None:
        inv = self.pick(data)
        if inv is None:
            return
        before = dump_invocation(self.engine, self.engine.invocations[inv])
        result = self.attempt("restart_as_new", inv, from_, deployment)
        assert dump_invocation(self.engine, self.engine.invocations[inv]) == before, (
            "restart changed the old invocation"
        )
        if result is not None:
            assert self.engine.invocations[result.new_invocation_id].restarted_from == inv

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def engine_invariants(self) -> None:
        self.engine.check_invariants()

    @invariant()
    def snapshot_round_trips(self) -> None:
        world = dump_world(self.engine)
        assert dump_world(load_world(world)) == world, "the world does not survive a snapshot round trip"


def check_refusal(err: LifecycleError) -> None:
    """What any refusal must be: a known status, an UPPER_SNAKE reason, and the documented text."""
    assert err.http_status in STATUSES, f"unknown status {err.http_status}: {err!r}"
    assert _REASON.fullmatch(err.reason), f"malformed reason {err.reason!r}"
    assert err.message and str(err) == f"{err.http_status} {err.reason}: {err.message}", repr(err)


__all__ = ["STATUSES", "TARGETS", "EngineStateMachine", "check_refusal"]
