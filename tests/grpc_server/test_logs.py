"""The log output: JSON lines, formatted by the caller, written in batches by one thread."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from grpc_server.logs import JsonFormatter, LineWriter, QueuedLineHandler, configure_logging


def test_json_log_lines() -> None:
    record = logging.LogRecord("grpc_server.calls", logging.INFO, __file__, 1, "x", (), None)
    record.rpc = {"event": "rpc", "rpc": "Kill", "code": "OK"}
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["rpc"], line["code"]) == ("INFO", "Kill", "OK")
    plain = logging.LogRecord("grpc_server.server", logging.INFO, __file__, 1, "listening on %s", ("x",), None)
    assert json.loads(JsonFormatter().format(plain))["message"] == "listening on x"


def test_the_timestamp_follows_the_record_across_seconds() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    first = json.loads(formatter.format(record))["ts"]
    record.created += 3600  # an hour later: the cached second must not be reused
    later = json.loads(formatter.format(record))["ts"]
    assert first != later and first[:10] <= later[:10]
    assert later == formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S")


def test_writer_keeps_every_line_in_order_across_threads() -> None:
    stream = io.StringIO()
    writer = LineWriter(stream).start()

    def produce(tag: int) -> None:
        for n in range(2_000):
            writer.put(f"{tag}:{n}")

    threads = [threading.Thread(target=produce, args=(tag,)) for tag in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8_000
    for tag in range(4):
        assert [line for line in lines if line.startswith(f"{tag}:")] == [f"{tag}:{n}" for n in range(2_000)]


def test_a_broken_stream_drops_lines_but_never_raises() -> None:
    stream = io.StringIO()
    stream.close()  # write() raises ValueError from now on
    writer = LineWriter(stream).start()
    writer.put("lost")
    writer.stop()
    writer.stop()  # stopping twice is harmless


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (
        root.handlers[:],
        root.level,
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
        logging._srcfile,
    )
    yield
    root.handlers[:], level = saved[0], saved[1]
    root.setLevel(level)
    (logging.logThreads, logging.logProcesses, logging.logMultiprocessing, logging._srcfile) = saved[2:]


def test_configure_logging_writes_json_lines_and_exceptions(root_logging: None) -> None:
    stream = io.StringIO()
    writer = configure_logging("INFO", "json", stream)
    log = logging.getLogger("grpc_server.test")
    log.debug("not at INFO")
    log.info("hello %s", "world")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    writer.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["hello world", "failed"]
    assert "RuntimeError: boom" in lines[1]["exception"]
    assert isinstance(logging.getLogger().handlers[0], QueuedLineHandler)


def test_configure_logging_text(root_logging: None) -> None:
    stream = io.StringIO()
    writer = configure_logging("WARNING", "text", stream)
    logging.getLogger("grpc_server.test").warning("careful")
    writer.stop()
    assert stream.getvalue().rstrip().endswith("WARNING grpc_server.test careful")
