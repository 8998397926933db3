"""Malformed input to any public function gets an exact, well-formed refusal and changes nothing.

Two halves: a table of exact answers (status, reason, message) for each kind of bad argument,
and Hypothesis runs that throw junk at every public function and check what any refusal must be:
a :class:`LifecycleError` with a status Restate uses, a reason code, a message, and the world
exactly as it was before the call (validate everything first, then commit).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm import Engine, LifecycleError, dump_world, load_world
from fsm.errors import InvalidArgument
from fsm.ids import IdError, parse_deployment_id, parse_invocation_id
from fsm.requests import parse_deployment, parse_from, parse_query_string
from tests.budget import budget
from tests.refusals import well_formed

from .conftest import World

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers()),
    st.sampled_from(["inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9", "dp_16hyvaGLkmYCmSH4nzeUDZv", "Steps", "keep", "run"]),
)

PUBLIC = sorted(
    name
    for name, member in inspect.getmembers(Engine, inspect.isfunction)
    if not name.startswith("_")
    and name not in ("check_invariants", "subscribe", "unsubscribe", "track_changes", "take_changes", "sleeps_of")
)  # not requests of the model: tests/fsm/test_observers.py and test_engine.py check what they refuse

BAD_ID = "The request field 'invocation_id' is invalid. Reason: unrecognized codec version"
NOT_A_STRING = "Invalid argument 'invocation_id': must be a string, got int"


def refused(call: Callable[[], object]) -> LifecycleError:
    with pytest.raises(LifecycleError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    "operation", ["cancel", "kill", "purge", "purge_journal", "pause", "resume", "restart_as_new", "suspend"]
)
def test_operations_on_an_id_that_is_not_a_string_or_malformed(operation: str) -> None:
    world = World()
    method = getattr(world.engine, operation)
    for raw, reason, message in [(5, "INVALID_ARGUMENT", NOT_A_STRING), ("inv_bogus", "INVALID_INVOCATION_ID", BAD_ID)]:
        err = refused(lambda raw=raw: method(raw))  # type: ignore[misc]
        assert isinstance(err, InvalidArgument)
        assert (err.http_status, err.reason, err.message) == (400, reason, message)


@pytest.mark.parametrize(
    ("call", "status", "reason", "message"),
    [
        (
            lambda e: e.advance(None),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'ms': must be an integer >= 0, got None",
        ),
        (lambda e: e.advance(-1), 400, "INVALID_ARGUMENT", "Invalid argument 'ms': must be an integer >= 0, got -1"),
        (
            lambda e: e.advance(2**63),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'ms': must be at most 9223370241117175807: the clock keeps no time after "
            f"9223372036854775807, got {2**63}",
        ),
        (
            lambda e: e.advance_to(2**63),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'target_ms': must be at most 9223372036854775807 (the latest time the model keeps), "
            f"got {2**63}",
        ),
        (
            lambda e: e.call("Steps", "run", delay_ms=2**64 - 1),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'delay_ms': must be at most 9223370241117175807: the clock keeps no time after "
            f"9223372036854775807, got {2**64 - 1}",
        ),
        (
            lambda e: e.sleep(e.call("Steps", "run"), 2**64 - 1),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'duration_ms': must be at most 9223370241117175807: the clock keeps no time after "
            f"9223372036854775807, got {2**64 - 1}",
        ),
        (
            lambda e: e.advance_to(5),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'target_ms': the clock only moves forward (now 1795737600000)",
        ),
        (lambda e: e.call("Nope", "run"), 404, "SERVICE_NOT_FOUND", "The requested service 'Nope' does not exist"),
        (
            lambda e: e.sleep(e.call("Steps", "run"), "x"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'duration_ms': must be an integer >= 0, got 'x'",
        ),
        (
            lambda e: e.complete_command(e.call("Steps", "run"), 0),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'completion_id': must be an integer >= 1, got 0",
        ),
        (
            lambda e: e.register_service(""),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'name': must be a non-empty string",
        ),
        (
            lambda e: e.register_deployment([], (5, 7)),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'services': must be a non-empty list of service names",
        ),
        (
            lambda e: e.remove_deployment("dp_bogus"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'deployment_id': unrecognized codec version",
        ),
        (  # not an id: it may be a name, and no deployment has it
            lambda e: e.remove_deployment("inv_bogus"),
            404,
            "DEPLOYMENT_NOT_FOUND",
            "The requested deployment 'inv_bogus' does not exist",
        ),
        (lambda e: e.remove_service("Nope"), 404, "SERVICE_NOT_FOUND", "The requested service 'Nope' does not exist"),
        (
            lambda e: e.set_partition_available(0, "no"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'available': must be true or false, got 'no'",
        ),
        (
            lambda e: e.set_partition_available(None, True),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'partition': must be an integer >= 0, got None",
        ),
        (
            lambda e: e.partition_of("x"),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'partition_key': must be a u64, got 'x'",
        ),
        (
            lambda e: e.restore(5, {}),
            400,
            "INVALID_ARGUMENT",
            "Invalid argument 'invocations': must be a list of fsm.model.Invocation records",
        ),
    ],
)
def test_exact_answers_to_bad_arguments(
    call: Callable[[Engine], object], status: int, reason: str, message: str
) -> None:
    world = World()
    err = refused(lambda: call(world.engine))
    assert (err.http_status, err.reason, err.message) == (status, reason, message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": [1]}, "Invalid argument 'seed': must be an integer, a string or None, got list"),
        ({"partitions": 0}, "Invalid argument 'partitions': must be an integer >= 1, got 0"),
        ({"now_ms": -1}, "Invalid argument 'now_ms': must be an integer >= 0, got -1"),
        ({"max_protocol": "6"}, "Invalid argument 'max_protocol': must be an integer >= 1, got '6'"),
    ],
)
def test_engine_constructor_validates(kwargs: dict[str, Any], message: str) -> None:
    err = refused(lambda: Engine(**kwargs))
    assert (err.http_status, err.reason, err.message) == (400, "INVALID_ARGUMENT", message)


@pytest.mark.parametrize(
    ("parse", "value", "reason", "message"),
    [
        (parse_from, "", "INVALID_QUERY_STRING", "from: cannot parse integer from empty string"),
        (parse_from, "-1", "INVALID_QUERY_STRING", "from: invalid digit found in string"),
        (parse_from, "4294967296", "INVALID_QUERY_STRING", "from: number too large to fit in target type"),
        (parse_from, 1.5, "INVALID_QUERY_STRING", "from: expected an integer or a string, got float"),
        (parse_from, True, "INVALID_QUERY_STRING", "from: expected an integer or a string, got bool"),
        (parse_query_string, "from=1&from=2", "INVALID_QUERY_STRING", "duplicate field `from`"),
        (parse_query_string, None, "INVALID_QUERY_STRING", "expected a string, got NoneType"),
    ],
)
def test_query_parsers_answer_like_serde(parse: Callable[[Any], object], value: Any, reason: str, message: str) -> None:
    err = refused(lambda: parse(value))
    assert (err.http_status, err.reason, err.check) == (400, reason, 1)
    assert err.message == "Failed to deserialize query string: " + message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "bad format"),
        ("", "bad length"),
        (5, "expected a string, got int"),
        ("inv_bogus", "unrecognized codec version"),
    ],
)
def test_deployment_parser_names_the_problem(value: Any, problem: str) -> None:
    err = refused(lambda: parse_deployment(value))
    assert (err.http_status, err.reason) == (400, "INVALID_DEPLOYMENT_ID")
    assert err.message == f"The query parameter 'deployment' is invalid. Reason: {problem}"


@pytest.mark.parametrize(
    ("world", "message"),
    [
        (None, "Invalid world at 'world': must be an object"),
        ({}, "Invalid world at 'world.services': is missing"),
        ({"services": 5}, "Invalid world at 'world.services': must be a list, got int"),
        (
            {"services": [], "deployments": [], "invocations": "x"},
            "Invalid world at 'world.invocations': must be a list, got str",
        ),
    ],
)
def test_load_world_names_the_field(world: Any, message: str) -> None:
    err = refused(lambda: load_world(world))
    assert (err.http_status, err.reason, err.message) == (400, "INVALID_SNAPSHOT", message)


def call_with(engine: Engine, name: str, args: list[Any]) -> LifecycleError | None:
    method = getattr(engine, name)
    params = [p for p in inspect.signature(method).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    try:
        method(*args[: len(params)])
    except LifecycleError as err:
        return err
    except TypeError as exc:  # only a wrong *number* of arguments may be a TypeError
        assert re.search(r"missing \d+ required positional argument|takes \d+ positional argument", str(exc)), exc
    return None


@budget(300)
@given(name=st.sampled_from(PUBLIC), args=st.lists(JUNK, min_size=0, max_size=5))
def test_junk_is_refused_well_formed_and_changes_nothing(name: str, args: list[Any]) -> None:
    world = World()
    world.completed()
    before = dump_world(world.engine)
    err = call_with(world.engine, name, args)
    if err is not None:
        well_formed(err)
        assert dump_world(world.engine) == before, f"{name}{tuple(args)!r} refused after changing the world"
    world.engine.check_invariants()


@budget(300)
@given(value=JUNK)
def test_parsers_refuse_junk_well_formed(value: Any) -> None:
    for parse in (parse_from, parse_deployment, parse_query_string):
        try:
            parse(value)
        except LifecycleError as err:
            well_formed(err)
            assert err.http_status == 400
    for parse_id in (parse_invocation_id, parse_deployment_id):
        if isinstance(value, str):
            try:
                parse_id(value)
            except IdError as err:
                assert err.reason in {
                    "bad length",
                    "bad format",
                    "unrecognized codec version",
                    "id doesn't match the expected type",
                    "base62 decode error",
                } or err.reason.startswith("unrecognized resource type: "), err.reason


@budget(200)
@given(world=st.one_of(JUNK, st.fixed_dictionaries({"services": JUNK, "deployments": JUNK, "invocations": JUNK})))
def test_load_world_refuses_junk_naming_a_field(world: Any) -> None:
    try:
        load_world(world)
    except LifecycleError as err:
        well_formed(err)
        assert err.reason == "INVALID_SNAPSHOT" and err.message.startswith("Invalid world at 'world"), err
