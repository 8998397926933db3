"""Services and deployments: the latest deployment, removal, and the model's own argument errors."""

from __future__ import annotations

import pytest

from fsm.errors import FailedPrecondition, InvalidArgument, NotFound
from fsm.registry import Registry

IDS = iter(f"dp_1{n:022d}" for n in range(100))


def test_the_latest_deployment_is_the_newest_that_serves_the_service() -> None:
    r = Registry()
    r.register_service("A")
    r.register_service("B", "virtual_object")
    first = r.register_deployment(["A", "B"], (5, 7), None, None, lambda: next(IDS))
    second = r.register_deployment(["A"], (5, 5), None, "v2", lambda: next(IDS))
    assert r.latest_deployment("A").id == second  # type: ignore[union-attr]
    assert r.latest_deployment("B").id == first  # type: ignore[union-attr]
    r.remove_deployment(second)
    assert r.latest_deployment("A").id == first  # type: ignore[union-attr]
    assert r.is_exclusive("B", "run") and not r.is_exclusive("A", "run") and r.service_type("B") == "virtual_object"


def test_refusals_name_the_problem() -> None:
    r = Registry()
    r.register_service("A")
    with pytest.raises(FailedPrecondition, match="The service 'A' is a service; it cannot become a workflow."):
        r.register_service("A", "workflow")
    with pytest.raises(NotFound, match="The requested service 'Z' does not exist"):
        r.register_deployment(["Z"], (5, 7), None, None, lambda: next(IDS))
    with pytest.raises(InvalidArgument, match="Invalid argument 'protocol': min 7 is greater than max 5"):
        r.register_deployment(["A"], (7, 5), None, None, lambda: next(IDS))
    with pytest.raises(InvalidArgument, match="Invalid argument 'deployment_id': unrecognized codec version"):
        r.register_deployment(["A"], (5, 7), "dp_x", None, lambda: next(IDS))
    dep = r.register_deployment(["A"], (5, 7), None, None, lambda: next(IDS))
    with pytest.raises(FailedPrecondition, match=f"The service 'A' is still served by {dep}; remove those first."):
        r.remove_service("A", lambda name: False)
    r.remove_deployment(dep)
    with pytest.raises(FailedPrecondition, match="Invocations of the service 'A' still exist."):
        r.remove_service("A", lambda name: True)
    r.remove_service("A", lambda name: False)
    assert r.services == {}


def test_no_id_is_drawn_for_a_refused_registration() -> None:
    r = Registry()
    r.register_service("A")
    drawn: list[str] = []

    def new_id() -> str:
        drawn.append(next(IDS))
        return drawn[-1]

    with pytest.raises(InvalidArgument, match="Invalid argument 'name': must be a string"):
        r.register_deployment(["A"], (5, 7), None, 3, new_id)  # type: ignore[arg-type]
    assert drawn == []
