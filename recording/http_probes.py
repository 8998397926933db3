"""Raw HTTP probes of an admin API with no invocations: every answer's status, headers that matter, body.

The recording session runs it first, into ``tests/conformance/recorded_http/probes.jsonl``. It asks a
fresh server (no deployments, no invocations) every request of :func:`requests`: each
invocation operation under every API-version prefix with well-formed, malformed, empty,
non-UTF-8 and percent-encoded ids; wrong methods; unknown paths; query strings Restate refuses;
the older ``DELETE /invocations/{id}?mode=``; health, version, services and deployments. One JSON
line per request: ``method``, ``path``, and what came back: ``status``, ``content_type``,
``allow``, ``body`` (UTF-8 text). The model must answer each one byte for byte
(``tests/grpc_server/http/test_restate_api.py``). ``/version`` is recorded with its feature flags
sorted (the real server lists them in a different order on each call) and its ingress address as
the model's (the real one is the probed server's own).
"""

from __future__ import annotations

import http.client
import json
from typing import Any

ID = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9"
OPERATIONS = ("cancel", "kill", "purge", "purge-journal", "pause", "resume", "restart-as-new")
IDS = (ID, "inv_bogus", "", "%FF", "inv_%41", "a%2Fb", "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9x")
PREFIXES = ("", "/v2", "/v3", "/v4", "/v1", "/v5", "/v0")
QUERIES = (
    "from=abc",
    "from=1&from=2",
    "from=",
    "from=-1",
    "from=99999999999",
    "deployment=",
    "deployment=dp_bad",
    "deployment=latest",
    "FROM=1",
    "from=%20",
    "from=+1",
    "deployment=keep&deployment=latest",
)
#: What the model answers for the ingress address (it has no ingress): Restate's default.
INGRESS = "http://127.0.0.1:8080/"


BATCH = "/internal/invocations_batch_operations"
#: Batch bodies: (content type, body). Bodies that are not JSON are left out: the model words
#: their error after serde's prefix in its own way.
BATCH_BODIES: tuple[tuple[str | None, str], ...] = (
    ("application/json", f'{{"invocation_ids":["{ID}"]}}'),
    ("application/json", f'{{"invocation_ids":["{ID}","{ID}"]}}'),
    ("application/json", '{"invocation_ids":[]}'),
    ("application/json", f'{{"invocation_ids":["{ID}","inv_bogus"]}}'),
    ("application/json", f'{{\n  "invocation_ids": [\n    "{ID}",\n    "inv_1"\n  ]\n}}'),
    ("application/json", "{}"),
    ("application/json", '{"invocation_ids":"x"}'),
    ("application/json", '{"invocation_ids":[5]}'),
    ("application/json", "[1]"),
    ("application/json", f'{{"invocation_ids":["{ID}"],"extra":1}}'),
    ("application/json", f'{{"invocation_ids":["{ID}"],"deployment":"dp_bad"}}'),
    ("application/json", f'{{"invocation_ids":["{ID}"],"deployment":"latest"}}'),
    ("application/json", f'{{"invocation_ids":["{ID}"],"deployment":5}}'),
    ("application/json", '{"invocation_ids":[' + ",".join([f'"{ID}"'] * 1001) + "]}"),
    ("application/json; charset=utf-8", '{"invocation_ids":[]}'),
    ("text/plain", '{"invocation_ids":[]}'),
    (None, '{"invocation_ids":[]}'),
)


#: ``POST /query`` bodies, asked for JSON (an empty server: the answers are errors, counts, empty rows).
QUERIES_SQL = (
    '{"query":"selec 1"}',
    '{"query":"select * from nope"}',
    '{"query":"select id, status from sys_invocation_status"}',
    '{"query":"select count(*) as n from sys_invocation"}',
    '{"query":"SELECT status, count(*) AS n FROM sys_invocation GROUP BY status"}',
    '{"query":"select 1 as one, null as nothing"}',
    '{"query":"select name from sys_service"}',
    '{"query":"select id from sys_deployment"}',
    '{"query":"select * from sys_journal limit 1"}',
    "{}",
    '{"query":5}',
)


def query_requests() -> list[tuple[str, str, str | None, str]]:
    """Every ``/query`` probe, as (method, path, content type, body)."""
    out: list[tuple[str, str, str | None, str]] = [("POST", "/query", "application/json", b) for b in QUERIES_SQL]
    out += [("POST", "/v4/query", "application/json", QUERIES_SQL[3]), ("POST", "/query", "text/plain", QUERIES_SQL[3])]
    return out


def batch_requests() -> list[tuple[str, str, str | None, str]]:
    """Every batch probe, as (method, path, content type, body)."""
    out: list[tuple[str, str, str | None, str]] = []
    for operation in (*OPERATIONS, "restart_as_new"):
        out += [("POST", f"{BATCH}/{operation}", kind, body) for kind, body in BATCH_BODIES]
    out += [("GET", f"{BATCH}/cancel", None, ""), ("POST", f"/v2{BATCH}/kill", "application/json", "{}")]
    return out


def requests() -> list[tuple[str, str]]:
    """Every probe, as (method, path with query)."""
    out: list[tuple[str, str]] = []
    for prefix in PREFIXES:
        for operation in OPERATIONS:
            out += [("PATCH", f"{prefix}/invocations/{raw}/{operation}") for raw in IDS]
        out += [
            ("GET", f"{prefix}/invocations/{ID}/cancel"),
            ("POST", f"{prefix}/invocations/{ID}/restart-as-new"),
            ("PATCH", f"{prefix}/invocations/{ID}"),
            ("PATCH", f"{prefix}/invocations/{ID}/cancel/x"),
            ("GET", f"{prefix}/health"),
            ("HEAD", f"{prefix}/health"),
            ("POST", f"{prefix}/health"),
            ("GET", f"{prefix}/version"),
            ("GET", f"{prefix}/nope"),
            ("DELETE", f"{prefix}/invocations/{ID}"),
            ("DELETE", f"{prefix}/invocations/{ID}?mode=kill"),
            ("DELETE", f"{prefix}/invocations/{ID}?mode=Purge"),
            ("DELETE", f"{prefix}/invocations/{ID}?mode=bogus"),
            ("DELETE", f"{prefix}/invocations/{ID}?mode=kill&mode=purge"),
            ("DELETE", f"{prefix}/invocations/inv_bogus"),
            ("DELETE", f"{prefix}/invocations/inv_bogus?mode=bogus"),
            ("DELETE", f"{prefix}/invocations/%FF"),
            ("GET", f"{prefix}/services"),
            ("GET", f"{prefix}/services/Nope"),
            ("GET", f"{prefix}/services/%FF"),
            ("GET", f"{prefix}/deployments"),
            ("GET", f"{prefix}/deployments/dp_bad"),
            ("GET", f"{prefix}/deployments/dp_16hyvaGLkmYCmSH4nzeUDZv"),
            ("GET", f"{prefix}/deployments/%FF"),
        ]
        for query in QUERIES:
            out += [
                ("PATCH", f"{prefix}/invocations/{ID}/restart-as-new?{query}"),
                ("PATCH", f"{prefix}/invocations/inv_bogus/restart-as-new?{query}"),
                ("PATCH", f"{prefix}/invocations/{ID}/resume?{query}"),
                ("PATCH", f"{prefix}/invocations/{ID}/cancel?{query}"),
            ]
    return out


def ask(
    port: int,
    method: str,
    path: str,
    content_type: str | None = None,
    payload: str | None = None,
    timeout: float = 10.0,
    accept: str | None = None,
) -> dict[str, Any]:
    """One request on a fresh connection; what came back, as a probe line."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        data = None if payload is None else payload.encode("utf-8")
        if content_type is not None:
            conn.putheader("content-type", content_type)
        if accept is not None:
            conn.putheader("accept", accept)
        if data is not None:
            conn.putheader("content-length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        body = resp.read()
        probe: dict[str, Any] = {"method": method, "path": path}
        if payload is not None:
            probe["request_content_type"] = content_type
            probe["request_body"] = payload
        if accept is not None:
            probe["request_accept"] = accept
        return {
            **probe,
            "status": resp.status,
            "content_type": resp.getheader("content-type"),
            "allow": resp.getheader("allow"),
            "body": body.decode("utf-8", "replace"),
        }
    finally:
        conn.close()


def normalised(probe: dict[str, Any]) -> dict[str, Any]:
    """``/version`` with its features sorted and the model's ingress (see the module's docstring)."""
    if probe["status"] == 200 and probe["path"].endswith("/version") and probe["method"] == "GET":
        version = json.loads(probe["body"])
        version["ingress_endpoint"] = INGRESS
        version["features"] = dict(sorted(version["features"].items()))
        probe = {**probe, "body": json.dumps(version, separators=(",", ":"))}
    return probe


def record(port: int) -> list[dict[str, Any]]:
    plain = [normalised(ask(port, method, path)) for method, path in requests()]
    bodies = [ask(port, method, path, kind, body) for method, path, kind, body in batch_requests()]
    sql = [
        ask(port, method, path, kind, body, accept="application/json") for method, path, kind, body in query_requests()
    ]
    return plain + bodies + sql
