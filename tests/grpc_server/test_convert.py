"""Proto <-> model: a typed invocation says exactly what the world format says."""

from __future__ import annotations

from typing import Any

import pytest

from fsm.errors import InvalidArgument
from fsm.snapshot import dump_invocation, load_world
from fsm.tools.conformance import read_cases
from grpc_server import convert
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common

from .conftest import EXAMPLES


def test_every_recorded_invocation_survives_the_round_trip() -> None:
    seen = 0
    for case in read_cases([EXAMPLES]):
        engine = load_world(case["world"])
        timers = engine.pending_sleeps()
        for inv in engine.invocations.values():
            want: dict[str, Any] = {
                "journal_retention_s": inv.journal_retention_s,
                "completion_retention_s": inv.completion_retention_s,
                **dump_invocation(engine, inv, timers),
            }
            assert convert.invocation_to_world(convert.invocation_to_proto(engine, inv, timers=timers)) == want
            seen += 1
    assert seen > 300


def test_listing_leaves_the_journal_out() -> None:
    case = next(iter(read_cases([EXAMPLES])))
    engine = load_world({**case["world"], "invocations": []})
    inv_id = engine.call("Steps", "run")
    message = convert.invocation_to_proto(engine, engine.invocations[inv_id], with_journal=False)
    assert message.journal_retained and not message.journal


@pytest.mark.parametrize(
    ("raw", "selector"),
    [
        (None, None),
        ("keep", common.DeploymentSelector(mode=common.DeploymentSelector.MODE_KEEP)),
        ("Keep", common.DeploymentSelector(mode=common.DeploymentSelector.MODE_KEEP)),
        ("latest", common.DeploymentSelector(mode=common.DeploymentSelector.MODE_LATEST)),
        ("Latest", common.DeploymentSelector(mode=common.DeploymentSelector.MODE_LATEST)),
        ("KEEP", common.DeploymentSelector(id="KEEP")),
        ("", common.DeploymentSelector(id="")),
        ("dp_x", common.DeploymentSelector(id="dp_x")),
    ],
)
def test_raw_deployment_to_selector_and_back(raw: str | None, selector: common.DeploymentSelector | None) -> None:
    assert convert.raw_to_selector(raw) == selector
    back = convert.selector_to_raw(adm.RestartAsNewRequest(deployment=selector))
    assert back == (raw.lower() if raw in ("Keep", "Latest") else raw)


def test_unknown_enum_numbers_are_invalid_arguments() -> None:
    with pytest.raises(InvalidArgument, match="'type'"):
        convert.service_type_from_proto(77)
    with pytest.raises(InvalidArgument, match="'statuses'"):
        convert.statuses_from_proto([77])
    assert convert.service_type_from_proto(common.SERVICE_TYPE_UNSPECIFIED) == "service"
    assert convert.statuses_from_proto([common.INVOCATION_STATUS_FREE]) == {"free"}
