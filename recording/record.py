"""Records conformance cases from a real ``restate-server``.

One command, from the repository root::

    bash recording/record.sh          # or: python3 -m recording.record

It installs restate-server (npm) and restate-sdk + hypercorn (PyPI) into ``recording/.work/``,
starts the server on 127.0.0.1 only, serves ``recording/services.py``, registers deployments,
drives invocations into every lifecycle state, probes restart-as-new and the other admin
operations in each state, and writes ``tests/conformance/recorded/*.jsonl``.

This is the command line; the work is done by the modules listed in ``recording/__init__.py``.
They use the standard library only; the SDK runs in a separate process (its own venv). Every
process started is stopped by PID on every exit path.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.metadata
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn, TextIO

from .client import Restate
from .common import OUT, ROOT, WORK, RecordingError, log, shown
from .install import install_sdk, install_server
from .launch import free_ports, prepare_server, server_args, server_env, services_args, services_env, wait_ready
from .processes import Processes, check_loopback_only, loopback_up, run_in_private_network
from .session import record_all


@dataclass(frozen=True)
class Options:
    no_netns: bool
    in_netns: bool  # internal: this is the stage inside the private network namespace
    out: Path = OUT


class _Parser(argparse.ArgumentParser):
    """A refusal is one line, as with the project's other command lines (whose parser, in
    ``fsm.tools.parser``, this standard-library-only tool cannot import)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _version() -> str:
    try:
        return importlib.metadata.version("invocation-lifecycle")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (the package is not installed: pip install -e .)"


def parse_args(argv: list[str] | None = None) -> Options:
    parser = _Parser(prog="recording/record.sh", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--no-netns",
        action="store_true",
        help="record in the current network namespace (default: a private one when possible)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=OUT,
        metavar="DIR",
        help=(
            f"write the recordings under DIR: recorded/, recorded_http/, recorded_sql/ (default: {shown(OUT)}; "
            "record.sh runs from the repository root)"
        ),
    )
    parser.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return Options(no_netns=args.no_netns, in_netns=args.in_netns, out=args.out.resolve())


def take_lock() -> TextIO:
    """One recording at a time per checkout: they would share recording/.work."""
    handle = open(WORK / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        raise RecordingError(f"another recording is running in this checkout ({WORK / '.lock'} is locked)") from err
    return handle


def run(opts: Options) -> int:
    t_start = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    lock = None if opts.in_netns else take_lock()  # noqa: F841 - held until the process ends
    binary = install_server()
    sdk_python = install_sdk()
    if not opts.in_netns:
        log(f"installed in {time.monotonic() - t_start:.1f}s")
        if not opts.no_netns:
            rc = run_in_private_network(["--out", str(opts.out)])
            if rc is not None:
                log(f"total {time.monotonic() - t_start:.1f}s, exit code {rc}")
                return rc
            log("cannot make a private network namespace (needs root and unshare): recording in this one")
    else:
        loopback_up()
        log("in a private network namespace: loopback only, nothing can leave this machine")
    procs = Processes()
    try:
        ports = free_ports("admin", "ingress", "fabric", "services")
        config, data_dir = prepare_server(WORK, ports)
        server_log = WORK / "server.log"
        server = procs.start(
            "restate-server", server_args(binary, config, data_dir, "recorder"), server_log, env=server_env()
        )
        services_log = WORK / "services.log"
        services = procs.start(
            "sdk-services", services_args(sdk_python, ports["services"]), services_log, env=services_env(), cwd=ROOT
        )
        wait_ready(server, server_log, services, services_log, ports)
        log(
            f"server and services ready after {time.monotonic() - t_start:.1f}s "
            f"(admin {ports['admin']}, ingress {ports['ingress']}, fabric {ports['fabric']})"
        )
        check_loopback_only(server.pid)
        record_all(Restate(ports["admin"], ports["ingress"]), ports["services"], WORK, opts.out)
        for name, proc, _ in procs.children:
            if proc.poll() is not None:
                raise RecordingError(f"{name} exited early ({proc.returncode})")
    finally:
        procs.stop_all()
    log(f"done in {time.monotonic() - t_start:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)

    def on_signal(signum: int, _frame: FrameType | None) -> NoReturn:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(opts)
    except RecordingError as e:
        print(f"recording failed: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("recording interrupted: every process it started was stopped", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
