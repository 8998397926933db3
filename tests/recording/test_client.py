"""recording.client against a stub HTTP server on 127.0.0.1 (in this process; no restate-server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from recording.client import InvalidId, Restate, call
from recording.common import RecordingError

Answer = tuple[int, str, bytes]


class Stub:
    """Answers each request with the next queued answer and remembers what it was asked."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.requests: list[tuple[str, str, bytes, str]] = []  # method, path, body, content-type
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                stub.requests.append((self.command, self.path, body, self.headers.get("content-type") or ""))
                status, ctype, data = stub.answers.pop(0)
                self.send_response(status)
                if ctype:
                    self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    thread = threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()
    thread.join(timeout=5)


def rows(*r: dict[str, object]) -> Answer:
    return 200, "application/json", json.dumps({"rows": list(r)}).encode()


def test_call_returns_status_content_type_and_body(stub: Stub) -> None:
    stub.answers = [(418, "text/plain", b"teapot"), (204, "", b"")]
    assert call("GET", stub.port, "/x?y=1") == (418, "text/plain", b"teapot")
    assert call("PATCH", stub.port, "/z", timeout=5) == (204, "", b"")
    assert [(m, p) for m, p, _, _ in stub.requests] == [("GET", "/x?y=1"), ("PATCH", "/z")]


def test_query_posts_the_sql_as_json_and_returns_the_rows(stub: Stub) -> None:
    stub.answers = [rows({"id": "inv_1", "n": 2})]
    assert Restate(stub.port, 0).query("SELECT 1") == [{"id": "inv_1", "n": 2}]
    ((method, path, body, ctype),) = stub.requests
    assert (method, path, json.loads(body), ctype) == ("POST", "/query", {"query": "SELECT 1"}, "application/json")


def test_query_retries_server_errors_then_answers(stub: Stub) -> None:
    stub.answers = [(503, "text/plain", b"no leader"), (500, "text/plain", b"again"), rows()]
    assert Restate(stub.port, 0).query("SELECT 1") == []
    assert len(stub.requests) == 3


def test_query_names_an_id_the_engine_cannot_parse(stub: Stub) -> None:
    stub.answers = [(400, "application/json", b'{"message":"non valid invocation id: inv_1ZZZ"}')]
    with pytest.raises(InvalidId, match="SELECT x"):
        Restate(stub.port, 0).query("SELECT x")


def test_query_fails_on_a_client_error(stub: Stub) -> None:
    stub.answers = [(400, "text/plain", b"syntax error")]
    with pytest.raises(RecordingError, match=r"query failed 400: b'syntax error'\nSELECT"):
        Restate(stub.port, 0).query("SELECT")
    assert len(stub.requests) == 1


def test_admin_json_sends_and_reads_json_and_fails_loudly(stub: Stub) -> None:
    stub.answers = [(201, "application/json", b'{"id":"dp_1x"}'), (200, "", b""), (404, "text/plain", b"nope")]
    rs = Restate(stub.port, 0)
    assert rs.admin_json("POST", "/deployments", {"uri": "http://127.0.0.1:1/d1"}) == {"id": "dp_1x"}
    assert rs.admin_json("DELETE", "/deployments/dp_1x?force=true") is None
    with pytest.raises(RecordingError, match=r"GET /services failed 404: b'nope'"):
        rs.admin_json("GET", "/services")
    assert json.loads(stub.requests[0][2]) == {"uri": "http://127.0.0.1:1/d1"}
    assert stub.requests[1][2] == b""


def test_op_patches_the_invocation_and_returns_any_answer(stub: Stub) -> None:
    stub.answers = [(409, "application/json", b'{"message":"no"}'), (200, "application/json", b"{}")]
    rs = Restate(stub.port, 0)
    assert rs.op("restart-as-new", "inv_1abc", "from=1&deployment=keep") == (
        409,
        "application/json",
        b'{"message":"no"}',
    )
    assert rs.op("purge-journal", "inv_1abc")[0] == 200
    assert [(m, p) for m, p, _, _ in stub.requests] == [
        ("PATCH", "/invocations/inv_1abc/restart-as-new?from=1&deployment=keep"),
        ("PATCH", "/invocations/inv_1abc/purge-journal"),
    ]


def test_send_goes_through_the_ingress_with_a_quoted_key_and_a_delay(stub: Stub) -> None:
    stub.answers = [
        (404, "text/plain", b"service not yet known"),
        (202, "application/json", b'{"invocationId":"inv_1new","status":"Accepted"}'),
        (200, "application/json", b'{"invocationId":"inv_1two"}'),
    ]
    rs = Restate(0, stub.port)
    assert rs.send("Locker", "hold", key="a/b c") == "inv_1new"
    assert rs.send("Steps", "run", arg="y", delay="1h") == "inv_1two"
    assert [(p, b) for _, p, b, _ in stub.requests] == [
        ("/Locker/a%2Fb%20c/hold/send", b'"x"'),
        ("/Locker/a%2Fb%20c/hold/send", b'"x"'),
        ("/Steps/run/send?delay=1h", b'"y"'),
    ]


def test_send_fails_on_an_answer_it_does_not_retry(stub: Stub) -> None:
    stub.answers = [(400, "text/plain", b"bad")]
    with pytest.raises(RecordingError, match=r"send /Steps/run/send failed 400: b'bad'"):
        Restate(0, stub.port).send("Steps", "run")
