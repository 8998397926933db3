"""Breadth-first exploration of everything one invocation and its surroundings can go through.

    python -m fsm.tools.explore [--depth 6] [--invocations 2] [--journal 4] [--deployments 2] [--format text|json]

Prints the report of :func:`fsm.explore.explore` (or its JSON) for the scope the flags give;
exits 1 when an invariant breaks or a restart-as-new answer has no witness within the scope.
"""

from __future__ import annotations

import argparse
import json
import sys

from fsm.explore import Scope, explore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsm.tools.explore", description=__doc__.splitlines()[0])
    defaults = Scope()
    parser.add_argument("--depth", type=int, default=defaults.max_depth, help="engine calls after setup")
    parser.add_argument("--invocations", type=int, default=defaults.max_invocations)
    parser.add_argument("--journal", type=int, default=defaults.max_journal, help="entries appended up to")
    parser.add_argument("--deployments", type=int, default=defaults.max_deployments)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--no-programs", action="store_true", help="omit the witness programs")
    args = parser.parse_args(argv)
    scope = Scope(
        max_depth=args.depth,
        max_invocations=args.invocations,
        max_journal=args.journal,
        max_deployments=args.deployments,
        seed=args.seed,
    )
    result = explore(scope)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=1))
    else:
        sys.stdout.write(result.report(programs=not args.no_programs))
    return 1 if result.violations or result.missing_outcomes() else 0


if __name__ == "__main__":
    sys.exit(main())
