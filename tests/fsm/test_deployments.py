"""Resume's deployment checks (behaviour.md section 2), through the engine and the lifecycle."""

from __future__ import annotations

from fsm import Engine, FailedPrecondition
from fsm.lifecycle import LIFECYCLE
from tests.refusals import answer, refused


class Record:
    __slots__ = ("id", "state")

    def __init__(self, state: str) -> None:
        self.id = "inv_x"
        self.state = state


def test_resume_of_a_running_invocation_keeps_its_deployment_by_default() -> None:
    record = Record("running")
    assert LIFECYCLE.fire(record, "resume") == record.state == "running"  # no selector given: keep


def test_an_unpinned_invocation_cannot_resume_on_another_deployment() -> None:
    e = Engine()
    e.register_service("Lonely")
    inv = e.call("Lonely", "run")  # no deployment serves it: never pinned
    e.pause(inv)
    err = refused(lambda: e.resume(inv, "latest"), FailedPrecondition)
    assert answer(err) == (
        409,
        "CANNOT_CHANGE_DEPLOYMENT",
        f"The invocation '{inv}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed.",
    )
