"""What the explorer (:mod:`fsm.explore`) keeps of a world: a small hashable state, and its canonical form.

An *abstract state* is ``(invocations, deployments, cleanup)``:

- per invocation of the trace, in creation order, ``(name, state)`` once it is free, else
  ``(name, state, service, completion, journal shape, pinned deployment's name, protocol, lock,
  awaiting, retried?, next completion id, start due, sleeps due, retention due, partition
  unavailable?, restarted_from's name)``; every time is *relative to the clock*;
- per deployment of the trace: its name, whether it is registered, and its protocol range;
- when the next cleanup runs, if a completed invocation waits for it.

Two worlds with the same abstract state answer every call alike, so the search visits one of them.
The *canonical* form also forgets the order of invocations: invocations are sorted by what they
are, names become ranks (a restart link names its target's rank), so worlds that differ only by
which invocation was created first are visited once. ``canonical`` also returns the renaming it
applied, so the search can follow one invocation along edges whose states were renamed.
"""

from __future__ import annotations

from typing import Any

from .engine import Engine
from .ids import partition_key_of
from .lifecycle import COMPLETED, FREE

State = tuple[Any, ...]
#: For each position of an abstract state's invocations, its rank in the canonical form.
Ranks = tuple[int, ...]


class Abstraction:
    """Abstract states of one exploration's engines (it caches partition keys by id)."""

    def __init__(self) -> None:
        self._pk: dict[str, int] = {}

    def partition_key(self, inv_id: str) -> int:
        pk = self._pk.get(inv_id)
        if pk is None:
            pk = self._pk[inv_id] = partition_key_of(inv_id)
        return pk

    def unavailable(self, engine: Engine, inv_id: str) -> bool:
        return bool(engine.unavailable_partitions) and (
            engine.partition_of(self.partition_key(inv_id)) in engine.unavailable_partitions
        )

    def state(self, engine: Engine, env: dict[str, str], invocations: int, deployments: int) -> State:
        """The abstract state of ``engine``, whose trace bound ``inv1..`` and ``dp1..`` in ``env``."""
        now = engine.now_ms
        interval = engine.cleanup_interval_ms
        dep_names = {env[f"dp{i}"]: f"dp{i}" for i in range(1, deployments + 1)}
        names = [f"inv{i}" for i in range(1, invocations + 1)]
        sleeps = engine.pending_sleeps()
        invs: list[tuple[Any, ...]] = []
        pending_expiry = False
        for name in names:
            inv = engine.invocations.get(env[name])
            if inv is None:
                invs.append((name, FREE))
                continue
            journal = (
                None
                if inv.journal is None
                else tuple((e.kind, e.type, e.completion_ids, e.completion_id) for e in inv.journal)
            )
            expiry: tuple[int, int | None] | None = None
            if inv.state == COMPLETED and inv.completed_ms is not None:
                status_due = max(0, inv.completed_ms + inv.completion_retention_s * 1000 - now)
                journal_due = None
                if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
                    journal_due = max(0, inv.completed_ms + inv.journal_retention_s * 1000 - now)
                expiry = (status_due, journal_due)
                pending_expiry = True
            lock = None
            if inv.key is not None:
                holder = engine.lock_holders.get((inv.service, inv.key))
                inbox = engine.inboxes.get((inv.service, inv.key))
                lock = (
                    "holds" if holder == inv.id else None,
                    list(inbox).index(inv.id) if inbox is not None and inv.id in inbox else None,
                )
            invs.append(
                (
                    name,
                    inv.state,
                    inv.service,
                    inv.completion,
                    journal,
                    None if inv.pinned_deployment is None else dep_names.get(inv.pinned_deployment, "?"),
                    inv.pinned_protocol,
                    lock,
                    inv.awaiting,
                    min(inv.retry_count, 1),
                    inv.next_completion_id,
                    None if inv.due_ms is None else inv.due_ms - now,
                    tuple((due - now, cid) for due, cid in sleeps.get(inv.id, ())),
                    expiry,
                    self.unavailable(engine, inv.id),
                    None
                    if inv.restarted_from is None
                    else next((n for n in names if env[n] == inv.restarted_from), "?"),
                )
            )
        deps = tuple(
            (d, env[d] in engine.deployments)
            + (
                (engine.deployments[env[d]].protocol_min, engine.deployments[env[d]].protocol_max)
                if env[d] in engine.deployments
                else ()
            )
            for d in dep_names.values()
        )
        cleanup = interval - now % interval if pending_expiry else None
        return (tuple(invs), deps, cleanup)


def canonical(state: State) -> tuple[State, Ranks]:
    """``state`` without the order of its invocations, and the rank each position got.

    Invocations sort by what they are (their fields, and their restart target's fields); names
    become ranks. Two states that differ only by a renaming of invocations get the same form
    (when two invocations tie on everything, either order is the same state).
    """
    invs, deps, cleanup = state
    position = {entry[0]: i for i, entry in enumerate(invs)}
    bodies = [entry[1:-1] if len(entry) > 2 else entry[1:] for entry in invs]

    def sort_key(i: int) -> str:
        entry = invs[i]
        link = entry[-1] if len(entry) > 2 else None
        target = None if link is None else bodies[position[link]] if link in position else link
        return repr((bodies[i], target))

    order = sorted(range(len(invs)), key=sort_key)
    ranks = [0] * len(invs)
    for rank, i in enumerate(order):
        ranks[i] = rank
    out: list[tuple[Any, ...]] = []
    for i in order:
        entry = invs[i]
        if len(entry) <= 2:
            out.append(bodies[i])
            continue
        link = entry[-1]
        out.append(bodies[i] + (None if link is None else ranks[position[link]] if link in position else link,))
    return (tuple(out), deps, cleanup), tuple(ranks)


def next_event_ms(engine: Engine) -> int | None:
    """How far the clock must move for the next pending thing to happen (None: nothing pending)."""
    now = engine.now_ms
    interval = engine.cleanup_interval_ms
    next_cleanup = (now // interval + 1) * interval
    candidates = []
    for inv in engine.invocations.values():
        if inv.due_ms is not None:
            candidates.append(inv.due_ms)
        if inv.state == COMPLETED and inv.completed_ms is not None:
            dues = [inv.completed_ms + inv.completion_retention_s * 1000]
            if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
                dues.append(inv.completed_ms + inv.journal_retention_s * 1000)
            for due in dues:
                runs = max(0, -(-(due - next_cleanup) // interval))
                candidates.append(next_cleanup + runs * interval)
    for timers in engine.pending_sleeps().values():
        candidates.extend(due for due, _ in timers)
    later = [c for c in candidates if c > now]
    return min(later) - now if later else None


__all__ = ["Abstraction", "Ranks", "State", "canonical", "next_event_ms"]
