from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm import SnapshotError, dump_world, load_world
from fsm.engine import DEFAULT_EPOCH_MS
from fsm.ids import IdError, parse_deployment_id, parse_invocation_id
from fsm.journal import COMMAND_TYPES, NOTIFICATION_TYPES
from fsm.snapshot import dump_world_lines, load_world_lines
from fsm.strategies import worlds

from .conftest import EXAMPLES, World


def example_worlds() -> list[dict[str, Any]]:
    with open(EXAMPLES, encoding="utf-8") as handle:
        return [json.loads(line)["world"] for line in handle if line.strip()]


def test_every_example_world_round_trips() -> None:
    worlds = example_worlds()
    assert len(worlds) == 388
    for world in worlds:
        assert dump_world(load_world(world)) == world


def test_an_engine_built_world_round_trips_with_the_models_extra_fields(world: World) -> None:
    e = world.engine
    e.call("Steps", "run", delay_ms=5_000, idempotency_key="i")
    sleeper = e.call("Steps", "run")
    e.sleep(sleeper, 9_000)
    failing = e.call("Steps", "run")
    e.fail_attempt(failing)
    e.call("Locker", "hold", "k")
    e.call("Locker", "hold", "k")
    e.restart_as_new(world.completed())
    e.set_partition_available(3, False)
    e.advance(1_000)
    dumped = dump_world(e)
    again = load_world(dumped)
    again.check_invariants()
    assert dump_world(again) == dumped
    # and the loaded engine behaves the same from here on
    e.advance(10_000)
    again.advance(10_000)
    assert dump_world(again) == dump_world(e)


def test_unknown_fields_are_ignored() -> None:
    world = copy.deepcopy(example_worlds()[10])
    world["future"] = {"x": 1}
    world["services"][0]["color"] = "blue"
    load_world(world)


BASE = example_worlds()[40]


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    world = copy.deepcopy(BASE)
    node: Any = world
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return world


@pytest.mark.parametrize(
    ("world", "where", "problem"),
    [
        ([], "world", "must be an object"),
        (broken(["services"], KeyError), "world.services", "is missing"),
        (
            broken(["services", 0, "type"], "actor"),
            "world.services[0].type",
            "must be one of service, virtual_object, workflow, got 'actor'",
        ),
        (
            broken(["services", 0, "journal_retention_s"], -1),
            "world.services[0].journal_retention_s",
            "must be >= 0, got -1",
        ),
        (broken(["deployments", 0, "protocol"], [7]), "world.deployments[0].protocol", "must be [min, max] integers"),
        (
            broken(["deployments", 0, "services", 0], "Ghost"),
            "world.deployments[0].services[0]",
            "'Ghost' is not a listed service",
        ),
        (
            broken(["deployments", 0, "id"], "dp_bogus"),
            "world.deployments[0].id",
            "'dp_bogus' is not a deployment id (unrecognized codec version)",
        ),
        (
            broken(["invocations", 0, "id"], "inv_bogus"),
            "world.invocations[0].id",
            "'inv_bogus' is not an invocation id (unrecognized codec version)",
        ),
        (
            broken(["invocations", 0, "status"], "sleeping"),
            "world.invocations[0].status",
            "must be one of scheduled, inboxed, running, suspended, paused, completed, got 'sleeping'",
        ),
        (
            broken(["invocations", 0, "completion"], "maybe"),
            "world.invocations[0].completion",
            "is 'success' or 'failure' for completed invocations, else null",
        ),
        (
            broken(["invocations", 0, "target", "service"], "Ghost"),
            "world.invocations[0].target.service",
            "'Ghost' is not a listed service",
        ),
        (broken(["invocations", 0, "target", "key"], "k"), "world.invocations[0].target.key", "a service takes no key"),
        (
            broken(["invocations", 0, "journal", 1, "index"], 5),
            "world.invocations[0].journal[1].index",
            "journal indexes must be 0, 1, 2, ... in order; got 5 at position 1",
        ),
        (
            broken(["invocations", 0, "journal", 1, "kind"], "event"),
            "world.invocations[0].journal[1].kind",
            "must be 'command' or 'notification', got 'event'",
        ),
        (
            broken(["invocations", 0, "journal", 0, "type"], "Run"),
            "world.invocations[0].journal[0]",
            "entry 0 must be the Input command",
        ),
        (
            broken(["invocations", 0, "journal_retained"], "yes"),
            "world.invocations[0].journal_retained",
            "must be a boolean",
        ),
        (
            broken(["invocations", 0, "pinned"], {"protocol": 6}),
            "world.invocations[0].pinned.deployment_id",
            "is missing",
        ),
    ],
)
def test_a_broken_world_names_the_field(world: Any, where: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(world)
    err = caught.value
    assert (err.http_status, err.reason, err.where) == (400, "INVALID_SNAPSHOT", where)
    assert err.message == f"Invalid world at '{where}': {problem}"


def test_two_holders_of_one_key_are_refused() -> None:
    world = World()
    holder = world.engine.call("Locker", "hold", "k")
    dumped = dump_world(world.engine)
    twin = copy.deepcopy(dumped["invocations"][0])
    twin["id"] = holder[:-1] + ("a" if holder[-1] != "a" else "b")
    dumped["invocations"].append(twin)
    with pytest.raises(SnapshotError, match="two invocations hold the key 'k'"):
        load_world(dumped)


def test_only_a_virtual_object_invocation_can_be_inboxed() -> None:
    world = copy.deepcopy(BASE)
    target = next(i for i in world["invocations"] if i["target"]["key"] is None)
    target.update(
        status="inboxed",
        completion=None,
        pinned=None,
        journal_retained=True,
        journal=[{"index": 0, "kind": "command", "type": "Input"}],
    )
    with pytest.raises(SnapshotError, match="only an invocation of a virtual object can be inboxed"):
        load_world(world)


@pytest.mark.parametrize(
    ("world", "where", "problem"),
    [
        (
            {"now_ms": "soon", "services": [], "deployments": [], "invocations": []},
            "world.now_ms",
            "an integer, got str",
        ),
        (broken(["services", 0, "name"], 5), "world.services[0].name", "a string, got int"),
        (broken(["invocations", 0, "target"], ["Steps"]), "world.invocations[0].target", "an object, got list"),
        (
            broken(["services", 0, "journal_retention_s"], True),
            "world.services[0].journal_retention_s",
            "an integer, got a boolean",
        ),
    ],
)
def test_a_field_of_the_wrong_kind_names_the_kind_it_needs(world: Any, where: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(world)
    assert caught.value.message == f"Invalid world at '{where}': must be {problem}"


def id_reason(parse: Callable[[str], object], raw: str) -> str:
    """The reason the id parser gives for ``raw``."""
    try:
        parse(raw)
    except IdError as exc:
        return exc.reason
    raise AssertionError(f"{raw!r} parses")


def with_invocation(**fields: Any) -> dict[str, Any]:
    """BASE with its one invocation's fields replaced (KeyError: removed)."""
    world = copy.deepcopy(BASE)
    inv = world["invocations"][0]
    for name, value in fields.items():
        if value is KeyError:
            del inv[name]
        else:
            inv[name] = value
    return world


def listed_twice() -> dict[str, Any]:
    world = copy.deepcopy(BASE)
    world["invocations"].append(copy.deepcopy(world["invocations"][0]))
    return world


INV = "world.invocations[0]"
RUNNING = {"status": "running", "completion": None}


@pytest.mark.parametrize(
    ("world", "where", "problem"),
    [
        (with_invocation(id=5), f"{INV}.id", "must be a string, got int"),
        (listed_twice(), "world.invocations[1].id", f"the invocation '{BASE['invocations'][0]['id']}' is listed twice"),
        (broken(["invocations", 0, "target", "service"], 5), f"{INV}.target.service", "must be a string, got int"),
        (broken(["invocations", 0, "target", "handler"], 5), f"{INV}.target.handler", "must be a string, got int"),
        (broken(["invocations", 0, "target", "key"], 5), f"{INV}.target.key", "must be a string, got int"),
        (
            broken(["invocations", 0, "target", "service"], "Locker"),
            f"{INV}.target.key",
            "a virtual_object needs a key",
        ),
        (with_invocation(status=5), f"{INV}.status", "must be a string, got int"),
        (with_invocation(completion=5), f"{INV}.completion", "must be a string, got int"),
        (with_invocation(journal="x"), f"{INV}.journal", "must be a list, got str"),
        (with_invocation(journal_retained=False), f"{INV}.journal", "must be empty when journal_retained is false"),
        (
            with_invocation(**RUNNING, journal_retained=False, journal=[]),
            f"{INV}.journal_retained",
            "only a completed invocation can lose its journal, not a running one",
        ),
        (with_invocation(journal=[]), f"{INV}.journal", "a retained journal starts with the Input command"),
        (with_invocation(journal_retention_s="x"), f"{INV}.journal_retention_s", "must be an integer, got str"),
        (with_invocation(completion_retention_s="x"), f"{INV}.completion_retention_s", "must be an integer, got str"),
        (with_invocation(pinned="x"), f"{INV}.pinned", "must be an object, got str"),
        (
            broken(["invocations", 0, "pinned", "protocol"], "x"),
            f"{INV}.pinned.protocol",
            "must be an integer, got str",
        ),
        (with_invocation(due_ms="x"), f"{INV}.due_ms", "must be an integer, got str"),
        (with_invocation(completed_ms="x"), f"{INV}.completed_ms", "must be an integer, got str"),
        (with_invocation(retry_count="x"), f"{INV}.retry_count", "must be an integer, got str"),
        (with_invocation(idempotency_key=5), f"{INV}.idempotency_key", "must be a string, got int"),
        (with_invocation(restarted_from=5), f"{INV}.restarted_from", "must be a string, got int"),
        (
            with_invocation(status="suspended", completion=None, awaiting="x"),
            f"{INV}.awaiting",
            "must be an integer, got str",
        ),
        (
            with_invocation(timers=[{"due_ms": "x", "completion_id": 1}]),
            f"{INV}.timers[0].due_ms",
            "must be an integer, got str",
        ),
        (
            with_invocation(timers=[{"due_ms": 1, "completion_id": "x"}]),
            f"{INV}.timers[0].completion_id",
            "must be an integer, got str",
        ),
        (
            broken(["invocations", 0, "journal", 1, "index"], "x"),
            f"{INV}.journal[1].index",
            "must be an integer, got str",
        ),
        (broken(["invocations", 0, "journal", 1, "kind"], 5), f"{INV}.journal[1].kind", "must be a string, got int"),
        (
            with_invocation(status="suspended", completion=None, awaiting=99),
            f"{INV}.awaiting",
            "no command awaits completion id 99",
        ),
        (
            with_invocation(status="suspended", completion=None, awaiting=1),  # issued, but already answered
            f"{INV}.awaiting",
            "no command awaits completion id 1",
        ),
        (
            with_invocation(pinned={"deployment_id": "dp_16hyvaGLkmYCmSH4nzeUDZv", "protocol": 0}),
            f"{INV}.pinned.protocol",
            "must be >= 1, got 0",
        ),
        (
            broken(["invocations", 0, "journal", 1, "type"], "run"),
            f"{INV}.journal[1].type",
            "'run' is not a command type; did you mean 'Run'? one of " + ", ".join(COMMAND_TYPES),
        ),
        (
            broken(["invocations", 0, "journal", 2, "type"], "Output"),
            f"{INV}.journal[2].type",
            "'Output' is not a notification type; one of " + ", ".join(NOTIFICATION_TYPES),
        ),
        (
            broken(["invocations", 0, "journal", 1, "name"], "step\udc80"),
            f"{INV}.journal[1].name",
            "must be valid Unicode, got a lone surrogate at position 4",
        ),
        (
            with_invocation(status="scheduled", completion=None),
            f"{INV}.pinned",
            "a scheduled invocation has not started: it is pinned to nothing",
        ),
        (
            with_invocation(status="scheduled", completion=None, pinned=None),
            f"{INV}.journal",
            "a scheduled invocation has not started: its journal is the Input only",
        ),
        (
            with_invocation(pinned={"deployment_id": "dp_bogus", "protocol": 6}),
            f"{INV}.pinned.deployment_id",
            f"'dp_bogus' is not a deployment id ({id_reason(parse_deployment_id, 'dp_bogus')})",
        ),
        (
            with_invocation(due_ms=1),
            f"{INV}.due_ms",
            "only a scheduled invocation is due to start, not a completed one",
        ),
        (
            with_invocation(**RUNNING, completed_ms=1),
            f"{INV}.completed_ms",
            "only a completed invocation has completed, not a running one",
        ),
        (
            with_invocation(completed_ms=DEFAULT_EPOCH_MS + 1),
            f"{INV}.completed_ms",
            f"{DEFAULT_EPOCH_MS + 1} is after the world's now_ms ({DEFAULT_EPOCH_MS})",
        ),
        (with_invocation(retry_count=-1), f"{INV}.retry_count", "must be >= 0, got -1"),
        (
            with_invocation(restarted_from="inv_bogus"),
            f"{INV}.restarted_from",
            f"'inv_bogus' is not an invocation id ({id_reason(parse_invocation_id, 'inv_bogus')})",
        ),
        (
            with_invocation(timers=[{"due_ms": 1, "completion_id": 99}]),
            f"{INV}.timers[0].completion_id",
            "no Sleep command issued completion id 99",
        ),
        (
            with_invocation(timers=[{"due_ms": 1, "completion_id": 1}]),  # issued by a Run, not a Sleep
            f"{INV}.timers[0].completion_id",
            "no Sleep command issued completion id 1",
        ),
        (
            broken(["invocations", 0, "journal", 2, "completion_id"], 7),
            f"{INV}.journal[2].completion_id",
            "no command before it issued completion id 7",
        ),
        (
            broken(["invocations", 0, "journal", 4, "completion_id"], 1),
            f"{INV}.journal[4].completion_id",
            "completion id 1 is already answered",
        ),
        (
            broken(["invocations", 0, "journal", 3, "completion_ids"], [1]),
            f"{INV}.journal[3].completion_ids",
            "completion id 1 is already issued by another command",
        ),
        (
            broken(["invocations", 0, "journal", 2, "completion_id"], 2),  # answered before its command
            f"{INV}.journal[2].completion_id",
            "no command before it issued completion id 2",
        ),
        (broken(["invocations", 0, "journal", 1, "type"], 5), f"{INV}.journal[1].type", "must be a string, got int"),
        (broken(["invocations", 0, "journal", 1, "name"], 5), f"{INV}.journal[1].name", "must be a string, got int"),
        (
            broken(["invocations", 0, "journal", 1, "completion_ids"], "x"),
            f"{INV}.journal[1].completion_ids",
            "must be a list, got str",
        ),
        *(
            (
                broken(["invocations", 0, "journal", 1, "completion_ids"], [bad]),
                f"{INV}.journal[1].completion_ids",
                "must be non-negative integers",
            )
            for bad in (-1, "x", True)
        ),
        (
            broken(["invocations", 0, "journal", 2, "completion_ids"], [5]),
            f"{INV}.journal[2].completion_ids",
            "only commands await completions",
        ),
        (
            broken(["invocations", 0, "journal", 1, "completion_id"], 1),
            f"{INV}.journal[1].completion_id",
            "only notifications carry a completion",
        ),
        (
            broken(["invocations", 0, "journal", 2, "completion_id"], "x"),
            f"{INV}.journal[2].completion_id",
            "must be an integer, got str",
        ),
    ],
)
def test_every_field_of_an_invocation_is_named_when_it_is_wrong(world: Any, where: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(world)
    assert caught.value.message == f"Invalid world at '{where}': {problem}"


def test_an_invocation_keeps_its_own_retention_and_defaults_to_a_retained_journal() -> None:
    own = with_invocation(journal_retention_s=60, completion_retention_s=120)
    assert dump_world(load_world(own)) == own  # not the service's 24 h
    assert dump_world(load_world(with_invocation(journal_retained=KeyError))) == BASE  # absent: retained
    gone = with_invocation(journal_retained=False, journal=KeyError)  # no journal field at all
    assert dump_world(load_world(gone))["invocations"][0]["journal"] == []


def test_awaiting_is_read_for_a_suspended_invocation_only() -> None:
    assert dump_world(load_world(with_invocation(awaiting=2))) == BASE  # completed: not awaiting anything


def test_completion_ids_are_non_negative_and_the_next_one_follows_the_journal() -> None:
    journal = [
        {"index": 0, "kind": "command", "type": "Input"},
        {"index": 1, "kind": "command", "type": "Run", "completion_ids": [0]},
        {"index": 2, "kind": "notification", "type": "Run", "completion_id": 0},
    ]
    zero = with_invocation(**RUNNING, journal=journal)
    assert dump_world(load_world(zero)) == zero  # 0 is a non-negative completion id
    engine = load_world(with_invocation(**RUNNING, journal=journal[:1]))
    inv = BASE["invocations"][0]["id"]
    assert engine.append_command(inv, "Run").completion_ids == (1,)  # nothing awaited yet: the first id is 1
    three = with_invocation(**RUNNING, journal=BASE["invocations"][0]["journal"][:-1])  # ids 1-3 used
    assert load_world(three).append_command(inv, "Run").completion_ids == (4,)


def world_with(**fields: Any) -> dict[str, Any]:
    """BASE with top-level fields replaced."""
    world = copy.deepcopy(BASE)
    world.update(fields)
    return world


def service_listed_twice() -> dict[str, Any]:
    world = copy.deepcopy(BASE)
    world["services"].append(copy.deepcopy(world["services"][0]))
    return world


@pytest.mark.parametrize(
    ("world", "where", "problem"),
    [
        (world_with(now_ms=-1), "world.now_ms", "must be from 0 to 9223372036854775807, got -1"),
        (world_with(now_ms=2**63), "world.now_ms", f"must be from 0 to 9223372036854775807, got {2**63}"),
        (with_invocation(due_ms=2**63), f"{INV}.due_ms", f"must be from 0 to 9223372036854775807, got {2**63}"),
        (with_invocation(completed_ms=-5), f"{INV}.completed_ms", "must be from 0 to 9223372036854775807, got -5"),
        (
            with_invocation(timers=[{"due_ms": 2**64, "completion_id": 1}]),
            f"{INV}.timers[0].due_ms",
            f"must be from 0 to 9223372036854775807, got {2**64}",
        ),
        (broken(["services", 0, "type"], 5), "world.services[0].type", "must be a string, got int"),
        (service_listed_twice(), "world.services[11].name", "the service 'Steps' is listed twice"),
        (
            broken(["services", 0, "completion_retention_s"], -1),
            "world.services[0].completion_retention_s",
            "must be >= 0, got -1",
        ),
        (
            broken(["services", 0, "completion_retention_s"], "x"),
            "world.services[0].completion_retention_s",
            "must be an integer, got str",
        ),
        (
            broken(["services", 0, "name"], "S" * 1025),
            "world.services[0].name",
            "must be at most 1024 characters, got 1025",
        ),
        (
            broken(["invocations", 0, "journal", 1, "name"], "n" * 1025),
            f"{INV}.journal[1].name",
            "must be at most 1024 characters, got 1025",
        ),
        (world_with(deployments=5), "world.deployments", "must be a list, got int"),
        (broken(["deployments", 0, "id"], 5), "world.deployments[0].id", "must be a string, got int"),
        (broken(["deployments", 0, "services"], 5), "world.deployments[0].services", "must be a list, got int"),
        (broken(["deployments", 0, "protocol"], "x"), "world.deployments[0].protocol", "must be a list, got str"),
        (
            broken(["deployments", 0, "protocol"], [True, 7]),
            "world.deployments[0].protocol",
            "must be [min, max] integers",
        ),
        (world_with(unavailable_partitions="x"), "world.unavailable_partitions", "must be a list, got str"),
        (world_with(unavailable_partitions=["x"]), "world.unavailable_partitions[0]", "must be a partition below 24"),
        (world_with(unavailable_partitions=[24]), "world.unavailable_partitions[0]", "must be a partition below 24"),
        (world_with(invocations=[5]), "world.invocations[0]", "must be an object"),
        (broken(["invocations", 0, "journal", 1], 5), f"{INV}.journal[1]", "must be an object"),
        (with_invocation(timers="x"), f"{INV}.timers", "must be a list, got str"),
    ],
)
def test_every_field_of_the_world_is_named_when_it_is_wrong(world: Any, where: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(world)
    assert caught.value.message == f"Invalid world at '{where}': {problem}"


@pytest.mark.parametrize("protocol", [[7, 5], [0, 5]])
def test_a_deployment_protocol_out_of_order_is_named(protocol: list[int]) -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(broken(["deployments", 0, "protocol"], protocol))
    assert (caught.value.where, caught.value.message) == (
        "world.deployments[0].protocol",
        f"Invalid world at 'world.deployments[0].protocol': must have 1 <= min <= max, got {protocol}",
    )


@pytest.mark.parametrize("protocol", [[1, 1], [1, 3], [5, 5]])
def test_a_deployment_protocol_from_1_and_of_one_version_loads(protocol: list[int]) -> None:
    engine = load_world(broken(["deployments", 0, "protocol"], protocol))
    deployment = engine.deployments[BASE["deployments"][0]["id"]]
    assert [deployment.protocol_min, deployment.protocol_max] == protocol


def test_a_deployment_listed_twice_is_named() -> None:
    world = copy.deepcopy(BASE)
    twin = copy.deepcopy(world["deployments"][0])
    world["deployments"].append(twin)
    where = f"world.deployments[{len(world['deployments']) - 1}]"
    with pytest.raises(SnapshotError) as caught:
        load_world(world)
    assert (caught.value.http_status, caught.value.where, caught.value.message) == (
        400,
        where,
        f"Invalid world at '{where}': The deployment '{twin['id']}' is already registered.",
    )


def test_a_deployment_name_of_the_wrong_kind_is_named() -> None:
    with pytest.raises(SnapshotError) as caught:
        load_world(broken(["deployments", 0, "name"], 5))
    err = caught.value
    assert (err.where, err.message) == (
        "world.deployments[0].name",
        "Invalid world at 'world.deployments[0].name': must be a string, got int",
    )


def test_a_loaded_world_draws_its_ids_from_the_seed() -> None:
    assert load_world(BASE).call("Steps", "run") == load_world(BASE, seed=0).call("Steps", "run")  # 0 by default
    assert load_world(BASE, seed=5).call("Steps", "run") == load_world(BASE, seed=5).call("Steps", "run")
    assert load_world(BASE, seed=5).call("Steps", "run") != load_world(BASE, seed=6).call("Steps", "run")


@pytest.mark.parametrize("service", ["Steps", "NoRet"])
def test_a_killed_sleeper_keeps_its_timer_through_a_round_trip(service: str) -> None:
    world = World()
    e = world.engine
    inv = e.call(service, "run")
    e.sleep(inv, 60_000)
    e.kill(inv)
    dumped = dump_world(e)
    (record,) = [i for i in dumped["invocations"] if i["id"] == inv]
    assert record["timers"] and record["journal_retained"] is (service == "Steps")
    assert dump_world(load_world(dumped)) == dumped


def reordered_inbox(world: World) -> tuple[str, str, str]:
    """A key's holder, then a delayed call and a direct one: the direct one is queued first, so the
    inbox's order (direct, delayed) is not the order the invocations were made (delayed, direct)."""
    e = world.engine
    holder = e.call("Locker", "hold", "k")
    delayed = e.call("Locker", "hold", "k", delay_ms=1_000)
    direct = e.call("Locker", "hold", "k")
    e.advance(1_000)
    assert list(e.inboxes[("Locker", "k")]) == [direct, delayed]
    return holder, delayed, direct


def test_a_snapshot_keeps_the_inbox_order_and_where_the_ids_stand(world: World) -> None:
    e = world.engine
    holder, delayed, direct = reordered_inbox(world)
    dumped = dump_world(e)
    assert dumped["inbox_order"] == [direct, delayed] and "id_generator" in dumped
    again = load_world(dumped)
    assert json.dumps(dump_world(again)) == json.dumps(dumped)  # byte for byte
    for engine in (e, again):
        engine.complete(holder)
    assert again.invocations[direct].state == e.invocations[direct].state == "running"
    assert again.call("Steps", "run") == e.call("Steps", "run")  # the next id, too
    assert dump_world(again) == dump_world(e)


def test_a_world_without_the_models_extras_queues_in_listing_order() -> None:
    world = World()
    _, delayed, direct = reordered_inbox(world)
    dumped = dump_world(world.engine)
    del dumped["inbox_order"]
    assert list(load_world(dumped).inboxes[("Locker", "k")]) == [delayed, direct]


FULL = base64.b64encode(b"\xff" * 2500).decode()  # every word 2**32 - 1: an index no generator has


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (lambda w: w.update(inbox_order="x"), "inbox_order", "must be a list, got str"),
        (lambda w: w["inbox_order"].pop(), "inbox_order", "must list every inboxed invocation once; it leaves out"),
        (lambda w: w["inbox_order"].append(w["inbox_order"][0]), "inbox_order", "lists an invocation twice"),
        (lambda w: w["inbox_order"].append(w["invocations"][0]["id"]), "inbox_order", "which is not inboxed"),
        (lambda w: w.update(id_generator=5), "world.id_generator", "must be a string, got int"),
        (lambda w: w.update(id_generator="%%"), "world.id_generator", "is not base64"),
        (lambda w: w.update(id_generator="AAAA"), "world.id_generator", "must decode to 2500 bytes, got 3"),
        (lambda w: w.update(id_generator=FULL), "world.id_generator", "its index is out of range"),
    ],
)
def test_a_broken_inbox_order_or_id_position_is_named(
    change: Callable[[dict[str, Any]], object], where: str, problem: str
) -> None:
    world = World()
    reordered_inbox(world)
    dumped = dump_world(world.engine)
    change(dumped)
    with pytest.raises(SnapshotError) as refused:
        load_world(dumped)
    assert where in refused.value.message and problem in refused.value.message


@settings(max_examples=150, deadline=None)
@given(worlds(), st.randoms(use_true_random=False), st.integers(0, 20))
def test_export_import_export_is_byte_identical_for_every_world(
    raw: dict[str, Any], rnd: random.Random, draws: int
) -> None:
    engine = load_world(raw, seed=rnd.randrange(1_000))
    for _ in range(draws):  # move the id generator, as calls and restarts do
        engine.ids.invocation_id(engine.now_ms)
    inboxed = [inv_id for inbox in engine.inboxes.values() for inv_id in inbox]
    rnd.shuffle(inboxed)
    shuffled = dump_world(engine)
    if len(inboxed) > 1:
        shuffled["inbox_order"] = inboxed  # any queue order must survive
    first = json.dumps(dump_world(load_world(shuffled)))
    assert json.dumps(dump_world(load_world(json.loads(first)))) == first


@settings(max_examples=100, deadline=None)
@given(worlds(), st.integers(0, 1_000))
def test_a_world_goes_out_and_in_as_json_lines_unchanged(raw: dict[str, Any], seed: int) -> None:
    engine = load_world(raw, seed=seed)
    lines = list(dump_world_lines(engine))
    assert len(lines) == 1 + len(engine.invocations) and all(line.endswith("\n") for line in lines)
    again = load_world_lines(line.encode() for line in lines)
    assert "".join(dump_world_lines(again)) == "".join(lines)
    assert dump_world(again) == dump_world(engine)


@pytest.mark.parametrize(
    ("lines", "where", "problem"),
    [
        ([], "world", "has no header line"),
        (["", "  "], "world", "has no header line"),
        (['{"services": [], "deployments": []}', "{oops"], "line 2", "is not JSON"),
        (['{"services": [], "deployments": []}', '{"id": 5}'], "world.invocations[0].id", "must be a string"),
        (["[]"], "world", "must be an object"),
    ],
)
def test_bad_json_lines_are_named(lines: list[str], where: str, problem: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        load_world_lines(lines)
    assert f"'{where}'" in refused.value.message and problem in refused.value.message
