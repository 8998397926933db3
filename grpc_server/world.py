"""The engine behind one lock: the only way the servicers touch the model.

:class:`fsm.engine.Engine` is not thread-safe and the gRPC server runs calls on a thread pool, so
every engine call, and the reading of its results into messages, happens inside
:meth:`GuardedEngine.run`, under one ``threading.Lock``. Nothing inside does I/O: JSON parsing of a
world, logging and network writes happen outside. A concurrent caller therefore always sees the
world between two whole operations, never in the middle of one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from fsm.engine import Engine

T = TypeVar("T")


class GuardedEngine:
    """Holds the current engine; :meth:`run` applies a function to it under the lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        #: How many times the world was replaced (what remembers things about one world checks it).
        self.generation = 0

    def run(self, operation: Callable[[Engine], T]) -> T:
        """``operation(engine)`` with the lock held for its whole duration."""
        with self._lock:
            return operation(self._engine)

    def busy(self) -> bool:
        """Whether a call holds the engine right now (a hint: it may change the next moment)."""
        return self._lock.locked()

    def try_run(self, operation: Callable[[Engine], T]) -> tuple[bool, T | None]:
        """``(True, operation(engine))`` if the lock is free right now, else ``(False, None)`` at once.

        For an event loop: short work runs inline when nobody holds the engine, and goes to a thread
        (``run``) only when someone does, so the loop never waits for a slow call of another client.
        """
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            return True, operation(self._engine)
        finally:
            self._lock.release()

    def replace(self, engine: Engine) -> None:
        """Swap in another world (ImportWorld); calls already running finish on the old one first."""
        with self._lock:
            self._engine = engine
            self.generation += 1
