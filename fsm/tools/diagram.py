"""Diagrams of the lifecycle, generated from the one machine the engine runs.

    python -m fsm.tools.diagram --format mermaid|dot|json|admin [--readme]
    python -m fsm.tools.diagram --svg DIR

Prints :func:`fsm.diagram.render` in the format asked for; ``--readme`` prints the block README.md
carries between its markers (a ```mermaid fence inside), ready to paste. ``--svg DIR`` writes the
pictures the README shows: ``lifecycle.svg`` (the DOT view, rendered by graphviz's ``dot``) and
``admin.svg`` (the admin operations' table, drawn by matplotlib).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from fsm.diagram import dot, readme_block, render
from fsm.tools.parser import Parser, run


def write_svgs(out: Path) -> list[Path]:
    """``lifecycle.svg`` and ``admin.svg`` (and the admin table's PNG) under ``out``; OSError saying
    what is missing when graphviz or matplotlib is not installed."""
    found = shutil.which("dot")
    if found is None:
        raise OSError(
            "graphviz's dot is not installed (Debian: apt-get install graphviz; make pictures does it as root)"
        )
    out.mkdir(parents=True, exist_ok=True)
    rendered = subprocess.run([found, "-Tsvg"], input=dot(), capture_output=True, text=True, check=False)
    if rendered.returncode != 0:
        said = rendered.stderr.strip().splitlines()
        raise OSError(f"dot failed: {said[-1] if said else f'exit code {rendered.returncode}'}")
    lifecycle = out / "lifecycle.svg"
    lifecycle.write_text(rendered.stdout, encoding="utf-8")
    from fsm.tools.plots import plot_admin

    return [lifecycle, *plot_admin(out / "admin")]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m fsm.tools.diagram", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot", "json", "admin"),
        default="mermaid",
        help="the lifecycle as Mermaid, DOT or JSON, or the admin operations' table (Markdown)",
    )
    parser.add_argument(
        "--readme", action="store_true", help="print the README block (markers and a ```mermaid fence) instead"
    )
    parser.add_argument("--json", action="store_true", help="the same as --format json: the lifecycle as data")
    parser.add_argument("--svg", metavar="DIR", help="write lifecycle.svg and admin.svg there")
    args = parser.parse_args(argv)
    if args.json:
        args.format = "json"
    if args.svg is not None:
        try:
            for path in write_svgs(Path(args.svg)):
                print(path)
        except OSError as exc:
            print(f"diagram: {exc.strerror or exc}", file=sys.stderr)
            return 2
        return 0
    if args.readme:
        if args.format != "mermaid":
            parser.error("--readme embeds the mermaid diagram; use it with --format mermaid")
        sys.stdout.write(readme_block())
    else:
        sys.stdout.write(render(args.format))
    return 0


if __name__ == "__main__":
    run(main, "python -m fsm.tools.diagram")
