"""fsm.abstraction: abstract states keep what decides answers; the canonical form forgets creation order."""

from __future__ import annotations

from fsm import Engine
from fsm.abstraction import Abstraction, canonical, next_event_ms


def _world(first: str, second: str) -> tuple[Engine, dict[str, str]]:
    engine = Engine(seed=1)
    engine.register_service("S")
    engine.register_service("T")
    env = {"inv1": engine.call(first, "run"), "inv2": engine.call(second, "run")}
    engine.complete(env["inv1" if first == "S" else "inv2"])
    return engine, env


def test_worlds_that_differ_by_creation_order_share_a_canonical_form() -> None:
    one, env_one = _world("S", "T")
    other, env_other = _world("T", "S")
    a, b = Abstraction().state(one, env_one, 2, 0), Abstraction().state(other, env_other, 2, 0)
    assert a != b  # inv1 is S's invocation in one and T's in the other
    (form_a, ranks_a), (form_b, ranks_b) = canonical(a), canonical(b)
    assert form_a == form_b and ranks_a == tuple(reversed(ranks_b))
    different, env = _world("S", "S")
    assert canonical(Abstraction().state(different, env, 2, 0))[0] != form_a


def test_a_restart_link_becomes_the_rank_of_its_target() -> None:
    engine = Engine(seed=1)
    engine.register_service("S")
    engine.register_deployment(["S"])
    env = {"inv1": engine.call("S", "run")}
    engine.complete(env["inv1"])
    env["inv2"] = engine.restart_as_new(env["inv1"]).new_invocation_id
    state = Abstraction().state(engine, env, 2, 0)
    assert state[0][1][-1] == "inv1"
    form, ranks = canonical(state)
    assert form[0][ranks[1]][-1] == ranks[0]  # the new one names its old one by rank


def test_the_clock_jumps_to_the_next_pending_thing() -> None:
    engine = Engine(seed=1)
    engine.register_service("S")
    assert next_event_ms(engine) is None
    engine.call("S", "run", delay_ms=1500)
    assert next_event_ms(engine) == 1500
