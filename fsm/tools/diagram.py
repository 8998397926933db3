"""Diagrams of the lifecycle, generated from the one machine the engine runs.

    python -m fsm.tools.diagram --format mermaid|dot|json|admin [--readme]

Prints :func:`fsm.diagram.render` in the format asked for; ``--readme`` prints the block README.md
carries between its markers (a ```mermaid fence inside), ready to paste.
"""

from __future__ import annotations

import sys

from fsm.diagram import readme_block, render
from fsm.tools.parser import Parser


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
    args = parser.parse_args(argv)
    if args.readme:
        if args.format != "mermaid":
            parser.error("--readme embeds the mermaid diagram; use it with --format mermaid")
        sys.stdout.write(readme_block())
    else:
        sys.stdout.write(render(args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
