"""Replay conformance cases over Restate's HTTP admin API, byte for byte.

For each case: ``PUT /model/world?seed=…`` (the case's world), ``GET /model/invocations/{id}`` (the
target before), the request as Restate's clients send it (``PATCH /invocations/{id}/{op}`` with
the case's raw query string, or one built from ``from``/``deployment``), then the target after and,
on a 200 restart, the new invocation. :func:`fsm.conformance.compare` judges the outcome, as for the
other transports; on top, :func:`byte_problems` checks the answer's bytes against what
restate-server 1.7.12 sends for that outcome (content type, exact body), and a mismatch fails the
case with both spelled out. Every case can be asked, ``transport: http`` ones included.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote, urlsplit

from fsm.conformance import RESTART, Outcome, Unsupported, case_seed

from .responses import JSON, TEXT, compact
from .restate_api import OPERATIONS

#: Per-request timeout, so a wedged server fails the replay instead of hanging it.
TIMEOUT_S = 30.0
#: The case's operation -> the path word.
WORDS = {method: word for word, method in OPERATIONS.items()}


class Answer:
    """One HTTP answer: status, content type and body bytes."""

    def __init__(self, status: int, content_type: str | None, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def expected_bytes(case: dict[str, Any], new_invocation_id: str | None) -> tuple[str | None, bytes] | None:
    """What restate-server sends for this case's expected outcome: (content type, body).

    None when the outcome's bytes cannot be told from the case (a 200 restart without a new id).
    """
    expect = case["expect"]
    message = expect.get("message")
    status = expect["http_status"]
    if message is None:
        if case.get("operation", RESTART) == RESTART and status == 200:
            if new_invocation_id is None:
                return None
            return JSON, compact({"new_invocation_id": new_invocation_id})
        return None, b""
    if message.startswith("Failed to deserialize query string: "):
        return TEXT, message.encode("utf-8")
    return JSON, compact({"message": message, "restate_code": None})


def byte_problems(case: dict[str, Any], answer: Answer, new_invocation_id: str | None) -> list[str]:
    """How the answer's bytes differ from restate-server's for the expected outcome."""
    if answer.status != case["expect"]["http_status"]:
        return []  # compare() reports the status
    expected = expected_bytes(case, new_invocation_id)
    if expected is None:
        return []
    content_type, body = expected
    problems = []
    if answer.content_type != content_type:
        problems.append(f"content-type: expected {content_type!r}, got {answer.content_type!r}")
    if answer.body != body:
        problems.append(f"body: expected {body!r}, got {answer.body!r}")
    return problems


def request_path(case: dict[str, Any]) -> str:
    """The path and query string a Restate client sends for the case."""
    request = case["request"]
    operation = case.get("operation", RESTART)
    word = WORDS.get(operation)
    if word is None:
        raise Unsupported(f"unknown operation {operation!r}")
    query = request.get("query_string")
    if query is None:
        fields = [("from", request.get("from")), ("deployment", request.get("deployment"))]
        if operation != RESTART:
            fields = fields[1:] if operation == "resume" else []
        query = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in fields if value is not None)
    path = f"/invocations/{request['invocation_id']}/{word}"
    return f"{path}?{query}" if query else path


class Connection(http.client.HTTPConnection):
    """A kept-alive connection with Nagle off: the default waits ~40 ms on each small request."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HttpTarget:
    """:class:`fsm.conformance.Target` over HTTP: one case at a time against one server."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected http://HOST:PORT, got {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.connection = Connection(self.host, self.port, timeout=TIMEOUT_S)

    def ask(self, method: str, path: str, body: bytes | None = None) -> Answer:
        headers = {"content-type": JSON} if body is not None else {}
        for attempt in (1, 2):  # one retry on a connection the server closed meanwhile
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return Answer(response.status, response.getheader("content-type"), response.read())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()

    def _invocation(self, invocation_id: str) -> dict[str, Any] | None:
        """The invocation's record in the world format (its lineage index left out: a restart adds to
        the old one's ``restarted_as``, and the record itself must not change)."""
        record, _ = self._read(invocation_id)
        return record

    def _read(self, invocation_id: str) -> tuple[dict[str, Any] | None, int]:
        """The record (or None) and the status of reading it: 404 when it is gone, 503 when its
        partition cannot be reached."""
        answer = self.ask("GET", f"/model/invocations/{invocation_id}")
        if answer.status != 200:
            return None, answer.status
        record: dict[str, Any] = answer.json()
        record.pop("restarted_as", None)
        return record, 200

    def run(self, case: dict[str, Any]) -> Outcome:
        path = request_path(case)
        loaded = self.ask("PUT", f"/model/world?seed={case_seed(case)}", json.dumps(case["world"]).encode())
        if loaded.status != 200:
            return Outcome(-1, f"PUT /model/world answered {loaded.status}: {loaded.body[:300]!r}")
        target_id = case["request"]["invocation_id"]
        before = self._invocation(target_id)
        answer = self.ask("PATCH", path)
        after, read = self._read(target_id)
        new_id = None
        new = None
        message = None
        if answer.status == 200 and case.get("operation", RESTART) == RESTART:
            new_id = answer.json().get("new_invocation_id") if answer.content_type == JSON else None
            new = self._invocation(new_id) if isinstance(new_id, str) else None
        elif answer.status >= 400:
            if answer.content_type == JSON:
                message = answer.json().get("message")
            else:
                message = answer.body.decode("utf-8", "replace")
        problems = byte_problems(case, answer, new_id)
        if problems:
            message = f"BYTES: {'; '.join(problems)}"
        return Outcome(
            answer.status,
            message,
            new,
            before,
            after,
            # unknown (not compared) when the target's partition cannot be read
            status_after=after["status"] if after is not None else "free" if read == 404 else None,
            new_invocation_id=new_id,
        )
