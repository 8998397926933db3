"""/model/: the world in and out, the clock, partitions and the simulation steps, over HTTP."""

from __future__ import annotations

import json

import pytest

from fsm.snapshot import dump_world, dump_world_lines
from grpc_server.http.model_api import MAX_BODY_BYTES

from ..conftest import BASE_WORLD, big_engine
from .conftest import Client


def test_a_world_goes_in_and_comes_out_the_same(client: Client) -> None:
    loaded = client.request("PUT", "/model/world?seed=3", BASE_WORLD)
    assert (loaded.status, loaded.content_type) == (200, "application/json")
    assert loaded.json()["services"] == len(BASE_WORLD["services"])
    exported = client.request("GET", "/model/world")
    assert exported.json()["services"] == BASE_WORLD["services"]
    case_line = {"name": "x", "world": BASE_WORLD, "request": {}, "expect": {}}
    assert client.request("PUT", "/model/world", case_line).status == 200  # a whole case line works too


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"{", 400, "The body is not valid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe", 400, "The body is not valid JSON:"),
        (b'{"services": 1}', 400, "Invalid world at 'world.services': must be a list, got int"),
        (b"[" * 100_000, 400, "The body is not valid JSON:"),
    ],
)
def test_a_bad_world_is_refused_and_changes_nothing(client: Client, raw: bytes, status: int, message: str) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    before = client.request("GET", "/model/world").body
    refused = client.request("PUT", "/model/world", raw=raw)
    assert refused.status == status and refused.content_type == "application/json"
    assert refused.json()["message"].startswith(message), refused.json()
    assert client.request("GET", "/model/world").body == before


def test_a_body_over_the_limit_is_refused_413(client: Client) -> None:
    huge = b'{"x":"' + b"a" * (16 * 1024 * 1024) + b'"}'
    refused = client.request("PUT", "/model/world", raw=huge)
    assert refused.status == 413
    assert "the most accepted" in refused.json()["message"]


def test_the_steps_drive_an_invocation_through_its_lifecycle(client: Client) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    made = client.request("POST", "/model/invocations", {"service": "Steps", "handler": "run"}).json()
    inv = made["invocation_id"]
    assert made["status"] == "running"
    entry = client.request("POST", f"/model/invocations/{inv}/commands", {"type": "Run", "name": "a"}).json()
    assert entry["entry"] == {"index": 1, "kind": "command", "type": "Run", "name": "a", "completion_ids": [1]}
    failed = client.request("POST", f"/model/invocations/{inv}/fail-attempt", {"failure": "[500] x"}).json()
    assert failed["status"] == "running" and failed["retry_count"] == 1 and "next_attempt_ms" in failed
    backing = client.request("POST", f"/model/invocations/{inv}/complete", {})
    assert backing.status == 409 and "backing off" in backing.json()["message"]
    assert client.request("POST", "/model/clock/advance", {"by_ms": 500}).status == 200
    client.request("POST", f"/model/invocations/{inv}/completions", {"completion_id": 1})
    done = client.request("POST", f"/model/invocations/{inv}/complete", {"success": True}).json()
    assert done["status"] == "completed"
    restarted = client.request("PATCH", f"/invocations/{inv}/restart-as-new?from=2")
    new = restarted.json()["new_invocation_id"]
    shown = client.request("GET", f"/model/invocations/{new}").json()
    assert shown["restarted_from"] == inv and [e["index"] for e in shown["journal"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/model/invocations", [1], 400, "The body must be a JSON object, got list."),
        ("POST", "/model/invocations", {"service": "Steps"}, 400, "Missing field 'handler'."),
        (
            "POST",
            "/model/invocations",
            {"service": "Steps", "handler": "h", "color": "red"},
            400,
            "Unknown field 'color'; this step takes service, handler, key, delay_ms, idempotency_key.",
        ),
        (
            "POST",
            "/model/invocations",
            {"service": "Steps", "handler": 5},
            400,
            "Invalid argument 'handler': must be a non-empty string, got int",
        ),
        (
            "POST",
            "/model/invocations",
            {"service": "Nope", "handler": "h"},
            404,
            "The requested service 'Nope' does not exist",
        ),
        ("POST", "/model/clock/advance", {"by_ms": -1}, 400, "Invalid argument 'ms': must be an integer >= 0, got -1"),
        ("PUT", "/model/partitions/x", {"available": False}, 400, "The partition must be a number, got 'x'."),
        ("PUT", "/model/partitions/99", {"available": False}, 400, "Invalid argument 'partition': must be below 24"),
        (
            "POST",
            "/model/invocations/inv_bogus/commands",
            {"type": "run"},
            400,
            "Invalid argument 'type': 'run' is not a command type; did you mean 'Run'?",
        ),
    ],
)
def test_bad_step_requests_name_the_problem_and_change_nothing(
    client: Client, method: str, path: str, body: object, status: int, message: str
) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    before = client.request("GET", "/model/world").body
    refused = client.request(method, path, body)
    assert refused.status == status and refused.json()["message"].startswith(message), refused.json()
    assert refused.json()["restate_code"] is None
    assert client.request("GET", "/model/world").body == before


def test_services_and_deployments_can_be_registered(client: Client) -> None:
    service = client.request(
        "POST", "/model/services", {"name": "Pay", "type": "virtual_object", "retry_policy": {"max_attempts": 3}}
    )
    assert service.json() == {"name": "Pay", "type": "virtual_object"}
    deployment = client.request("POST", "/model/deployments", {"services": ["Pay"], "protocol": [5, 6], "name": "v1"})
    dep_id = deployment.json()["id"]
    listed = client.request("GET", "/deployments").json()["deployments"]
    assert [d["id"] for d in listed] == [dep_id]
    world = json.loads(client.request("GET", "/model/world").body)
    assert world["services"][0]["retry_policy"]["max_attempts"] == 3


def test_unknown_model_paths_and_methods_answer_like_restates_router(client: Client) -> None:
    assert client.request("GET", "/model/nope").status == 404
    wrong = client.request("DELETE", "/model/world")
    assert (wrong.status, wrong.allow, wrong.body) == (405, "GET,HEAD,PUT", b"")
    assert client.request("GET", "/v2/model/world").status == 404  # /model/ is not part of Restate's versions


def test_a_world_over_the_body_limit_moves_as_json_lines(client: Client) -> None:
    engine = big_engine(7_000)
    lines = "".join(dump_world_lines(engine)).encode()
    assert len(lines) > MAX_BODY_BYTES
    too_big = client.request("PUT", "/model/world", raw=json.dumps(dump_world(engine)).encode())
    assert too_big.status == 413
    loaded = client.request("PUT", "/model/world", raw=lines, headers={"content-type": "application/x-ndjson"})
    assert loaded.status == 200, loaded.body[:300]
    assert loaded.json()["invocations"] == 7_000
    exported = client.request("GET", "/model/world", headers={"accept": "application/x-ndjson"})
    assert exported.status == 200 and exported.content_type == "application/x-ndjson"
    assert exported.body == lines  # byte for byte


def test_bad_json_lines_are_refused_and_change_nothing(client: Client) -> None:
    before = client.request("GET", "/model/world").body
    bad = b'{"services": [], "deployments": []}\n{oops\n'
    refused = client.request("PUT", "/model/world", raw=bad, headers={"content-type": "application/x-ndjson"})
    assert refused.status == 400 and "Invalid world at 'line 2': is not JSON" in refused.json()["message"]
    assert client.request("GET", "/model/world").body == before
