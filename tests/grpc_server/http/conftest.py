"""One server with HTTP on, for the HTTP tests; a small client that keeps its connection."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from grpc_server.server import Server, start


@dataclass
class Reply:
    status: int
    content_type: str | None
    allow: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """HTTP/1.1 to the server, Nagle off, one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        json_type: bool = True,
    ) -> Reply:
        """``json_type``: send ``content-type: application/json`` with a body unless ``headers`` say otherwise."""
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = dict(headers or {})
        if payload is not None and json_type and "content-type" not in sent:
            sent["content-type"] = "application/json"
        if self.connection.sock is None:
            self.connection.connect()
            assert self.connection.sock is not None
            self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in sent.items():
            self.connection.putheader(name, value)
        if payload is not None:
            self.connection.putheader("content-length", str(len(payload)))
        self.connection.endheaders(payload)
        response = self.connection.getresponse()
        return Reply(response.status, response.getheader("content-type"), response.getheader("allow"), response.read())

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="session")
def http_server() -> Iterator[Server]:
    running = start(port=0, host="127.0.0.1", http_port=0)
    yield running
    running.stop(0)


@pytest.fixture
def client(http_server: Server) -> Iterator[Client]:
    assert http_server.http is not None
    made = Client(http_server.http.port)
    made.request("PUT", "/model/world", {"services": [], "deployments": [], "invocations": []})
    yield made
    made.close()
