"""``invocation-lifecycle``: every command line of the project under one name.

    invocation-lifecycle serve [--port 50051] [--http-port 9070] [--db FILE] ...
    invocation-lifecycle admin [--target HOST:PORT] VERB ...      restart-as-new, cancel, kill, purge,
                                                                   purge-journal, pause, resume, get, list, ...
    invocation-lifecycle world [--target HOST:PORT] export > FILE | import FILE
    invocation-lifecycle explore [--depth 5] [--invocations 3] [--cases FILE] ...
    invocation-lifecycle simulate [--invocations N] [--workers 2] [--out DIR] ...
    invocation-lifecycle diagram [--format mermaid|dot|json|admin] [--svg DIR]
    invocation-lifecycle conformance FILE... [--grpc | --http] [--target ...]
    invocation-lifecycle --version

Each subcommand is one of the project's command lines (``--help`` after it shows its own flags):
``serve`` is ``python -m grpc_server``, ``admin`` and ``world`` share ``python -m grpc_server.cli``'s
verbs (``world`` has its export and import, ``admin`` the rest),
``conformance`` is ``python -m fsm.tools.conformance`` in process, or ``python -m
grpc_server.conformance`` over gRPC (``--grpc``) or HTTP (``--http``); the others are
``python -m fsm.tools.<name>``. Commands that print data print JSON with ``--json`` (the admin
and world verbs always do).

Exit codes, for every subcommand: 0 done; 1 a finding (a case that fails, an invariant broken, a
refusal the server answered); 2 a bad argument, a file that cannot be read, a target that does
not answer; 130 interrupted; 141 the output closed before it was all written.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from fsm.tools.parser import run, version

PROG = "invocation-lifecycle"

#: subcommand -> (the module whose ``main(argv)`` runs it, what it does)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("grpc_server.__main__", "serve the model: gRPC, and Restate's HTTP admin API with --http-port"),
    "admin": ("grpc_server.cli", "a client of a running server: admin operations and simulation steps, as JSON"),
    "world": ("grpc_server.cli", "export a running server's world to a file, or import one"),
    "explore": ("fsm.tools.explore", "search the state space: witnesses, invariants, goals, cases"),
    "simulate": ("fsm.tools.simulate", "the seeded workload simulator, serially or on Dask"),
    "diagram": ("fsm.tools.diagram", "the lifecycle and the admin operations, as text or SVG"),
    "conformance": ("fsm.tools.conformance", "replay case files: in process, or over gRPC / HTTP"),
}


def usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [f"usage: {PROG} SUBCOMMAND [ARGS] (or --version)", "", "subcommands:"]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in SUBCOMMANDS.items()]
    lines += ["", f"`{PROG} SUBCOMMAND --help` shows a subcommand's flags.", ""]
    doc = __doc__ or ""
    lines.append(doc[doc.index("Exit codes") :].strip())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"{PROG} {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"{PROG}: no subcommand {name!r}; one of {', '.join(SUBCOMMANDS)} (see {PROG} --help)", file=sys.stderr)
        return 2
    module_name = SUBCOMMANDS[name][0]
    if name in ("admin", "world"):
        from grpc_server import cli

        world_verbs = ("export", "import")
        verbs = world_verbs if name == "world" else [v for v in cli.VERBS if v not in world_verbs]
        return cli.main(rest, prog=f"{PROG} {name}", verbs=verbs)
    if name == "conformance" and ("--grpc" in rest or "--http" in rest):
        module_name = "grpc_server.conformance"
        rest = [a for a in rest if a != "--grpc"]
    tool: Callable[[list[str]], int] = importlib.import_module(module_name).main
    return tool(rest)


def entry() -> None:
    """The console script ``invocation-lifecycle``."""
    run(lambda: main(), PROG)


if __name__ == "__main__":
    entry()
