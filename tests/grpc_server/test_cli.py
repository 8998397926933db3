"""The command-line client against the session server: JSON out, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grpc_server import TARGET_ENV, cli
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.server import Server

from .conftest import BASE_WORLD, D2, World


def run(server: Server, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, Any]:
    code = cli.main(["--target", server.target, *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, json.loads(err) if err else None


def test_every_admin_rpc_has_a_verb() -> None:
    methods = {name for name in dir(admin_pb2_grpc.AdminServiceServicer) if name[0].isupper()}
    assert methods == {rpc for service, rpc, *_ in cli.VERBS.values() if service == "admin"}


def test_a_session(server: Server, world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "world.json").write_text(json.dumps(BASE_WORLD))
    assert run(server, capsys, "import", str(tmp_path / "world.json"))[1]["services"] == 6
    code, called, _ = run(server, capsys, "call", "Steps", "run")
    inv = called["invocation_id"]
    assert code == 0 and called["invocation"]["status"] == "INVOCATION_STATUS_RUNNING"
    entry = run(server, capsys, "append-command", inv, "Run", "--name", "charge")[1]["entry"]
    assert entry == {"index": 1, "kind": "ENTRY_KIND_COMMAND", "type": "Run", "name": "charge", "completion_ids": [1]}
    assert run(server, capsys, "append-notification", inv, "1")[1]["status"] == "INVOCATION_STATUS_RUNNING"
    assert run(server, capsys, "complete", inv)[1] == {"status": "INVOCATION_STATUS_COMPLETED"}
    explained = run(server, capsys, "explain", inv, "--from", "2", "--deployment", "keep")[1]
    assert (explained["check"], explained["would_succeed"], explained["copied_indexes"]) == (16, True, [0, 1, 2])
    code, restarted, _ = run(server, capsys, "restart-as-new", inv, "--from", "2")
    assert code == 0 and restarted["restarted_from"] == inv
    assert restarted["invocation"]["pinned"] == {"deployment_id": D2, "protocol": 6}
    listed = run(server, capsys, "list", "--status", "running")[1]["invocations"]
    assert [i["id"] for i in listed] == [restarted["new_invocation_id"]]
    assert len(run(server, capsys, "journal", inv)[1]["entries"]) == 4
    assert run(server, capsys, "get", inv)[1]["id"] == inv
    assert run(server, capsys, "export")[1]["invocations"][0]["id"] == inv


def test_refusals_print_the_error_and_exit_1(server: Server, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    inv = world.running()
    code, out, err = run(server, capsys, "restart-as-new", inv)
    assert (code, out) == (1, None)
    assert err["error"] == {
        "code": "FAILED_PRECONDITION",
        "message": f"The invocation '{inv}' is still running.",
        "reason": "STILL_RUNNING",
        "domain": "invocation-lifecycle.dev",
        "metadata": {"http_status": "409", "check": "7"},
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["cancel", "{inv}"],
        ["kill", "{inv}"],
        ["pause", "{inv}"],
        ["resume", "{inv}"],
        ["purge", "{done}"],
        ["purge-journal", "{done}"],
        ["register-service", "Cart", "--type", "virtual_object", "--journal-retention-s", "5"],
        ["list-services"],
        ["delete-service", "Lonely"],
        ["register-deployment", "Steps", "--name", "v9"],
        ["list-deployments"],
        ["delete-deployment", "dp_12PliZagEBrzYiYaC96Ef9n"],
        ["sleep", "{inv}", "10"],
        ["suspend", "{waiting}"],
        ["fail-attempt", "{inv}", "--max-attempts", "1", "--on-max-attempts", "kill"],
        ["advance", "--by-ms", "5"],
        ["advance", "--to-ms", "1795737700000"],
        ["set-partition", "2", "--unavailable"],
        ["call", "Locker", "add", "--key", "k", "--delay-ms", "10", "--idempotency-key", "i"],
    ],
)
def test_verbs(server: Server, world: World, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    waiting = world.running()
    world.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=waiting, type="Run"))
    ids = {"inv": world.running(), "done": world.completed(), "waiting": waiting}
    code, out, err = run(server, capsys, *[a.format(**ids) for a in argv])
    assert (code, err) == (0, None) and isinstance(out, dict)


def test_render_keeps_plain_lists_on_one_line() -> None:
    value = {"a": [1, 2], "b": ["x, y", "z"], "c": [{"d": [3]}], "e": []}
    text = cli.render(value)
    assert '"a": [1, 2]' in text and '"b": ["x, y", "z"]' in text and '"d": [3]' in text
    assert json.loads(text) == value


def test_unreachable_server_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--target", "127.0.0.1:1", "--timeout", "5", "list"]) == 2
    assert json.loads(capsys.readouterr().err)["error"]["code"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED")


def test_the_target_comes_from_the_environment_when_no_flag_gives_one(
    server: Server, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = world.completed()
    monkeypatch.setenv(TARGET_ENV, server.target)
    assert cli.main(["get", inv]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == inv
    monkeypatch.setenv(TARGET_ENV, "127.0.0.1:1")
    assert cli.main(["--target", server.target, "get", inv]) == 0  # the flag wins
    capsys.readouterr()
    assert cli.main(["get", inv]) == 2
    assert "127.0.0.1:1" in json.loads(capsys.readouterr().err)["error"]["message"]
