"""The simulator's command line: trace files and their replay, the progress bar, shards in processes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.simulate import KNOBS, TraceWriter, Workload, merge, simulate
from fsm.snapshot import dump_world
from fsm.tools.simulate import ProgressBar, main, replay_file, shard_trace_path, simulate_all

WAIT_S = 120  # an upper bound for the child to answer, never a measured timing


def test_a_trace_file_replays_to_the_same_end_state(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    workload = Workload(invocations=200, seed=4, restart=0.3)
    with path.open("w", encoding="utf-8") as out:
        _, engine = simulate(workload, trace=TraceWriter(out, workload.engine_settings()))
    assert dump_world(replay_file(path)) == dump_world(engine)


def test_progress_bar() -> None:
    stream = io.StringIO()
    simulate(Workload(invocations=40, seed=3), progress=ProgressBar(stream))
    assert stream.getvalue().endswith("100.0% 40/40 calls, " + stream.getvalue().rsplit(", ", 1)[1])
    assert stream.getvalue().startswith("\r[") and stream.getvalue().endswith(" s\n")


def test_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert main(["--invocations", "200", "--seed", "5", "--set", "restart=0.3", "--trace", str(trace)]) == 0
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


def test_shards_do_not_depend_on_the_number_of_jobs(tmp_path: Path) -> None:
    sharded = Workload(invocations=400, seed=2, shards=2, restart=0.2, keys=10)
    alone = simulate_all(sharded, jobs=1)
    assert simulate_all(sharded, jobs=2, trace_path=tmp_path / "run.jsonl").to_json() == alone.to_json()
    parts = [simulate(sharded, shard=k) for k in range(2)]
    assert merge(sharded, [summary for summary, _ in parts]).to_json() == alone.to_json()
    for k, (_, engine) in enumerate(parts):  # each shard's trace replays to that shard's world
        assert dump_world(replay_file(shard_trace_path(tmp_path / "run.jsonl", k, 2))) == dump_world(engine)
    assert shard_trace_path("run.jsonl", 0, 1) == Path("run.jsonl")


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
