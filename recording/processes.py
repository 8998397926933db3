"""Child processes and the network they may use.

Every child is started with ``PR_SET_PDEATHSIG`` (it dies with the recorder) and stopped by its
PID (SIGTERM, then SIGKILL). A run can re-execute itself in a private network namespace holding
only a loopback interface, and checks through ``/proc`` that the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from .common import ROOT, RecordingError, log


def die_with_parent() -> None:
    """Runs in the child between fork and exec: the child never outlives the recorder."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Processes:
    """Every child process the recorder starts; ``stop_all`` ends each one by its PID."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes], BinaryIO]] = []

    def start(
        self,
        name: str,
        args: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        handle = open(log_path, "wb")
        proc = subprocess.Popen(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(cwd) if cwd else None,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.children.append((name, proc, handle))
        log(f"started {name} (pid {proc.pid}), log: {log_path}")
        return proc

    def stop_all(self) -> None:
        for _name, proc, _ in reversed(self.children):
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, proc, handle in reversed(self.children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {proc.pid}) ignored SIGTERM; sending SIGKILL")
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=15)
            handle.close()
            log(f"stopped {name} (pid {proc.pid}, exit {proc.returncode})")
        self.children.clear()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, n: int = 40) -> str:
    """The last ``n`` lines of a log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------ the private network namespace
def run_in_private_network(args: list[str]) -> int | None:
    """Runs ``python -m recording.record --in-netns ARGS`` in a new network namespace with only loopback.

    restate-server 1.7.12 asks GitHub for its latest release at every start (no setting turns that
    off); in the namespace the request cannot leave the machine. Returns the stage's exit code, or
    None when no namespace can be made here.
    """
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return None
    probe = subprocess.run([unshare, "--net", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        return None
    child = subprocess.Popen(
        [unshare, "--net", "--", sys.executable, "-m", "recording.record", "--in-netns", *args],
        cwd=str(ROOT),
        preexec_fn=die_with_parent,
        stdin=subprocess.DEVNULL,
    )
    log(f"recording stage runs in a private network namespace (pid {child.pid})")

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            os.kill(child.pid, signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # only if we are leaving abnormally
            os.kill(child.pid, signal.SIGKILL)
            child.wait()


def loopback_up() -> None:
    """Brings up ``lo`` in a fresh network namespace (what ``ip link set lo up`` does)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags: int = struct.unpack("16sH14s", fcntl.ioctl(s, siocgifflags, ifreq))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b"\0" * 14))


# ------------------------------------------------------------------ listening sockets
def listening(table: str, text: str, inodes: set[str]) -> list[tuple[str, str]]:
    """The LISTEN sockets among ``inodes`` in one ``/proc/net/tcp*`` table: ``(table, local address)``."""
    found = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A" and parts[9] in inodes:  # 0A = LISTEN
            found.append((table, parts[1]))
    return found


def beyond_loopback(sockets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sockets not bound to 127.0.0.1 (IPv6 sockets included: the server should have none)."""
    return [(t, a) for t, a in sockets if not (t.endswith("tcp") and a.split(":")[0] == "0100007F")]


def check_loopback_only(pid: int) -> None:
    """Fails if the process listens on anything but 127.0.0.1 (reads /proc, Linux only)."""
    if not Path("/proc/net/tcp").exists():
        return
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    sockets: list[tuple[str, str]] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            sockets += listening(table, Path(table).read_text(), inodes)
        except OSError:
            continue
    bad = beyond_loopback(sockets)
    if bad:
        raise RecordingError(f"restate-server listens beyond 127.0.0.1: {bad}")
    log(f"restate-server listens on 127.0.0.1 only ({len(sockets)} sockets)")
