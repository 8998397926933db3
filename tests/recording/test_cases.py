"""recording.cases: request fields, answers, the consistency check and the output files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from recording.cases import (
    Case,
    decode_query,
    error_message,
    status_after_is_settled,
    transport_of,
    validate_case,
    write_outputs,
)
from recording.common import RecordingError

from .fakes import DP1, DP2, INV_A, INV_B


def test_decode_query_keeps_every_pair_and_the_first_value_of_each_key() -> None:
    assert decode_query("from=1&from=2&deployment=&x=%20y") == (
        [("from", "1"), ("from", "2"), ("deployment", ""), ("x", " y")],
        {"from": "1", "deployment": "", "x": " y"},
        ["from", "from", "deployment", "x"],
    )
    assert decode_query("") == ([], {}, [])


@pytest.mark.parametrize(
    ("qs", "transport"),
    [
        ("", "any"),
        ("from=0", "any"),
        ("from=4294967295", "any"),
        (f"from=1&deployment={DP1}", "any"),
        ("deployment=", "any"),
        ("deployment=%6Beep", "any"),
        ("from=4294967296", "http"),
        ("from=-1", "http"),
        ("from=abc", "http"),
        ("from=", "http"),
        ("from=1.5", "http"),
        ("from=%201", "http"),
        ("from=+1", "http"),  # '+' decodes to a space
        ("from=1&from=2", "http"),
        ("FROM=1", "http"),
        ("unknown=1", "http"),
        ("deployment=keep&deployment=latest", "http"),
    ],
)
def test_transport_of(qs: str, transport: str) -> None:
    assert transport_of(qs) == transport


@pytest.mark.parametrize(
    ("ctype", "data", "message"),
    [
        ("application/json", b'{"message":"Invocation not found","restate_code":"RT0001"}', "Invocation not found"),
        ("application/json", b'{"code":404}', '{"code":404}'),
        ("application/json", b'["message"]', '["message"]'),
        ("text/plain; charset=utf-8", b"Invalid query string: bad from", "Invalid query string: bad from"),
        ("text/plain", b"caf\xc3\xa9 \xff", "caf\u00e9 \ufffd"),
        ("application/json", b"", None),
    ],
)
def test_error_message(ctype: str, data: bytes, message: str | None) -> None:
    assert error_message(ctype, data) == message


@pytest.mark.parametrize(
    ("op", "status", "settled"),
    [
        ("resume", 400, True),
        ("cancel", 409, True),
        ("kill", 200, True),
        ("purge", 200, True),
        ("purge_journal", 200, True),
        ("cancel", 200, True),
        ("cancel", 202, False),
        ("pause", 200, True),
        ("pause", 202, False),
        ("resume", 200, False),
    ],
)
def test_status_after_is_settled(op: str, status: int, settled: bool) -> None:
    assert status_after_is_settled(op, status) is settled


# ------------------------------------------------------------------ validate_case
def good_case() -> Case:
    return {
        "name": "inboxed/kill",
        "operation": "kill",
        "transport": "any",
        "world": {
            "deployments": [
                {"id": DP1, "services": ["Steps", "Locker"], "protocol": [5, 7], "name": "D1"},
            ],
            "services": [
                {"name": "Steps", "type": "service", "journal_retention_s": 86400},
                {"name": "Locker", "type": "virtual_object", "journal_retention_s": 86400},
            ],
            "invocations": [
                {
                    "id": INV_A,
                    "target": {"service": "Locker", "handler": "hold", "key": "k"},
                    "status": "suspended",
                    "completion": None,
                    "pinned": {"deployment_id": DP1, "protocol": 6},
                    "journal_retained": True,
                    "journal": [
                        {"index": 0, "kind": "command", "type": "Input"},
                        {"index": 1, "kind": "command", "type": "Run", "completion_ids": [1]},
                        {"index": 2, "kind": "notification", "type": "Run", "completion_id": 1},
                    ],
                },
                {
                    "id": INV_B,
                    "target": {"service": "Steps", "handler": "run", "key": None},
                    "status": "completed",
                    "completion": "success",
                    "pinned": {"deployment_id": DP2, "protocol": 6},  # DP2: the deleted deployment
                    "journal_retained": False,
                    "journal": [],
                },
            ],
        },
        "request": {"invocation_id": INV_A, "from": None, "deployment": None, "query_string": ""},
        "expect": {"http_status": 200, "message": None},
    }


def test_a_consistent_world_passes() -> None:
    validate_case(good_case(), {DP2})


def test_an_invocation_may_not_be_pinned_to_a_deployment_that_never_was() -> None:
    with pytest.raises(RecordingError, match=f"inconsistent world in inboxed/kill: {INV_B} pinned to an unknown"):
        validate_case(good_case(), set())


def poke(doc: object, **fields: object) -> None:
    """Sets fields of a case's part, wrong types included: these tests build broken worlds on purpose."""
    cast(dict[str, object], doc).update(fields)


# Mutations of good_case, each breaking one rule, and the message it must give.
BROKEN: list[tuple[str, Callable[[Case], object], str]] = [
    ("duplicate deployment", lambda c: c["world"]["deployments"].append(c["world"]["deployments"][0]), "duplicate"),
    (
        "unknown service served",
        lambda c: c["world"]["deployments"][0]["services"].append("Ghost"),
        "deployment D1 serves unknown service Ghost",
    ),
    ("inverted protocol", lambda c: poke(c["world"]["deployments"][0], protocol=[7, 5]), r"protocol range \[7, 5\]"),
    ("short protocol", lambda c: poke(c["world"]["deployments"][0], protocol=[5]), r"protocol range \[5\]"),
    ("service type", lambda c: poke(c["world"]["services"][0], type="actor"), "service {'name': 'Steps'"),
    ("retention", lambda c: poke(c["world"]["services"][0], journal_retention_s=None), "service {'name': 'Steps'"),
    (
        "unknown target",
        lambda c: poke(c["world"]["invocations"][1]["target"], service="Ghost"),
        f"{INV_B} targets an unknown service",
    ),
    (
        "key on a service",
        lambda c: poke(c["world"]["invocations"][1]["target"], key="k"),
        f"{INV_B} key does not fit a service",
    ),
    (
        "no key on an object",
        lambda c: poke(c["world"]["invocations"][0]["target"], key=None),
        f"{INV_A} key does not fit a virtual_object",
    ),
    ("status", lambda c: poke(c["world"]["invocations"][0], status="free"), "status free"),
    (
        "completion without completed",
        lambda c: poke(c["world"]["invocations"][0], completion="success"),
        f"{INV_A} completion success with status suspended",
    ),
    (
        "completed without completion",
        lambda c: poke(c["world"]["invocations"][1], completion=None),
        f"{INV_B} completion None with status completed",
    ),
    (
        "not retained, not completed",
        lambda c: poke(c["world"]["invocations"][0], journal_retained=False, journal=[]),
        f"{INV_A} journal not retained but has entries or is not completed",
    ),
    (
        "not retained, with entries",
        lambda c: poke(c["world"]["invocations"][1], journal=[{"index": 0, "kind": "command", "type": "Input"}]),
        f"{INV_B} journal not retained but has entries",
    ),
    ("empty journal", lambda c: poke(c["world"]["invocations"][0], journal=[]), f"{INV_A} journal indexes"),
    ("index gap", lambda c: c["world"]["invocations"][0]["journal"].pop(1), f"{INV_A} journal indexes"),
    (
        "no Input first",
        lambda c: poke(c["world"]["invocations"][0]["journal"][0], type="Run"),
        f"{INV_A} entry 0 is not the Input command",
    ),
    (
        "orphan notification",
        lambda c: poke(c["world"]["invocations"][0]["journal"][2], completion_id=9),
        f"{INV_A} notification 2 completes no command",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_an_inconsistent_world_fails(what: str, mutate: Callable[[Case], object], message: str) -> None:
    case = good_case()
    mutate(case)
    with pytest.raises(RecordingError, match=f"inconsistent world in inboxed/kill: {message}"):
        validate_case(case, {DP2})


def test_two_running_holders_of_one_key_fail() -> None:
    case = good_case()
    second = copy.deepcopy(case["world"]["invocations"][0])
    second["id"] = INV_B
    case["world"]["invocations"][1] = second
    with pytest.raises(RecordingError, match=r"two invocations hold one virtual-object key: .*\('Locker', 'k'\): 2"):
        validate_case(case, {DP2})
    second["status"] = "inboxed"  # an inboxed one waits, it does not hold
    validate_case(case, {DP2})


# ------------------------------------------------------------------ write_outputs
def test_write_outputs_writes_compact_lines_in_order(tmp_path: Path) -> None:
    first, second = good_case(), good_case()
    second["name"] = "inboxed/kill#2"
    second["world"]["services"][0]["name"] = "Steps"
    first["expect"]["message"] = "café"
    out = tmp_path / "out"
    write_outputs(out, {"a.jsonl": [first, second], "b.jsonl": []}, {DP2})
    lines = (out / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["inboxed/kill", "inboxed/kill#2"]
    assert lines[0].startswith('{"name":"inboxed/kill","operation":"kill","transport":"any","world":{')
    assert '"message":"café"' in lines[0]
    assert (out / "b.jsonl").read_text() == ""
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl", "b.jsonl"]


def test_write_outputs_writes_nothing_when_any_file_is_bad(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("old a\n")
    (tmp_path / "b.jsonl").write_text("old b\n")
    broken = good_case()
    poke(broken["world"]["invocations"][0], status="gone")
    with pytest.raises(RecordingError, match="status gone"):
        write_outputs(tmp_path, {"a.jsonl": [good_case()], "b.jsonl": [broken]}, {DP2})
    with pytest.raises(RecordingError, match="duplicate names in a.jsonl"):
        write_outputs(tmp_path, {"a.jsonl": [good_case(), good_case()]}, {DP2})
    assert (tmp_path / "a.jsonl").read_text() == "old a\n"
    assert (tmp_path / "b.jsonl").read_text() == "old b\n"
