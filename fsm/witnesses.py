"""The explorer's findings as conformance cases (cases-format.md), and its answers made comparable.

A witness case holds the world just before its request, so replaying it needs nothing else; the
expected answer is taken on a copy of that world (loaded from the dump, as a replay does), and
``steps`` lists the calls from the setup that reach the world, for a reader.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from .engine import Engine
from .errors import LifecycleError
from .snapshot import dump_world, load_world

#: The admin operations besides restart-as-new that a witness case may name (the conformance replay's).
ADMIN_OPERATIONS = ("cancel", "kill", "purge", "purge_journal", "pause", "resume")

_IDS = re.compile(r"\b(inv|dp)_[0-9A-Za-z]+")
_PARTITION = re.compile(r"\bpartition \d+")

#: One distinct answer of an operation: (operation, http status, reason or None, message with ids blanked).
Answer = tuple[str, int, str | None, str | None]


def answer_of(operation: str, status: int, reason: str | None, message: str | None) -> Answer:
    """An answer with its ids and partition numbers blanked (``<inv>``, ``<dp>``, ``partition <n>``), so
    equivalent worlds give equal answers."""
    if message is not None:
        message = _PARTITION.sub("partition <n>", _IDS.sub(r"<\1>", message))
    return (operation, status, reason, message)


def restart_case(
    engine: Engine,
    outcome: tuple[int, int, str],
    steps: list[str],
    target: Any,
    from_: int | str | None,
    deployment: Any,
) -> dict[str, Any]:
    """A restart-as-new witness as a case; ``engine`` is left as it is."""
    world = dump_world(engine)
    copy = load_world(world, seed=0)
    raw_from = None if from_ is None else str(from_)
    raw_deployment = None if deployment is None else str(deployment)
    query = [
        f"{name}={quote(value, safe='')}"
        for name, value in (("from", raw_from), ("deployment", raw_deployment))
        if value is not None
    ]
    expect: dict[str, Any]
    try:
        result = copy.restart_as_new(target, from_, deployment)
    except LifecycleError as refused:
        expect = {"http_status": refused.http_status, "message": refused.message}
    else:
        new = copy.invocations[result.new_invocation_id]
        expect = {
            "http_status": 200,
            "message": None,
            "new_invocation": {
                "copied_indexes": list(range(len(new.journal or ()))),
                "pinned_deployment_id": new.pinned_deployment,
                "pinned_protocol": new.pinned_protocol,
                "status": new.state,
                "restarted_from": target,
            },
        }
    check, status, reason = outcome
    return {
        "name": f"explore/check{check}-{status}-{reason}",
        "transport": "any",
        "world": world,
        "request": {
            "invocation_id": target,
            "from": raw_from,
            "deployment": raw_deployment,
            "query_string": "&".join(query),
        },
        "expect": expect,
        "steps": steps,
    }


def admin_case(
    engine: Engine, name: str, operation: str, target: str, deployment: str | None, steps: list[str]
) -> dict[str, Any]:
    """An admin operation's witness as a case (``operation``, ``expect.status_after``); ``engine`` is
    left as it is."""
    world = dump_world(engine)
    copy = load_world(world, seed=0)
    try:
        status = copy.resume(target, deployment) if operation == "resume" else getattr(copy, operation)(target)
    except LifecycleError as refused:
        expect: dict[str, Any] = {"http_status": refused.http_status, "message": refused.message}
    else:
        expect = {"http_status": status, "message": None}
    after = copy.invocations.get(target)
    expect["status_after"] = after.state if after is not None else "free"
    request: dict[str, Any] = {"invocation_id": target}
    if deployment is not None:
        request["deployment"] = deployment
        request["query_string"] = f"deployment={quote(deployment, safe='')}"
    return {
        "name": name,
        "operation": operation,
        "transport": "any",
        "world": world,
        "request": request,
        "expect": expect,
        "steps": steps,
    }


__all__ = ["ADMIN_OPERATIONS", "Answer", "admin_case", "answer_of", "restart_case"]
