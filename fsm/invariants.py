"""The invariants of a world: what must hold between any two operations.

Tests and exploration call :func:`check_invariants` after every step; it reads only public state.
"""

from __future__ import annotations

from .lifecycle import COMPLETED, FREE, HOLDS_LOCK, INBOXED
from .world import World


def check_invariants(world: World) -> None:
    """Raise AssertionError naming the first inconsistency: locks, inboxes, journals, stored records."""
    holders: dict[tuple[str, str], str] = {}
    for inv_id, inv in world.invocations.items():
        assert inv.id == inv_id, f"{inv_id} stored under another id"
        assert inv.state != FREE, f"{inv_id} is free but still stored"
        if inv.state in HOLDS_LOCK and inv.key is not None and world.registry.is_exclusive(inv.service, inv.handler):
            lock = (inv.service, inv.key)
            assert lock not in holders, f"two holders of {lock}: {holders.get(lock)} and {inv_id}"
            holders[lock] = inv_id
        if inv.state == INBOXED:
            assert inv.key is not None and inv_id in world.inboxes.get((inv.service, inv.key), ()), (
                f"{inv_id} is inboxed but not in its key's inbox"
            )
            assert (inv.service, inv.key) in world.lock_holders, f"{inv_id} is inboxed behind no holder"
        if inv.journal is not None:
            assert [e.index for e in inv.journal] == list(range(len(inv.journal))), f"{inv_id} journal not dense"
        if inv.state != COMPLETED:
            assert inv.journal is not None, f"{inv_id} lost its journal while {inv.state}"
    assert holders == world.lock_holders, f"lock table {world.lock_holders} != holders {holders}"
    for lock, inbox in world.inboxes.items():
        assert inbox, f"empty inbox kept for {lock}"
        for inv_id in inbox:
            queued = world.invocations.get(inv_id)
            assert queued is not None and queued.state == INBOXED, f"{inv_id} in inbox {lock} but not inboxed"
    lineage: dict[str, list[str]] = {}
    for inv in world.invocations.values():
        if inv.restarted_from is not None:
            lineage.setdefault(inv.restarted_from, []).append(inv.id)
    assert world.restarted_as == lineage, f"lineage index {world.restarted_as} != restarted_from {lineage}"
