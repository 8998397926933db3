"""Virtual time: due calls, sleep timers, retention expiry and the hourly cleaner.

Nothing reads the wall clock. The clock holds what is scheduled and, asked to move to a time,
*yields* what falls due in order, setting ``now_ms`` to each item's time before yielding it; it
never runs a step itself (the engine does, for each item). Two structures hold the work:

- a heap of timers: a delayed call's start, a Sleep's completion, a backed-off attempt's start;
- retention: the hourly cleaner (Restate's ``worker.cleanup-interval``) drops expired journals
  and forgets expired completed invocations. The common case costs ~8 bytes per completed
  invocation: per (kind, retention) a queue of ids in completion order, so in due order, each
  due time recomputed from the invocation's ``completed_ms`` when the cleaner looks. Entries
  that would break that order (a loaded world's) go to a heap instead.

A timer due at the same instant as a cleaner run goes first. Cleaner runs with nothing to do
are skipped in one step, so moving the clock costs what falls due, however far it moves.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Container, Iterator

from .lifecycle import COMPLETED
from .model import Invocation

#: What falls due (the first item of each yielded triple).
START = "start"  # a delayed call's due time: (START, invocation id, 0)
SLEEP = "sleep"  # a Sleep ends: (SLEEP, invocation id, completion id)
RETRY = "retry"  # a backing-off invocation's next attempt starts: (RETRY, invocation id, 0)
EXPIRE_JOURNAL = "expire_journal"  # the cleaner drops a journal: (EXPIRE_JOURNAL, invocation id, 0)
EXPIRE = "expire"  # the cleaner forgets a completed invocation: (EXPIRE, invocation id, 0)

Due = tuple[str, str, int]
_NEVER = 1 << 128  # later than any time the model accepts


class Clock:
    """The virtual clock of one engine; ``lookup`` finds an invocation by id (None when gone)."""

    def __init__(self, now_ms: int, cleanup_interval_ms: int, lookup: Callable[[str], Invocation | None]) -> None:
        self.now_ms = now_ms
        self.cleanup_interval_ms = cleanup_interval_ms
        self._lookup = lookup
        self._timers: list[tuple[int, int, str, str, int]] = []  # due, seq, kind, invocation, completion id
        self._expiries: list[tuple[int, int, str, str]] = []  # due, seq, kind, invocation (re-checked when due)
        self._expiry_queues: dict[tuple[str, int], deque[str]] = {}  # (kind, retention_s) -> ids, due order
        self._expiry_tails: dict[tuple[str, int], int] = {}  # the newest completed_ms in each queue
        self._seq = 0
        self.next_cleanup_ms = self._cleanup_after(now_ms)

    def copy(self, lookup: Callable[[str], Invocation | None]) -> Clock:
        """An independent clock at the same time with the same pending work, finding invocations by ``lookup``."""
        twin = Clock.__new__(Clock)
        twin.now_ms = self.now_ms
        twin.cleanup_interval_ms = self.cleanup_interval_ms
        twin._lookup = lookup
        twin._timers = list(self._timers)  # a heap copied as a list is still a heap
        twin._expiries = list(self._expiries)
        twin._expiry_queues = {key: deque(ids) for key, ids in self._expiry_queues.items()}
        twin._expiry_tails = dict(self._expiry_tails)
        twin._seq = self._seq
        twin.next_cleanup_ms = self.next_cleanup_ms
        return twin

    def _cleanup_after(self, now_ms: int) -> int:
        return (now_ms // self.cleanup_interval_ms + 1) * self.cleanup_interval_ms

    # --- scheduling ---------------------------------------------------------------------------

    def schedule_start(self, invocation_id: str, due_ms: int) -> None:
        """A delayed call starts (or queues for its key) at ``due_ms``."""
        self._seq += 1
        heapq.heappush(self._timers, (due_ms, self._seq, START, invocation_id, 0))

    def schedule_sleep(self, invocation_id: str, due_ms: int, completion_id: int) -> None:
        """A Sleep's completion ``completion_id`` arrives at ``due_ms``."""
        self._seq += 1
        heapq.heappush(self._timers, (due_ms, self._seq, SLEEP, invocation_id, completion_id))

    def schedule_retry(self, invocation_id: str, due_ms: int) -> None:
        """A backing-off invocation's next attempt starts at ``due_ms`` (yielded as (RETRY, id, 0))."""
        self._seq += 1
        heapq.heappush(self._timers, (due_ms, self._seq, RETRY, invocation_id, 0))

    def schedule_retention(self, inv: Invocation, completed_ms: int) -> None:
        """Queue the cleaner's work for a completed invocation: its journal's expiry, then its own."""
        if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
            self._queue_expiry(inv, completed_ms, EXPIRE_JOURNAL, inv.journal_retention_s)
        self._queue_expiry(inv, completed_ms, EXPIRE, inv.completion_retention_s)

    def _queue_expiry(self, inv: Invocation, completed_ms: int, kind: str, retention_s: int) -> None:
        """Append to the (kind, retention) queue when that keeps it in due order, else use the heap.

        The engine completes invocations in clock order, so it always appends; a loaded world may
        not (its ``completed_ms`` are in any order, or absent), and those go to the heap.
        """
        key = (kind, retention_s)
        tail = self._expiry_tails.get(key)
        if completed_ms == inv.completed_ms and (tail is None or completed_ms >= tail):
            queue = self._expiry_queues.get(key)
            if queue is None:
                queue = self._expiry_queues[key] = deque()
            queue.append(inv.id)
            if tail != completed_ms:
                self._expiry_tails[key] = completed_ms
        else:
            self._seq += 1
            heapq.heappush(self._expiries, (completed_ms + retention_s * 1000, self._seq, kind, inv.id))

    def pending_sleeps(self, only: Container[str] | None = None) -> dict[str, list[tuple[int, int]]]:
        """Sleep timers not yet fired: invocation id -> [(due_ms, completion id)], by due time; of the
        invocations in ``only`` when given."""
        out: dict[str, list[tuple[int, int]]] = {}
        timers = self._timers if only is None else [t for t in self._timers if t[3] in only]
        for due, _, kind, inv_id, cid in sorted(timers):
            if kind == SLEEP:
                out.setdefault(inv_id, []).append((due, cid))
        return out

    # --- moving -------------------------------------------------------------------------------

    def idle_until(self, target_ms: int) -> bool:
        """Nothing falls due up to ``target_ms`` (then moving there is just setting ``now_ms``)."""
        timers = self._timers
        return (not timers or timers[0][0] > target_ms) and self.next_cleanup_ms > target_ms

    def until(self, target_ms: int) -> Iterator[Due]:
        """Everything due up to ``target_ms``, in order; ``now_ms`` is each item's time, then the target.

        Work the consumer schedules meanwhile (a new timer) is seen if it falls due in range.
        """
        timers = self._timers
        while True:
            cleanup_ms = self.next_cleanup_ms
            if timers and timers[0][0] <= cleanup_ms:  # a timer due no later than the cleaner goes first
                due_ms = timers[0][0]
                if due_ms > target_ms:
                    break
                self.now_ms = due_ms
                _, _, kind, inv_id, completion_id = heapq.heappop(timers)
                yield kind, inv_id, completion_id
            else:
                if cleanup_ms > target_ms:
                    break
                # Cleaner runs before the first expiry, timer or target have nothing to do: skip
                # them all at once, so a step's work is bounded by what falls due, not by distance.
                # (Never past a timer: what it sets off is looked at again before skipping on.)
                skip_to = min(target_ms + 1, self._earliest_expiry_ms(), timers[0][0] if timers else target_ms + 1)
                if skip_to > cleanup_ms:
                    runs = -(-(skip_to - cleanup_ms) // self.cleanup_interval_ms)
                    self.next_cleanup_ms += runs * self.cleanup_interval_ms
                    continue
                self.now_ms = cleanup_ms
                yield from self._cleaner()
                self.next_cleanup_ms += self.cleanup_interval_ms
        self.now_ms = target_ms

    def _earliest_expiry_ms(self) -> int:
        """No cleaner run before this time has retention work (a lower bound; ``next_cleanup_ms``
        when a queue's head is stale, since the next run drops it)."""
        earliest = self._expiries[0][0] if self._expiries else _NEVER
        for (_, retention_s), queue in self._expiry_queues.items():
            if queue:
                inv = self._lookup(queue[0])
                if inv is None or inv.state != COMPLETED or inv.completed_ms is None:
                    return self.next_cleanup_ms
                earliest = min(earliest, inv.completed_ms + retention_s * 1000)
        return earliest

    def _cleaner(self) -> Iterator[Due]:
        """One cleaner run: every expiry due by now, for invocations still completed.

        Their order does not matter (each touches one invocation, and its journal's expiry and its
        own lead to the same end).
        """
        now = self.now_ms
        while self._expiries and self._expiries[0][0] <= now:
            _, _, kind, inv_id = heapq.heappop(self._expiries)
            yield kind, inv_id, 0
        for (kind, retention_s), queue in list(self._expiry_queues.items()):
            while queue:
                inv = self._lookup(queue[0])
                if inv is not None and inv.state == COMPLETED:
                    assert inv.completed_ms is not None
                    if inv.completed_ms + retention_s * 1000 > now:
                        break
                    queue.popleft()
                    yield kind, inv.id, 0
                else:
                    queue.popleft()  # gone meanwhile (purged, or forgotten by its other expiry)
