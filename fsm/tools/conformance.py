"""Replay conformance cases (cases-format.md) against the in-process model.

    python -m fsm.tools.conformance ../shared/spec/examples.jsonl [more.jsonl ...]

Prints one line per failing case (name, expected, got), then a ``skipped`` line if any case
could not be asked, then ``N passed, N failed``; exits 1 on any failure. The comparison and the
in-process target are :mod:`fsm.conformance`; this module reads the files and prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fsm.conformance import InProcess, replay
from fsm.tools.parser import Parser


def read_cases(paths: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
    """Every case of every JSONL file, in order; blank lines are skipped, a line that is not JSON exits."""
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise SystemExit(f"{path}:{number}: not JSON: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m fsm.tools.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="JSONL files of cases")
    parser.add_argument(
        "--skip-http",
        action="store_true",
        help="count transport: http cases as skipped instead of replaying their query strings",
    )
    args = parser.parse_args(argv)
    report = replay(read_cases(args.files), InProcess(), skip_http=args.skip_http)
    print("\n".join(report.lines()))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
