"""Every command line answers a bad argument, a missing or malformed file or an unreachable target
with one line on stderr and a non-zero exit code, never a traceback; each answers ``--version``."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsm.tools.parser import version

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 120  # an upper bound for a child to answer, never a measured timing

COMMANDS = (
    "fsm.tools.conformance",
    "fsm.tools.explore",
    "fsm.tools.simulate",
    "fsm.tools.diagram",
    "grpc_server",
    "grpc_server.cli",
    "grpc_server.conformance",
    "grpc_server.command",
    "bench",
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "not-json.jsonl").write_text("\n{oops\n", encoding="utf-8")
    (folder / "no-world.jsonl").write_text('{"name": "x", "request": {}, "expect": {}}\n', encoding="utf-8")
    (folder / "not-a-trace.jsonl").write_text('{"format": "something else"}\n', encoding="utf-8")
    return {"missing": str(folder / "missing.jsonl"), **{p.stem: str(p) for p in folder.iterdir()}}


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S, check=False
    )


BAD = [
    (
        "fsm.tools.conformance",
        ["{missing}"],
        "python -m fsm.tools.conformance: {missing}: cannot read it (No such file",
    ),
    ("fsm.tools.conformance", ["{not-json}"], "python -m fsm.tools.conformance: {not-json}:2: not JSON"),
    ("fsm.tools.conformance", ["{no-world}"], "python -m fsm.tools.conformance: {no-world}:1: not a case: no 'world'"),
    ("grpc_server.conformance", ["{missing}"], "python -m grpc_server.conformance: {missing}: cannot read it"),
    (
        "grpc_server.conformance",
        ["{no-world}", "--http"],
        "python -m grpc_server.conformance: {no-world}:1: not a case",
    ),
    (
        "grpc_server.conformance",
        ["--target", "127.0.0.1:9", "{no-world}"],
        "python -m grpc_server.conformance: {no-world}",
    ),
    ("fsm.tools.simulate", ["--replay", "{missing}"], "simulate: cannot read {missing}: No such file"),
    ("fsm.tools.simulate", ["--replay", "{not-a-trace}"], "simulate: {not-a-trace}: line 1: not a"),
    ("fsm.tools.simulate", ["--set", "nope=1"], "python -m fsm.tools.simulate: argument --set: unknown knob 'nope'"),
    ("fsm.tools.simulate", ["--scheduler", "tcp://127.0.0.1:9"], "simulate: cannot reach the Dask scheduler at"),
    ("fsm.tools.explore", ["--depth", "-1"], "python -m fsm.tools.explore: --depth must be at least 0, got -1"),
    ("fsm.tools.explore", ["--invariant", "nosuchmodule:f"], "python -m fsm.tools.explore: --invariant"),
    ("fsm.tools.diagram", ["--format", "nope"], "python -m fsm.tools.diagram: argument --format: invalid choice"),
    ("grpc_server", ["--port", "abc"], "python -m grpc_server: argument --port: invalid int value: 'abc'"),
    ("grpc_server", ["--db", "{missing}/../x/state.db"], "cannot open the database {missing}/../x/state.db"),
    ("grpc_server.cli", ["nope"], "python -m grpc_server.cli: argument VERB: invalid choice: 'nope'"),
    ("grpc_server.command", ["serv"], "invocation-lifecycle: no subcommand 'serv'"),
    ("bench", ["--invocations", "0"], "python -m bench: --invocations must be at least 1"),
    ("recording.record", ["--no-such-flag"], "recording/record.sh: unrecognized arguments: --no-such-flag"),
]


@pytest.mark.parametrize(("module", "args", "starts"), BAD, ids=[f"{m} {' '.join(a)}" for m, a, _ in BAD])
def test_a_bad_command_line_is_one_line(files: dict[str, str], module: str, args: list[str], starts: str) -> None:
    done = _run(module, *(a.format(**files) for a in args))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(starts.format(**files)), done.stderr


def test_an_unreachable_grpc_server_is_said_at_once(files: dict[str, str], tmp_path: Path) -> None:
    case = Path(ROOT / "tests" / "conformance" / "recorded" / "admin_ops.jsonl").read_text().splitlines()[0]
    good = tmp_path / "one.jsonl"
    good.write_text(case + "\n", encoding="utf-8")
    done = _run("grpc_server.conformance", "--target", "127.0.0.1:9", str(good))
    assert done.returncode == 2 and done.stderr == (
        "python -m grpc_server.conformance: no gRPC server answers at 127.0.0.1:9 within 5 s\n"
    )


def test_a_second_recording_in_the_same_checkout_is_one_line() -> None:
    work = ROOT / "recording" / ".work"
    work.mkdir(exist_ok=True)
    with open(work / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = _run("recording.record")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr == f"recording failed: another recording is running in this checkout ({work / '.lock'} is locked)\n"
    )


NAMES = {"grpc_server.command": "invocation-lifecycle", "recording.record": "recording/record.sh"}


@pytest.mark.parametrize("module", [*COMMANDS, "recording.record"])
def test_every_command_line_answers_version(module: str) -> None:
    done = _run(module, "--version")
    name = NAMES.get(module, f"python -m {module}")
    assert done.returncode == 0 and done.stdout == f"{name} {version()}\n", done.stderr


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("fsm.tools.explore", ["--depth", "2"]),
        ("fsm.tools.simulate", ["--invocations", "50", "--json"]),
        ("fsm.tools.diagram", ["--format", "json"]),
        ("fsm.tools.conformance", ["tests/conformance/recorded/admin_ops.jsonl"]),
    ],
)
def test_a_reader_that_goes_away_is_one_line(module: str, args: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the child has written anything: its first write finds no reader
    err = proc.stderr.read()
    assert proc.wait(timeout=WAIT_S) == 141, err
    assert err == f"python -m {module}: the output was closed before it was all written\n"


@pytest.mark.parametrize(
    ("module", "args", "keys"),
    [
        ("fsm.tools.explore", ["--depth", "1", "--json"], ["scope", "states", "expanded", "edges"]),
        ("fsm.tools.diagram", ["--json"], ["initial", "states", "guards", "transitions", "admin"]),
        ("fsm.tools.simulate", ["--invocations", "10", "--json"], ["workload", "calls", "restarted"]),
        ("fsm.tools.conformance", ["tests/conformance/recorded/admin_ops.jsonl", "--json"], ["passed", "failed"]),
    ],
)
def test_json_is_there_wherever_data_is_printed(module: str, args: list[str], keys: list[str]) -> None:
    done = _run(module, *args)
    assert done.returncode in (0, 1), done.stderr
    assert list(json.loads(done.stdout))[: len(keys)] == keys
