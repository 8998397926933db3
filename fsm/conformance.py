"""Replay conformance cases (cases-format.md) against the in-process model.

The comparison lives here once. A transport (this module's :class:`InProcess`, or the gRPC
replayer in ``grpc_server.conformance``) only implements :class:`Target`: load a world, send
one request, report what came back. Reading case files and printing the report is the command
line's job: ``python -m fsm.tools.conformance FILE.jsonl ...`` (:mod:`fsm.tools.conformance`).

Beside restart-as-new, a case may name another ``operation`` (``cancel``, ``kill``, ``purge``,
``purge_journal``, ``pause``, ``resume``); its ``expect`` then holds ``http_status``,
``message`` and, optionally, ``status_after`` (the target's state after the call, ``free``
when gone), which is compared where the model's answer is synchronous.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .engine import Engine
from .errors import LifecycleError
from .ids import IdError, parse_invocation_id
from .lifecycle import OPERATIONS
from .requests import parse_query_string
from .snapshot import dump_invocation, load_world

RESTART = "restart_as_new"


@dataclass
class Outcome:
    """What a target answered, in transport-neutral terms."""

    http_status: int
    message: str | None = None
    new_invocation: dict[str, Any] | None = None  # the created invocation, in the world format
    old_before: dict[str, Any] | None = None  # the target invocation before and after the call
    old_after: dict[str, Any] | None = None
    status_after: str | None = None  # the target's state after the call ("free" when gone)
    new_invocation_id: str | None = None


class Unsupported(Exception):
    """The target cannot express this case (e.g. a raw query string over typed gRPC)."""


class Target(Protocol):
    """The I/O seam: everything a replayer needs from a model behind some transport."""

    def run(self, case: dict[str, Any]) -> Outcome: ...


def case_seed(case: dict[str, Any]) -> int:
    """A stable seed per case, so replays generate the same ids every time."""
    return zlib.crc32(str(case.get("name", "")).encode())


class InProcess:
    """Replays against :class:`fsm.engine.Engine` directly; ``transport: http`` cases go
    through :func:`fsm.requests.parse_query_string`, the model's HTTP query decoding."""

    def run(self, case: dict[str, Any]) -> Outcome:
        engine = load_world(case["world"], seed=case_seed(case))
        request = case["request"]
        operation = case.get("operation", RESTART)
        target_id = request["invocation_id"]
        before = _snapshot_of(engine, target_id)
        try:
            if operation == RESTART:
                if case.get("transport") == "http":
                    query = parse_query_string(request.get("query_string") or "")
                    from_: int | str | None = query.from_
                    deployment = query.deployment
                else:
                    from_, deployment = request.get("from"), request.get("deployment")
                result = engine.restart_as_new(target_id, from_, deployment)
                new = engine.invocations[result.new_invocation_id]
                return Outcome(
                    200,
                    None,
                    dump_invocation(engine, new),
                    before,
                    _snapshot_of(engine, target_id),
                    new_invocation_id=result.new_invocation_id,
                )
            if operation == "resume":
                deployment = request.get("deployment")
                if case.get("transport") == "http":
                    deployment = parse_query_string(request.get("query_string") or "", ("deployment",)).deployment
                status = engine.resume(target_id, deployment)
            elif operation in OPERATIONS:
                status = getattr(engine, operation)(target_id)
            else:
                raise Unsupported(f"unknown operation {operation!r}")
        except LifecycleError as exc:
            after = engine.invocations.get(target_id) if isinstance(target_id, str) else None
            return Outcome(
                exc.http_status,
                exc.message,
                None,
                before,
                _snapshot_of(engine, target_id),
                status_after=after.state if after is not None else "free",
            )
        after = engine.invocations.get(target_id)
        return Outcome(
            status,
            None,
            None,
            before,
            _snapshot_of(engine, target_id),
            status_after=after.state if after is not None else "free",
        )


def _snapshot_of(engine: Engine, invocation_id: Any) -> dict[str, Any] | None:
    inv = engine.invocations.get(invocation_id) if isinstance(invocation_id, str) else None
    return dump_invocation(engine, inv) if inv is not None else None


def _pinned(invocation: dict[str, Any]) -> tuple[str | None, int | None]:
    pinned = invocation.get("pinned")
    return (pinned["deployment_id"], pinned["protocol"]) if pinned else (None, None)


def compare(case: dict[str, Any], got: Outcome) -> list[str]:
    """Every way ``got`` differs from the case's expectation (empty when it conforms)."""
    expect = case["expect"]
    problems = []
    if got.http_status != expect["http_status"]:
        problems.append(f"http_status: expected {expect['http_status']}, got {got.http_status}")
    if got.message != expect.get("message"):
        problems.append(f"message: expected {expect.get('message')!r}, got {got.message!r}")
    operation = case.get("operation", RESTART)
    if operation == RESTART and expect["http_status"] == 200 and got.http_status == 200:
        problems.extend(_compare_new_invocation(case, got))
    if got.http_status != 200 or operation == RESTART:
        if got.old_before != got.old_after and got.http_status >= 400:
            problems.append("a refused request changed the target invocation")
    # Recorded only where the server's answer settles the state (see recording/README.md).
    status_after = expect.get("status_after")
    if status_after is not None and got.status_after is not None and got.status_after != status_after:
        problems.append(f"status_after: expected {status_after}, got {got.status_after}")
    pinned_after = expect.get("pinned_deployment_after")
    if pinned_after is not None and _pinned(got.old_after or {})[0] != pinned_after:
        problems.append(f"pinned_deployment_after: expected {pinned_after}, got {_pinned(got.old_after or {})[0]}")
    return problems


def _compare_new_invocation(case: dict[str, Any], got: Outcome) -> list[str]:
    want = case["expect"]["new_invocation"]
    new = got.new_invocation
    old_id = case["request"]["invocation_id"]
    if new is None or got.new_invocation_id is None:
        return ["200 without a new invocation"]
    problems = []
    new_id = got.new_invocation_id
    try:
        parse_invocation_id(new_id)
    except IdError as exc:
        problems.append(f"new id {new_id!r} does not parse: {exc.reason}")
    if new_id == old_id:
        problems.append("new id equals the old one")
    if new_id[:16] != old_id[:16]:
        problems.append(f"new id {new_id} does not share the partition key of {old_id}")
    if got.old_before != got.old_after:
        problems.append("the old invocation changed")
    old_indexes = want["copied_indexes"]
    old_journal = {e["index"]: e for e in (got.old_before or {}).get("journal", [])}
    expected_journal = [{**old_journal[i], "index": n} for n, i in enumerate(old_indexes) if i in old_journal]
    if len(expected_journal) == len(old_indexes) and new.get("journal") != expected_journal:
        problems.append(
            f"journal: expected copies of {old_indexes}, got {[e['index'] for e in new.get('journal', [])]}"
            f" {new.get('journal')}"
        )
    deployment, protocol = _pinned(new)
    if deployment != want["pinned_deployment_id"] or protocol != want["pinned_protocol"]:
        problems.append(
            f"pinned: expected {want['pinned_deployment_id']}/{want['pinned_protocol']}, got {deployment}/{protocol}"
        )
    if new.get("status") != want["status"]:
        problems.append(f"status: expected {want['status']}, got {new.get('status')}")
    if new.get("restarted_from") != want["restarted_from"]:
        problems.append(f"restarted_from: expected {want['restarted_from']}, got {new.get('restarted_from')}")
    return problems


def check_case(case: dict[str, Any]) -> None:
    """Replay one case in process; AssertionError listing every way the model's answer differs.

    The one call a test needs to turn a case file (recorded, or written by ``explore --cases``)
    into tests, one per case (see :mod:`fsm.testing`)."""
    problems = compare(case, InProcess().run(case))
    if problems:
        raise AssertionError(f"{case.get('name', '(unnamed case)')}: " + "; ".join(problems))


@dataclass
class Report:
    """What a replay found: the counts, and one line per failing case (name, expected, got)."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The counts and the failing cases' lines, with stable keys (``--json`` of the replayers)."""
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped, "failures": self.failures}

    def lines(self) -> list[str]:
        out = list(self.failures)
        if self.skipped:
            out.append(f"{self.skipped} skipped")
        out.append(f"{self.passed} passed, {self.failed} failed")
        return out


def replay(cases: Iterable[dict[str, Any]], target: Target, *, skip_http: bool = False) -> Report:
    """Ask ``target`` every case and compare; a case it cannot express (or ``transport: http`` with
    ``skip_http``) is counted as skipped."""
    report = Report()
    for case in cases:
        if skip_http and case.get("transport") == "http":
            report.skipped += 1
            continue
        try:
            got = target.run(case)
        except Unsupported:
            report.skipped += 1
            continue
        problems = compare(case, got)
        if problems:
            report.failed += 1
            report.failures.append(f"FAIL {case.get('name')}: {'; '.join(problems)}")
        else:
            report.passed += 1
    return report
