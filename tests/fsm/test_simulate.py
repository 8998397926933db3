"""The simulator: reproducible for a seed, replayable from its trace, and it reaches every corner it claims."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from fsm.ids import partition_key_of
from fsm.simulate import ReplayError, TraceWriter, Workload, merge, replay, simulate
from fsm.snapshot import dump_world

#: Small, but busy: every knob is turned up so a few hundred calls reach outages, incompatible
#: deployments, expiries, pauses and restarts of every kind.
BUSY = Workload(
    invocations=600,
    seed=3,
    shards=1,  # one world: the tests below read its engine
    rate_per_s=20.0,
    keys=5,
    fail=0.2,
    pause=0.05,
    cancel=0.03,
    kill=0.03,
    restart=0.5,
    restart_ms=4_000.0,
    journal_retention_s=2,
    completion_retention_s=6,
    cleanup_interval_s=1,
    deploy_every_s=3.0,
    incompatible_deploy=0.5,
    outage_every_s=2.0,
    outage_ms=1_500.0,
    retry_ms=300.0,
    resume=0.7,
    resume_ms=1_000.0,
)


def test_the_same_seed_gives_the_same_run() -> None:
    first, engine1 = simulate(BUSY)
    second, engine2 = simulate(BUSY)
    assert first.to_json() == second.to_json()
    assert first.table() == second.table()
    assert dump_world(engine1) == dump_world(engine2)
    other, _ = simulate(BUSY, seed=4)
    assert other.to_json() != first.to_json()


def test_the_busy_workload_reaches_what_it_claims() -> None:
    summary, engine = simulate(BUSY)
    engine.check_invariants()
    reasons = {reason for _, reason in summary.restarts}
    assert {
        "OK",
        "PARTITION_UNAVAILABLE",
        "INVOCATION_NOT_FOUND",
        "INCOMPATIBLE_DEPLOYMENT",
        "DEPLOYMENT_NOT_FOUND",
        "INCOMPLETE_PREFIX",
        "UNSUPPORTED",
    } <= reasons
    assert summary.calls == BUSY.invocations and summary.restarted == summary.restarts[(200, "OK")]
    assert sum(summary.states.values()) == summary.calls + summary.restarted
    assert summary.states["free"] > 0 and summary.states["completed"] > 0
    for op in (
        "pause",
        "resume",
        "kill",
        "cancel",
        "sleep",
        "suspend",
        "fail_attempt",
        "remove_deployment",
        "partition_unavailable",
    ):
        assert summary.operations[op] > 0, op
    assert any(status == 503 for _, status, _ in summary.refusals)  # steps retried after an outage


def test_draining_leaves_nothing_in_flight() -> None:
    summary, engine = simulate(BUSY, drain=True, invocations=300)
    for state in ("scheduled", "running", "suspended"):
        assert summary.states[state] == 0, state
    assert not engine.unavailable_partitions
    for inv in engine.invocations.values():  # only a key held by a paused invocation (never resumed) blocks
        if inv.state == "inboxed":
            assert inv.key is not None
            assert engine.invocations[engine.lock_holders[(inv.service, inv.key)]].state == "paused"


def test_the_trace_replays_to_the_same_end_state() -> None:
    out = io.StringIO()
    summary, engine = simulate(BUSY, invocations=300, trace=TraceWriter(out, BUSY.engine_settings()))
    lines = out.getvalue().splitlines()
    assert dump_world(replay(lines)) == dump_world(engine)
    assert summary.to_json() == simulate(BUSY, invocations=300)[0].to_json()  # tracing changes nothing
    record = json.loads(lines[5])
    lines[5] = json.dumps([record[0], record[1], record[2], {"error": [499, "MADE_UP"]}])
    with pytest.raises(ReplayError, match="line 6"):
        replay(lines)
    with pytest.raises(ReplayError, match="line 1: not a"):
        replay(['{"format": "something else"}'])


def test_progress_is_reported_and_the_summary_is_a_table() -> None:
    seen: list[tuple[int, int]] = []
    summary, _ = simulate(BUSY, invocations=40, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (40, 40)
    table = summary.table()
    assert "| state at the end | invocations | share |" in table
    assert "| restart-as-new answer | reason | count | share |" in table


def test_a_workload_that_cannot_run_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="fail is a probability"):
        Workload(fail=1.5)
    with pytest.raises(ValueError, match="shards must be positive"):
        Workload(shards=0)


def test_shards_split_the_run_by_partition_key_range_and_merge_back() -> None:
    sharded = Workload(invocations=400, seed=2, shards=3, partitions=6, restart=0.2, keys=30, sample_every_s=0.5)
    parts = [simulate(sharded, shard=k) for k in range(3)]
    total = merge(sharded, [summary for summary, _ in parts])
    assert total.calls == 400 and [summary.calls for summary, _ in parts] == [133, 133, 134]
    assert sum(total.states.values()) == total.calls + total.restarted
    assert total.virtual_ms == max(summary.virtual_ms for summary, _ in parts)
    for k, (_, engine) in enumerate(parts):
        low, high = sharded.shard_keys(k)
        assert sharded.shard_partitions(k) == range(2 * k, 2 * k + 2)
        assert all(low <= partition_key_of(i) < high for i in engine.invocations)  # keyed or not
        assert {engine.partition_of(partition_key_of(i)) for i in engine.invocations} <= set(range(2 * k, 2 * k + 2))
        assert any(inv.key is not None for inv in engine.invocations.values())
    assert sharded.shard_keys(0)[0] == 0 and sharded.shard_keys(2)[1] == 1 << 64
    with pytest.raises(ValueError, match="shard must be below 3"):
        simulate(sharded, shard=3)
    with pytest.raises(ValueError, match="shards must be at most partitions"):
        Workload(shards=25)


def test_the_trace_hash_and_the_samples_follow_the_workload() -> None:
    workload = Workload(invocations=300, seed=4, restart=0.3, shards=2, sample_every_s=0.2)
    first = merge(workload, [simulate(workload, shard=k)[0] for k in range(2)])
    again = merge(workload, [simulate(workload, shard=k)[0] for k in range(2)])
    other = dataclasses.replace(workload, seed=5)
    assert first.trace_sha256 == again.trace_sha256 and len(first.trace_sha256) == 64
    assert merge(other, [simulate(other, shard=k)[0] for k in range(2)]).trace_sha256 != first.trace_sha256
    assert first.events > 300 and first.chains[1] == first.restarted - sum(n for p, n in first.chains.items() if p > 1)
    rows = first.intervals
    assert [row["t_s"] for row in rows] == [0.2 * (i + 1) for i in range(len(rows))]
    assert rows[-1]["calls"] == 300 and sum(rows[-1]["states"].values()) == 300 + first.restarted
    assert all(a["calls"] <= b["calls"] for a, b in zip(rows, rows[1:], strict=False))
    assert rows[-1]["restarts"][200] == first.restarts[(200, "OK")]
