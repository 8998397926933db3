"""Every method, every field, values at and past their limits: a refusal is the client's, and changes nothing.

For each method of both services, each field is set in turn to the values that break servers
(``bench.fuzz.EXTREMES``, which ``make fuzz`` draws from: empty, huge, malformed, the largest of its
type, an unknown enum) on top of a request that is
otherwise valid and aimed at a live invocation. Whatever the answer, it is never INTERNAL or
UNKNOWN, and an error answer leaves the exported world byte-identical (validate, then commit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from bench.fuzz import EXTREMES
from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.rpc import METHODS, REQUEST_TYPES, SERVICES

from .conftest import World

WAIT_S = 30
HUGE_TEXT = "x" * 100_000


def base_request(request_type: type[Message], ids: dict[str, str]) -> Message:
    """A request aimed at live things: an invocation id, a service, a handler, a deployment."""
    request = request_type()
    fields = request_type.DESCRIPTOR.fields_by_name
    defaults = {"invocation_id": ids["running"], "service": "Steps", "handler": "run", "name": "Steps", "type": "Run"}
    for name, value in defaults.items():
        field = fields.get(name)
        if field is not None and field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated:
            setattr(request, name, value)
    return request


def variants(request_type: type[Message], ids: dict[str, str]) -> list[tuple[str, Message]]:
    """One request per (field, extreme value), each on top of the base request; a sub-message's
    fields (a deployment selector's id or mode, a retry policy's numbers) one at a time too."""
    out: list[tuple[str, Message]] = []
    for path, field in _fields(request_type.DESCRIPTOR):
        values = list(EXTREMES.get(field.type, []))
        if field.type == FieldDescriptor.TYPE_STRING:
            values += [HUGE_TEXT, *ids.values()]
        for value in values:
            request = base_request(request_type, ids)
            target = request
            for name in path[:-1]:
                target = getattr(target, name)
            if field.is_repeated:
                getattr(target, path[-1]).extend([value])
            else:
                setattr(target, path[-1], value)
            out.append((f"{'.'.join(path)}={str(value)[:20]!r}", request))
    return out


def _fields(descriptor: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every scalar field of a message, sub-messages' included, as (path, field)."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            out += _fields(field.message_type, (*prefix, field.name))
        else:
            out.append(((*prefix, field.name), field))
    return out


def world_of(world: World) -> str:
    return str(world.sim.ExportWorld(sim.ExportWorldRequest()).world_json)


@pytest.mark.parametrize(("service", "method"), METHODS)
def test_values_at_and_past_every_limit_are_refused_before_anything_changes(
    world: World, channel: grpc.Channel, service: str, method: str
) -> None:
    ids = {"running": world.running(), "completed": world.completed(), "suspended": world.suspended()}
    request_type = REQUEST_TYPES[service, method]
    descriptor = SERVICES[service].methods_by_name[method]
    response_type = descriptor.output_type
    call: Callable[..., Any] = channel.unary_unary(
        f"/{SERVICES[service].full_name}/{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda raw: raw,
    )
    assert response_type is not None
    for label, request in variants(request_type, ids):
        before = world_of(world)
        try:
            call(request, timeout=WAIT_S)
        except grpc.RpcError as exc:
            error = errors.read_error(exc)
            assert error.code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (label, error)
            assert error.http_status is not None and 400 <= error.http_status < 600, (label, error)
            assert world_of(world) == before, f"{method}({label}) answered {error.code.name} after changing the world"
    world_of(world)  # the world still exports after all of it
