"""fsm.rows: a row holds what the world format's record holds, and alike journals are shared."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fsm import Engine, dump_world, load_world
from fsm.rows import COLUMNS, RowReader, to_row
from fsm.strategies import worlds

from .conftest import World


def through_rows(engine: Engine) -> Engine:
    """A copy of ``engine`` made from its rows, as a store reads them back."""
    world = dump_world(engine)
    copy = load_world({**world, "invocations": [], "inbox_order": None})
    timers = engine.pending_sleeps()
    reader = RowReader(copy.services)
    rows = [to_row(inv, engine.services[inv.service], timers.get(i, ())) for i, inv in engine.invocations.items()]
    assert all(len(row) == len(COLUMNS) for row in rows)
    restored = [reader.invocation(row) for row in rows]
    queued = [inv_id for _, inbox in sorted(engine.inboxes.items()) for inv_id in inbox]
    copy.restore([inv for inv, _ in restored], {inv.id: t for inv, t in restored if t}, queued)
    copy.ids.move_to(engine.ids.position)
    return copy


@settings(max_examples=150, deadline=None)
@given(worlds(), st.integers(0, 1_000))
def test_every_world_comes_back_from_its_rows(raw: dict[str, Any], seed: int) -> None:
    engine = load_world(raw, seed=seed)
    assert dump_world(through_rows(engine)) == dump_world(engine)


def test_an_engine_built_world_comes_back_and_goes_on_the_same(world: World) -> None:
    e = world.engine
    rnd = random.Random(4)
    for _ in range(60):
        inv = e.call(rnd.choice(["Steps", "NoRet"]), "run")
        e.append_command(inv, "Run", "step")
        if rnd.random() < 0.3:
            e.sleep(inv, 5_000)
        elif rnd.random() < 0.5:
            e.fail_attempt(inv, failure="boom")
        else:
            e.complete(inv, rnd.random() < 0.7)
    e.call("Locker", "hold", "k")
    e.call("Locker", "hold", "k", delay_ms=10)
    e.call("Locker", "hold", "k")
    e.advance(10)
    copy = through_rows(e)
    assert dump_world(copy) == dump_world(e)
    e.advance(60_000)
    copy.advance(60_000)
    assert dump_world(copy) == dump_world(e) and copy.call("Steps", "run") == e.call("Steps", "run")


def test_alike_journals_share_their_entries() -> None:
    e = Engine()
    e.register_service("Steps")
    made = [e.call("Steps", "run") for _ in range(3)]
    for inv in made:
        e.append_command(inv, "Run", "step")
    reader = RowReader(e.services)
    copies = [reader.invocation(to_row(e.invocations[i], e.services["Steps"]))[0] for i in made]
    first, second, _ = (c.journal for c in copies)
    assert first is not None and second is not None and first == second and first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))  # one Entry object for all three
    first.append(first[0])  # each journal is its own list
    assert len(second) == 2
