"""The server's log output: JSON lines on stderr, written by one background thread.

A request thread formats its line (so the line is exact at log time) and queues the text; every
``interval_s`` (50 ms) the :class:`LineWriter` thread writes whatever has queued up with one
``write()`` and one ``flush()``. Writing from the request thread cost RestartAsNew about a third of
its throughput under load: the ``write()`` lets go of the GIL and then waits behind busy threads to
get it back. A writer woken by every line was little better (a thread wake-up and a GIL hand-over
per call); one woken by the clock costs the request thread one queue put, and writes more lines per
``write()`` the busier the server is. A line reaches stderr at most ``interval_s`` after it is logged.

Only the program (``python -m grpc_server``) calls :func:`configure_logging`; the library never
touches the logging configuration.
"""

from __future__ import annotations

import json
import logging
import threading
from queue import Empty, SimpleQueue
from typing import Any, TextIO


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an RPC's record is spread into it (see :func:`grpc_server.rpc.rpc`)."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(default=str)
        self._stamp = (-1, "")  # (second, its text): one tuple, so threads never see a torn pair

    def _timestamp(self, record: logging.LogRecord) -> str:
        """``formatTime`` to the second, computed once per second rather than once per line."""
        second, text = self._stamp
        if int(record.created) != second:
            text = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._stamp = (int(record.created), text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self._timestamp(record), "level": record.levelname, "logger": record.name}
        fields = getattr(record, "rpc", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(out)


class LineWriter:
    """Writes queued lines to ``stream`` from its own thread: all that queued up, every ``interval_s``."""

    def __init__(self, stream: TextIO, interval_s: float = 0.05) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self._queue: SimpleQueue[str] = SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)

    def start(self) -> LineWriter:
        self._thread.start()
        return self

    def put(self, line: str) -> None:
        self._queue.put(line)  # nobody waits on the queue: no wake-up, no GIL hand-over

    def stop(self, timeout_s: float = 5.0) -> None:
        """Write every line queued so far, then end the thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self._write_queued()
        self._write_queued()

    def _write_queued(self) -> None:
        lines = []
        while True:
            try:
                lines.append(self._queue.get_nowait())
            except Empty:
                break
        if lines:
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed or gone: drop the lines, keep serving
                pass


class QueuedLineHandler(logging.Handler):
    """Formats in the caller's thread and hands the finished line to a :class:`LineWriter`."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.put(self.format(record))
        except Exception:  # a record that cannot be formatted: logging's own report, never a crash
            self.handleError(record)


def lean_log_records() -> None:
    """Skip what a LogRecord would gather and the server never prints: caller frame, thread, process.

    The switches the Logging HOWTO lists under "Optimization"; they are process-wide, so only the
    server's entry point calls this, never the library.
    """
    logging._srcfile = None  # no sys._getframe walk per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


#: Libraries that log their internals (DataFusion's optimizer logs every plan at DEBUG): WARNING and up.
QUIET_LIBRARIES = ("datafusion", "datafusion_optimizer", "datafusion_physical_plan", "uvicorn", "asyncio")


def configure_logging(level: str, fmt: str, stream: TextIO) -> LineWriter:
    """Route every log record to ``stream`` as JSON (``fmt="json"``) or text; stop the writer at exit."""
    writer = LineWriter(stream).start()
    handler = QueuedLineHandler(writer)
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(JsonFormatter() if fmt == "json" else text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in QUIET_LIBRARIES:  # their debug lines are their own workings, not the server's
        logging.getLogger(chatty).setLevel(max(logging.getLevelName(level), logging.WARNING))
    lean_log_records()
    return writer
