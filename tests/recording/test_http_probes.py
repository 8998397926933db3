"""The raw HTTP probes: what gets asked, and the one normalisation of what came back."""

from __future__ import annotations

import json

from recording import http_probes


def test_every_operation_prefix_and_kind_of_id_is_asked() -> None:
    asked = http_probes.requests()
    assert len(asked) == len(set(asked)) == 847
    assert len(http_probes.batch_requests()) == 138
    assert len(http_probes.query_requests()) == 13
    for prefix in http_probes.PREFIXES:
        for operation in http_probes.OPERATIONS:
            assert ("PATCH", f"{prefix}/invocations/%FF/{operation}") in asked
    assert ("DELETE", "/v1/invocations/inv_bogus?mode=bogus") in asked


def test_version_is_normalised_and_nothing_else() -> None:
    body = json.dumps(
        {"version": "1.7.12", "ingress_endpoint": "http://127.0.0.1:4/", "features": {"b": False, "a": True}}
    )
    probe = {"method": "GET", "path": "/v2/version", "status": 200, "content_type": "application/json", "body": body}
    assert json.loads(http_probes.normalised(probe)["body"]) == {
        "version": "1.7.12",
        "ingress_endpoint": http_probes.INGRESS,
        "features": {"a": True, "b": False},
    }
    assert list(json.loads(http_probes.normalised(probe)["body"])["features"]) == ["a", "b"]
    other = {**probe, "path": "/v2/health"}
    assert http_probes.normalised(other) == other
