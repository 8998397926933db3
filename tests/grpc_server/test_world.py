"""The engine behind its lock: run waits for it, try_run never does."""

from __future__ import annotations

import threading

from fsm.engine import Engine
from grpc_server.world import GuardedEngine


def test_try_run_runs_inline_when_free_and_declines_at_once_when_busy() -> None:
    guarded = GuardedEngine(Engine())
    assert guarded.try_run(lambda engine: engine.now_ms) == (True, Engine().now_ms)
    holding, release = threading.Event(), threading.Event()

    def hold(engine: Engine) -> None:
        holding.set()
        release.wait(10)

    worker = threading.Thread(target=guarded.run, args=(hold,))
    worker.start()
    assert holding.wait(10)
    assert guarded.try_run(lambda engine: engine.now_ms) == (False, None)  # no waiting
    release.set()
    worker.join()
    assert guarded.try_run(lambda engine: 1)[0] is True


def test_replacing_the_world_counts_generations() -> None:
    guarded = GuardedEngine(Engine())
    guarded.replace(Engine(seed=1))
    guarded.replace(Engine(seed=2))
    assert guarded.generation == 2
