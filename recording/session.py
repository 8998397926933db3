"""The recording session, in its fixed order: deployments, targets in every state, then the probes.

First, while the server is still empty, its raw HTTP answers (:mod:`recording.http_probes`) and its
SQL schema (:mod:`recording.sql_schema`). Phase A registers only ``D1``, so every target and pool
made then is pinned to it (protocol 6); then ``D4_fake_proto5`` (protocol 5 only), ``D2``,
``D3_other`` and ``D5_lonely`` (deleted after one invocation completed on it). Then restart-as-new
is probed in every state and the other operations in every state, what the SQL tables show in each
state is asked (:mod:`recording.sql_values`), and everything is validated and written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec

from . import http_probes, sql_schema, sql_values
from .cases import OPS, check_cases, write_jsonl, write_outputs
from .client import Restate
from .common import RecordingError, log, shown
from .driver import Driver, Target
from .matrix import ODD_OP_QUERIES, malformed_ids, op_plan, restart_queries, unknown_variant
from .probes import Recorder
from .world import Catalog

P = ParamSpec("P")

#: How many instances each admin-operation pool starts with: about one per state-changing probe,
#: so that every instance is pinned to D1.
INITIAL_POOLS = {
    "scheduled": 4,
    "inboxed": 4,
    "running": 8,
    "backing_off": 8,
    "suspended_sleep": 13,
    "suspended_vo_holder": 12,
    "suspended_workflow": 12,
    "paused": 13,
    "paused_by_operation": 12,
    "completed_success": 4,
    "completed_failure": 3,
    "completed_workflow": 3,
    "killed_while_sleeping": 3,
    "completed_noret": 3,
    "journal_purged": 3,
    "purged": 1,
}


def one(make: Callable[Concatenate[int, P], list[Target]], *args: P.args, **kwargs: P.kwargs) -> Target:
    """One invocation from a :class:`~recording.driver.Driver` method."""
    return make(1, *args, **kwargs)[0]


def record_all(rs: Restate, services_port: int, work: Path, out: Path) -> None:
    """Records everything against the server behind ``rs`` (fresh, empty) and writes it under ``out``."""
    probes = http_probes.record(rs.admin)
    schema = sql_schema.record(rs.admin)
    log(f"empty server: {len(probes)} raw HTTP answers, {len(schema)} SQL columns")
    catalog = Catalog(rs)
    rec = Recorder(rs, catalog, work / "raw_probes.jsonl")
    drv = Driver(rs, rec.reader)
    base = f"http://127.0.0.1:{services_port}"
    t0 = time.monotonic()

    def key_of(inv_id: str) -> str:
        key = rec.reader.invocations(f"id = '{inv_id}'")[0]["target_service_key"]
        if key is None:
            raise RecordingError(f"{inv_id} has no key")
        return key

    # ---- phase A: only D1 is registered, so everything created now is pinned to D1 (protocol 6)
    catalog.register("D1", base + "/d1")
    targets: dict[str, Target] = {}
    pools: dict[str, list[Target]] = {}

    targets["completed_success"] = one(drv.completed)
    targets["completed_mixed"] = one(drv.completed, "Mixed", "mix")
    targets["completed_failure"] = one(drv.completed, "Failer", "terminal", failure=True)
    vo_free = one(drv.completed, "Locker", "quick", key_prefix="Q")
    targets["completed_vo"] = (vo_free[0], ("Locker", key_of(vo_free[0])))
    vo_locked = one(drv.completed, "Locker", "quick", key_prefix="QL")
    # lock vo_locked's key with a holder
    ql_key = key_of(vo_locked[0])
    holder = rs.send("Locker", "hold", ql_key)
    drv.wait([holder], lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 4, "QL holder")
    targets["completed_vo_key_locked"] = (vo_locked[0], ("Locker", ql_key))
    targets["completed_workflow_run"] = one(drv.completed, "WF", "run", key_prefix="wf")
    wf_status = rs.send("WF", "status", key_of(targets["completed_workflow_run"][0]))
    drv.wait([wf_status], lambda r: r["status"] == "completed", "WF.status completed")
    targets["completed_workflow_shared"] = (wf_status, None)
    targets["completed_noret"] = one(drv.noret)
    targets["journal_purged"] = one(drv.journal_purged)
    targets["workflow_journal_purged"] = one(drv.journal_purged, "WF", "run", key_prefix="wfp")
    targets["purged"] = one(drv.purged)
    targets["killed_while_sleeping"] = one(drv.ended_by, "kill")
    targets["cancelled_while_sleeping"] = one(drv.ended_by, "cancel")
    targets["killed_awaiting_call"] = one(drv.ended_by, "kill", "Mixed", "call_park", 4)
    targets["scheduled_ingress_delay"] = one(drv.scheduled)
    targets["inboxed_hold"] = one(drv.inboxed)
    targets["running_in_run"] = one(drv.running)
    targets["backing_off"] = one(drv.backing_off)
    targets["suspended_sleep"] = one(drv.suspended)
    targets["suspended_awakeable"] = one(drv.suspended, "Waiter", "wait_awakeable", 3)
    targets["suspended_call"] = one(drv.suspended, "Mixed", "call_park", 4)
    targets["suspended_vo_holder"] = one(drv.holders)
    targets["suspended_workflow"] = one(drv.suspended_wf)
    targets["paused"] = one(drv.paused)
    targets["paused_by_operation"] = one(drv.paused_by_op)
    log(f"phase A targets ready ({time.monotonic() - t0:.1f}s)")

    # admin-operation pools, pinned to D1 too (fresh instances for every operation that changes state)
    pool_makers: dict[str, Callable[[int], list[Target]]] = {
        "scheduled": drv.scheduled,
        "inboxed": drv.inboxed,
        "running": drv.running,
        "backing_off": drv.backing_off,
        "suspended_sleep": drv.suspended,
        "suspended_vo_holder": drv.holders,
        "paused": drv.paused,
        "paused_by_operation": drv.paused_by_op,
        "suspended_workflow": drv.suspended_wf,
        "completed_success": drv.completed,
        "completed_failure": lambda n: drv.completed(n, "Failer", "terminal", failure=True),
        "completed_workflow": lambda n: drv.completed(n, "WF", "run", key_prefix="wfo"),
        "killed_while_sleeping": lambda n: drv.ended_by(n, "kill"),
        "completed_noret": drv.noret,
        "journal_purged": drv.journal_purged,
        "purged": drv.purged,
    }
    for state, n in INITIAL_POOLS.items():
        pools[state] = pool_makers[state](n)
    log(f"phase A pools ready ({time.monotonic() - t0:.1f}s)")

    # ---- D4 (protocol 5 only) becomes the latest: new invocations are pinned to it with protocol 5
    catalog.register("D4_fake_proto5", base + "/d4")
    targets["completed_proto5"] = one(drv.completed)
    targets["suspended_proto5"] = one(drv.suspended)
    pools["suspended_proto5"] = drv.suspended(12)
    # ---- D2 becomes the latest for the main services; D3 serves Other only
    catalog.register("D2", base + "/d2")
    targets["completed_on_latest"] = one(drv.completed)
    catalog.register("D3_other", base + "/d3")
    # ---- D5 serves Lonely only; one invocation completes on it, then D5 is deleted
    catalog.register("D5_lonely", base + "/d5")
    targets["completed_deleted_deployment"] = one(drv.completed, "Lonely", "run")
    rs.admin_json("DELETE", f"/deployments/{catalog.dp_ids['D5_lonely']}?force=true")
    deadline = time.monotonic() + 30
    while any(d["id"] == catalog.dp_ids["D5_lonely"] for d in catalog.deployments()):
        if time.monotonic() > deadline:
            raise RecordingError("D5 was not deleted")
        time.sleep(0.1)
    log(f"deployments ready, D5 deleted ({time.monotonic() - t0:.1f}s)")

    dp = dict(catalog.dp_ids)
    unknown_dp = unknown_variant(dp["D1"], len(dp["D1"]) - 2)
    if unknown_dp in dp.values():
        raise RecordingError(f"the made-up deployment id {unknown_dp} exists")

    # ---- restart-as-new in every state
    real = targets["completed_success"][0]
    for scenario, (target, lk) in targets.items():
        jlen = len(rec.reader.journals([target]).get(target, []))
        if jlen == 0:
            jlen = 4
        for qs in restart_queries(jlen, dp, unknown_dp, extras=scenario == "completed_success"):
            rec.probe_restart(scenario, target, qs, lk)
        rec.settle_new()
    for variant in (unknown_variant(real, len(real) - 1), unknown_variant(real, 6)):
        for qs in ("", "from=1", "from=abc", "deployment=dp_bogus", "deployment=latest", "deployment=keep"):
            rec.probe_restart("unknown_id", variant, qs)
    for bad in malformed_ids(real, dp["D1"]):
        for qs in ("", "from=1", "from=abc", "deployment=dp_bogus"):
            rec.probe_restart("malformed_id", bad, qs)
    for qs in ("", "from=1", "from=abc", "deployment=dp_bogus"):
        rec.probe_restart("empty_id", "", qs)
    log(f"restart-as-new: {len(rec.restart_cases)} probes ({time.monotonic() - t0:.1f}s)")

    # ---- the other admin operations in every state
    plan = op_plan(dp, unknown_dp)
    for state in list(pools):
        maker = pool_makers.get(state)
        current: Target | None = None
        steps = plan + (ODD_OP_QUERIES if state in ("suspended_sleep", "paused", "completed_success") else [])
        for op, dep, raw_qs in steps:
            if current is None:
                if not pools[state]:
                    if maker is None:
                        raise RecordingError(f"pool {state} ran dry")
                    pools[state] = maker(2)
                current = pools[state].pop(0)
            if rec.probe_op(state, op, current[0], dep, current[1], raw_qs):
                current = None
        rec.settle_later()
    for variant in (unknown_variant(real, len(real) - 1),):
        for op, dep, _ in plan:
            rec.probe_op("unknown_id", op, variant, dep)
    for bad in malformed_ids(real, dp["D1"])[:6] + [""]:
        for op in OPS:
            rec.probe_op("malformed_id" if bad else "empty_id", op, bad)
    log(f"admin operations: {len(rec.op_cases)} probes ({time.monotonic() - t0:.1f}s)")
    rec.close()
    values = sql_values.record(rs, drv)
    log(f"SQL: {len(values)} answers ({time.monotonic() - t0:.1f}s)")
    cases = {"restart_as_new.jsonl": rec.restart_cases, "admin_ops.jsonl": rec.op_cases}
    deleted = {catalog.dp_ids["D5_lonely"]}
    check_cases(cases, deleted)  # nothing is written unless every case is sound
    for path, lines in (
        (out / "recorded_http" / "probes.jsonl", probes),
        (out / "recorded_sql" / "schema.jsonl", schema),
        (out / "recorded_sql" / "values.jsonl", values),
    ):
        write_jsonl(path, lines, compact=False)
        log(f"wrote {len(lines)} lines to {shown(path)}")
    write_outputs(out / "recorded", cases, deleted_dps=deleted)
