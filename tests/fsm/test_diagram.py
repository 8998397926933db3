"""Diagrams come from the machine, and the README carries the current one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fsm import diagram, lifecycle

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_embeds_the_generated_mermaid_diagram() -> None:
    how = (
        f"Run `make diagram` (`.venv/bin/python -m fsm.tools.diagram --format mermaid`) and paste its output "
        f"in a ```mermaid block between the markers {diagram.START_MARKER} and {diagram.END_MARKER} in README.md "
        f"(`.venv/bin/python -m fsm.tools.diagram --readme` prints the whole block)."
    )
    if not README.exists():
        pytest.fail(f"{README} is missing. {how}")
    embedded = diagram.extract_readme_diagram(README.read_text(encoding="utf-8"))
    if embedded is None or not embedded.strip():
        pytest.fail(f"README.md has no lifecycle diagram between the markers. {how}")
    assert embedded == diagram.mermaid(), f"README.md's lifecycle diagram is out of date. {how}"


def test_mermaid_has_every_rule_with_its_guards() -> None:
    text = diagram.mermaid()
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2" and not any(" free " in line for line in lines)  # free is [*]
    drawn = 0
    for rule in lifecycle.RULES:
        if rule.refusal is not None:
            continue
        for source in rule.sources:
            dest = rule.dest or source  # an internal transition is drawn as an arrow to itself
            drawn_source, drawn_dest = ("[*]" if s == "free" else s for s in (source, dest))
            edge = next(line for line in lines if line.startswith(f"    {drawn_source} --> {drawn_dest} : "))
            assert rule.trigger in edge.split(" : ", 1)[1]
            for guard in rule.guards:
                assert guard in edge
            drawn += 1
    assert drawn == len(diagram.rows())
    assert "    [*] --> inboxed : invoke [else if key_locked] | restarted [key_locked]" in lines
    assert "    completed --> [*] : purge | expire" in lines
    assert (
        "    running --> running : append_command | complete_command | fail_attempt [else] | cancel | resume" in lines
    )
    assert "    completed --> completed : purge_journal | restart_as_new | expire_journal" in lines


def test_refusals_are_not_drawn_but_listed_with_their_answers() -> None:
    # purge is refused while running: no arrow says so, the admin table does
    assert not any(row.trigger == "purge" and row.source == "running" for row in diagram.rows())
    assert diagram.table()["admin"]["purge"]["running"] == {
        "status": 409,
        "reason": "NOT_COMPLETED",
        "message": "The invocation '{id}' is not yet completed.",
    }


def test_diagrams_follow_the_machine_they_are_given() -> None:
    rules = tuple(r for r in lifecycle.RULES if r.trigger != "expire_journal")
    machine = lifecycle.Lifecycle(rules).machine
    assert "expire_journal" not in diagram.mermaid(machine)
    assert "expire_journal" in diagram.mermaid()
    assert len(diagram.table(machine)["transitions"]) == len(diagram.table()["transitions"]) - 1


def test_dot_is_plain_text_with_every_edge() -> None:
    text = diagram.dot()
    assert text.startswith("digraph lifecycle {") and text.rstrip().endswith("}")
    for source, dest, label in diagram.edges():
        if source == dest:  # an internal transition: listed in its state's box
            box = next(line for line in text.splitlines() if line.startswith(f'    "{source}" [label=<'))
            assert all(part in box for part in label.split(" | ")), (source, label)
            continue
        head = "start" if source == "free" else f'"{source}"'
        tail = "end" if dest == "free" else f'"{dest}"'
        assert f"{head} -> {tail} [label={json.dumps(label.replace(' | ', chr(10)))}];" in text
    assert '"free"' not in text  # free is the start and end points, not a state


def test_json_is_the_table() -> None:
    data = json.loads(diagram.render("json"))
    assert data["states"] == list(lifecycle.STATES) and data["initial"] == "free"
    rows: dict[tuple[str, str], list[tuple[tuple[str, ...], tuple[str, ...], str | None]]] = {}
    for t in data["transitions"]:
        dest = None if t["internal"] else t["dest"]
        rows.setdefault((t["source"], t["trigger"]), []).append((tuple(t["guards"]), tuple(t["unless"]), dest))
    moving = {
        key: tuple((guards, unless, dest) for guards, unless, checks, dest in branches)
        for key, branches in lifecycle.TABLE.items()
        if not any(isinstance(check, lifecycle.Refuse) for _, _, checks, _ in branches for check in checks)
    }
    assert {key: tuple(branches) for key, branches in rows.items()} == moving
    restart = next(t for t in data["transitions"] if t["trigger"] == "restart_as_new")
    assert restart["source"] == "completed" and restart["internal"] and len(restart["checks"]) == 8
    assert data["admin"]["restart_as_new"]["running"] == {
        "status": 409,
        "reason": "STILL_RUNNING",
        "message": "The invocation '{id}' is still running.",
    }
    assert data["admin"]["cancel"]["suspended"] == {"status": 202, "trigger": "cancel"}


def test_readme_block_round_trips() -> None:
    block = diagram.readme_block()
    assert diagram.extract_readme_diagram(f"# title\n\n{block}\nmore text\n") == diagram.mermaid()
    assert diagram.extract_readme_diagram("no markers here") is None


def test_readme_carries_the_generated_admin_table() -> None:
    embedded = diagram.extract_between(
        README.read_text(encoding="utf-8"), diagram.ADMIN_START_MARKER, diagram.ADMIN_END_MARKER
    )
    assert embedded == diagram.admin_markdown(), (
        "README.md's admin table is out of date: paste the output of make diagram ARGS='--format admin' "
        f"between {diagram.ADMIN_START_MARKER} and {diagram.ADMIN_END_MARKER}"
    )


def test_the_admin_table_reads_the_definition() -> None:
    lines = diagram.admin_markdown().splitlines()
    assert lines[0] == "| operation | scheduled | inboxed | running | suspended | paused | completed |"
    assert (
        "| purge | 409 `NOT_COMPLETED` | 409 `NOT_COMPLETED` | 409 `NOT_COMPLETED` | 409 `NOT_COMPLETED` | "
        "409 `NOT_COMPLETED` | 200 → free |" in lines
    )
    assert len(lines) == 2 + len(lifecycle.OPERATIONS)
    assert diagram.render("admin") == diagram.admin_markdown()
