"""``GET /openapi``: an OpenAPI 3.1 description of what this server answers over HTTP.

Written for this model (not copied from Restate's): the Restate paths it serves (tag ``Restate
admin API``, shapes as restate-server 1.7.12 answers them) and ``/model/`` (tag ``Model``, not
part of Restate's API).
"""

from __future__ import annotations

from typing import Any

RESTATE = "Restate admin API"
MODEL = "Model (not part of Restate's API)"

ERROR: dict[str, Any] = {
    "description": "A refusal: Restate's JSON error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}, "restate_code": {"type": ["string", "null"]}},
            }
        }
    },
}
TEXT: dict[str, Any] = {
    "description": "A query string or path segment Restate cannot read",
    "content": {"text/plain": {}},
}
EMPTY = {"description": "Done (no body)"}
ID = {"name": "invocation_id", "in": "path", "required": True, "schema": {"type": "string"}}
DEPLOYMENT = {
    "name": "deployment",
    "in": "query",
    "schema": {"type": "string"},
    "description": "keep, latest, or a deployment id",
}
FROM = {"name": "from", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 4294967295}}
OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}


def _operation(summary: str, tag: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": [tag], "responses": responses, **more}


def document(version: str) -> dict[str, Any]:
    """The whole document, for a server answering as restate-server ``version``."""
    paths: dict[str, Any] = {}
    for word, summary, codes in (
        ("cancel", "Cancel an invocation", {"200": EMPTY, "202": EMPTY}),
        ("kill", "Kill an invocation", {"200": EMPTY}),
        ("purge", "Purge a completed invocation", {"200": EMPTY}),
        ("purge-journal", "Purge a completed invocation's journal", {"200": EMPTY}),
        ("pause", "Pause a running invocation", {"200": EMPTY, "202": EMPTY}),
        ("resume", "Resume a suspended or paused invocation", {"200": EMPTY}),
    ):
        parameters = [ID, DEPLOYMENT] if word == "resume" else [ID]
        paths[f"/invocations/{{invocation_id}}/{word}"] = {
            "patch": _operation(summary, RESTATE, {**codes, "4XX": ERROR, "503": ERROR}, parameters=parameters)
        }
    paths["/invocations/{invocation_id}/restart-as-new"] = {
        "patch": _operation(
            "Restart a completed invocation as a new one, copying its journal up to `from`",
            RESTATE,
            {
                "200": {
                    "description": "The new invocation",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["new_invocation_id"],
                                "properties": {"new_invocation_id": {"type": "string"}},
                            }
                        }
                    },
                },
                "400": {
                    "description": "Malformed request",
                    **ERROR,
                    "content": {**ERROR["content"], **TEXT["content"]},
                },
                "4XX": ERROR,
                "503": ERROR,
            },
            parameters=[ID, FROM, DEPLOYMENT],
        )
    }
    paths["/invocations/{invocation_id}"] = {
        "delete": _operation(
            "Cancel, kill or purge (Restate's older API; answers 202 without waiting)",
            RESTATE,
            {"202": EMPTY, "400": TEXT},
            parameters=[ID, {"name": "mode", "in": "query", "schema": {"enum": ["cancel", "kill", "purge"]}}],
        )
    }
    for op in ("cancel", "kill", "purge", "purge-journal", "pause", "resume", "restart-as-new"):
        paths[f"/internal/invocations_batch_operations/{op}"] = {
            "post": _operation(
                f"{op} many invocations (Restate's internal batch endpoint)",
                RESTATE,
                {"200": OBJECT | {"description": "succeeded and failed, in input order"}, "4XX": TEXT},
                requestBody=OBJECT,
            )
        }
    paths["/query"] = {
        "post": _operation(
            "SQL over sys_* tables (DataFusion): JSON rows for Accept: application/json, else Arrow IPC",
            RESTATE,
            {"200": OBJECT | {"description": "The rows"}, "400": ERROR, "500": ERROR},
            requestBody=OBJECT,
        )
    }
    paths["/health"] = {"get": _operation("Health", RESTATE, {"200": EMPTY})}
    paths["/version"] = {
        "get": _operation("Version and admin API versions", RESTATE, {"200": OBJECT | {"description": "Version"}})
    }
    paths["/services"] = {"get": _operation("Services", RESTATE, {"200": OBJECT | {"description": "Services"}})}
    paths["/services/{service}"] = {
        "get": _operation("A service", RESTATE, {"200": OBJECT | {"description": "A service"}, "404": ERROR})
    }
    paths["/deployments"] = {
        "get": _operation("Deployments", RESTATE, {"200": OBJECT | {"description": "Deployments"}})
    }
    paths["/deployments/{deployment}"] = {
        "get": _operation(
            "A deployment", RESTATE, {"200": OBJECT | {"description": "A deployment"}, "404": ERROR, "400": TEXT}
        )
    }
    model = {
        "/model/world": {
            "get": _operation(
                "Export the world (cases-format.md)", MODEL, {"200": OBJECT | {"description": "The world"}}
            ),
            "put": _operation(
                "Load a world (or a whole case line); ?seed=N seeds its ids",
                MODEL,
                {"200": OBJECT | {"description": "Counts and the clock"}, "400": ERROR, "413": ERROR},
                requestBody=OBJECT,
            ),
        },
        "/model/clock/advance": {
            "post": _operation(
                "Move the virtual clock {by_ms}",
                MODEL,
                {"200": OBJECT | {"description": "now_ms"}, "400": ERROR},
                requestBody=OBJECT,
            )
        },
        "/model/partitions/{partition}": {
            "put": _operation(
                "Make a partition (un)available {available}",
                MODEL,
                {"200": OBJECT | {"description": "Done"}},
                requestBody=OBJECT,
            )
        },
        "/model/services": {
            "post": _operation(
                "Register a service (retry_policy optional)",
                MODEL,
                {"200": OBJECT | {"description": "The service"}},
                requestBody=OBJECT,
            )
        },
        "/model/deployments": {
            "post": _operation(
                "Register a deployment", MODEL, {"200": OBJECT | {"description": "Its id"}}, requestBody=OBJECT
            )
        },
        "/model/invocations": {
            "post": _operation(
                "Call a handler", MODEL, {"200": OBJECT | {"description": "The new invocation"}}, requestBody=OBJECT
            )
        },
        "/model/invocations/{invocation_id}": {
            "get": _operation(
                "An invocation, with restarted_as",
                MODEL,
                {"200": OBJECT | {"description": "The invocation"}, "404": ERROR},
                parameters=[ID],
            )
        },
        "/model/invocations/{invocation_id}/restart-as-new": {
            "post": _operation(
                "Restart-as-new with Idempotency-Key, or ?dry_run=true",
                MODEL,
                {"200": OBJECT | {"description": "The new id, or the dry run's answer"}, "422": ERROR},
                parameters=[ID, FROM, DEPLOYMENT, {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}}],
            )
        },
    }
    for step in ("commands", "completions", "suspend", "sleep", "fail-attempt", "complete"):
        model[f"/model/invocations/{{invocation_id}}/{step}"] = {
            "post": _operation(
                f"Handler step: {step}",
                MODEL,
                {"200": OBJECT | {"description": "The invocation after"}, "4XX": ERROR},
                parameters=[ID],
                requestBody=OBJECT,
            )
        }
    for op in ("cancel", "kill", "purge", "purge-journal", "pause", "resume", "restart-as-new"):
        model[f"/model/batch/{op}"] = {
            "post": _operation(
                f"{op} by ids or by filter, with Idempotency-Key",
                MODEL,
                {"200": OBJECT | {"description": "matched, succeeded, failed"}, "400": ERROR, "422": ERROR},
                requestBody=OBJECT,
            )
        }
    paths.update(model)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "invocation-lifecycle: Restate's admin API over a model",
            "description": "Restate's admin API paths as restate-server 1.7.12 answers them, over a pure-Python model, "
            "and /model/ to drive that model.",
            "version": version,
        },
        "tags": [{"name": RESTATE}, {"name": MODEL, "description": "Loading worlds, the clock, steps, extensions"}],
        "paths": paths,
    }
