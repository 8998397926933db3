"""Drives invocations into each lifecycle state and waits until introspection shows them there.

One method per state; each creates ``n`` invocations of :mod:`recording.services` and returns
them as ``[(id, lock key or None)]``, the lock key naming a virtual object's key they hold or wait on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from .cases import OPS
from .client import Restate
from .common import RecordingError
from .world import InvocationRow, LockKey, Reader, sql_list

#: An invocation the driver made, and the virtual-object key it holds or waits on.
Target = tuple[str, LockKey | None]


class Driver:
    """Creates invocations and waits until introspection shows them in the wanted state."""

    def __init__(self, rs: Restate, reader: Reader) -> None:
        self.rs = rs
        self.reader = reader
        self.counter = 0

    def key(self, prefix: str) -> str:
        """A key no other invocation of this run uses."""
        self.counter += 1
        return f"{prefix}-{os.getpid()}-{self.counter}"

    def wait(
        self, ids: list[str], want: Callable[[InvocationRow], bool], what: str, timeout: float = 30.0
    ) -> dict[str, InvocationRow]:
        """Polls until ``want(row)`` holds for every id; returns the rows."""
        deadline = time.monotonic() + timeout
        while True:
            rows: dict[str, InvocationRow] = {}
            for i in range(0, len(ids), 200):
                for r in self.reader.invocations(f"id IN ({sql_list(ids[i : i + 200])})"):
                    rows[r["id"]] = r
            if all(i in rows and want(rows[i]) for i in ids):
                return rows
            if time.monotonic() > deadline:
                bad = {
                    i: row["status"] if (row := rows.get(i)) else None for i in ids if not (i in rows and want(rows[i]))
                }
                raise RecordingError(f"timed out waiting for {what}: {bad}")
            time.sleep(0.05)

    def wait_free(self, ids: list[str], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.reader.invocations(f"id IN ({sql_list(ids)})"):
            if time.monotonic() > deadline:
                raise RecordingError(f"timed out waiting for {what} to be freed")
            time.sleep(0.05)

    def op_ok(self, op: str, inv: str, expect: tuple[int, ...] = (200, 202)) -> None:
        """A setup operation that must succeed."""
        status, _, data = self.rs.op(OPS[op], inv)
        if status not in expect:
            raise RecordingError(f"setup {op} {inv} answered {status}: {data[:300]!r}")

    # -- one function per state
    def completed(
        self,
        n: int,
        service: str = "Steps",
        handler: str = "run",
        key_prefix: str | None = None,
        failure: bool = False,
    ) -> list[Target]:
        ids = [self.rs.send(service, handler, self.key(key_prefix) if key_prefix else None) for _ in range(n)]
        want_result = "failure" if failure else "success"
        self.wait(
            ids,
            lambda r: r["status"] == "completed" and r["completion_result"] == want_result,
            f"{service}.{handler} completed",
        )
        return [(i, None) for i in ids]

    def suspended(
        self, n: int, service: str = "Waiter", handler: str = "sleep_long", min_journal: int = 4
    ) -> list[Target]:
        ids = [self.rs.send(service, handler) for _ in range(n)]
        self.wait(
            ids,
            lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= min_journal,
            f"{service}.{handler} suspended",
        )
        return [(i, None) for i in ids]

    def suspended_wf(self, n: int) -> list[Target]:
        ids = [self.rs.send("WFWait", "run", self.key("wfw")) for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 3, "WFWait.run suspended")
        return [(i, None) for i in ids]

    def holders(self, n: int) -> list[Target]:
        keys = [self.key("K") for _ in range(n)]
        ids = [self.rs.send("Locker", "hold", k) for k in keys]
        self.wait(ids, lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 4, "Locker.hold holding")
        return [(i, ("Locker", k)) for i, k in zip(ids, keys, strict=True)]

    def inboxed(self, n: int) -> list[Target]:
        holders = [(i, lk) for i, lk in self.holders(n) if lk is not None]
        ids = [self.rs.send("Locker", "hold", lk[1]) for _, lk in holders]
        self.wait(ids, lambda r: r["status"] == "pending", "Locker.hold inboxed")
        return [(i, lk) for i, (_, lk) in zip(ids, holders, strict=True)]

    def scheduled(self, n: int) -> list[Target]:
        ids = [self.rs.send("Steps", "run", delay="1h") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "scheduled", "Steps.run scheduled")
        return [(i, None) for i in ids]

    def running(self, n: int) -> list[Target]:
        ids = [self.rs.send("Slow", "run") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "running" and (r["journal_size"] or 0) >= 3, "Slow.run running")
        return [(i, None) for i in ids]

    def backing_off(self, n: int) -> list[Target]:
        ids = [self.rs.send("Retrier", "retry") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "backing-off" and (r["retry_count"] or 0) >= 1, "Retrier backing-off")
        return [(i, None) for i in ids]

    def paused(self, n: int) -> list[Target]:
        ids = [self.rs.send("Failer", "fail") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "paused", "Failer.fail paused")
        return [(i, None) for i in ids]

    def paused_by_op(self, n: int) -> list[Target]:
        ids = [i for i, _ in self.backing_off(n)]
        for i in ids:
            self.op_ok("pause", i)
        self.wait(ids, lambda r: r["status"] == "paused", "Retrier.retry paused by the pause operation")
        return [(i, None) for i in ids]

    def ended_by(
        self, n: int, op: str, service: str = "Waiter", handler: str = "sleep_long", min_journal: int = 4
    ) -> list[Target]:
        ids = [i for i, _ in self.suspended(n, service, handler, min_journal)]
        for i in ids:
            self.op_ok(op, i)
        self.wait(ids, lambda r: r["status"] == "completed", f"{service}.{handler} {op}ed")
        return [(i, None) for i in ids]

    def journal_purged(
        self, n: int, service: str = "Steps", handler: str = "run", key_prefix: str | None = None
    ) -> list[Target]:
        ids = [i for i, _ in self.completed(n, service, handler, key_prefix)]
        for i in ids:
            self.op_ok("purge_journal", i, (200,))
        deadline = time.monotonic() + 30
        while self.reader.journals(ids):
            if time.monotonic() > deadline:
                raise RecordingError("journal not purged")
            time.sleep(0.05)
        return [(i, None) for i in ids]

    def purged(self, n: int) -> list[Target]:
        ids = [i for i, _ in self.completed(n)]
        for i in ids:
            self.op_ok("purge", i, (200,))
        self.wait_free(ids, "purged Steps.run")
        return [(i, None) for i in ids]

    def noret(self, n: int) -> list[Target]:
        ids = [self.rs.send("StepsNoRet", "run") for _ in range(n)]
        self.wait(ids, lambda r: r["status"] == "completed", "StepsNoRet.run completed")
        return [(i, None) for i in ids]
