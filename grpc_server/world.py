"""The engine behind one lock: the only way the servicers touch the model.

:class:`fsm.engine.Engine` is not thread-safe and the gRPC server runs calls on a thread pool, so
every engine call, and the reading of its results into messages, happens inside
:meth:`GuardedEngine.run`, under one ``threading.Lock``. Nothing inside does I/O: JSON parsing of a
world, logging and network writes happen outside. A concurrent caller therefore always sees the
world between two whole operations, never in the middle of one.

With a store (``--db``), each operation's changes are committed inside the same lock, before the
operation returns and so before its answer is sent; the one I/O inside. If a commit fails, the
operation answers 503 and so does every later one: the engine in memory is then ahead of the file,
and a restart comes back with what the file holds, which is everything that was answered.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, TypeVar

from fsm.engine import Engine
from fsm.errors import Unavailable
from fsm.snapshot import dump_world_lines

from .index import IdIndex
from .store.sqlite import Store, StoreError

T = TypeVar("T")
log = logging.getLogger("grpc_server.store")
#: The most bytes of a world one piece of a stream carries (a gRPC WorldChunk, an HTTP body chunk).
CHUNK_BYTES = 1 << 20


class GuardedEngine:
    """Holds the current engine; :meth:`run` applies a function to it under the lock.

    The engine's changes (:meth:`fsm.engine.Engine.take_changes`) are taken before and after each
    operation (an embedder may also have changed the engine directly): they keep :attr:`index`
    current, and the store, when there is one, commits them.
    """

    def __init__(self, engine: Engine, store: Store | None = None) -> None:
        self._lock = threading.Lock()
        #: How many times the world was replaced (what remembers things about one world checks it).
        self.generation = 0
        self.store = store
        self._failed: str | None = None  # why the store failed: nothing is answered any more
        self._unsaved: set[str] = set()
        self._adopt(engine)

    def _adopt(self, engine: Engine) -> None:
        engine.track_changes()
        engine.take_changes()
        self._engine = engine
        #: The world's invocation ids, sorted (what ListInvocations pages over).
        self.index = IdIndex(engine.invocations)

    @property
    def engine(self) -> Engine:
        """The engine (for embedders and tests: change it only while nothing is served)."""
        return self._engine

    def run(self, operation: Callable[[Engine], T]) -> T:
        """``operation(engine)`` with the lock held for its whole duration (and its changes saved)."""
        with self._lock:
            self._check()
            self._sync(save=False)
            try:
                return operation(self._engine)
            finally:
                self._sync(save=True)

    def _check(self) -> None:
        if self._failed is not None:
            raise Unavailable(
                503,
                "STATE_NOT_SAVED",
                f"The model's state could not be saved, so it answers nothing until it is restarted: {self._failed}",
            )

    def _sync(self, save: bool) -> None:
        changed = self._engine.take_changes()
        if changed:
            self.index.update(self._engine.invocations, changed)
        if self.store is None:
            return
        self._unsaved |= changed
        if not save:
            return
        try:
            self.store.save(self._engine, self._unsaved)
        except StoreError as exc:
            self._failed = str(exc)
            log.error("the state could not be saved; every request now answers 503: %s", exc)
            self._check()
        self._unsaved = set()

    def busy(self) -> bool:
        """Whether a call holds the engine right now (a hint: it may change the next moment)."""
        return self._lock.locked()

    def try_run(self, operation: Callable[[Engine], T]) -> tuple[bool, T | None]:
        """``(True, operation(engine))`` if the lock is free right now, else ``(False, None)`` at once.

        For an event loop: short work runs inline when nobody holds the engine, and goes to a thread
        (``run``) only when someone does, so the loop never waits for a slow call of another client.
        """
        if self.store is not None or not self._lock.acquire(blocking=False):
            return False, None  # a commit waits for the disk: never on the event loop
        try:
            self._sync(save=False)
            try:
                return True, operation(self._engine)
            finally:
                self._sync(save=False)
        finally:
            self._lock.release()

    def spool_lines(self) -> IO[bytes]:
        """The world as JSON lines (:func:`fsm.snapshot.dump_world_lines`) in a temporary file, at
        its start: written under the lock, read after it, so a slow reader holds nothing. The
        caller closes it (:func:`chunks_of` does)."""
        spooled = tempfile.TemporaryFile()
        try:
            self.run(lambda engine: spooled.writelines(line.encode() for line in dump_world_lines(engine)))
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return spooled

    def replace(self, engine: Engine) -> None:
        """Swap in another world (ImportWorld); calls already running finish on the old one first.
        With a store, the file is made to hold it first (if that fails, the old world stays)."""
        with self._lock:
            if self.store is not None:
                self._check()
                try:
                    self.store.replace(engine)
                except StoreError as exc:
                    raise Unavailable(503, "STATE_NOT_SAVED", f"The world could not be saved: {exc}") from None
                self._unsaved = set()
            self._adopt(engine)
            self.generation += 1


def chunks_of(spooled: IO[bytes]) -> Iterator[bytes]:
    """A file's bytes in pieces of :data:`CHUNK_BYTES`; the file is closed (and so deleted) at the end."""
    try:
        while chunk := spooled.read(CHUNK_BYTES):
            yield chunk
    finally:
        spooled.close()
