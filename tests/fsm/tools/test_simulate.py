"""The simulator's command line: trace files and their replay, progress, shards here or on Dask, --out."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.simulate import KNOBS, TraceWriter, Workload, merge, simulate
from fsm.snapshot import dump_world
from fsm.tools.simulate import Progress, main, replay_file, run_on_dask, run_serial, shard_trace_path

WAIT_S = 120  # an upper bound for the child to answer, never a measured timing


def test_a_trace_file_replays_to_the_same_end_state(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    workload = Workload(invocations=200, seed=4, restart=0.3, shards=1)
    with path.open("w", encoding="utf-8") as out:
        _, engine = simulate(workload, trace=TraceWriter(out, workload.engine_settings()))
    assert dump_world(replay_file(path)) == dump_world(engine)


def test_progress_counts_the_calls_of_every_shard() -> None:
    stream = io.StringIO()
    run_serial(Workload(invocations=40, seed=3, shards=4), progress=Progress(stream, 40))
    lines = stream.getvalue().split("\r")[1:]
    assert [line.split(" calls")[0].split()[-1] for line in lines] == ["10/40", "20/40", "30/40", "40/40"]
    assert lines[-1].startswith("100.0% 40/40 calls, ") and lines[-1].endswith(" s\n")


def test_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert (
        main(["--invocations", "200", "--seed", "5", "--shards", "1", "--set", "restart=0.3", "--trace", str(trace)])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.startswith("200 calls and ") and "simulated in" in captured.err
    assert main(["--replay", str(trace)]) == 0
    states = json.loads(capsys.readouterr().out)
    assert sum(states.values()) > 0
    assert main(["--invocations", "50", "--json", "--set", "drain=true"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calls"] == 50 and data["workload"]["drain"] is True
    with pytest.raises(SystemExit):
        main(["--set", "no_such_knob=1"])
    with pytest.raises(SystemExit):
        main(["--set", "shards=0"])


def test_shards_run_on_dask_give_the_serial_result(tmp_path: Path) -> None:
    sharded = Workload(invocations=400, seed=2, shards=3, restart=0.2, keys=10)
    alone = run_serial(sharded)
    on_dask = run_on_dask(sharded, workers=2, trace_path=str(tmp_path / "run.jsonl"))
    assert on_dask.to_json() == alone.to_json() and on_dask.intervals == alone.intervals
    parts = [simulate(sharded, shard=k) for k in range(3)]
    assert merge(sharded, [summary for summary, _ in parts]).to_json() == alone.to_json()
    for k, (_, engine) in enumerate(parts):  # each shard's trace (written by a worker) replays to its world
        assert dump_world(replay_file(shard_trace_path(tmp_path / "run.jsonl", k, 3))) == dump_world(engine)
    assert shard_trace_path("run.jsonl", 0, 1) == Path("run.jsonl")


def test_the_same_trace_hash_serially_and_on_two_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--invocations", "3000", "--seed", "7", "--json"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main(["--invocations", "3000", "--seed", "7", "--json", "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["trace_sha256"] == serial["trace_sha256"] and "on 2 Dask workers" in captured.err
    assert main(["--invocations", "3000", "--seed", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace_sha256"] != serial["trace_sha256"]


def test_out_writes_the_events_the_samples_the_summary_and_a_plot(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        main(["--invocations", "400", "--shards", "2", "--set", "sample_every_s=0.5", "--out", str(out), "--json"]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    events = [(out / f"events.shard{k}.csv").read_text().splitlines() for k in range(2)]
    assert all(lines[0] == "t_ms,event,invocation,arg,state" for lines in events)
    assert sum(len(lines) - 1 for lines in events) == summary["events"]
    assert any(",arrival,inv_1" in line for line in events[0])
    samples = (out / "intervals.csv").read_text().splitlines()
    assert samples[0].startswith("t_s,calls,restarted,scheduled,") and samples[-1].split(",")[1] == "400"
    assert (out / "simulation.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "simulation.svg").read_text().startswith("<?xml")


def test_an_unreachable_scheduler_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--invocations", "10", "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simulate: cannot reach the Dask scheduler at tcp://127.0.0.1:9 within ")
    assert "\n" not in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["--workers", "0"])
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm.tools.simulate", "--invocations", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["calls"] == 20 and "20 calls simulated in" in done.stderr


def test_the_seed_is_a_knob_like_any_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--invocations", "500", "--set", "seed=3", "--json"]) == 0
    by_set = json.loads(capsys.readouterr().out)
    assert main(["--invocations", "500", "--seed", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == by_set
    assert main(["--set", "invocations=500", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"]["seed"] == 1 != by_set["workload"]["seed"]
    with pytest.raises(SystemExit) as refused:
        main(["--seed", "3", "--set", "seed=4"])
    assert refused.value.code == 2
    assert "--seed 3 and --set seed=4 disagree: give one" in capsys.readouterr().err


def test_help_lists_every_knob_with_its_default_and_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    defaults = Workload()
    for name, meaning in KNOBS.items():
        assert f"  {name}={getattr(defaults, name)!r} " in out and meaning in out, name
