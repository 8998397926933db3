"""The diagram's command line: each format as asked, and a README block that is the README's own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fsm import lifecycle
from fsm.diagram import END_MARKER, START_MARKER
from fsm.tools.diagram import main

README = Path(__file__).resolve().parents[3] / "README.md"
WAIT_S = 60  # an upper bound for the child to answer, never a measured timing


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_each_format_is_what_it_says(capsys: pytest.CaptureFixture[str]) -> None:
    mermaid = _out(capsys, "--format", "mermaid")
    assert mermaid == _out(capsys)  # mermaid is the default
    assert mermaid.splitlines()[:2] == ["stateDiagram-v2", "    [*] --> scheduled : invoke [delayed]"]
    assert "    completed --> [*] : purge | expire" in mermaid.splitlines()  # free is the [*] marker
    dot = _out(capsys, "--format", "dot")
    assert dot.startswith("digraph lifecycle {") and '"running" -> "completed"' in dot
    data = json.loads(_out(capsys, "--format", "json"))
    assert data["initial"] == "free" and data["states"] == list(lifecycle.STATES)


def test_readme_block_is_the_one_the_readme_carries(capsys: pytest.CaptureFixture[str]) -> None:
    """What ``--readme`` prints, pasted over the README's block, changes nothing: the README is current."""
    block = _out(capsys, "--readme")
    assert block.startswith(f"{START_MARKER}\n```mermaid\nstateDiagram-v2\n") and block.endswith(f"```\n{END_MARKER}\n")
    assert block in README.read_text(encoding="utf-8"), (
        "README.md's lifecycle diagram differs from `.venv/bin/python -m fsm.tools.diagram --readme`: paste that "
        "output over the block between the markers."
    )


def test_bad_flags_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--format", "svg"])
    with pytest.raises(SystemExit):
        main(["--readme", "--format", "dot"])
    assert "--readme embeds the mermaid diagram" in capsys.readouterr().err


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fsm.tools.diagram", "--format", "dot"],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("digraph lifecycle {")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed (make pictures installs it)")
def test_svg_writes_the_lifecycle_and_the_admin_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--svg", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / n) for n in ("lifecycle.svg", "admin.png", "admin.svg")]
    assert "<svg" in (tmp_path / "lifecycle.svg").read_text() and "completed" in (tmp_path / "admin.svg").read_text()


def test_svg_without_graphviz_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["--svg", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diagram: graphviz's dot is not installed") and err.count("\n") == 1
