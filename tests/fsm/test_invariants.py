"""The invariant checker names what is broken (so a broken world cannot pass for a sound one)."""

from __future__ import annotations

import pytest

from .conftest import World


def test_a_sound_world_passes(world: World) -> None:
    world.engine.call("Locker", "hold", "k")
    world.engine.call("Locker", "hold", "k")
    world.completed()
    world.engine.check_invariants()


def test_a_key_held_by_nobody_with_an_inbox_is_reported(world: World) -> None:
    e = world.engine
    e.call("Locker", "hold", "k")
    queued = e.call("Locker", "hold", "k")
    e.lock_holders.clear()  # corrupt the world behind the engine's back
    with pytest.raises(AssertionError, match=f"{queued} is inboxed behind no holder"):
        e.check_invariants()


def test_a_stored_free_record_and_a_lost_journal_are_reported(world: World) -> None:
    e = world.engine
    inv = e.call("Steps", "run")
    e.invocations[inv].journal = None
    with pytest.raises(AssertionError, match=f"{inv} lost its journal while running"):
        e.check_invariants()
    e.invocations[inv].state = "free"
    with pytest.raises(AssertionError, match=f"{inv} is free but still stored"):
        e.check_invariants()
