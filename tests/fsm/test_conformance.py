"""The in-process replay: the shared examples pass, and a case that differs is reported."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fsm.conformance import InProcess, replay
from fsm.explore import Scope, explore
from fsm.testing import check_case
from fsm.tools.conformance import read_cases

from .conftest import EXAMPLES


def test_every_shared_example_passes_in_process() -> None:
    report = replay(read_cases([EXAMPLES]), InProcess())
    assert report.failures == []
    assert (report.passed, report.failed, report.skipped) == (388, 0, 0)


def test_http_cases_can_be_counted_as_skipped() -> None:
    report = replay(read_cases([EXAMPLES]), InProcess(), skip_http=True)
    assert (report.passed, report.failed, report.skipped) == (334, 0, 54)


def test_a_wrong_expectation_is_reported_with_name_expected_and_got() -> None:
    case = next(c for c in read_cases([EXAMPLES]) if c["expect"]["http_status"] == 200)
    case["expect"]["new_invocation"]["copied_indexes"] = [0, 1]
    case["expect"]["new_invocation"]["pinned_protocol"] = 5
    report = replay([case], InProcess())
    assert report.lines()[-1] == "0 passed, 1 failed"
    assert report.failures[0].startswith(f"FAIL {case['name']}: ")
    assert "pinned: expected" in report.failures[0] and "journal" in report.failures[0]


def test_other_operations_replay_too() -> None:
    base = next(c for c in read_cases([EXAMPLES]) if c["name"] == "completed_success/none")
    cases = [
        {
            **base,
            "name": "kill",
            "operation": "kill",
            "expect": {
                "http_status": 409,
                "message": f"The invocation '{base['request']['invocation_id']}' was already completed.",
            },
        },
        {
            **base,
            "name": "purge",
            "operation": "purge",
            "expect": {"http_status": 200, "message": None, "status_after": "free"},
        },
    ]
    report = replay(cases, InProcess())
    assert report.failures == [] and report.passed == 2


WITNESSES = sorted(explore(Scope(max_depth=2)).cases.values(), key=lambda case: str(case["name"]))


@pytest.mark.parametrize("case", WITNESSES, ids=[str(case["name"]) for case in WITNESSES])
def test_each_witness_case_is_a_test(case: dict[str, Any]) -> None:
    check_case(case)  # as a user's test suite runs a case file


def test_a_case_the_model_does_not_answer_fails_naming_the_difference() -> None:
    case = copy.deepcopy(WITNESSES[0])
    case["expect"]["http_status"] = 418
    with pytest.raises(AssertionError, match=rf"^{case['name']}: http_status: expected 418, got "):
        check_case(case)
