"""The engine's state in SQLite (WAL): one transaction per request that changed something.

Tables (:data:`SCHEMA_VERSION` 1)::

    meta         key -> value: schema_version, now_ms, id_generator, registry (the services and
                 deployments as JSON), unavailable_partitions (JSON)
    invocations  seq (creation order), then the columns of :data:`fsm.rows.COLUMNS`
    inboxes      service, key, position, id: each key's inbox in queue order

:meth:`Store.save` writes the invocations the engine noted as changed (upserted, or deleted when
gone), the inboxes of their keys, and the world-wide values that differ from what the file holds,
and commits with ``synchronous=FULL``: once it returns, the change survives a crash of the process
or of the machine. :meth:`Store.load` rebuilds the engine from the file: the registry and clock
through :func:`fsm.snapshot.load_world`, the invocations through :class:`fsm.rows.RowReader`
(fast, trusting rows it wrote) and :meth:`fsm.engine.Engine.restore`, which checks keys, inboxes
and services. A row that does not decode, or a world the model refuses, is named.

Every failure is a :class:`StoreError` whose message names the file and what went wrong.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fsm.engine import Engine
from fsm.errors import LifecycleError
from fsm.rows import COLUMNS, RowReader, to_row
from fsm.snapshot import dump_registry, load_world

#: The layout this code reads and writes; a file with another one is refused.
SCHEMA_VERSION = 1
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS invocations (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, service TEXT NOT NULL, handler TEXT NOT NULL, key TEXT,
    state TEXT NOT NULL, completion TEXT, pinned_deployment TEXT, pinned_protocol INTEGER, created_ms INTEGER,
    completed_ms INTEGER, journal TEXT, extras TEXT
);
CREATE INDEX IF NOT EXISTS invocations_by_seq ON invocations (seq);
CREATE TABLE IF NOT EXISTS inboxes (
    service TEXT NOT NULL, key TEXT NOT NULL, position INTEGER NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (service, key, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inboxes_by_id ON inboxes (id);
"""
_COLUMNS = ", ".join(COLUMNS)
_UPSERT = (
    f"INSERT INTO invocations (seq, {_COLUMNS}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}"
)


class StoreError(Exception):
    """The file cannot be opened, read or written; the message says which file and why."""


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class Store:
    """One SQLite file holding one engine. Not thread-safe: the engine's lock guards it too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self.connection.close()
            raise StoreError(self._problem("cannot open", exc)) from None
        #: What the file holds of the world-wide values (compared before each write).
        self._written: dict[str, str] = {}
        self._next_seq = 0

    def _problem(self, doing: str, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "file is not a database" in text or "malformed" in text:
            text = f"it is not an invocation-lifecycle database, or it is damaged ({text})"
        return f"{doing} the database {self.path}: {text}"

    def _prepare(self) -> None:
        db = self.connection
        db.execute("PRAGMA journal_mode=WAL").fetchone()
        db.execute("PRAGMA synchronous=FULL")
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"the database {self.path} was not written by invocation-lifecycle (it has no meta table)")
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = None if row is None else row[0]
            if version != str(SCHEMA_VERSION):
                raise StoreError(
                    f"the database {self.path} has schema version {version}; this server reads version "
                    f"{SCHEMA_VERSION}. Keep it for the version that wrote it, or start from a new file."
                )
            return
        # one transaction: a file is either new or has its tables and its version
        version = f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
        db.executescript(f"BEGIN IMMEDIATE;{_TABLES}{version}COMMIT;")

    # --- reading -------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        """True when the file holds no world yet (a new file)."""
        return self.connection.execute("SELECT 1 FROM meta WHERE key = 'registry'").fetchone() is None

    def load(self, seed: int = 0) -> Engine:
        """The engine the file holds; ``seed`` only for a new file. The garbage collector rests while
        it builds millions of objects that all stay (it would walk them again and again)."""
        try:
            with _collector_off():
                engine = self._load(seed)
        except sqlite3.Error as exc:
            raise StoreError(self._problem("cannot read", exc)) from None
        self._remember(engine)
        return engine

    def _load(self, seed: int) -> Engine:
        db = self.connection
        if self.is_empty():
            return Engine(seed=seed)
        meta = dict(db.execute("SELECT key, value FROM meta"))
        try:
            registry = json.loads(meta["registry"])
            world = {
                "services": registry["services"],
                "deployments": registry["deployments"],
                "invocations": [],
                "now_ms": int(meta["now_ms"]),
                "unavailable_partitions": json.loads(meta.get("unavailable_partitions", "[]")),
            }
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreError(f"the database {self.path} is damaged: {type(exc).__name__} {exc}") from None
        try:
            engine = load_world(world, seed=seed)
            reader = RowReader(engine.services)
            invocations, sleeps = [], {}
            for row in db.execute(f"SELECT {_COLUMNS} FROM invocations ORDER BY seq"):
                try:
                    inv, timers = reader.invocation(row)
                except (KeyError, ValueError, TypeError) as exc:
                    raise StoreError(
                        f"the database {self.path} is damaged: the row of {row[0]!r} does not decode "
                        f"({type(exc).__name__} {exc})"
                    ) from None
                invocations.append(inv)
                if timers:
                    sleeps[inv.id] = timers
            order = [inv_id for (inv_id,) in db.execute("SELECT id FROM inboxes ORDER BY service, key, position")]
            engine.restore(invocations, sleeps, order or None)
            if "id_generator" in meta:
                engine.ids.move_to(meta["id_generator"])
        except (LifecycleError, ValueError) as exc:
            problem = exc.message if isinstance(exc, LifecycleError) else f"id_generator {exc}"
            raise StoreError(f"the database {self.path} holds a world the model refuses: {problem}") from None
        row = db.execute("SELECT max(seq) FROM invocations").fetchone()
        self._next_seq = (row[0] or 0) + 1
        return engine

    # --- writing -------------------------------------------------------------------------------

    def _world_values(self, engine: Engine) -> dict[str, str]:
        return {
            "now_ms": str(engine.now_ms),
            "id_generator": engine.ids.position,
            "registry": _compact(dump_registry(engine)),
            "unavailable_partitions": _compact(sorted(engine.unavailable_partitions)),
        }

    def _remember(self, engine: Engine) -> None:
        self._written = dict(self.connection.execute("SELECT key, value FROM meta"))

    def save(self, engine: Engine, changed: set[str]) -> bool:
        """Commit the ``changed`` invocations (:meth:`fsm.engine.Engine.take_changes`) and the
        world-wide values that moved; False when nothing did (no transaction)."""
        values = {k: v for k, v in self._world_values(engine).items() if self._written.get(k) != v}
        if not changed and not values:
            return False
        try:
            self._write(engine, changed, values)
        except sqlite3.Error as exc:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise StoreError(self._problem("cannot write", exc)) from None
        self._written.update(values)
        return True

    def _write(self, engine: Engine, changed: set[str], values: dict[str, str]) -> None:
        db = self.connection
        invocations = engine.invocations
        db.execute("BEGIN IMMEDIATE")
        gone = [(inv_id,) for inv_id in changed if inv_id not in invocations]
        if gone:
            db.executemany("DELETE FROM invocations WHERE id = ?", gone)
            db.executemany("DELETE FROM inboxes WHERE id = ?", gone)
        present = [inv_id for inv_id in changed if inv_id in invocations]
        if present:
            timers = engine.sleeps_of(present)
            services = engine.services
            rows = []
            for inv_id in _in_creation_order(invocations, set(present)):
                inv = invocations[inv_id]
                rows.append((self._next_seq, *to_row(inv, services[inv.service], timers.get(inv_id, ()))))
                self._next_seq += 1
            db.executemany(_UPSERT, rows)
            locks = {(inv.service, inv.key) for inv_id in present if (inv := invocations[inv_id]).key is not None}
            for service, key in locks:
                db.execute("DELETE FROM inboxes WHERE service = ? AND key = ?", (service, key))
                queue = engine.inboxes.get((service, key), ())
                db.executemany(
                    "INSERT INTO inboxes VALUES (?, ?, ?, ?)",
                    [(service, key, position, inv_id) for position, inv_id in enumerate(queue)],
                )
        if values:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
        db.execute("COMMIT")

    def replace(self, engine: Engine) -> None:
        """Make the file hold exactly ``engine`` (an imported world), in one transaction."""
        values = self._world_values(engine)
        db = self.connection
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM invocations")
            db.execute("DELETE FROM inboxes")
            timers = engine.pending_sleeps()
            services = engine.services
            db.executemany(
                _UPSERT,
                (
                    (seq, *to_row(inv, services[inv.service], timers.get(inv_id, ())))
                    for seq, (inv_id, inv) in enumerate(engine.invocations.items(), start=1)
                ),
            )
            db.executemany(
                "INSERT INTO inboxes VALUES (?, ?, ?, ?)",
                (
                    (service, key, position, inv_id)
                    for (service, key), queue in engine.inboxes.items()
                    for position, inv_id in enumerate(queue)
                ),
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(self._problem("cannot write", exc)) from None
        self._next_seq = len(engine.invocations) + 1
        self._written.update(values)

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _in_creation_order(invocations: dict[str, Any], wanted: set[str]) -> list[str]:
    """``wanted`` in the engine's creation order. New invocations are the newest, at the end, so a
    walk back from the end until an id outside ``wanted`` finds them all in order; the ones before
    are already stored and keep their place whatever order they are written in."""
    tail: list[str] = []
    for inv_id in reversed(invocations):
        if inv_id not in wanted:
            break
        tail.append(inv_id)
    tail.reverse()
    rest = wanted.difference(tail)
    return [*rest, *tail]
