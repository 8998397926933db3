"""Smoke tests of ``python -m bench``: it runs at tiny sizes and writes valid JSON. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import hotpath, report
from bench.common import ROOT, machine, percentile
from bench.lifecycle import check, drive, new_engine


def test_the_hot_path_variants_agree_and_the_floor_is_the_cycle() -> None:
    hotpath.check_agreement()
    assert hotpath.FLOOR == {
        ("free", "invoke"): "running",
        ("running", "suspend"): "suspended",
        ("suspended", "wake"): "running",
        ("running", "complete"): "completed",
        ("completed", "purge"): "free",
    }


def test_the_lifecycle_driver_completes_every_invocation() -> None:
    engine = new_engine()
    drive(engine, 25, batch=10)
    check(engine, 25)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(x) for x in range(1, 101)], 0.99) == 99.0


def test_targets_are_judged_and_unmeasured_ones_say_so() -> None:
    results = {
        "machine": machine(),
        "hot_path": {
            "ratio_to_floor_best": {"compiled_fire": 2.1, "engine_step": 1.1, "transitions": 90.0},
            "ns_per_transition_best": {"transitions": 7000.0, "engine_step": 86.0, "previous_step": 85.0},
        },
        "memory": {"worlds": {"completed": {"invocations": 1_000_000, "bytes_per_invocation_without_journal": 420.0}}},
        "grpc": {
            "scenarios": {"restart@8": {"rps": 2500.0, "p99_ms": 4.0}, "echo@8": {"rps": 4000.0}},
            "server_ready": {"ready_s_median": 0.4},
        },
        "http": {"restart_200": {"rps_one_client": 700.0}, "restart_200_8_clients": {"rps": 1400.0}},
        "restate_server": {"restart_200": {"rps_one_client": 400.0}},
        "holding": {
            "health": {"no stalled streams": {"max_ms": 2.0}, "8 stalled streams": {"max_ms": 150.0}},
            "advance_clock": {"sleepers": 100, "far_s_worst": 1.5, "near_s_worst": 1.4},
        },
        "big_world": {
            "invocations": 1_000_000,
            "ready_s": 9.5,
            "rss_mib": 1100.0,
            "get_invocation": {"p99_ms": 2.0},
            "list_invocations_page": {"p99_ms": 6.0},
            "empty_server": {"ready_s": 0.25, "rss_mib": 50.0},
        },
        "explore": {
            "depth": 7,
            "invocations": 3,
            "seconds": 59.0,
            "peak_rss_mib": 1500.0,
            "states": 10,
            "states_per_s": 1,
        },
    }
    results["simulator"] = {
        "fsm_simulate": {"invocations": 1_000_000, "seconds": 14.0, "invocations_per_s": 71_000},
        "dask": {"invocations": 10_000_000, "workers": 2, "seconds": 80.0, "invocations_per_s": 125_000},
        "dask_serial_shard": {"invocations_per_s": 73_000},
    }
    verdicts = {t["target"]: t["met"] for t in report.targets(results)}
    assert verdicts == {
        "compiled fire vs dict-table floor": False,
        "engine step vs the step before the machine ran the lifecycle": True,
        "one trigger through transitions": True,
        "memory per invocation without its journal": False,
        "1,000,000 invocations through a 5-step lifecycle": None,
        "RestartAsNew at 8 clients": True,
        "RestartAsNew vs Echo floor at 8 clients": True,
        "RestartAsNew p99 at 8 clients": True,
        "HTTP restart-as-new at 1 client vs restate-server": True,
        "HTTP restart-as-new at 8 clients vs restate-server": None,
        "SQL the CLI's kind of listing over 100,000 invocations": None,
        "SQL a count by status over 100,000 invocations": None,
        "health check with 8 stalled streams open": False,
        "AdvanceClock(10^15 ms)": True,
        "server start-to-ready": True,
        "1M-invocation world from its SQLite file: start-to-ready": True,
        "1M-invocation world: server RSS once ready": False,
        "1M-invocation world: GetInvocation p99": True,
        "1M-invocation world: a ListInvocations page of 100, p99": False,
        "empty server: start-to-ready and RSS": True,
        "1,000,000 calls through python -m fsm.tools.simulate, serially": True,
        "10,000,000 calls on 2 Dask workers vs the serial rate": True,  # 1.71x
        "explore --depth 7 --invocations 3": False,  # in time, not in memory
    }


def test_quick_run_writes_valid_json_and_a_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--quick", "--skip", "restate", "--skip", "fsm-simulate"),
            *("--skip", "sim-dask", "--output", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["mode"] == "quick" and results["machine"]["nproc"] >= 1
    for section in ("hot_path", "memory", "simulator", "grpc", "holding", "http"):
        assert "error" not in json.dumps(results[section]), results[section]
    expected = {f"{rpc}@{n}" for rpc in ("echo", "restart", "refusal") for n in (1, 8)}
    expected.add("restart@8 --log-level WARNING")
    if results["grpc"]["load_generator"] == "h2load":  # and the Python clients' view beside it
        expected |= {"echo@8 Python clients", "restart@8 Python clients"}
    else:
        assert "h2load not installed" in results["grpc"]["load_generator"]
    assert set(results["grpc"]["scenarios"]) == expected
    assert all(s["unexpected_answers"] == 0 and s["calls"] > 0 for s in results["grpc"]["scenarios"].values())
    assert results["memory"]["worlds"]["completed"]["journal_entries_per_invocation"] == 6.0
    assert set(results["holding"]["health"]) == {"no stalled streams", "8 stalled streams", "100 stalled streams"}
    assert results["holding"]["advance_clock"]["far_s_worst"] > 0
    assert results["http"]["restart_200"]["unexpected_answers"] == 0
    assert results["http"]["restart_200_8_clients"]["calls"] >= 80
    assert results["sql"]["count_by_status"]["total_s"] > 0
    assert results["big_world"]["get_invocation"]["calls"] == 20 and results["big_world"]["invocations"] == 2_000
    assert results["explore"]["states"] == 1_194 and results["explore"]["peak_rss_mib"] > 0
    assert len(results["targets"]) == 23 and "\ntargets\n" in done.stdout
    assert set(results["hot_path"]["ns_per_transition_best"]) == set(hotpath.VARIANTS)
