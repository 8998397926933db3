"""``invocation-lifecycle``: one name for every command line, each subcommand the tool it names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsm.tools.parser import version
from grpc_server.command import SUBCOMMANDS, main
from grpc_server.server import Server

from .conftest import World


def test_version_and_the_list_of_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"invocation-lifecycle {version()}\n"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in SUBCOMMANDS) and "Exit codes" in out
    assert main([]) == 2  # nothing asked: the list, and a non-zero code


def test_an_unknown_subcommand_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("invocation-lifecycle: no subcommand 'serv'; one of serve, admin,") and err.count("\n") == 1
    for argv in (["world", "list"], ["world", "--target", "127.0.0.1:9", "list"]):
        with pytest.raises(SystemExit, match="2"):
            main(argv)
        assert capsys.readouterr().err == (
            "invocation-lifecycle world: argument VERB: invalid choice: 'list' (choose from 'import', 'export') "
            "(see invocation-lifecycle world --help)\n"
        )
    with pytest.raises(SystemExit, match="2"):
        main(["admin", "export"])
    assert "invocation-lifecycle admin: argument VERB: invalid choice: 'export'" in capsys.readouterr().err


def test_each_subcommand_is_its_tool(capsys: pytest.CaptureFixture[str]) -> None:
    from fsm.tools import diagram

    assert main(["diagram", "--format", "admin"]) == 0
    ours = capsys.readouterr().out
    assert diagram.main(["--format", "admin"]) == 0 and capsys.readouterr().out == ours
    assert main(["conformance", "tests/conformance/recorded/admin_ops.jsonl"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(" passed, 0 failed")
    assert main(["simulate", "--invocations", "20", "--json", "--shards", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] == 20


def test_admin_and_world_talk_to_a_running_server(
    server: Server, world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inv = world.completed()
    assert main(["admin", "--target", server.target, "restart-as-new", inv]) == 0
    restarted = json.loads(capsys.readouterr().out)
    assert restarted["new_invocation_id"].startswith("inv_1")
    assert main(["world", "--target", server.target, "export"]) == 0
    exported = capsys.readouterr().out
    assert inv in exported and restarted["new_invocation_id"] in exported
    assert main(["conformance", "--grpc", "--target", server.target, "tests/conformance/recorded/admin_ops.jsonl"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(" passed, 0 failed")
