"""The HTTP client of the server under test: its admin API, its SQL ``/query`` and its ingress.

Plain ``http.client`` on 127.0.0.1, one connection per call. The JSON it returns is ``Any``: the
modules above give it a shape (see :mod:`recording.world`).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any

from .common import RecordingError


class InvalidId(Exception):
    """The SQL engine refused an id that our regular expression let through (e.g. an overflow)."""


def call(
    method: str,
    port: int,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, str, bytes]:
    """One HTTP request to 127.0.0.1:``port``: ``(status, content type, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheader("content-type") or "", data
    finally:
        conn.close()


class Restate:
    """The admin and ingress APIs of the server under test."""

    def __init__(self, admin: int, ingress: int) -> None:
        self.admin = admin
        self.ingress = ingress

    # -- admin
    def query(self, sql: str) -> list[dict[str, Any]]:
        """The rows of one SQL query (JSON objects; NULL columns are left out)."""
        for attempt in range(20):
            status, _, data = call(
                "POST",
                self.admin,
                "/query",
                json.dumps({"query": sql}).encode(),
                {"content-type": "application/json", "accept": "application/json"},
            )
            if status == 200:
                rows: list[dict[str, Any]] = json.loads(data)["rows"]
                return rows
            if b"non valid invocation id" in data:
                raise InvalidId(sql)
            if status >= 500 and attempt < 19:  # e.g. a partition without a leader yet
                time.sleep(0.2)
                continue
            raise RecordingError(f"query failed {status}: {data[:500]!r}\n{sql}")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def admin_json(self, method: str, path: str, doc: object = None) -> Any:
        """An admin call that must succeed; its JSON answer (None when empty)."""
        body = json.dumps(doc).encode() if doc is not None else None
        status, _, data = call(method, self.admin, path, body, {"content-type": "application/json"})
        if status >= 300:
            raise RecordingError(f"{method} {path} failed {status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def op(self, op_path: str, raw_id: str, query_string: str = "") -> tuple[int, str, bytes]:
        """``PATCH /invocations/{raw_id}/{op_path}?{query_string}``, whatever it answers."""
        path = f"/invocations/{raw_id}/{op_path}" + (f"?{query_string}" if query_string else "")
        return call("PATCH", self.admin, path)

    # -- ingress
    def send(self, service: str, handler: str, key: str | None = None, arg: str = "x", delay: str | None = None) -> str:
        """A one-way call through the ingress; the new invocation's id."""
        target = f"/{service}/{urllib.parse.quote(key, safe='')}/{handler}" if key else f"/{service}/{handler}"
        path = target + "/send" + (f"?delay={delay}" if delay else "")
        for attempt in range(50):
            status, _, data = call(
                "POST", self.ingress, path, json.dumps(arg).encode(), {"content-type": "application/json"}
            )
            if status in (200, 202):
                inv_id: str = json.loads(data)["invocationId"]
                return inv_id
            if status in (404, 503) and attempt < 49:  # schema or partitions not ready yet
                time.sleep(0.2)
                continue
            raise RecordingError(f"send {path} failed {status}: {data[:500]!r}")
        raise AssertionError("unreachable: the last attempt returns or raises")
