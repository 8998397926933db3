"""The ids of the world's invocations in sorted order, kept up to date: what ListInvocations pages over.

Pages are ordered by id and their cursor is the last id of the previous page, so a page must
start at the first id after the cursor without sorting the world: a
:class:`sortedcontainers.SortedList` (``O(log n)`` to add or drop one id) finds it by bisection.
:class:`~grpc_server.world.GuardedEngine` applies the engine's changes
(:meth:`fsm.engine.Engine.take_changes`) after each operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sortedcontainers import SortedList  # type: ignore[import-untyped]


class IdIndex:
    """Sorted invocation ids of one world."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids = SortedList(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def update(self, present: Mapping[str, object], changed: Iterable[str]) -> None:
        """Take in ``changed`` ids: those in ``present`` are listed, the others dropped."""
        ids = self._ids
        for inv_id in changed:
            listed = inv_id in ids
            if inv_id in present:
                if not listed:
                    ids.add(inv_id)
            elif listed:
                ids.remove(inv_id)

    def page(self, after: str | None, wanted: Callable[[str], bool], size: int) -> tuple[list[str], bool]:
        """Up to ``size`` ids after ``after`` (None: from the first) for which ``wanted`` holds, in
        order, and whether more follow."""
        start = 0 if after is None else self._ids.bisect_right(after)
        found: list[str] = []
        for inv_id in self._ids.islice(start):
            if wanted(inv_id):
                if len(found) == size:
                    return found, True
                found.append(inv_id)
        return found, False
