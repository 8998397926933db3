"""Breadth-first exploration of everything one invocation and its surroundings can go through.

    python -m fsm.tools.explore [--depth 6] [--invocations 2] [--journal 4] [--deployments 2] [--format text|json]
                                [--invariant MODULE:FUNC ...] [--goal MODULE:FUNC ...] [--cases FILE.jsonl]

Prints the report of :func:`fsm.explore.explore` (or its JSON) for the scope the flags give;
exits 1 when an invariant breaks, a restart-as-new answer has no witness within the scope, or a
goal is not reached. ``--invariant`` and ``--goal`` name a function ``FUNC(engine)`` of an
importable module (the current directory included): an invariant returns False or raises
AssertionError when a state breaks it; a goal returns a true value at the state looked for. Each
is answered with the shortest calls found, as a program. ``--cases`` writes a witness of each
answer of restart-as-new and of the other admin operations as a conformance case
(cases-format.md, plus ``steps``: the calls that reach its world), which
``python -m fsm.tools.conformance FILE.jsonl`` replays.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time

from fsm.explore import Predicate, PredicateError, Scope, explore
from fsm.tools.parser import Parser, run


def load_predicate(spec: str, flag: str) -> Predicate:
    """``MODULE:FUNC`` as a function; ValueError saying what is wrong and how to write it."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"{flag} {spec!r}: expected MODULE:FUNC, for example mychecks:no_two_running")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{flag} {spec!r}: cannot import {module_name} ({exc})") from None
    found = getattr(module, name, None)
    if found is None:
        raise ValueError(f"{flag} {spec!r}: {module_name} has no {name}")
    if not callable(found):
        raise ValueError(f"{flag} {spec!r}: {module_name}.{name} is a {type(found).__name__}, not a function")
    predicate: Predicate = found
    return predicate


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m fsm.tools.explore", description=__doc__.splitlines()[0])
    defaults = Scope()
    parser.add_argument("--depth", type=int, default=defaults.max_depth, help="engine calls after setup")
    parser.add_argument("--invocations", type=int, default=defaults.max_invocations)
    parser.add_argument("--journal", type=int, default=defaults.max_journal, help="entries appended up to")
    parser.add_argument("--deployments", type=int, default=defaults.max_deployments)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument("--no-programs", action="store_true", help="omit the witness programs")
    parser.add_argument(
        "--invariant",
        action="append",
        default=[],
        metavar="MODULE:FUNC",
        help="also check FUNC(engine) at every state (False or AssertionError: broken); repeatable",
    )
    parser.add_argument(
        "--goal",
        action="append",
        default=[],
        metavar="MODULE:FUNC",
        help="find the shortest calls to a state where FUNC(engine) is true; repeatable",
    )
    parser.add_argument(
        "--cases",
        metavar="FILE.jsonl",
        help="write a witness of every answer of restart-as-new and the other admin operations as a conformance case",
    )
    parser.add_argument(
        "--no-reduce",
        action="store_true",
        help="visit states that differ only by the order of their invocations separately (slower; same findings)",
    )
    parser.add_argument("--progress", action="store_true", help="a line per level on stderr even when it is no TTY")
    args = parser.parse_args(argv)
    if args.json:
        args.format = "json"
    for flag in ("depth", "invocations", "journal", "deployments"):
        if getattr(args, flag) < (0 if flag == "depth" else 1):
            parser.error(f"--{flag} must be at least {0 if flag == 'depth' else 1}, got {getattr(args, flag)}")
    try:
        invariants = {spec: load_predicate(spec, "--invariant") for spec in args.invariant}
        goals = {spec: load_predicate(spec, "--goal") for spec in args.goal}
    except ValueError as exc:
        parser.error(str(exc))
    scope = Scope(
        max_depth=args.depth,
        max_invocations=args.invocations,
        max_journal=args.journal,
        max_deployments=args.deployments,
        seed=args.seed,
    )
    started = time.perf_counter()

    def show(depth: int, states: int, frontier: int) -> None:
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"explore: depth {depth}, {states:,} states, frontier {frontier:,}, "
            f"{states / max(elapsed, 1e-9):,.0f} states/s, {peak_mib:,.0f} MiB peak, {elapsed:.1f} s",
            file=sys.stderr,
            flush=True,
        )

    progress = show if args.progress or sys.stderr.isatty() else None
    try:
        result = explore(scope, invariants=invariants, goals=goals, progress=progress, reduce=not args.no_reduce)
    except PredicateError as exc:
        print(f"explore stopped: {exc}", file=sys.stderr)
        return 2
    if args.cases is not None:
        try:
            with open(args.cases, "w", encoding="utf-8") as out:
                for _, case in sorted(result.cases.items()):
                    out.write(json.dumps(case) + "\n")
                for case in sorted(result.admin_cases.values(), key=lambda c: str(c["name"])):
                    out.write(json.dumps(case) + "\n")
        except OSError as exc:
            print(f"cannot write --cases {args.cases}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=1))
    else:
        sys.stdout.write(result.report(programs=not args.no_programs))
    return 1 if result.violations or result.missing_outcomes() or result.goals_missed() else 0


if __name__ == "__main__":
    run(main, "python -m fsm.tools.explore")
