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
from fsm.tools.parser import Parser, run


class CaseFileError(ValueError):
    """A case file that cannot be read, or a line of it that is no case: ``FILE[:LINE]: problem``."""


def read_cases(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Every case of every JSONL file, in order (blank lines skipped), each checked to be a case.

    Raises :class:`CaseFileError` naming the file, the line and the problem: a file that cannot be
    read, a line that is not JSON, or one without the ``world``, ``request`` or ``expect`` a replay
    needs (cases-format.md).
    """
    return list(_cases(paths))


def _cases(paths: Iterable[str | Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except OSError as exc:
            raise CaseFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise CaseFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaseFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
            problem = _not_a_case(case)
            if problem:
                raise CaseFileError(f"{path}:{number}: not a case: {problem} (see cases-format.md)")
            yield case


def _not_a_case(case: Any) -> str | None:
    if not isinstance(case, dict):
        return f"a JSON {type(case).__name__}, not an object"
    for field in ("world", "request", "expect"):
        if not isinstance(case.get(field), dict):
            return f"no {field!r} object"
    if "invocation_id" not in case["request"]:
        return "its request has no 'invocation_id'"
    if not isinstance(case["expect"].get("http_status"), int):
        return "its expect has no integer 'http_status'"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m fsm.tools.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="JSONL files of cases")
    parser.add_argument(
        "--skip-http",
        action="store_true",
        help="count transport: http cases as skipped instead of replaying their query strings",
    )
    parser.add_argument("--json", action="store_true", help="print the counts and the failures as JSON")
    args = parser.parse_args(argv)
    try:
        cases = read_cases(args.files)
    except CaseFileError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    report = replay(cases, InProcess(), skip_http=args.skip_http)
    print(json.dumps(report.to_json(), indent=1) if args.json else "\n".join(report.lines()))
    return 1 if report.failed else 0


if __name__ == "__main__":
    run(main, "python -m fsm.tools.conformance")
