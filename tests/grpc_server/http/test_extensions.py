"""Beyond Restate under /model/: dry run, Idempotency-Key, batch by filter, lineage both ways."""

from __future__ import annotations

import socket

from grpc_server.server import Server

from ..conftest import BASE_WORLD
from .conftest import Client


def completed(client: Client, count: int = 1, steps: int = 1) -> list[str]:
    out = []
    for _ in range(count):
        inv = client.request("POST", "/model/invocations", {"service": "Steps", "handler": "run"}).json()[
            "invocation_id"
        ]
        for _ in range(steps):
            cid = client.request("POST", f"/model/invocations/{inv}/commands", {"type": "Run"}).json()["entry"]
            client.request("POST", f"/model/invocations/{inv}/completions", {"completion_id": cid["completion_ids"][0]})
        client.request("POST", f"/model/invocations/{inv}/complete", {})
        out.append(inv)
    return out


def test_a_dry_run_says_what_would_happen_and_changes_nothing(client: Client) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    (old,) = completed(client)
    before = client.request("GET", "/model/world").body
    plan = client.request("POST", f"/model/invocations/{old}/restart-as-new?from=2&dry_run=true").json()
    assert plan["status"] == 200 and plan["check"]["number"] == 16
    assert plan["would_create"]["copied_indexes"] == [0, 1, 2]
    refused = client.request("POST", f"/model/invocations/{old}/restart-as-new?from=9&dry_run=true").json()
    assert client.request("GET", "/model/world").body == before
    real = client.request("PATCH", f"/invocations/{old}/restart-as-new?from=9")  # what the dry run foretold
    assert (refused["status"], refused["message"]) == (real.status, real.json()["message"])
    assert refused["check"]["number"] in (14, 15)
    done = client.request("POST", f"/model/invocations/{old}/restart-as-new?from=2").json()
    assert done["copied_indexes"] == plan["would_create"]["copied_indexes"]


def test_an_idempotency_key_answers_the_first_answer_and_creates_nothing_more(client: Client) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    (old,) = completed(client)
    key = {"idempotency-key": "restart-1"}
    first = client.request("POST", f"/model/invocations/{old}/restart-as-new", headers=key)
    again = client.request("POST", f"/model/invocations/{old}/restart-as-new", headers=key)
    assert first.status == again.status == 200 and first.body == again.body
    lineage = client.request("GET", f"/model/invocations/{old}").json()["restarted_as"]
    assert lineage == [first.json()["new_invocation_id"]]
    other = client.request("POST", f"/model/invocations/{old}/restart-as-new?from=1", headers=key)
    assert other.status == 422
    assert other.json()["message"] == "The Idempotency-Key 'restart-1' was used for a different request."
    client.request("PUT", "/model/world", BASE_WORLD)  # a new world forgets the keys
    (fresh,) = completed(client)
    assert client.request("POST", f"/model/invocations/{fresh}/restart-as-new", headers=key).status == 200


def test_a_retry_after_the_client_connection_broke_gets_the_same_new_invocation(
    client: Client, http_server: Server
) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    (old,) = completed(client)
    assert http_server.http is not None
    raw = socket.create_connection(("127.0.0.1", http_server.http.port), timeout=10)
    raw.sendall(
        f"POST /model/invocations/{old}/restart-as-new HTTP/1.1\r\nhost: x\r\nidempotency-key: crash-1\r\n"
        "content-length: 0\r\n\r\n".encode()
    )
    raw.close()  # the client is gone before the answer
    lineage: list[str] = []
    for _ in range(200):  # the server finishes the request anyway
        lineage = client.request("GET", f"/model/invocations/{old}").json()["restarted_as"]
        if lineage:
            break
    retry = client.request("POST", f"/model/invocations/{old}/restart-as-new", headers={"idempotency-key": "crash-1"})
    assert retry.status == 200 and retry.json()["new_invocation_id"] == lineage[0]
    assert client.request("GET", f"/model/invocations/{old}").json()["restarted_as"] == lineage  # nothing more


def test_a_batch_by_filter_fixes_its_set_when_it_arrives(client: Client) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    done = completed(client, 3)
    running = client.request("POST", "/model/invocations", {"service": "Steps", "handler": "run"}).json()
    answer = client.request("POST", "/model/batch/restart-as-new", {"filter": {"service": "Steps"}}).json()
    assert answer["matched"] == [*done, running["invocation_id"]]  # what the batch created is not revisited
    assert [pair["old_invocation_id"] for pair in answer["succeeded"]] == done
    assert answer["failed"][0]["error"] == f"Invocation '{running['invocation_id']}' is still running"
    only_completed = client.request("POST", "/model/batch/purge", {"filter": {"status": ["completed"]}}).json()
    assert only_completed["matched"] == done and only_completed["succeeded"] == done


def test_a_batch_filter_reads_creation_time_from_the_ids(client: Client) -> None:
    client.request("PUT", "/model/world", BASE_WORLD)
    early = completed(client)
    now = client.request("POST", "/model/clock/advance", {"by_ms": 60_000}).json()["now_ms"]
    late = completed(client)
    window = client.request("POST", "/model/batch/purge", {"filter": {"created_after_ms": now - 1}}).json()
    assert window["matched"] == late and early[0] not in window["matched"]
    bad = client.request("POST", "/model/batch/purge", {"filter": {"color": "red"}})
    assert bad.status == 400 and bad.json()["message"].startswith("Unknown filter 'color'")
    both = client.request("POST", "/model/batch/purge", {"filter": {}, "invocation_ids": []})
    assert both.json()["message"] == "Give exactly one of 'invocation_ids' and 'filter'."
