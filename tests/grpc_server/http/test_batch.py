"""The batch endpoints over live invocations: per-id outcomes in input order, Restate's texts."""

from __future__ import annotations

from ..conftest import BASE_WORLD
from .conftest import Client

BATCH = "/internal/invocations_batch_operations"


def _world_with(client: Client) -> dict[str, str]:
    """A running, a completed and a scheduled invocation, made through /model/."""
    client.request("PUT", "/model/world?seed=4", BASE_WORLD)

    def call(**extra: object) -> str:
        made = client.request("POST", "/model/invocations", {"service": "Steps", "handler": "run", **extra})
        return str(made.json()["invocation_id"])

    running, completed, scheduled = call(), call(), call(delay_ms=60_000)
    client.request("POST", f"/model/invocations/{completed}/complete", {})
    return {"running": running, "completed": completed, "scheduled": scheduled}


def test_a_batch_answers_each_id_in_input_order_duplicates_included(client: Client) -> None:
    ids = _world_with(client)
    order = [ids["completed"], ids["running"], ids["completed"], ids["scheduled"]]
    answer = client.request("POST", f"{BATCH}/purge", {"invocation_ids": order})
    assert answer.status == 200 and answer.content_type == "application/json"
    assert answer.json() == {
        "succeeded": [ids["completed"]],
        "failed": [
            {"invocation_id": ids["running"], "error": f"Invocation '{ids['running']}' is not yet completed"},
            {"invocation_id": ids["completed"], "error": f"Invocation '{ids['completed']}' not found"},
            {"invocation_id": ids["scheduled"], "error": f"Invocation '{ids['scheduled']}' is not yet completed"},
        ],
    }


def test_batch_restart_as_new_answers_pairs_and_restate_texts(client: Client) -> None:
    ids = _world_with(client)
    answer = client.request(
        "POST", f"{BATCH}/restart-as-new", {"invocation_ids": [ids["completed"], ids["running"], ids["scheduled"]]}
    ).json()
    (pair,) = answer["succeeded"]
    assert pair["old_invocation_id"] == ids["completed"] and pair["new_invocation_id"][:16] == ids["completed"][:16]
    assert answer["failed"] == [
        {"invocation_id": ids["running"], "error": f"Invocation '{ids['running']}' is still running"},
        {
            "invocation_id": ids["scheduled"],
            "error": f"Invocation '{ids['scheduled']}' cannot be restarted because it's not running yet",
        },
    ]
    new = client.request("GET", f"/model/invocations/{pair['new_invocation_id']}").json()
    assert [e["index"] for e in new["journal"]] == [0]  # a batch restart copies from 0


def test_batch_pause_resume_cancel_and_kill(client: Client) -> None:
    ids = _world_with(client)
    paused = client.request("POST", f"{BATCH}/pause", {"invocation_ids": [ids["running"], ids["completed"]]}).json()
    assert paused["succeeded"] == [ids["running"]]
    assert paused["failed"][0]["error"] == f"Invocation '{ids['completed']}' is not running, cannot be paused"
    resumed = client.request("POST", f"{BATCH}/resume", {"invocation_ids": [ids["running"], ids["scheduled"]]}).json()
    assert resumed["succeeded"] == [ids["running"]]
    assert resumed["failed"][0]["error"] == (
        f"Invocation '{ids['scheduled']}' is either inboxed or scheduled, cannot be resumed"
    )
    killed = client.request("POST", f"{BATCH}/kill", {"invocation_ids": [ids["running"], ids["completed"]]}).json()
    assert killed["succeeded"] == [ids["running"]]
    assert killed["failed"][0]["error"] == f"Invocation '{ids['completed']}' was already completed"


def test_a_malformed_id_refuses_the_whole_batch_and_changes_nothing(client: Client) -> None:
    ids = _world_with(client)
    before = client.request("GET", "/model/world").body
    refused = client.request("POST", f"{BATCH}/kill", {"invocation_ids": [ids["running"], "inv_bogus"]})
    assert refused.status == 422 and refused.content_type == "text/plain; charset=utf-8"
    assert refused.body.startswith(b"Failed to deserialize the JSON body into the target type: invocation_ids[1]:")
    assert client.request("GET", "/model/world").body == before


def test_ten_thousand_ids_and_bodies_that_are_not_json_are_refused_cleanly(client: Client) -> None:
    ids = _world_with(client)
    many = client.request("POST", f"{BATCH}/cancel", {"invocation_ids": [ids["running"]] * 10_000})
    assert (many.status, many.json()["message"]) == (400, "Batch size 10000 exceeds maximum allowed size of 1000")
    garbage = client.request("POST", f"{BATCH}/cancel", raw=b"\xff\x00not json")
    assert garbage.status == 400 and garbage.body.startswith(b"Failed to parse the request body as JSON: ")
    assert client.request("GET", f"/model/invocations/{ids['running']}").json()["status"] == "running"


def test_a_huge_batch_body_is_refused_before_it_is_read_whole(client: Client) -> None:
    huge = b'{"invocation_ids":["' + b"a" * (16 * 1024 * 1024) + b'"]}'
    refused = client.request("POST", f"{BATCH}/cancel", raw=huge)
    assert refused.status == 413 and "the most accepted" in refused.json()["message"]
