"""recording.processes: children stopped by PID, ports, log tails and the /proc listener check."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from recording.processes import Processes, beyond_loopback, free_port, listening, tail

# /proc/net/tcp: 127.0.0.1:9070 and 0.0.0.0:8080 listening, one connection established, one closing.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:235E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0
   2: 0100007F:235E 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0
   3: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2000 1 0
   4: 0100007F:235F 0100007F:A001 06 00000000:00000000 00:00000000 00000000     0        0 1004 1 0
"""


def test_listening_keeps_the_listen_sockets_of_the_given_inodes() -> None:
    assert listening("/proc/net/tcp", TCP, {"1001", "1002", "1003", "1004"}) == [
        ("/proc/net/tcp", "0100007F:235E"),
        ("/proc/net/tcp", "00000000:1F90"),
    ]
    assert listening("/proc/net/tcp", TCP, set()) == []


def test_beyond_loopback_is_everything_but_ipv4_127_0_0_1() -> None:
    sockets = [
        ("/proc/net/tcp", "0100007F:235E"),
        ("/proc/net/tcp", "00000000:1F90"),
        ("/proc/net/tcp6", "00000000000000000000000001000000:235E"),
    ]
    assert beyond_loopback(sockets) == sockets[1:]
    assert beyond_loopback(sockets[:1]) == []


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_tail_gives_the_last_lines_or_says_there_is_no_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"one\ntwo\nthree\xff\n")
    assert tail(log, 2) == "two\nthree\ufffd"
    assert tail(log) == "one\ntwo\nthree\ufffd"
    assert tail(tmp_path / "missing.log") == "(no log)"


def test_stop_all_ends_every_child_by_pid_and_keeps_its_output(tmp_path: Path) -> None:
    procs = Processes()
    sleeper = procs.start(
        "sleeper",
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
        tmp_path / "sleeper.log",
    )
    done = procs.start("done", [sys.executable, "-c", "print('bye')"], tmp_path / "done.log", cwd=tmp_path)
    assert done.wait(timeout=30) == 0
    procs.stop_all()  # waits at most 15 s per child, then SIGKILL
    assert sleeper.returncode == -signal.SIGTERM
    assert procs.children == []
    assert (tmp_path / "done.log").read_text() == "bye\n"
    assert (tmp_path / "sleeper.log").read_text() in ("", "up\n")  # SIGTERM may come before the print


def test_a_child_ignoring_sigterm_gets_sigkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    procs = Processes()
    child = procs.start(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)",
        ],
        tmp_path / "stubborn.log",
    )
    deadline = time.monotonic() + 30
    while (tmp_path / "stubborn.log").read_text() != "ready\n":  # until it ignores SIGTERM
        assert time.monotonic() < deadline, "the child never got ready"
        time.sleep(0.01)
    real_wait = child.wait
    waits: list[float | None] = []

    def short_wait(timeout: float | None = None) -> int:
        waits.append(timeout)
        return real_wait(timeout=0.2 if len(waits) == 1 else timeout)

    monkeypatch.setattr(child, "wait", short_wait)
    procs.stop_all()
    assert child.returncode == -signal.SIGKILL
    assert waits == [15, 15]
