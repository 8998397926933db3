"""grpc_server.store.sqlite: the engine kept in a file comes back exactly, and a bad file is named."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from fsm import Engine
from fsm.errors import Unavailable
from fsm.snapshot import dump_world
from grpc_server.store.sqlite import SCHEMA_VERSION, Store, StoreError
from grpc_server.world import GuardedEngine
from tests.budget import budget
from tests.fsm.test_stateful import EngineMachine


class KeptInAFile(EngineMachine):
    """Every operation saved as the server saves it; the file, opened afresh, holds the same world."""

    def make_engine(self) -> Engine:
        engine = super().make_engine()
        self.folder = Path(tempfile.mkdtemp(prefix="store-"))
        self.store = Store(self.folder / "state.db")
        self.store.replace(engine)
        engine.track_changes()
        engine.take_changes()
        return engine

    def attempt(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = super().attempt(method, *args, **kwargs)
        self.store.save(self.engine, self.engine.take_changes())
        reopened = Store(self.folder / "state.db")
        try:
            assert dump_world(reopened.load()) == dump_world(self.engine), f"the file lost engine.{method}"
        finally:
            reopened.close()
        return result

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        super().teardown()


KeptInAFile.TestCase.settings = settings(budget(60, steps=40, slow_ok=True))
TestKeptInAFile = KeptInAFile.TestCase


def busy_engine() -> Engine:
    e = Engine(seed=3)
    e.register_service("Steps")
    e.register_service("Locker", "virtual_object")
    e.register_deployment(["Steps", "Locker"])
    holder = e.call("Locker", "hold", "k")
    e.call("Locker", "hold", "k", delay_ms=1_000)
    e.call("Locker", "hold", "k")
    sleeper = e.call("Steps", "run")
    e.sleep(sleeper, 60_000)
    e.advance(1_000)
    e.complete(holder)
    e.restart_as_new(holder)
    return e


def test_a_file_comes_back_with_the_engine_and_draws_the_same_ids(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    engine = busy_engine()
    store.replace(engine)
    engine.track_changes()
    engine.take_changes()
    engine.call("Steps", "run")
    assert store.save(engine, engine.take_changes())
    assert not store.save(engine, engine.take_changes())  # nothing new: no transaction
    store.close()
    again = Store(tmp_path / "s.db").load()
    assert dump_world(again) == dump_world(engine)
    assert again.call("Steps", "run") == engine.call("Steps", "run")


def test_a_new_file_starts_empty_with_the_seed_given(tmp_path: Path) -> None:
    store = Store(tmp_path / "new.db")
    assert store.is_empty()
    engine = store.load(seed=9)
    assert dump_world(engine) == dump_world(Engine(seed=9))
    assert store.save(engine, set()) and not store.is_empty()


def broken(path: Path, how: str) -> None:
    if how == "not a database":
        path.write_bytes(b"this is not SQLite at all" * 100)
    elif how == "another schema":
        Store(path).close()
        with sqlite3.connect(path) as db:
            db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    elif how == "someone else's":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x)")
    elif how == "truncated":
        store = Store(path)
        store.replace(busy_engine())
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "a damaged record":
        store = Store(path)
        store.replace(busy_engine())
        store.connection.execute("UPDATE invocations SET journal = '[[0,' WHERE seq = 1")
        store.close()
    elif how == "a refused world":
        store = Store(path)
        store.replace(busy_engine())
        store.connection.execute("UPDATE invocations SET state = 'bogus' WHERE seq = 1")
        store.close()


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("not a database", "it is not an invocation-lifecycle database, or it is damaged (file is not a database)"),
        ("another schema", f"has schema version 99; this server reads version {SCHEMA_VERSION}"),
        ("someone else's", "was not written by invocation-lifecycle (it has no meta table)"),
        ("truncated", "it is not an invocation-lifecycle database, or it is damaged"),
        ("a damaged record", "is damaged: the row of 'inv_"),
        ("a refused world", "holds a world the model refuses: Invalid world at 'invocations[0].status'"),
    ],
)
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path: Path, how: str, message: str) -> None:
    path = tmp_path / "bad.db"
    broken(path, how)
    with pytest.raises(StoreError) as refused:
        Store(path).load()
    assert str(refused.value).startswith(f"cannot read the database {path}") or str(path) in str(refused.value)
    assert message in str(refused.value)


def test_a_file_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot open the database .*/missing/s.db: unable to open database file"):
        Store(tmp_path / "missing" / "s.db")


def test_a_full_disk_answers_503_from_then_on_and_the_file_keeps_what_was_answered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    engine = busy_engine()
    store.replace(engine)
    world = GuardedEngine(engine, store)
    answered = world.run(lambda e: e.call("Steps", "run"))
    pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
    store.connection.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
    with pytest.raises(Unavailable) as refused:
        world.run(lambda e: [e.call("Steps", "run") for _ in range(200)])
    assert refused.value.reason == "STATE_NOT_SAVED" and "database or disk is full" in refused.value.message
    with pytest.raises(Unavailable, match="answers nothing until it is restarted"):
        world.run(lambda e: e.now_ms)  # reads too: memory is ahead of the file now
    store.close()
    kept = Store(tmp_path / "s.db").load()
    assert answered in kept.invocations and len(kept.invocations) == len(busy_engine().invocations) + 1
