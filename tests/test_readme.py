"""The README's examples run as written and print what the README shows; its pictures are current."""

from __future__ import annotations

import html
import http.client
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fsm import diagram
from fsm.simulate import Workload, merge, simulate
from grpc_server.server import start

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.compile(r"<!-- embedding-example:start -->\n(.*?)<!-- embedding-example:end -->", re.S)


def example() -> tuple[str, str]:
    """The example's code and the output the README shows for it."""
    found = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md lost its embedding example markers"
    code, shown = re.findall(r"```(?:python|text)\n(.*?)```", found.group(1), re.S)
    return code, shown


def test_the_embedding_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    code, shown = example()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


def test_the_embedding_example_is_typed_without_any(tmp_path: Path) -> None:
    code, _ = example()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--disallow-any-expr",
            "--follow-imports=silent",  # the user's script only: no Any in what it sees of the API
            "--no-incremental",
            str(script),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def session(marker: str, document: str = "README.md") -> list[tuple[str, str]]:
    """A console session of a document between ``<!-- marker:start/end -->``: (command, the output shown)."""
    block = re.compile(rf"<!-- {marker}:start -->\n```console\n(.*?)```\n<!-- {marker}:end -->", re.S)
    found = block.search((ROOT / document).read_text(encoding="utf-8"))
    assert found, f"{document} lost its {marker} markers"
    steps: list[tuple[str, str]] = []
    for line in found.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], ""))
        else:
            command, shown = steps[-1]
            steps[-1] = (command, f"{shown}\n{line}" if shown else line)
    return steps


def tour() -> list[tuple[str, str]]:
    """The README's HTTP session."""
    return session("http-tour")


def curl(command: str, port: int) -> str:
    """What ``curl`` prints for the flags the tour uses (-s, -X, -H, -d, -w), without needing curl."""
    words = shlex.split(command)
    assert words[0] == "curl", command
    method, headers, data, write_out, url = "GET", {}, None, "", ""
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-X", "-H", "-d", "-w"):
            value = words[i + 1]
            if word == "-X":
                method = value
            elif word == "-H":
                name, _, text = value.partition(":")
                headers[name.strip()] = text.strip()
            elif word == "-d":
                data = value.encode()
            else:
                write_out = value
            i += 2
            continue
        if word != "-s":
            url = word
        i += 1
    assert url.startswith("localhost:9070/"), url
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, url.removeprefix("localhost:9070"), body=data, headers=headers)
        answer = connection.getresponse()
        body = answer.read().decode()
        return body + write_out.replace("%{http_code}", str(answer.status)).replace("\\n", "\n")
    finally:
        connection.close()


def test_the_http_tour_prints_what_the_readme_shows() -> None:
    server = start(port=0, http_port=0)  # a fresh server, as `make run` starts one (seed 0)
    try:
        assert server.http is not None
        steps = tour()
        assert len(steps) >= 10
        for command, shown in steps:
            assert curl(command, server.http.port).rstrip() == shown, command
    finally:
        server.stop(0)


DURATION = re.compile(r"Query took [0-9.]+[µm]?s")


def test_the_cli_session_prints_what_the_readme_shows_after_the_http_tour() -> None:
    from tests.grpc_server.http.test_restate_cli import install

    cli = install()  # skips, saying why, where npm cannot install it
    steps = session("cli-tour")
    server = start(port=0, http_port=0)
    try:
        assert server.http is not None
        for command, _ in tour():
            curl(command, server.http.port)
        env = {**os.environ, "RESTATE_ADMIN_URL": str(server.http_url), "NO_COLOR": "1", "TERM": "dumb"}
        for command, shown in steps:
            if command.startswith("curl "):
                got = curl(command, server.http.port)
            else:
                words = shlex.split(command)
                done = subprocess.run([str(cli), *words[1:]], capture_output=True, text=True, timeout=60, env=env)
                got = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
            tidy = "\n".join(line.rstrip() for line in got.rstrip().splitlines())
            assert DURATION.sub("Query took …", tidy) == DURATION.sub("Query took …", shown), command
    finally:
        server.stop(0)


def test_the_pictures_are_drawn_from_the_current_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for picture in ("docs/lifecycle.svg", "docs/admin.svg", "docs/simulation.svg"):
        assert f"]({picture})" in readme, picture
    lifecycle = (ROOT / "docs/lifecycle.svg").read_text(encoding="utf-8")
    for _source, _dest, label in diagram.edges():
        for part in label.split(" | "):
            assert html.escape(part, quote=False) in lifecycle, f"docs/lifecycle.svg lacks {part!r}: make pictures"
    admin = (ROOT / "docs/admin.svg").read_text(encoding="utf-8")
    for _accepted, text in diagram.admin_cells().values():
        assert html.escape(text, quote=False) in admin, f"docs/admin.svg lacks {text!r}: make pictures"
    # the run make pictures draws: its trace hash is in the picture's title
    workload = Workload(invocations=100_000, seed=7, drain=True, sample_every_s=30)
    summary = merge(workload, [simulate(workload, shard=k)[0] for k in range(workload.shards)])
    simulation = (ROOT / "docs/simulation.svg").read_text(encoding="utf-8")
    assert f"trace {summary.trace_sha256[:12]}" in simulation, "docs/simulation.svg is from other code: make pictures"


def _shown_as_pattern(shown: str) -> re.Pattern[str]:
    """What the README shows, whitespace ignored, ``...`` standing for anything left out."""
    squeezed = re.sub(r"\s+", "", shown)
    return re.compile(".*".join(re.escape(part) for part in squeezed.split("...")), re.S)


@pytest.mark.parametrize(("marker", "document"), [("grpc-tour", "README.md"), ("grpc-session", "protos/README.md")])
def test_the_grpc_sessions_print_what_the_documents_show(
    marker: str, document: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from grpc_server import cli

    server = start(port=0, host="127.0.0.1")  # as make run starts it: the same seed, so the same ids
    try:
        for command, shown in session(marker, document):
            words = shlex.split(command)
            assert words[:3] == [".venv/bin/python", "-m", "grpc_server.cli"], command
            expected_code = 1 if shown.endswith("(exit status 1)") else 0
            shown = shown.removesuffix("(exit status 1)")
            code = cli.main(["--target", server.target, *words[3:]])
            out = capsys.readouterr()
            assert code == expected_code, (command, out.err)
            got = re.sub(r"\s+", "", out.out + out.err)
            assert _shown_as_pattern(shown).fullmatch(got), f"{command}\nshown: {shown}\ngot: {out.out + out.err}"
    finally:
        server.stop(0)
