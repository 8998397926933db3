"""What wraps every RPC: the request as the log line prints it."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, common_pb2, simulation_pb2
from grpc_server.rpc import METHODS, SERVICES, request_fields
from tests.budget import budget

from .conftest import expect_error

WAIT_S = 30

REQUESTS = [
    getattr(module, name)
    for module in (admin_pb2, simulation_pb2)
    for name in module.DESCRIPTOR.message_types_by_name
    if name.endswith("Request")
]


def _fill(message: Message, salt: int) -> None:
    """Set every field to a non-default value (the first member of each oneof)."""
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and message.WhichOneof(field.containing_oneof.name):
            continue
        if field.is_repeated:
            continue  # repeated fields send the message to json_format, which the other cases cover
        value: Any
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            _fill(getattr(message, field.name), salt + 1)
            continue
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            value = field.enum_type.values[-1].number
        elif field.type == FieldDescriptor.TYPE_STRING:
            value = f"v{salt}-{field.name}-é"
        elif field.type == FieldDescriptor.TYPE_BOOL:
            value = True
        elif field.type == FieldDescriptor.TYPE_BYTES:
            value = b"\x00\xffbytes"
        elif field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
            value = 1.5
        else:  # every integer type: a small positive number fits them all
            value = 7 + salt
        setattr(message, field.name, value)


@pytest.mark.parametrize("message_type", REQUESTS, ids=lambda t: t.DESCRIPTOR.name)
def test_request_fields_prints_what_json_format_prints(message_type: type[Message]) -> None:
    empty = message_type()
    assert request_fields(empty) == json_format.MessageToDict(empty, preserving_proto_field_name=True)
    full = message_type()
    _fill(full, 0)
    assert request_fields(full) == json_format.MessageToDict(full, preserving_proto_field_name=True)


def test_request_fields_on_the_restart_shapes() -> None:
    by_id = admin_pb2.RestartAsNewRequest(
        invocation_id="inv_x", from_index=0, deployment=common_pb2.DeploymentSelector(id="dp_1")
    )
    assert request_fields(by_id) == {"invocation_id": "inv_x", "from_index": 0, "deployment": {"id": "dp_1"}}
    keep = admin_pb2.RestartAsNewRequest(
        deployment=common_pb2.DeploymentSelector(mode=common_pb2.DeploymentSelector.MODE_KEEP)
    )
    assert request_fields(keep) == {"deployment": {"mode": "MODE_KEEP"}}
    unknown = admin_pb2.RestartAsNewRequest(
        deployment=common_pb2.DeploymentSelector(mode=common_pb2.DeploymentSelector.Mode.ValueType(99))
    )  # open enums
    assert request_fields(unknown) == json_format.MessageToDict(unknown, preserving_proto_field_name=True)


BAD_BODIES = [
    (b"\xff\xff\xff", "Wire format was corrupt"),
    (b"\x0a\x05ab", "Wire format was corrupt"),  # a field longer than the body
    (b"\x0a\x02\xff\xfe", "String field had bad UTF-8"),
]


@pytest.mark.parametrize(("service", "method"), METHODS)
def test_a_body_that_does_not_decode_is_the_clients_mistake(channel: grpc.Channel, service: str, method: str) -> None:
    descriptor = SERVICES[service].methods_by_name[method]
    call = channel.unary_unary(f"/{SERVICES[service].full_name}/{method}")
    for body, what in BAD_BODIES:
        field = descriptor.input_type.fields_by_number.get(1)
        if what.startswith("String") and (field is None or field.type != FieldDescriptor.TYPE_STRING):
            continue  # field 1 is no string here: two bytes of it decode
        error = expect_error(
            lambda body=body: call(body, timeout=WAIT_S),  # type: ignore[misc]
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_REQUEST_BODY",
            400,
            f"The request body is not a valid {descriptor.input_type.full_name}: {what}",
        )
        assert error.domain == "invocation-lifecycle.dev"


@budget(60)
@given(data=st.data())
def test_random_bodies_never_get_an_internal_error(channel: grpc.Channel, data: st.DataObject) -> None:
    service, method = data.draw(st.sampled_from(METHODS))
    body = data.draw(st.binary(max_size=64))
    call = channel.unary_unary(f"/{SERVICES[service].full_name}/{method}")
    try:
        call(body, timeout=WAIT_S)
    except grpc.RpcError as exc:
        error = errors.read_error(exc)
        assert error.code not in (
            grpc.StatusCode.INTERNAL,
            grpc.StatusCode.UNKNOWN,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        ), (method, body, error)
        assert error.http_status is not None, (method, body, error)
