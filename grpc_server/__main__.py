"""``python -m grpc_server`` (or ``invocation-lifecycle-server``): run the gRPC server.

    python -m grpc_server [--host 127.0.0.1] [--port 50051] [--http-port 9070 | --no-http] [--seed 0]
                          [--snapshot world.json] [--db state.sqlite]

Serves gRPC on ``--port`` and Restate's HTTP admin API on ``--http-port`` (9070, Restate's own
admin port; ``HTTP_PORT`` when the flag is absent), both over one engine. With ``--db`` (or
``DB``) the engine lives in that SQLite file: it comes back on the next start, and every change is
in the file before its answer is sent.

Logs one JSON object per line on stderr (``--log-format text`` for plain lines); each admin call is
one line (``--log-level DEBUG`` adds the simulation calls). Stops gracefully on SIGTERM / SIGINT.
"""

from __future__ import annotations

import sys

from . import missing_extra

if (problem := missing_extra()) is not None:  # one line, before anything imports grpc
    sys.exit(problem)

import argparse
import gc
import json
import os
from pathlib import Path
from typing import Any

from fsm.engine import Engine
from fsm.errors import LifecycleError
from fsm.snapshot import load_world
from fsm.tools.parser import Parser

from .logs import configure_logging
from .security import TOKEN_ENV, Security
from .server import (
    DEFAULT_GRACE_S,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    serve,
)
from .store.sqlite import Store, StoreError

#: Read when ``--http-port`` is not given.
HTTP_PORT_ENV = "HTTP_PORT"
#: Read when ``--db`` is not given.
DB_ENV = "DB"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m grpc_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help=f"port of Restate's HTTP admin API (default ${HTTP_PORT_ENV} or {DEFAULT_HTTP_PORT}; 0: any free one)",
    )
    parser.add_argument("--no-http", action="store_true", help="serve gRPC only")
    parser.add_argument("--seed", type=int, default=0, help="seed for generated ids (default 0)")
    parser.add_argument(
        "--snapshot",
        type=Path,
        metavar="FILE",
        help="a world to load (the `world` object of cases-format.md, or a whole case line)",
    )
    parser.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        default=Path(os.environ[DB_ENV]) if os.environ.get(DB_ENV) else None,
        help=f"keep the state in this SQLite file, created if new (default ${DB_ENV}; none: in memory only)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"largest message received or sent (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help=f"worker threads (default {DEFAULT_WORKERS})"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE_S,
        help=f"seconds calls in flight may take after SIGTERM/SIGINT (default {DEFAULT_GRACE_S})",
    )
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate: serve TLS (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="accept plaintext on an address other than loopback (a warning is logged)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"require 'authorization: Bearer TOKEN' on every call but health (default: ${TOKEN_ENV})",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--log-format", default="json", choices=("json", "text"))
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    if args.http_port is None and not args.no_http:
        raw = os.environ.get(HTTP_PORT_ENV, "")
        if raw and not raw.isdigit():
            parser.error(f"{HTTP_PORT_ENV} must be a port number, got {raw!r}")
        args.http_port = int(raw) if raw else DEFAULT_HTTP_PORT
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        parser.error(f"--http-port must be 0..65535, got {args.http_port}")
    if args.no_http:
        args.http_port = None
    if args.max_message_bytes < 1024:
        parser.error("--max-message-bytes must be at least 1024")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.token == "":
        parser.error("--token must not be empty")
    return args


def security_of(args: argparse.Namespace) -> Security:
    """What the flags ask of TLS and tokens (reads the PEM files: OSError if one cannot be read)."""
    cert = args.tls_cert.read_bytes() if args.tls_cert is not None else None
    key = args.tls_key.read_bytes() if args.tls_key is not None else None
    return Security(tls_cert=cert, tls_key=key, token=args.token, insecure=args.insecure)


def load_snapshot(path: Path, seed: int) -> Engine:
    """The world in ``path``; a whole case line is accepted too (its ``world`` is used)."""
    raw: Any = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(raw, dict) and "world" in raw and "services" not in raw:
        raw = raw["world"]
    return load_world(raw, seed=seed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    writer = configure_logging(args.log_level, args.log_format, sys.stderr)
    try:
        return _run(args)
    finally:
        writer.stop()  # writes every line still queued


def open_store(args: argparse.Namespace) -> tuple[Engine, Store | None]:
    """The engine to serve and the store keeping it (StoreError, OSError, ValueError, LifecycleError)."""
    if args.db is None:
        return (load_snapshot(args.snapshot, args.seed) if args.snapshot is not None else Engine(seed=args.seed)), None
    store = Store(args.db)
    try:
        if args.snapshot is not None:
            if not store.is_empty():
                kept = f"--snapshot would replace the state kept in {args.db}"
                raise StoreError(f"{kept}; start from a new file, or without --snapshot")
            engine = load_snapshot(args.snapshot, args.seed)
            store.replace(engine)
        else:
            engine = store.load(args.seed)
            store.save(engine, set())  # a new file holds the world-wide values from the start
    except BaseException:
        store.close()
        raise
    return engine, store


def _run(args: argparse.Namespace) -> int:
    try:
        engine, store = open_store(args)
        # What is loaded now lives as long as the server: keep the collector from walking it on
        # every full collection (at a million invocations, pauses of a second).
        gc.freeze()
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (OSError, ValueError, LifecycleError) as exc:  # JSONDecodeError is a ValueError
        print(f"cannot load --snapshot {args.snapshot}: {exc}", file=sys.stderr)
        return 2
    try:
        security = security_of(args)
    except OSError as exc:
        print(f"cannot read the TLS files: {exc}", file=sys.stderr)
        return 2
    try:
        serve(
            engine,
            host=args.host,
            port=args.port,
            max_message_bytes=args.max_message_bytes,
            workers=args.workers,
            grace_s=args.grace,
            security=security,
            http_port=args.http_port,
            store=store,
        )
    except OSError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        if store is not None:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
