"""grpc_server.index: sorted ids kept current, pages from a cursor, and the engine's changes applied."""

from __future__ import annotations

from fsm import Engine
from grpc_server.index import IdIndex
from grpc_server.world import GuardedEngine


def test_pages_start_after_the_cursor_and_say_whether_more_follow() -> None:
    index = IdIndex(["c", "a", "e", "b", "d"])
    assert index.page(None, lambda i: True, 2) == (["a", "b"], True)
    assert index.page("b", lambda i: True, 2) == (["c", "d"], True)
    assert index.page("d", lambda i: True, 2) == (["e"], False)
    assert index.page("bb", lambda i: i != "c", 5) == (["d", "e"], False)  # a cursor need not be listed
    assert index.page(None, lambda i: True, 5) == (["a", "b", "c", "d", "e"], False)


def test_changes_add_and_drop_ids() -> None:
    index = IdIndex(["a", "b"])
    index.update({"a": 1, "c": 1}, {"b", "c", "z"})  # b gone, c new, z never there
    assert index.page(None, lambda i: True, 10) == (["a", "c"], False) and len(index) == 2


def test_the_guarded_engine_keeps_its_index_current_even_when_changed_directly() -> None:
    engine = Engine()
    engine.register_service("Steps")
    world = GuardedEngine(engine)
    made = world.run(lambda e: e.call("Steps", "run"))
    direct = engine.call("Steps", "run")  # an embedder's own change, outside run()
    listed = world.run(lambda e: world.index.page(None, lambda i: True, 10)[0])
    assert listed == sorted([made, direct])
    world.run(lambda e: e.complete(made))
    world.run(lambda e: e.purge(made))
    assert world.run(lambda e: world.index.page(None, lambda i: True, 10)[0]) == [direct]
    other = Engine()
    other.register_service("Steps")
    fresh = other.call("Steps", "run")
    world.replace(other)
    assert world.run(lambda e: world.index.page(None, lambda i: True, 10)[0]) == [fresh]
