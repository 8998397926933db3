"""Services and deployments: the latest deployment, removal, and the model's own argument errors."""

from __future__ import annotations

from fsm.errors import FailedPrecondition, InvalidArgument, LifecycleError, NotFound, WrongType
from fsm.registry import Registry
from tests.refusals import answer, refused

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
    err: LifecycleError = refused(lambda: r.register_service("A", "workflow"), FailedPrecondition)
    assert answer(err) == (409, "SERVICE_TYPE_CHANGED", "The service 'A' is a service; it cannot become a workflow.")
    err = refused(lambda: r.register_deployment(["Z"], (5, 7), None, None, lambda: next(IDS)), NotFound)
    assert answer(err) == (404, "SERVICE_NOT_FOUND", "The requested service 'Z' does not exist")
    err = refused(lambda: r.register_deployment(["A"], (7, 5), None, None, lambda: next(IDS)), InvalidArgument)
    assert answer(err) == (400, "INVALID_ARGUMENT", "Invalid argument 'protocol': min 7 is greater than max 5")
    err = refused(lambda: r.register_deployment(["A"], (5, 7), "dp_x", None, lambda: next(IDS)), InvalidArgument)
    assert answer(err) == (400, "INVALID_ARGUMENT", "Invalid argument 'deployment_id': unrecognized codec version")
    dep = r.register_deployment(["A"], (5, 7), None, None, lambda: next(IDS))
    err = refused(lambda: r.remove_service("A", lambda name: False), FailedPrecondition)
    assert answer(err) == (409, "SERVICE_IN_USE", f"The service 'A' is still served by {dep}; remove those first.")
    r.remove_deployment(dep)
    err = refused(lambda: r.remove_service("A", lambda name: True), FailedPrecondition)
    assert answer(err) == (409, "SERVICE_IN_USE", "Invocations of the service 'A' still exist.")
    r.remove_service("A", lambda name: False)
    assert r.services == {}


def test_no_id_is_drawn_for_a_refused_registration() -> None:
    r = Registry()
    r.register_service("A")
    drawn: list[str] = []

    def new_id() -> str:
        drawn.append(next(IDS))
        return drawn[-1]

    err = refused(lambda: r.register_deployment(["A"], (5, 7), None, 3, new_id), WrongType)  # type: ignore[arg-type]
    assert answer(err) == (400, "INVALID_ARGUMENT", "Invalid argument 'name': must be a string, got int")
    assert drawn == []
