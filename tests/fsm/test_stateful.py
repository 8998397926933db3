"""Random operation sequences against the engine, checking the invariants after every step.

Invariants: every stored invocation is in exactly one live state; at most one lock holder per
key; inboxes drain first-in first-out; a refused request changes nothing; restart never changes
the old invocation and the new id shares its partition key; the world snapshot round-trips.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fsm import LIVE_STATES, Engine, LifecycleError, dump_world, load_world
from fsm.snapshot import dump_invocation
from tests.budget import budget
from tests.refusals import well_formed

# Key k1 is drawn often, so that its inbox fills up and drains.
SERVICES = [
    ("Steps", "service", None),
    *[("Locker", "virtual_object", "k1")] * 3,
    ("Locker", "virtual_object", "k2"),
    ("WF", "workflow", "w"),
    ("NoRet", "service", None),
]
FROMS = st.sampled_from([None, 0, 1, 2, 3, 5, 4294967295, "abc", "-1"])
DEPLOYMENTS = st.sampled_from([None, "keep", "latest", "KEEP", "dp_16hyvaGLkmYCmSH4nzeUDAv", "first", "last"])


class EngineMachine(RuleBasedStateMachine):
    engine: Engine

    @initialize(seed=st.integers(0, 1000))
    def setup(self, seed: int) -> None:
        self.engine = e = Engine(seed=seed)
        e.register_service("Steps")
        e.register_service("Locker", "virtual_object")
        e.register_service("WF", "workflow")
        e.register_service("NoRet", journal_retention_s=0)
        self.deployments = [e.register_deployment(["Steps", "Locker", "WF", "NoRet"], (5, 7))]
        self.inbox_order: dict[str, int] = {}
        self.counter = 0

    # --- helpers ---------------------------------------------------------------------

    def pick(self, data: st.DataObject, states: tuple[str, ...] = LIVE_STATES) -> str | None:
        ids = sorted(i for i, inv in self.engine.invocations.items() if inv.state in states)
        return data.draw(st.sampled_from(ids)) if ids else None

    def attempt(self, target: str | None, action: Any) -> Any:
        """Run ``action``; a refusal must be well formed and leave the whole world exactly as it was."""
        e = self.engine
        heads = {lock: inbox[0] for lock, inbox in e.inboxes.items()}
        holders = dict(e.lock_holders)
        before = dump_world(e)
        try:
            result = action()
        except LifecycleError as refused:
            event(f"refused {refused.http_status} {refused.reason}")
            well_formed(refused)
            assert dump_world(e) == before, f"a refused request changed the world: {refused!r} on {target}"
            return None
        for lock, holder in e.lock_holders.items():
            if holder != holders.get(lock) and holder in self.inbox_order and lock in heads:
                assert holder == heads[lock], f"{holder} jumped the queue of {lock}"
        for inv_id, inv in e.invocations.items():
            if inv.state == "inboxed" and inv_id not in self.inbox_order:
                self.counter += 1
                self.inbox_order[inv_id] = self.counter
        return result

    # --- the world ---------------------------------------------------------------------

    @rule(
        where=st.sampled_from(SERVICES),
        delay=st.sampled_from([0, 0, 0, 5_000]),
        idem=st.sampled_from([None, None, "i"]),
    )
    def call(self, where: tuple[str, str, str | None], delay: int, idem: str | None) -> None:
        service, _, key = where
        self.attempt(None, lambda: self.engine.call(service, "run", key, delay_ms=delay, idempotency_key=idem))

    @rule(ms=st.sampled_from([1, 1_000, 60_000, 3_600_000, 90_000_000]))
    def advance(self, ms: int) -> None:
        self.engine.advance(ms)

    @rule(protocol=st.sampled_from([(5, 7), (5, 5), (1, 3)]))
    def add_deployment(self, protocol: tuple[int, int]) -> None:
        self.deployments.append(self.engine.register_deployment(["Steps", "Locker", "WF", "NoRet"], protocol))

    @rule(data=st.data())
    def remove_deployment(self, data: st.DataObject) -> None:
        live = [d for d in self.deployments if d in self.engine.deployments]
        if live:
            self.engine.remove_deployment(data.draw(st.sampled_from(live)))

    @rule(data=st.data(), available=st.sampled_from([True, True, True, False]))
    def partition(self, data: st.DataObject, available: bool) -> None:
        self.engine.set_partition_available(data.draw(st.integers(0, 23)), available)

    # --- a deployment running handlers ---------------------------------------------------

    @rule(data=st.data(), kind=st.sampled_from(["Run", "Call", "SetState", "Sleep"]))
    def append_command(self, data: st.DataObject, kind: str) -> None:
        inv = self.pick(data, ("running",))
        if inv:
            self.attempt(inv, lambda: self.engine.append_command(inv, kind))

    @rule(data=st.data())
    def complete_command(self, data: st.DataObject) -> None:
        inv = self.pick(data, ("running", "suspended"))
        if inv:
            self.attempt(inv, lambda: self.engine.complete_command(inv, data.draw(st.integers(1, 6))))

    @rule(data=st.data())
    def sleep_or_suspend(self, data: st.DataObject) -> None:
        inv = self.pick(data, ("running",))
        if inv:
            if data.draw(st.booleans()):
                self.attempt(inv, lambda: self.engine.sleep(inv, 30_000))
            else:
                self.attempt(inv, lambda: self.engine.suspend(inv))

    @rule(data=st.data(), policy=st.sampled_from(["pause", "kill"]))
    def fail_attempt(self, data: st.DataObject, policy: str) -> None:
        inv = self.pick(data, ("running",))
        if inv:
            self.attempt(inv, lambda: self.engine.fail_attempt(inv, max_attempts=2, on_max_attempts=policy))

    @rule(data=st.data(), success=st.booleans())
    def complete(self, data: st.DataObject, success: bool) -> None:
        inv = self.pick(data, ("running",))
        if inv:
            self.attempt(inv, lambda: self.engine.complete(inv, success))

    # --- admin operations -------------------------------------------------------------------

    @rule(data=st.data(), operation=st.sampled_from(["cancel", "kill", "purge", "purge_journal", "pause", "resume"]))
    def admin(self, data: st.DataObject, operation: str) -> None:
        inv = self.pick(data)
        if inv:
            self.attempt(inv, lambda: getattr(self.engine, operation)(inv))

    @rule(data=st.data(), deployment=st.sampled_from([None, "keep", "latest", "first"]))
    def resume_on(self, data: st.DataObject, deployment: str | None) -> None:
        inv = self.pick(data)
        if inv:
            chosen = self.deployments[0] if deployment == "first" else deployment
            self.attempt(inv, lambda: self.engine.resume(inv, chosen))

    @rule(data=st.data(), from_=FROMS, deployment=DEPLOYMENTS)
    def restart_as_new(self, data: st.DataObject, from_: int | str | None, deployment: str | None) -> None:
        inv = self.pick(data)
        if inv is None:
            return
        chosen = {"first": self.deployments[0], "last": self.deployments[-1]}.get(deployment or "", deployment)
        e = self.engine
        before = dump_invocation(e, e.invocations[inv])
        result = self.attempt(inv, lambda: e.restart_as_new(inv, from_, chosen))
        assert dump_invocation(e, e.invocations[inv]) == before, "restart changed the old invocation"
        if result is not None:
            event(f"restarted, new invocation {result.status}")
            assert result.new_invocation_id[:16] == inv[:16] and result.new_invocation_id != inv
            assert e.invocations[result.new_invocation_id].restarted_from == inv

    # --- invariants -------------------------------------------------------------------------------

    @invariant()
    def consistent(self) -> None:
        if not hasattr(self, "engine"):
            return
        self.engine.check_invariants()
        for inv in self.engine.invocations.values():
            assert inv.state in LIVE_STATES

    @invariant()
    def inboxes_keep_arrival_order(self) -> None:
        if not hasattr(self, "engine"):
            return
        for inbox in self.engine.inboxes.values():
            order = [self.inbox_order[i] for i in inbox if i in self.inbox_order]
            assert order == sorted(order)

    @invariant()
    def snapshot_round_trips(self) -> None:
        if not hasattr(self, "engine"):
            return
        world = dump_world(self.engine)
        assert dump_world(load_world(world)) == world


EngineMachine.TestCase.settings = budget(150, steps=50, slow_ok=True)
TestEngineMachine = EngineMachine.TestCase
