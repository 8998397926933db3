"""SQL over a big world: reading the engine, building the Arrow tables, and the query, timed apart.

A world of ``invocations`` invocations of one service (half completed, half running), then the two
queries tools run most: the CLI's kind of listing (the newest active invocations) and a count by
status. Each figure is the best of ``rounds``; the parts add up to what ``POST /query`` spends
(its HTTP work aside).
"""

from __future__ import annotations

import time

from fsm.engine import Engine
from grpc_server.sql import query as sql
from grpc_server.sql import tables

from .common import JSON

QUERIES = {
    "list": "SELECT id, target, status, created_at FROM sys_invocation WHERE status != 'completed' "
    "ORDER BY created_at DESC LIMIT 100",
    "count_by_status": "SELECT status, count(*) AS n FROM sys_invocation_status GROUP BY status",
}


def world(invocations: int) -> Engine:
    engine = Engine(seed=1)
    engine.register_service("Steps")
    engine.register_deployment(["Steps"])
    for i in range(invocations):
        inv = engine.call("Steps", "run")
        if i % 2:
            engine.complete(inv)
    return engine


def measure(invocations: int = 100_000, rounds: int = 3) -> JSON:
    engine = world(invocations)
    out: JSON = {"invocations": invocations, "rounds": rounds}
    for name, query in QUERIES.items():
        best: dict[str, float] = {}
        for _ in range(rounds):
            needed, columns = tables.referenced(query), tables.referenced_columns(query)
            started = time.perf_counter()
            rows = tables.read(engine, needed, columns)
            read_at = time.perf_counter()
            built = tables.build(rows, columns)
            built_at = time.perf_counter()
            sql.run(built, query)
            done_at = time.perf_counter()
            for part, seconds in (
                ("read_s", read_at - started),
                ("build_s", built_at - read_at),
                ("query_s", done_at - built_at),
                ("total_s", done_at - started),
            ):
                best[part] = min(best.get(part, seconds), seconds)
        out[name] = {part: round(seconds, 3) for part, seconds in best.items()}
    return out
