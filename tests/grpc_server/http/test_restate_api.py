"""Restate's own paths answer as restate-server 1.7.12 did, byte for byte (its answers are recorded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grpc_server.http.conformance import Answer, byte_problems
from recording.http_probes import normalised

from .conftest import Client

RECORDED = Path(__file__).resolve().parents[2] / "conformance" / "recorded_http" / "probes.jsonl"
PROBES = [json.loads(line) for line in RECORDED.read_text(encoding="utf-8").splitlines()]


def test_the_recording_covers_what_tools_send() -> None:
    assert len(PROBES) == 998
    assert sum("request_body" in p for p in PROBES) == 151  # the batch endpoints' and /query's bodies
    kinds = {(p["status"], p["content_type"]) for p in PROBES}
    assert {
        (400, "application/json"),
        (400, "text/plain; charset=utf-8"),
        (404, "application/json"),
        (404, None),
        (405, None),
        (202, None),
        (200, None),
        (200, "application/json"),
    } <= kinds


def test_every_recorded_answer_comes_back_byte_for_byte(client: Client) -> None:
    different = []
    for probe in PROBES:
        payload = probe.get("request_body")
        kind = probe.get("request_content_type")
        accept = probe.get("request_accept")
        headers = {} if kind is None else {"content-type": kind}
        if accept is not None:
            headers["accept"] = accept
        got = client.request(
            probe["method"],
            probe["path"],
            raw=None if payload is None else payload.encode(),
            headers=headers,
            json_type=False,
        )
        asked = {"method": probe["method"], "path": probe["path"]}
        if payload is not None:
            asked |= {"request_content_type": kind, "request_body": payload}
        if accept is not None:
            asked["request_accept"] = accept
        answered = {
            **asked,
            "status": got.status,
            "content_type": got.content_type,
            "allow": got.allow,
            "body": got.body.decode("utf-8", "replace"),
        }
        mine = answered if payload is not None else normalised(answered)
        if mine != probe:
            different.append(f"{probe['method']} {probe['path']}: recorded {probe}, got {mine}")
    assert different == [], "\n".join(different[:10])


@pytest.mark.parametrize("index", [0, 5, 20])
def test_a_one_byte_change_in_an_answer_fails_the_comparison(index: int) -> None:
    case = {
        "operation": "cancel",
        "expect": {"http_status": 404, "message": "The requested invocation 'inv_1' does not exist"},
    }
    body = b'{"message":"The requested invocation \'inv_1\' does not exist","restate_code":null}'
    assert byte_problems(case, Answer(404, "application/json", body), None) == []
    changed = body[:index] + (b" " if body[index : index + 1] != b" " else b"_") + body[index + 1 :]
    problems = byte_problems(case, Answer(404, "application/json", changed), None)
    assert len(problems) == 1 and problems[0].startswith("body: expected")
    assert byte_problems(case, Answer(404, "application/json; charset=utf-8", body), None) == [
        "content-type: expected 'application/json', got 'application/json; charset=utf-8'"
    ]


def test_openapi_describes_every_path_served(client: Client, http_server: object) -> None:
    from starlette.routing import Route

    from grpc_server.http import batch, extensions, model_api, query_api, restate_api
    from grpc_server.world import GuardedEngine

    document = client.request("GET", "/v2/openapi").json()
    assert document["openapi"] == "3.1.0"
    assert [t["name"] for t in document["tags"]] == ["Restate admin API", "Model (not part of Restate's API)"]
    world = GuardedEngine.__new__(GuardedEngine)
    served = {
        route.path.replace(":segment", "")
        for module in (restate_api, batch, model_api, query_api)
        for route in module.routes(world)
        if isinstance(route, Route)
    } | {r.path.replace(":segment", "") for r in extensions.routes(world, extensions.IdempotencyKeys())}
    described = {p.replace("{service}", "{name}").replace("{deployment}", "{deployment_id}") for p in document["paths"]}
    assert served - {"/openapi"} <= described, served - described
