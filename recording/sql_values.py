"""What restate-server's SQL tables show for an invocation in each lifecycle state, as JSON and Arrow.

The recording session calls :func:`record` last, into ``tests/conformance/recorded_sql/values.jsonl``.
It drives one invocation into each state of :data:`SCENARIOS` and asks every query of
:data:`QUERIES` about it, once with ``Accept: application/json`` and once with ``Accept: */*``
(an Arrow IPC stream), then the queries of :data:`SHARED_QUERIES` once over all of them. One
JSON line per answer: ``scenario``, ``query`` (the template: ``{id}`` is the scenario's
invocation, ``{old}`` the one it was restarted from, ``{ids}`` every scenario's invocation),
``accept``, and what came back: ``status``, ``content_type``, and ``body`` (the text) or, for
Arrow, ``body_base64``. The queries select only what does not change from run to run: ids and
instants appear as comparisons (``running_at IS NOT NULL AS was_running``), counts that race with
the handler as ``> 0``. The model must answer each one the same
(``tests/conformance/test_recorded_sql.py``, which also builds the same scenarios in the model).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from .client import Restate, call
from .common import RecordingError
from .driver import Driver

#: What is asked about each scenario's invocation.
QUERIES = (
    "SELECT target, target_service_name, target_service_key IS NOT NULL AS keyed, target_handler_name, "
    "target_service_ty, invoked_by, invoked_by_service_name, "
    "invoked_by_target, invoked_by_id IS NOT NULL AS by_id, restarted_from = '{old}' AS from_old, "
    "pinned_deployment_id IS NOT NULL AS pinned, pinned_service_protocol_version, journal_size, "
    "journal_commands_size, created_using_restate_version, completion_retention, journal_retention, "
    "inboxed_at IS NOT NULL AS was_inboxed, scheduled_at IS NOT NULL AS was_scheduled, "
    "scheduled_start_at > created_at AS starts_later, running_at IS NOT NULL AS was_running, "
    "completed_at IS NOT NULL AS was_completed, modified_at >= created_at AS modified_after, "
    "suspended_waiting_for_completions, suspended_waiting_for_signals, "
    "retry_count > 0 AS retried, next_retry_at IS NOT NULL AS retry_due, "
    "last_attempt_deployment_id IS NOT NULL AS attempt_pinned, last_failure IS NOT NULL AS failed_before, "
    "status, completion_result, completion_failure "
    "FROM sys_invocation WHERE id = '{id}'",
    "SELECT partition_key > 0 AS keyed_partition, status, completion_result, completion_failure, target, "
    "target_service_ty, invoked_by, restarted_from = '{old}' AS from_old, journal_size, journal_commands_size, "
    "running_at IS NOT NULL AS was_running, completed_at IS NOT NULL AS was_completed "
    "FROM sys_invocation_status WHERE id = '{id}'",
    "SELECT index, entry_type, name, completed, invoked_target, promise_name, "
    "sleep_wakeup_at IS NOT NULL AS wakes, version "
    "FROM sys_journal WHERE id = '{id}' ORDER BY index",
    "SELECT in_flight, retry_count > 0 AS retried, last_attempt_deployment_id IS NOT NULL AS attempt_pinned, "
    "next_retry_at IS NOT NULL AS retry_due, last_failure IS NOT NULL AS failed_before "
    "FROM sys_invocation_state WHERE id = '{id}'",
    "SELECT service_name, sequence_number >= 0 AS queued, created_at IS NOT NULL AS dated "
    "FROM sys_inbox WHERE id = '{id}'",
    "SELECT service_name, service_key IS NOT NULL AS keyed FROM sys_keyed_service_status WHERE invocation_id = '{id}'",
)
#: Asked once, over every scenario's invocation; the last ones name ids that are not well formed.
SHARED_QUERIES = (
    "SELECT status, count(*) AS n FROM sys_invocation WHERE id IN ({ids}) GROUP BY status ORDER BY status",
    "SELECT status, count(*) AS n FROM sys_invocation_status WHERE id IN ({ids}) GROUP BY status ORDER BY status",
    "SELECT count(*) AS entries, sum(CASE WHEN completed THEN 1 ELSE 0 END) AS done FROM sys_journal "
    "WHERE id IN ({ids})",
    "SELECT status FROM sys_invocation WHERE id IN ({ids}) AND status NOT IN ('completed', 'running') ORDER BY status",
    "SELECT nope FROM sys_invocation",
    "SELEC status FROM sys_invocation",
    "SELECT id FROM sys_invocation WHERE id = 'inv_bogus'",
    "SELECT id FROM sys_invocation_status WHERE id = ''",
    "SELECT index FROM sys_journal WHERE id = 'inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9x'",
    "SELECT in_flight FROM sys_invocation_state WHERE id = 'nope'",
    "SELECT id FROM sys_invocation WHERE id IN ({ids}, 'bad')",
    "SELECT id FROM sys_invocation WHERE 'bad' = id",
    "SELECT i.id FROM sys_invocation i WHERE i.id = 'inv_1'",
    "SELECT id FROM sys_inbox WHERE ID = 'bad'",
    "SELECT invocation_id FROM sys_keyed_service_status WHERE invocation_id = 'bad'",
    "SELECT count(*) AS n FROM sys_journal j JOIN sys_invocation i ON i.id = j.id WHERE j.id = 'bad'",
    "SELECT id FROM sys_invocation WHERE id = 'bad' AND status = 'x'",
    "SELECT count(*) > 0 AS some FROM sys_invocation WHERE id = 'bad' OR true",
    "SELECT id FROM sys_invocation WHERE lower(id) = 'bad' OR id LIKE 'bad%' OR restarted_from = 'bad'",
    "SELECT id FROM sys_invocation_status WHERE id = 'bad' LIMIT 0",
    "SELECT id FROM sys_deployment WHERE id = 'bad'",
)
ACCEPTS = ("application/json", "*/*")

#: One invocation per state: (name, how the driver makes it, the state introspection must show).
Make = Callable[[Driver], dict[str, str]]


def _one(made: list[tuple[str, Any]]) -> dict[str, str]:
    return {"id": made[0][0]}


def _holder_and_inboxed(drv: Driver) -> dict[str, str]:
    key = "nap"  # one per run: the data directory is fresh
    holder = drv.rs.send("Locker", "nap", key)
    drv.wait([holder], lambda r: r["status"] == "suspended" and (r["journal_size"] or 0) >= 5, "Locker.nap holding")
    inboxed = drv.rs.send("Locker", "nap", key)
    drv.wait([inboxed], lambda r: r["status"] == "pending", "Locker.nap inboxed")
    return {"holder": holder, "inboxed": inboxed}


def _restarted(drv: Driver) -> dict[str, str]:
    old = drv.completed(1)[0][0]
    status, _, data = drv.rs.op("restart-as-new", old)
    if status != 200:
        raise RecordingError(f"restart-as-new of {old} answered {status}: {data[:300]!r}")
    new: str = json.loads(data)["new_invocation_id"]
    drv.wait([new], lambda r: r["status"] == "completed", "the restarted Steps.run completed")
    return {"id": new, "old": old}


SCENARIOS: dict[str, Make] = {
    "completed": lambda drv: _one(drv.completed(1)),
    "failed": lambda drv: _one(drv.completed(1, "Failer", "terminal", failure=True)),
    "killed": lambda drv: _one(drv.ended_by(1, "kill")),
    "cancelled": lambda drv: _one(drv.ended_by(1, "cancel")),
    "journal_purged": lambda drv: _one(drv.journal_purged(1)),
    "restarted": _restarted,
    "suspended": lambda drv: _one(drv.suspended(1)),
    "scheduled": lambda drv: _one(drv.scheduled(1)),
    "running": lambda drv: _one(drv.running(1)),
    "backing_off": lambda drv: _one(drv.backing_off(1)),
    "paused": lambda drv: _one(drv.paused(1)),
    # two invocations of one key: "holder" holds it, "inboxed" waits for it
    "holder_and_inboxed": _holder_and_inboxed,
}


def ask(port: int, query: str, accept: str) -> dict[str, Any]:
    """One ``POST /query``, as a recorded line (without the scenario and template)."""
    body = json.dumps({"query": query}).encode()
    status, content_type, raw = call(
        "POST", port, "/query", body, {"content-type": "application/json", "accept": accept}
    )
    answer: dict[str, Any] = {"accept": accept, "status": status, "content_type": content_type}
    if content_type == "application/vnd.apache.arrow.stream":
        answer["body_base64"] = base64.b64encode(raw).decode("ascii")
    else:
        answer["body"] = raw.decode("utf-8", "replace")
    return answer


def fill(template: str, ids: dict[str, str], every: list[str]) -> str:
    """The template with the scenario's ids (``{old}``: none, when the scenario was not restarted)."""
    listed = ", ".join(f"'{i}'" for i in every)
    return template.replace("{id}", ids.get("id", "")).replace("{old}", ids.get("old", "")).replace("{ids}", listed)


def roles(made: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """A scenario's invocations, each as the ids one template is filled with."""
    if "holder" in made:
        return [(role, {"id": made[role]}) for role in ("holder", "inboxed")]
    return [("", made)]


def record(rs: Restate, drv: Driver) -> list[dict[str, Any]]:
    """Makes every scenario, then asks every query in both formats."""
    made = {name: make(drv) for name, make in SCENARIOS.items()}
    lines: list[dict[str, Any]] = []
    every: list[str] = []
    for name, ids in made.items():
        for role, filled in roles(ids):
            every.append(filled["id"])
            scenario = f"{name}.{role}" if role else name
            for template in QUERIES:
                query = fill(template, filled, every)
                for accept in ACCEPTS:
                    lines.append({"scenario": scenario, "query": template, **ask(rs.admin, query, accept)})
    for template in SHARED_QUERIES:
        for accept in ACCEPTS:
            lines.append({"scenario": "all", "query": template, **ask(rs.admin, fill(template, {}, every), accept)})
    return lines
