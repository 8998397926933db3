"""Restart-as-new over Restate's HTTP admin API: the model, measured as :mod:`bench.restate` measures
restate-server (same client code, same request, same machine, same run).

One completed invocation (``Steps/run``: Input, a Run and its completion, Output), made through
``/model/``; then ``PATCH /invocations/{id}/restart-as-new`` again and again (each call creates a
new invocation, as on the real server): one client on a kept-alive connection, then 8 clients on 8
connections; and the 404 path (a well-formed id that does not exist).
"""

from __future__ import annotations

import http.client
import json
import tempfile
from pathlib import Path
from typing import Any

from .common import JSON, concurrent_patch, latency, timed_patch
from .grpc_bench import start_server
from .restate import ABSENT_ID


def _post(port: int, path: str, body: dict[str, Any]) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
        answer = conn.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"POST {path} answered {answer.status}: {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def completed_invocation(port: int) -> str:
    _post(port, "/model/services", {"name": "Steps"})
    _post(port, "/model/deployments", {"services": ["Steps"], "name": "v1"})
    inv: str = _post(port, "/model/invocations", {"service": "Steps", "handler": "run"})["invocation_id"]
    entry = _post(port, f"/model/invocations/{inv}/commands", {"type": "Run"})["entry"]
    _post(port, f"/model/invocations/{inv}/completions", {"completion_id": entry["completion_ids"][0]})
    _post(port, f"/model/invocations/{inv}/complete", {})
    return inv


def measure(restarts: int) -> JSON:
    """The model's HTTP restart-as-new at 1 and 8 clients, and its 404 path."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        server = start_server(None, Path(tmp) / "server.log", ["--log-level", "WARNING"])
        try:
            port = server.http_port
            if port is None:
                raise RuntimeError("the server did not print its HTTP address")
            path = f"/invocations/{completed_invocation(port)}/restart-as-new"
            timed_patch(port, path, 10, 200)  # warm-up
            one = latency(*timed_patch(port, path, restarts, 200))
            eight = concurrent_patch(port, path, 8, max(restarts // 8, 10), 200)
            absent = latency(*timed_patch(port, f"/invocations/{ABSENT_ID}/restart-as-new", restarts, 404))
        finally:
            server.stop()
    return {
        "completed_invocation": "Steps/run: Input, Run, its completion, Output (made through /model/)",
        "restart_200": one,
        "restart_200_8_clients": eight,
        "restart_404": absent,
    }
