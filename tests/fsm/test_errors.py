"""What a refusal says to an embedder: its text, its class, and strict inputs that suggest the fix."""

from __future__ import annotations

import pytest

from fsm import STATES, Engine, InvalidArgument, LifecycleError, Status
from fsm.errors import FailedPrecondition, WrongType
from fsm.journal import COMMAND_TYPES, EntryType
from fsm.model import CompletionResult, ServiceType
from tests.refusals import answer, refused

from .conftest import World


def test_str_of_a_refusal_is_status_reason_and_message(world: World) -> None:
    inv = world.engine.call("Steps", "run")
    err = refused(lambda: world.engine.restart_as_new(inv), FailedPrecondition)
    assert str(err) == f"409 STILL_RUNNING: The invocation '{inv}' is still running."
    assert err.check is not None and isinstance(err.check, int)
    bad = refused(lambda: world.engine.cancel("inv_bogus"), InvalidArgument)
    assert bad.check is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.register_service(5), "Invalid argument 'name': must be a non-empty string, got int"),
        (lambda e: e.call("Steps", b"run"), "Invalid argument 'handler': must be a non-empty string, got bytes"),
        (lambda e: e.call(["Steps"], "run"), "Invalid argument 'service': must be a non-empty string, got list"),
        (lambda e: e.advance("10"), "Invalid argument 'ms': must be an integer >= 0, got '10'"),
        (lambda e: e.set_partition_available(0, 1), "Invalid argument 'available': must be true or false, got 1"),
        (
            lambda e: e.register_deployment("Steps"),
            "Invalid argument 'services': must be a non-empty list of service names",
        ),
        (lambda e: e.cancel(7), "Invalid argument 'invocation_id': must be a string, got int"),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_parameter(world: World, call: object, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        call(world.engine)  # type: ignore[operator]
    assert isinstance(caught.value, WrongType) and isinstance(caught.value, LifecycleError)
    assert answer(caught.value) == (400, "INVALID_ARGUMENT", message)


@pytest.mark.parametrize(
    ("type_", "problem"),
    [
        ("run", "'run' is not a command type; did you mean 'Run'? "),
        ("SLEEP", "'SLEEP' is not a command type; did you mean 'Sleep'? "),
        ("Setstate", "'Setstate' is not a command type; did you mean 'SetState'? "),
        ("Sleeep", "'Sleeep' is not a command type; did you mean 'Sleep'? "),
        ("Launch", "'Launch' is not a command type; "),
    ],
)
def test_an_unknown_entry_type_is_refused_with_the_nearest_suggested(world: World, type_: str, problem: str) -> None:
    inv = world.engine.call("Steps", "run")
    err = refused(lambda: world.engine.append_command(inv, type_), InvalidArgument)
    assert answer(err) == (
        400,
        "INVALID_ARGUMENT",
        f"Invalid argument 'type': {problem}one of {', '.join(COMMAND_TYPES)}",
    )
    assert len(world.engine.invocations[inv].journal or []) == 1  # nothing appended


@pytest.mark.parametrize(
    ("type_", "problem"),
    [
        ("Input", "the Input command starts a journal; a handler cannot append another"),
        ("Output", "the Output command ends a journal: complete the invocation instead"),
    ],
)
def test_a_handler_appends_neither_input_nor_output(world: World, type_: str, problem: str) -> None:
    inv = world.engine.call("Steps", "run")
    err = refused(lambda: world.engine.append_command(inv, type_), InvalidArgument)
    assert err.message == f"Invalid argument 'type': {problem}"


def test_every_command_type_but_input_and_output_appends(world: World) -> None:
    inv = world.engine.call("Steps", "run")
    appended = [world.engine.append_command(inv, t).type for t in EntryType if t in COMMAND_TYPES[2:]]
    assert appended == list(COMMAND_TYPES[2:])


@pytest.mark.parametrize("name", ["caf\udce9", "\ud800", "ok\udfffok"])
def test_lone_surrogates_in_names_are_refused(name: str) -> None:
    e = Engine()
    position = next(i for i, c in enumerate(name) if 0xD800 <= ord(c) <= 0xDFFF)
    err = refused(lambda: e.register_service(name), InvalidArgument)
    assert err.message == f"Invalid argument 'name': must be valid Unicode, got a lone surrogate at position {position}"
    assert e.services == {}


def test_the_public_string_sets_are_enums_equal_to_their_words() -> None:
    e = Engine()
    e.register_service("Counter", ServiceType.VIRTUAL_OBJECT)
    kind: str = ServiceType.VIRTUAL_OBJECT
    assert e.service_type("Counter") == "virtual_object" == kind
    assert [t.value for t in CompletionResult] == ["success", "failure"]
    run: str = EntryType.RUN
    assert run == "Run" and EntryType("Sleep") is EntryType.SLEEP
    assert [s.value for s in Status] == list(STATES)
    inv = e.call("Counter", "add", "k")
    assert e.invocations[inv].state == Status.RUNNING and Status(e.invocations[inv].state) is Status.RUNNING


def test_a_deployment_is_found_by_id_or_by_name_in_the_library(world: World) -> None:
    e = world.engine
    d1 = e.get_deployment("D1")
    assert d1 is not None and d1.id == world.d1 and e.get_deployment(world.d1) is d1
    e.register_deployment(["Other"], name="twin")
    second = e.register_deployment(["Other"], name="twin")
    err = refused(lambda: e.get_deployment("twin"), FailedPrecondition)
    assert err.reason == "AMBIGUOUS_DEPLOYMENT_NAME" and second in err.message
    e.remove_deployment(second)
    e.remove_deployment("twin")  # the one left with that name
    assert e.get_deployment("twin") is None
    e.remove_deployment("proto5")
    assert e.get_deployment(world.proto5) is None
