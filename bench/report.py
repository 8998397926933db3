"""Targets judged on the measured figures, and the printed table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import JSON

FULL_SIZE = 1_000_000
#: Two variants within this factor of each other are as fast as each other on this shared machine.
NOISE = 1.05


def _get(results: JSON, *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _target(name: str, goal: str, measured: str | None, met: bool | None, note: str = "") -> JSON:
    if measured is None:
        return {"target": name, "goal": goal, "measured": "not measured", "met": None, "note": note}
    return {"target": name, "goal": goal, "measured": measured, "met": met, "note": note}


def targets(results: JSON) -> list[JSON]:
    """Each target as met / not met (None: not measured, or not at the target's size)."""
    out: list[JSON] = []
    ratio = _get(results, "hot_path", "ratio_to_floor_best", "compiled_fire")
    out.append(
        _target(
            "compiled fire vs dict-table floor",
            "<= 2x",
            None if ratio is None else f"{ratio}x",
            None if ratio is None else ratio <= 2,
        )
    )
    step = _get(results, "hot_path", "ns_per_transition_best", "engine_step")
    before = _get(results, "hot_path", "ns_per_transition_best", "previous_step")
    slower = None if step is None or before is None else step / before
    out.append(
        _target(
            "engine step vs the step before the machine ran the lifecycle",
            f"not slower (<= {NOISE}x, the noise between rounds)",
            None if slower is None else f"{step:,.1f} vs {before:,.1f} ns ({slower:.2f}x)",
            None if slower is None else slower <= NOISE,
        )
    )
    through = _get(results, "hot_path", "ns_per_transition_best", "transitions")
    times = _get(results, "hot_path", "ratio_to_floor_best", "transitions")
    out.append(
        _target(
            "one trigger through transitions",
            "reported",
            None if through is None else f"{through:,.0f} ns ({times}x floor)",
            None if through is None else True,
        )
    )
    mem = _get(results, "memory", "worlds", "completed", "bytes_per_invocation_without_journal")
    n_mem = _get(results, "memory", "worlds", "completed", "invocations")
    out.append(
        _target(
            "memory per invocation without its journal",
            "<= 400 B",
            None if mem is None else f"{mem} B (N={n_mem:,})",
            None if mem is None or n_mem != FULL_SIZE else mem <= 400,
            "" if n_mem in (None, FULL_SIZE) else "below the target's 1,000,000 invocations",
        )
    )
    sim = _get(results, "simulator", "lifecycle")
    if isinstance(sim, dict) and "best_seconds" in sim:
        n_sim = sim["invocations"]
        projected = sim["best_seconds"] * FULL_SIZE / n_sim
        out.append(
            _target(
                "1,000,000 invocations through a 5-step lifecycle",
                "<= 30 s",
                f"{sim['best_seconds']} s for {n_sim:,} ({sim['best_invocations_per_s']:,} inv/s)",
                projected <= 30 if n_sim == FULL_SIZE else None,
                "" if n_sim == FULL_SIZE else f"below the target's size (projected {projected:.1f} s)",
            )
        )
    else:
        out.append(_target("1,000,000 invocations through a 5-step lifecycle", "<= 30 s", None, None))
    restart = _get(results, "grpc", "scenarios", "restart@8")
    echo = _get(results, "grpc", "scenarios", "echo@8")
    if isinstance(restart, dict) and isinstance(echo, dict) and restart["rps"]:
        out.append(
            _target(
                "RestartAsNew at 8 clients", ">= 2,000 req/s", f"{restart['rps']:,.0f} req/s", restart["rps"] >= 2000
            )
        )
        slower = echo["rps"] / restart["rps"]
        out.append(
            _target(
                "RestartAsNew vs Echo floor at 8 clients",
                "within 2x",
                f"{slower:.2f}x slower ({echo['rps']:,.0f} vs {restart['rps']:,.0f} req/s)",
                slower <= 2,
            )
        )
        out.append(
            _target("RestartAsNew p99 at 8 clients", "<= 10 ms", f"{restart['p99_ms']} ms", restart["p99_ms"] <= 10)
        )
    else:
        for name, goal in (
            ("RestartAsNew at 8 clients", ">= 2,000 req/s"),
            ("RestartAsNew vs Echo floor at 8 clients", "within 2x"),
            ("RestartAsNew p99 at 8 clients", "<= 10 ms"),
        ):
            out.append(_target(name, goal, None, None))
    stalled = _get(results, "holding", "health", "8 stalled streams", "max_ms")
    calm = _get(results, "holding", "health", "no stalled streams", "max_ms")
    out.append(
        _target(
            "health check with 8 stalled streams open",
            "<= 100 ms",
            None if stalled is None else f"worst {stalled} ms (none stalled: worst {calm} ms)",
            None if stalled is None else stalled <= 100,
        )
    )
    far = _get(results, "holding", "advance_clock", "far_s_worst")
    near = _get(results, "holding", "advance_clock", "near_s_worst")
    sleepers = _get(results, "holding", "advance_clock", "sleepers")
    out.append(
        _target(
            "AdvanceClock(10^15 ms)",
            "<= 2 s",
            None if far is None else f"{far} s over {sleepers:,} sleepers (to the last sleep only: {near} s)",
            None if far is None else far <= 2,
        )
    )
    for clients, key, field in ((1, "restart_200", "rps_one_client"), (8, "restart_200_8_clients", "rps")):
        model = _get(results, "http", key, field)
        real = _get(results, "restate_server", key, field)
        out.append(
            _target(
                f"HTTP restart-as-new at {clients} client{'s' if clients > 1 else ''} vs restate-server",
                ">= the real server's req/s in the same run",
                None if model is None else f"{model:,.0f} vs {real:,.0f} req/s" if real else f"{model:,.0f} req/s",
                None if model is None or not real else model >= real,
                "" if real else "restate-server not measured in this run",
            )
        )
    for name, label in (("list", "the CLI's kind of listing"), ("count_by_status", "a count by status")):
        total = _get(results, "sql", name, "total_s")
        size = _get(results, "sql", "invocations")
        parts = results.get("sql", {}).get(name, {}) if isinstance(results.get("sql"), dict) else {}
        out.append(
            _target(
                f"SQL {label} over 100,000 invocations",
                "< 1 s",
                None
                if total is None
                else f"{total} s (read {parts.get('read_s')}, build {parts.get('build_s')}, "
                f"query {parts.get('query_s')}; N={size:,})",
                None if total is None or size != 100_000 else total < 1,
                "" if size in (None, 100_000) else "below the target's 100,000 invocations",
            )
        )
    ready = _get(results, "grpc", "server_ready", "ready_s_median")
    out.append(
        _target(
            "server start-to-ready",
            "<= 1 s",
            None if ready is None else f"{ready} s (median)",
            None if ready is None else ready <= 1,
        )
    )
    out += _big_world(results)
    out += _scale(results)
    return out


def _scale(results: JSON) -> list[JSON]:
    """The simulator's serial and Dask runs and the explorer at depth 7 (judged at their full sizes)."""
    out = []
    serial = _get(results, "simulator", "fsm_simulate")
    bare = _get(results, "simulator", "lifecycle", "best_seconds")
    if isinstance(serial, dict) and "seconds" in serial:
        n = serial["invocations"]
        out.append(
            _target(
                "1,000,000 calls through python -m fsm.tools.simulate, serially",
                "<= 15 s",
                f"{serial['seconds']} s for {n:,}"
                + (f" (the bare 5-step engine loop, same run: {bare} s)" if bare else ""),
                serial["seconds"] <= 15 if n == FULL_SIZE else None,
                "" if n == FULL_SIZE else "below the target's 1,000,000 calls",
            )
        )
    else:
        out.append(_target("1,000,000 calls through python -m fsm.tools.simulate, serially", "<= 15 s", None, None))
    dask = _get(results, "simulator", "dask")
    alone = _get(results, "simulator", "dask_serial_shard", "invocations_per_s")
    if isinstance(dask, dict) and "invocations_per_s" in dask and alone:
        # the serial rate of the same workload: its shards are equal, and a serial run does them in turn
        speedup = dask["invocations_per_s"] / alone
        small = serial["invocations_per_s"] if isinstance(serial, dict) and "invocations_per_s" in serial else None
        out.append(
            _target(
                f"{dask['invocations']:,} calls on {dask['workers']} Dask workers vs the serial rate",
                ">= 1.7x",
                f"{speedup:.2f}x ({dask['invocations_per_s']:,} vs {alone:,} calls/s serially, one shard of the "
                f"same workload alone; {dask['seconds']} s)"
                + (f"; vs the 1,000,000-call serial run: {dask['invocations_per_s'] / small:.2f}x" if small else ""),
                speedup >= 1.7 if dask["invocations"] >= 10 * FULL_SIZE else None,
                "" if dask["invocations"] >= 10 * FULL_SIZE else "below the target's 10,000,000 calls",
            )
        )
    else:
        out.append(_target("10,000,000 calls on 2 Dask workers vs the serial rate", ">= 1.7x", None, None))
    explored = _get(results, "explore")
    if isinstance(explored, dict) and "seconds" in explored:
        out.append(
            _target(
                f"explore --depth {explored['depth']} --invocations {explored['invocations']}",
                "<= 60 s and <= 1 GiB",
                f"{explored['seconds']} s, {explored['peak_rss_mib']} MiB, {explored['states']:,} states "
                f"({explored['states_per_s']:,}/s)",
                explored["seconds"] <= 60 and explored["peak_rss_mib"] <= 1024
                if (explored["depth"], explored["invocations"]) == (7, 3)
                else None,
                "" if (explored["depth"], explored["invocations"]) == (7, 3) else "not the target's depth 7 x 3",
            )
        )
    else:
        out.append(_target("explore --depth 7 --invocations 3", "<= 60 s and <= 1 GiB", None, None))
    return out


def _big_world(results: JSON) -> list[JSON]:
    """The targets of a world kept in SQLite (judged at 1,000,000 invocations only)."""
    size = _get(results, "big_world", "invocations")
    full = size == FULL_SIZE
    note = "" if size in (None, FULL_SIZE) else f"measured at {size:,} invocations, below the target's 1,000,000"
    real = _get(results, "restate_server", "server_ready", "ready_s_median")
    # the reads from h2load where it ran (a C client, as the other gRPC figures), else Python's
    reads: tuple[str, ...] = ("h2load",) if _get(results, "big_world", "h2load") is not None else ()
    via = " ms (h2load, one connection)" if reads else " ms (one Python client)"
    figures = (
        ("1M-invocation world from its SQLite file: start-to-ready", "<= 10 s", ("ready_s",), 10, " s"),
        ("1M-invocation world: server RSS once ready", "<= 1 GiB", ("rss_mib",), 1024, " MiB"),
        ("1M-invocation world: GetInvocation p99", "<= 5 ms", (*reads, "get_invocation", "p99_ms"), 5, via),
        (
            "1M-invocation world: a ListInvocations page of 100, p99",
            "<= 5 ms",
            (*reads, "list_invocations_page", "p99_ms"),
            5,
            via,
        ),
    )
    out = []
    for name, goal, path, limit, unit in figures:
        value = _get(results, "big_world", *path)
        out.append(
            _target(
                name,
                goal,
                None if value is None else f"{value}{unit}",
                None if value is None or not full else value <= limit,
                note,
            )
        )
    ready = _get(results, "big_world", "empty_server", "ready_s")
    rss = _get(results, "big_world", "empty_server", "rss_mib")
    out.append(
        _target(
            "empty server: start-to-ready and RSS",
            "<= 0.3 s and <= 60 MiB",
            None if ready is None else f"{ready} s, {rss} MiB" + (f" (restate-server: {real} s)" if real else ""),
            None if ready is None or rss is None else ready <= 0.3 and rss <= 60,
        )
    )
    return out


def _met(flag: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "n/a"}[flag]


def _rows(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = ["", title, line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: JSON) -> str:
    """The human-readable side-by-side table."""
    m = results["machine"]
    lines = [
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, Python {m['python']} ({m['implementation']}), "
        f"load average at start {m['load_average_at_start']}"
    ]
    hot = results.get("hot_path")
    if isinstance(hot, dict) and "ns_per_transition_best" in hot:
        best, mid = hot["ns_per_transition_best"], hot["ns_per_transition_median"]
        names = {
            "dict_floor": "plain dict table (floor)",
            "compiled_fire": "Lifecycle.fire (compiled from the Machine)",
            "engine_step": "engine step, fast path (quick map, else compiled)",
            "previous_step": "the engine's step before the machine ran the lifecycle",
            "transitions": "transitions Event.trigger (engine's Machine)",
            "engine_step_machine": "engine step with its machine in use",
            "engine_step_observed": "engine step with one observer subscribed",
        }
        lines += _rows(
            f"hot path: ns per transition, cycle {' -> '.join(hot['cycle'])}, best of {hot['rounds']}",
            ("variant", "best ns", "median ns", "x floor (best)", "x floor (median)"),
            [
                (
                    names[k],
                    _fmt(best[k]),
                    _fmt(mid[k]),
                    _fmt(hot["ratio_to_floor_best"][k], 2),
                    _fmt(hot["ratio_to_floor_median"][k], 2),
                )
                for k in names
                if k in best
            ],
        )
    mem = results.get("memory")
    if isinstance(mem, dict) and "worlds" in mem:
        lines += _rows(
            "memory per invocation (tracemalloc)",
            ("world", "invocations", "journal entries", "bytes with journal", "bytes without journal"),
            [
                (
                    k,
                    _fmt(w["invocations"]),
                    _fmt(w["journal_entries_per_invocation"], 1),
                    _fmt(w["bytes_per_invocation_with_journal"]),
                    _fmt(w["bytes_per_invocation_without_journal"]),
                )
                for k, w in mem["worlds"].items()
            ],
        )
    sim = results.get("simulator")
    if isinstance(sim, dict):
        rows: list[tuple[str, ...]] = []
        own = sim.get("lifecycle")
        if isinstance(own, dict) and "best_seconds" in own:
            rows.append(
                (
                    "engine API, 5-step lifecycle (bench.lifecycle)",
                    _fmt(own["invocations"]),
                    _fmt(own["best_seconds"], 2),
                    _fmt(own["best_invocations_per_s"]),
                    f"best of {len(own['runs'])}: {', '.join(str(r['seconds']) for r in own['runs'])} s",
                )
            )
        other = sim.get("fsm_simulate")
        if isinstance(other, dict) and "seconds" in other:
            rows.append(
                (
                    "python -m fsm.tools.simulate --seed 1",
                    _fmt(other["invocations"]),
                    _fmt(other["seconds"], 2),
                    _fmt(other["invocations_per_s"]),
                    other.get("note", ""),
                )
            )
        elif isinstance(other, dict):
            rows.append(
                ("python -m fsm.tools.simulate", "-", "-", "-", str(other.get("skipped") or other.get("error")))
            )
        lines += _rows("simulator", ("driver", "invocations", "seconds", "invocations/s", "runs"), rows)
    grpc_r = results.get("grpc")
    if isinstance(grpc_r, dict) and "scenarios" in grpc_r:
        rows = [
            (
                k,
                s["layout"],
                _fmt(s["rps"], 0),
                _fmt(s["p50_ms"], 2),
                _fmt(s["p99_ms"], 2),
                _fmt(s["server_cpu_us_per_call"], 0),
                _fmt(s["client_cpu_us_per_call"], 0),
                _fmt(s["calls"]),
                _fmt(s["unexpected_answers"]),
            )
            for k, s in grpc_r["scenarios"].items()
        ]
        lines += _rows(
            f"gRPC on loopback, load from {grpc_r.get('load_generator', 'Python gRPC clients')} "
            f"(median of {grpc_r['rounds']} rounds of {grpc_r['duration_s_per_round']} s; "
            "restart = RestartAsNew 200, refusal = RestartAsNew 409 STILL_RUNNING)",
            (
                "rpc@clients",
                "clients as",
                "req/s",
                "p50 ms",
                "p99 ms",
                "server CPU us/call",
                "clients CPU us/call",
                "calls",
                "unexpected",
            ),
            rows,
        )
    ready_rows: list[tuple[str, ...]] = []
    ready = _get(results, "grpc", "server_ready")
    if isinstance(ready, dict):
        ready_rows.append(
            (
                "python -m grpc_server (empty world)",
                _fmt(ready["ready_s_median"], 3),
                ", ".join(str(x) for x in ready["ready_s"]),
            )
        )
    web = results.get("http")
    if isinstance(web, dict) and "restart_200" in web:
        real = results.get("restate_server") or {}
        rows = [
            (
                "model, 1 client",
                web["restart_200"]["rps_one_client"],
                web["restart_200"]["p50_ms"],
                web["restart_200"]["p99_ms"],
            ),
            (
                "model, 8 clients",
                web["restart_200_8_clients"]["rps"],
                web["restart_200_8_clients"]["p50_ms"],
                web["restart_200_8_clients"]["p99_ms"],
            ),
            (
                "model, 404, 1 client",
                web["restart_404"]["rps_one_client"],
                web["restart_404"]["p50_ms"],
                web["restart_404"]["p99_ms"],
            ),
        ]
        if isinstance(real.get("restart_200"), dict):
            rows.append(
                (
                    "restate-server, 1 client",
                    real["restart_200"]["rps_one_client"],
                    real["restart_200"]["p50_ms"],
                    real["restart_200"]["p99_ms"],
                )
            )
        if isinstance(real.get("restart_200_8_clients"), dict):
            eight = real["restart_200_8_clients"]
            rows.append(("restate-server, 8 clients", eight["rps"], eight["p50_ms"], eight["p99_ms"]))
        lines += _rows(
            "restart-as-new over HTTP (PATCH /invocations/{id}/restart-as-new, kept-alive connections)",
            ("server", "req/s", "p50 ms", "p99 ms"),
            [(name, _fmt(rps), _fmt(p50, 2), _fmt(p99, 2)) for name, rps, p50, p99 in rows],
        )
    held = results.get("holding")
    if isinstance(held, dict) and "health" in held:
        lines += _rows(
            "the server holds: health check latency",
            ("condition", "checks", "median ms", "worst ms"),
            [(k, _fmt(v["checks"]), _fmt(v["median_ms"], 2), _fmt(v["max_ms"], 2)) for k, v in held["health"].items()],
        )
        clock = held["advance_clock"]
        lines += _rows(
            f"the server holds: AdvanceClock, {clock['sleepers']:,} sleepers (worst of {clock['rounds']})",
            ("move", "seconds"),
            [
                (f"by {clock['near_by_ms']:,} ms (just past the last sleep)", _fmt(clock["near_s_worst"], 3)),
                (f"by {clock['far_by_ms']:,} ms", _fmt(clock["far_s_worst"], 3)),
            ],
        )
    real = results.get("restate_server")
    if isinstance(real, dict) and "server_ready" in real:
        ready_rows.append(
            (
                f"{real.get('version', 'restate-server')} (admin /health)",
                _fmt(real["server_ready"]["ready_s_median"], 3),
                ", ".join(str(x) for x in real["server_ready"]["ready_s"]),
            )
        )
    if ready_rows:
        lines += _rows(
            "server start-to-ready (spawn -> first healthy answer)", ("server", "median s", "runs s"), ready_rows
        )
    if isinstance(real, dict):
        if "restart_200" in real:
            lines += _rows(
                "real restate-server, restart-as-new over its admin HTTP API (1 client, kept-alive)",
                ("path", "calls", "req/s", "p50 ms", "p99 ms"),
                [
                    (
                        k,
                        _fmt(real[k]["calls"]),
                        _fmt(real[k]["rps_one_client"], 0),
                        _fmt(real[k]["p50_ms"], 2),
                        _fmt(real[k]["p99_ms"], 2),
                    )
                    for k in ("restart_200", "restart_404")
                ],
            )
        elif "skipped" in real or "error" in real:
            lines += ["", f"real restate-server: {real.get('skipped') or real.get('error')}"]
    lines += _rows(
        "targets",
        ("target", "goal", "measured", "verdict"),
        [
            (t["target"], t["goal"], t["measured"] + (f" [{t['note']}]" if t["note"] else ""), _met(t["met"]))
            for t in results["targets"]
        ],
    )
    return "\n".join(lines)
