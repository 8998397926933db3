"""Diagrams of the lifecycle, generated from the one machine the engine runs.

    python -m fsm.tools.diagram --format mermaid|dot|json|admin [--readme]

Why generated: a hand-drawn diagram drifts from the rules; this one is read from
``fsm.lifecycle.MACHINE``, the definition every engine's machine and fast path are built from,
so a test can compare the README's copy with it. No graphviz is needed here: Mermaid and DOT are
written as plain text, JSON is the table itself (``make pictures`` renders the DOT as SVG).

Guards are labels. Rows of one trigger and state are tried in order (the first whose guards hold
wins), so a later row is labelled ``[else]`` or ``[else if guard]``. Edges between the same two
states are merged into one arrow, their labels joined with `` | `` (as `transitions` does). An
arrow from a state to itself is an internal transition (the state is kept; no exit or enter
callbacks fire). Refusal rows move nothing and are not drawn; the JSON's ``admin`` table lists
them with every admin operation's answer, and ``admin`` renders that table as Markdown (which
operation each state allows, its status and where it leads; README.md carries it too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from .lifecycle import FREE, GUARDS, LIFECYCLE, LIVE_STATES, MACHINE, OPERATIONS, STATES, Accept, Guard, refuses

START_MARKER = "<!-- lifecycle-diagram:start -->"
END_MARKER = "<!-- lifecycle-diagram:end -->"
ADMIN_START_MARKER = "<!-- admin-table:start -->"
ADMIN_END_MARKER = "<!-- admin-table:end -->"


@dataclass(frozen=True)
class Row:
    """One transition of the machine, in the machine's order."""

    trigger: str
    source: str
    dest: str
    guards: tuple[str, ...]
    unless: tuple[str, ...]
    shadowed: bool  # an earlier row of the same trigger and source has guards: this one is an "else"
    checks: tuple[str, ...] = ()  # conditions that pass or raise a refusal (restart-as-new's, resume's)
    internal: bool = False  # dest=None: the state is kept

    @property
    def label(self) -> str:
        conditions = [*self.guards, *(f"!{u}" for u in self.unless)]
        if not self.shadowed:
            return f"{self.trigger} [{' & '.join(conditions)}]" if conditions else self.trigger
        return f"{self.trigger} [else if {' & '.join(conditions)}]" if conditions else f"{self.trigger} [else]"


def _name(func: object) -> str:
    """A condition's name: the lifecycle's guards carry one; a plain callable or string is named as is."""
    name = getattr(func, "name", None)
    return name if isinstance(name, str) else getattr(func, "__name__", str(func))


def rows(machine: Machine = MACHINE) -> list[Row]:
    """Every transition of ``machine`` that can move (refusal rows left out): sources in lifecycle
    order, then triggers in definition order."""
    out: list[Row] = []
    for source in STATES:
        for trigger, event in machine.events.items():
            guarded_before = False
            for transition in event.transitions.get(source, ()):
                if refuses(c.func for c in transition.conditions):
                    continue
                guards = tuple(_name(c.func) for c in transition.conditions if c.target and isinstance(c.func, Guard))
                unless = tuple(_name(c.func) for c in transition.conditions if not c.target)
                checks = tuple(
                    _name(c.func) for c in transition.conditions if c.target and not isinstance(c.func, Guard)
                )
                internal = transition.dest is None
                dest: str = source if transition.dest is None else transition.dest
                out.append(Row(trigger, source, dest, guards, unless, guarded_before, checks, internal))
                guarded_before = guarded_before or bool(guards or unless)
    return out


def edges(machine: Machine = MACHINE) -> list[tuple[str, str, str]]:
    """(source, dest, label) with the labels of parallel rows merged, in first-appearance order."""
    merged: dict[tuple[str, str], list[str]] = {}
    for row in rows(machine):
        merged.setdefault((row.source, row.dest), []).append(row.label)
    return [(src, dst, " | ".join(labels)) for (src, dst), labels in merged.items()]


def mermaid(machine: Machine = MACHINE) -> str:
    """A Mermaid ``stateDiagram-v2``. ``free`` is the absence of an invocation, not a state it is in:
    it is drawn as the start and end marker, ``[*]``, where every invocation begins and ends."""
    lines = ["stateDiagram-v2"]
    lines += [f"    {_marked(src)} --> {_marked(dst)} : {label}" for src, dst, label in edges(machine)]
    return "\n".join(lines) + "\n"


def _marked(state: str) -> str:
    return "[*]" if state == FREE else state


def dot(machine: Machine = MACHINE) -> str:
    """Graphviz DOT text, laid out to read at a page's width (``dot -Tsvg``; ``make pictures`` runs it).

    Top to bottom; ``free`` is drawn as a start point and an end point (the absence of an
    invocation, as in the Mermaid view); each label's alternatives go on lines of their own;
    internal transitions (a state to itself) are listed inside their state's box, under a rule,
    instead of as loops.
    """
    lines = [
        "digraph lifecycle {",
        "    rankdir=TB; nodesep=0.5; ranksep=0.45;",
        '    node [shape=box, style="rounded,filled", fillcolor="#eef4fb", color="#4a74a8", fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        '    start [shape=circle, label="", width=0.18, style=filled, fillcolor=black];',
        '    end [shape=doublecircle, label="", width=0.12, style=filled, fillcolor=black];',
    ]
    loops: dict[str, list[str]] = {}
    for src, dst, label in edges(machine):
        if src == dst:
            loops.setdefault(src, []).extend(label.split(" | "))
    for state in STATES:
        if state == FREE:
            continue
        inside = loops.get(state)
        if inside:
            kept = "<BR/>".join(_html(text) for text in inside)
            lines.append(
                f'    "{state}" [label=<<B>{state}</B><BR/><FONT POINT-SIZE="9">─ kept by ─<BR/>{kept}</FONT>>];'
            )
        else:
            lines.append(f'    "{state}" [label=<<B>{state}</B>>];')
    for src, dst, label in edges(machine):
        if src == dst:
            continue
        head = "start" if src == FREE else json.dumps(src)
        tail = "end" if dst == FREE else json.dumps(dst)
        lines.append(f"    {head} -> {tail} [label={json.dumps(chr(10).join(label.split(' | ')))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(machine: Machine = MACHINE) -> dict[str, Any]:
    """The lifecycle as data: states, guards, every row in firing order, and the admin table."""
    docs = {
        (rule.trigger, source, rule.dest or source): rule.doc for rule in LIFECYCLE.rules for source in rule.sources
    }
    admin: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        admin[operation] = {}
        for state in LIVE_STATES:
            outcome = LIFECYCLE.outcome(operation, state)
            if isinstance(outcome, Accept):
                admin[operation][state] = {"status": outcome.status, "trigger": outcome.trigger}
            else:
                admin[operation][state] = {
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "message": outcome.template,
                }
    return {
        "initial": FREE,
        "states": list(STATES),
        "guards": dict(GUARDS),
        "transitions": [
            {
                "trigger": r.trigger,
                "source": r.source,
                "dest": r.dest,
                "guards": list(r.guards),
                "unless": list(r.unless),
                "checks": list(r.checks),
                "internal": r.internal,
                "doc": docs.get((r.trigger, r.source, r.dest), ""),
            }
            for r in rows(machine)
        ],
        "admin": admin,
    }


def admin_cells() -> dict[tuple[str, str], tuple[bool, str]]:
    """(operation, state) -> (accepted?, ``202 → running`` or ``409 NOT_COMPLETED``), from the definition."""
    cells: dict[tuple[str, str], tuple[bool, str]] = {}
    for operation in OPERATIONS:
        for state in LIVE_STATES:
            outcome = LIFECYCLE.outcome(operation, state)
            if isinstance(outcome, Accept):
                dests = sorted({row[3] or state for row in LIFECYCLE.table.get((state, outcome.trigger), ())})
                cells[(operation, state)] = (True, f"{outcome.status} → {' or '.join(dests)}")
            else:
                cells[(operation, state)] = (False, f"{outcome.status} {outcome.reason}")
    return cells


def admin_markdown() -> str:
    """Every admin operation in every state, from the definition: ``202 → running`` (its status and
    where it leads) or ``409 NOT_COMPLETED`` (a refusal, nothing moves)."""
    lines = [
        "| operation | " + " | ".join(LIVE_STATES) + " |",
        "|---|" + "---|" * len(LIVE_STATES),
    ]
    cells = admin_cells()
    for operation in OPERATIONS:
        row = []
        for state in LIVE_STATES:
            accepted, text = cells[(operation, state)]
            status, _, reason = text.partition(" ")
            row.append(text if accepted else f"{status} `{reason}`")
        lines.append(f"| {operation.replace('_', '-')} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def render(fmt: str, machine: Machine = MACHINE) -> str:
    if fmt == "admin":
        return admin_markdown()
    if fmt == "mermaid":
        return mermaid(machine)
    if fmt == "dot":
        return dot(machine)
    if fmt == "json":
        return json.dumps(table(machine), indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}: use mermaid, dot, json or admin")


def readme_block(machine: Machine = MACHINE) -> str:
    """What goes into README.md: the markers around a fenced Mermaid block."""
    return f"{START_MARKER}\n```mermaid\n{mermaid(machine)}```\n{END_MARKER}\n"


def extract_between(text: str, start_marker: str, end_marker: str) -> str | None:
    """What ``text`` carries between two markers (without the blank lines at its ends), or None."""
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        return None
    return text[start + len(start_marker) : end].strip("\n") + "\n"


def extract_readme_diagram(readme: str) -> str | None:
    """The Mermaid text between the README's markers (without the fence), or None if absent."""
    start = readme.find(START_MARKER)
    end = readme.find(END_MARKER)
    if start < 0 or end < start:
        return None
    body = readme[start + len(START_MARKER) : end].strip("\n")
    lines = body.splitlines()
    if len(lines) >= 2 and lines[0].strip() == "```mermaid" and lines[-1].strip() == "```":
        lines = lines[1:-1]
    return "\n".join(lines) + "\n"
