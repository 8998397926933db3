"""Malformed input to any public function raises a LifecycleError, never a bare exception."""

from __future__ import annotations

import inspect
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fsm import Engine, LifecycleError, load_world
from fsm.ids import IdError, parse_deployment_id, parse_invocation_id
from fsm.requests import parse_deployment, parse_from, parse_query_string
from tests.budget import budget

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
    if not name.startswith("_") and name != "check_invariants"
)


def call_with(engine: Engine, name: str, args: list[Any]) -> None:
    method = getattr(engine, name)
    params = [p for p in inspect.signature(method).parameters.values() if p.kind is not p.VAR_KEYWORD]
    try:
        method(*args[: len([p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD])])
    except LifecycleError:
        pass
    except TypeError as exc:  # only a wrong *number* of arguments may be a TypeError
        assert "argument" in str(exc) and "positional" in str(exc) or "missing" in str(exc), exc


@budget(300)
@given(name=st.sampled_from(PUBLIC), args=st.lists(JUNK, min_size=0, max_size=5))
def test_engine_methods_refuse_junk_with_lifecycle_errors(name: str, args: list[Any]) -> None:
    world = World()
    world.completed()
    call_with(world.engine, name, args)
    world.engine.check_invariants()


@budget(300)
@given(value=JUNK)
def test_parsers_refuse_junk_with_their_documented_errors(value: Any) -> None:
    for parse in (parse_from, parse_deployment):
        try:
            parse(value)
        except LifecycleError:
            pass
    for parse_id in (parse_invocation_id, parse_deployment_id):
        if isinstance(value, str):
            try:
                parse_id(value)
            except IdError:
                pass
    if isinstance(value, str):
        try:
            parse_query_string(value)
        except LifecycleError:
            pass


@budget(200)
@given(world=st.one_of(JUNK, st.fixed_dictionaries({"services": JUNK, "deployments": JUNK, "invocations": JUNK})))
def test_load_world_refuses_junk_with_snapshot_errors(world: Any) -> None:
    try:
        load_world(world)
    except LifecycleError:
        pass


def test_engine_constructor_validates() -> None:
    for kwargs in ({"seed": [1]}, {"partitions": 0}, {"now_ms": -1}, {"max_protocol": "6"}):
        try:
            Engine(**kwargs)
        except LifecycleError:
            continue
        raise AssertionError(f"Engine({kwargs}) was accepted")
