"""Pictures the command lines draw with matplotlib (the ``sim`` extra): a simulation's plot and
the admin operations' table.

Drawn on a bare :class:`matplotlib.figure.Figure` (no pyplot, no display); SVG output carries no
date and a fixed id salt, so the same input gives the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsm.diagram import admin_cells
from fsm.lifecycle import LIVE_STATES, OPERATIONS
from fsm.simulate import Summary

#: The SVG output is byte-stable (the same input, the same file): fixed ids, no date.
_STABLE: Any = {"svg.hashsalt": "invocation-lifecycle", "svg.fonttype": "none"}
_STATE_COLOURS = {
    "scheduled": "#9ecae1",
    "inboxed": "#6baed6",
    "running": "#2171b5",
    "suspended": "#fdae6b",
    "paused": "#e6550d",
    "completed": "#31a354",
    "free": "#bdbdbd",
}


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise OSError(f"matplotlib is not installed ({exc}): pip install 'invocation-lifecycle[sim]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Any, stem: Path) -> list[Path]:
    import matplotlib

    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    with matplotlib.rc_context(_STABLE):
        figure.savefig(paths[0], dpi=110, metadata={"Software": None})
        figure.savefig(paths[1], metadata={"Date": None, "Creator": None})
    return paths


def plot_simulation(summary: Summary, stem: Path) -> list[Path]:
    """States over time, restart-as-new answers per interval, and restart chains; ``stem``.png/.svg."""
    rows = summary.intervals
    figure = _figure(11, 3.6)
    states_ax, answers_ax, chains_ax = figure.subplots(1, 3, width_ratios=(1.3, 1.3, 0.8))
    minutes = [row["t_s"] / 60 for row in rows]
    for state, colour in _STATE_COLOURS.items():
        values = [row["states"].get(state, 0) for row in rows]
        if any(values):
            states_ax.plot(minutes, values, label=state, color=colour, linewidth=1.6)
    states_ax.set(title="invocations by state", xlabel="virtual minutes", ylabel="invocations")
    states_ax.set_yscale("symlog", linthresh=10)
    states_ax.legend(fontsize=7, ncols=2, loc="center right")

    statuses = list(rows[0]["restarts"]) if rows else []
    previous = {status: 0 for status in statuses}
    bottoms = [0] * len(rows)
    palette = ("#31a354", "#fd8d3c", "#969696", "#de2d26", "#756bb1", "#3182bd", "#fdd0a2", "#636363")
    width = (minutes[1] - minutes[0]) * 0.9 if len(minutes) > 1 else 0.9
    for colour, status in zip(palette, statuses, strict=False):
        per_interval = []
        for row in rows:
            per_interval.append(row["restarts"][status] - previous[status])
            previous[status] = row["restarts"][status]
        if any(per_interval):
            answers_ax.bar(minutes, per_interval, width=width, bottom=bottoms, label=str(status), color=colour)
            bottoms = [b + n for b, n in zip(bottoms, per_interval, strict=True)]
    answers_ax.set(title="restart-as-new answers by status", xlabel="virtual minutes", ylabel="answers per sample")
    if any(bottoms):
        answers_ax.legend(fontsize=7, ncols=2, loc="upper right")

    places = sorted(summary.chains)
    chains_ax.bar([str(p) for p in places], [summary.chains[p] for p in places], color="#3182bd")
    chains_ax.set(title="restart chains", xlabel="n-th restart of a call", ylabel="new invocations")
    if places:
        chains_ax.set_yscale("log")
    figure.suptitle(
        f"{summary.calls:,} calls, seed {summary.workload.seed}, {summary.workload.shards} shards "
        f"(trace {summary.trace_sha256[:12]})",
        fontsize=10,
    )
    return _save(figure, stem)


def plot_admin(stem: Path) -> list[Path]:
    """Which admin operation each state allows (green: its status and where it leads) or refuses
    (red: its status and reason), from the definition; ``stem``.png/.svg."""
    cells = admin_cells()
    figure = _figure(11, 3.2)
    ax = figure.subplots()
    ax.set_axis_off()
    text = [[cells[(op, state)][1] for state in LIVE_STATES] for op in OPERATIONS]
    colours = [["#d9f0d3" if cells[(op, state)][0] else "#fde0dd" for state in LIVE_STATES] for op in OPERATIONS]
    grid = ax.table(
        cellText=text,
        cellColours=colours,
        rowLabels=[op.replace("_", "-") for op in OPERATIONS],
        colLabels=list(LIVE_STATES),
        loc="center",
        cellLoc="center",
    )
    grid.auto_set_font_size(False)
    grid.set_fontsize(8)
    grid.scale(1, 1.5)
    ax.set_title("admin operations by state: accepted (status → state) or refused (status, reason)", fontsize=10)
    return _save(figure, stem)


__all__ = ["plot_admin", "plot_simulation"]
