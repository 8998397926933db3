"""What wraps every RPC: refusals become statuses, nothing escapes, and one log line per call.

A servicer method decorated with :func:`rpc` may raise any :class:`fsm.errors.LifecycleError`: it
is answered with the status of :mod:`grpc_server.errors`. Any other exception is a bug: it is
logged with its traceback and answered INTERNAL, and the server goes on serving.

Each call is logged as one JSON object (logger ``grpc_server.calls``): service, rpc, the request
(as proto JSON), the gRPC code, the ErrorInfo reason and the HTTP status. Admin calls log at INFO,
simulation calls at DEBUG (a replay makes thousands).

The line is on by default, so it is kept cheap (``make bench`` measures it): requests made of plain
scalars skip ``json_format`` (:func:`request_fields`); how lines are formatted and written is
:mod:`grpc_server.logs`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent import futures
from typing import IO, Any, TypeVar, cast

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from fsm.errors import InvalidArgument, LifecycleError
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, simulation_pb2

from . import errors
from .world import CHUNK_BYTES

log = logging.getLogger("grpc_server.calls")

S = TypeVar("S")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Method = Callable[[S, Req, Any], Resp]


#: The services :func:`rpc` wraps, by the name its decorator is given.
SERVICES = {
    "admin": admin_pb2.DESCRIPTOR.services_by_name["AdminService"],
    "simulation": simulation_pb2.DESCRIPTOR.services_by_name["SimulationService"],
}
#: Each method's request type: :func:`register` hands a method the raw body, the wrapper decodes it.
REQUEST_TYPES: dict[tuple[str, str], type[Message]] = {
    (service, method.name): message_factory.GetMessageClass(method.input_type)
    for service, descriptor in SERVICES.items()
    for method in descriptor.methods
}
#: Every (service, method) served one request for one answer, in the services' order.
METHODS: list[tuple[str, str]] = [
    (service, method.name)
    for service, descriptor in SERVICES.items()
    for method in descriptor.methods
    if not (method.client_streaming or method.server_streaming)
]
#: The streaming ones: a world in chunks (their requests and answers are WorldChunk streams).
STREAMING: list[tuple[str, str]] = [m for m in REQUEST_TYPES if m not in METHODS]


#: Methods whose work can be long (a whole world, a clock move over many timers, a page of 1,000):
#: always run on a worker thread, so the event loop never waits for them.
ON_A_THREAD = frozenset({"ImportWorld", "ExportWorld", "AdvanceClock", "ListInvocations"})


class _Aborted(Exception):
    """What a servicer's ``context.abort`` asked for, carried out of the servicer to the event loop."""

    def __init__(self, code: grpc.StatusCode, details: str, metadata: Any) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.metadata = metadata


class _Context:
    """The part of a servicer context the servicers use (``abort``), usable on or off the loop."""

    def abort(self, code: grpc.StatusCode, details: str, trailing_metadata: Any = ()) -> None:
        raise _Aborted(code, details, trailing_metadata)


def register(server: grpc.aio.Server, service: str, servicer: Any, workers: futures.Executor) -> None:
    """Serve ``servicer``'s methods of ``service``, each handed its request body undecoded.

    gRPC would otherwise decode the body before any of our code runs and answer INTERNAL for bytes
    that do not decode; :func:`rpc` decodes it instead, and such bytes are the client's mistake.

    A call runs on the event loop itself when the engine is free (no hand-off to a thread, most of
    a short call's cost), else on one of ``workers``; the methods of :data:`ON_A_THREAD` always go
    to a worker, and so does every call when a store commits each change (it waits for the disk).
    """
    descriptor = SERVICES[service]
    world = servicer.world
    context = _Context()

    def handler_for(name: str) -> Callable[[bytes, Any], Awaitable[Message]]:
        method = getattr(servicer, name)
        always_threaded = name in ON_A_THREAD or world.store is not None

        async def handle(request: bytes, real: Any) -> Message:
            try:
                if always_threaded or world.busy():
                    loop = asyncio.get_running_loop()
                    response: Message = await loop.run_in_executor(workers, method, request, context)
                else:
                    response = method(request, context)
            except _Aborted as aborted:
                await real.abort(aborted.code, aborted.details, aborted.metadata)
                raise  # abort raises; never reached
            return response

        return handle

    handlers = {}
    for method in descriptor.methods:
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _streamed_out(service, method.name, servicer, workers),
                request_deserializer=None,
                response_serializer=_serialize,
            )
        elif method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                _streamed_in(service, method.name, servicer, workers),
                request_deserializer=None,
                response_serializer=_serialize,
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                handler_for(method.name), request_deserializer=None, response_serializer=_serialize
            )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(descriptor.full_name, handlers),))


def _streamed_out(
    service: str, name: str, servicer: Any, workers: futures.Executor
) -> Callable[[bytes, Any], AsyncIterator[Message]]:
    """A response-streaming method: the servicer's generator, each step run on a worker."""
    method = getattr(servicer, name)
    request_type = REQUEST_TYPES[service, name]

    async def handle(raw: bytes, context: Any) -> AsyncIterator[Message]:
        started = time.perf_counter()
        record: dict[str, Any] = {"event": "rpc", "service": service, "rpc": name}
        loop = asyncio.get_running_loop()
        request: Message | bytes = raw
        sent = 0
        try:
            request = _decode(raw, request_type)
            chunks = method(request, _Context())
            while (chunk := await loop.run_in_executor(workers, next, chunks, None)) is not None:
                sent += 1
                yield chunk
        except Exception as exc:
            status = _failed(exc, name, record)
            _log(logging.DEBUG, record, request, started)
            await context.abort(status.code, status.details, status.trailing_metadata)
        record.update(code=grpc.StatusCode.OK.name, http_status=200, chunks=sent)
        _log(logging.DEBUG, record, request, started)

    return handle


def _streamed_in(
    service: str, name: str, servicer: Any, workers: futures.Executor
) -> Callable[[AsyncIterator[bytes], Any], Awaitable[Message]]:
    """A request-streaming method of WorldChunk messages: their ``data`` is spooled to a temporary
    file as it arrives (a world of any size is never held in memory as text); then the servicer
    reads it back as chunks of :data:`CHUNK_BYTES` (the first with the seed sent), on a worker."""
    method = getattr(servicer, name)
    request_type = REQUEST_TYPES[service, name]

    async def handle(requests: AsyncIterator[bytes], context: Any) -> Message:
        started = time.perf_counter()
        record: dict[str, Any] = {"event": "rpc", "service": service, "rpc": name}
        seed: int | None = None
        received = 0
        with tempfile.TemporaryFile() as spooled:
            try:
                async for raw in requests:
                    chunk = cast(simulation_pb2.WorldChunk, _decode(raw, request_type))
                    if seed is None and chunk.HasField("seed"):
                        seed = chunk.seed
                    spooled.write(chunk.data)
                    received += len(chunk.data)
                spooled.seek(0)
                loop = asyncio.get_running_loop()
                response: Message = await loop.run_in_executor(workers, method, _read_back(spooled, seed), _Context())
            except Exception as exc:
                status = _failed(exc, name, record)
                record["received_bytes"] = received
                _log(logging.DEBUG, record, b"", started)
                await context.abort(status.code, status.details, status.trailing_metadata)
                raise  # abort raises; never reached
        record.update(code=grpc.StatusCode.OK.name, http_status=200, received_bytes=received)
        _log(logging.DEBUG, record, b"", started)
        return response

    return handle


def _read_back(spooled: IO[bytes], seed: int | None) -> Iterator[simulation_pb2.WorldChunk]:
    """The spooled data again as chunks; the first carries the seed, when one was sent."""
    first = True
    while data := spooled.read(CHUNK_BYTES):
        chunk = simulation_pb2.WorldChunk(data=data)
        if first and seed is not None:
            chunk.seed = seed
        first = False
        yield chunk
    if first and seed is not None:  # a seed and no data
        yield simulation_pb2.WorldChunk(seed=seed)


def _failed(exc: Exception, name: str, record: dict[str, Any]) -> grpc.Status:
    """The status a streaming call ends with: a refusal's, or INTERNAL for a bug (logged)."""
    if isinstance(exc, LifecycleError):
        status = errors.to_status(exc)
        record.update(code=status.code.name, reason=exc.reason, http_status=exc.http_status, message=exc.message)
        return status
    status = errors.internal_status(exc)
    log.exception("internal error in %s", name)
    record.update(code=status.code.name, reason=errors.INTERNAL_REASON, http_status=500, message=status.details)
    return status


def _serialize(response: Message) -> bytes:
    return response.SerializeToString()


def _decode(raw: bytes, request_type: type[Message]) -> Message:
    """The request in ``raw``, or a 400 naming the message type and what is wrong with the bytes."""
    try:
        return request_type.FromString(raw)
    except DecodeError as exc:  # "Error parsing message with type '…': <what>": keep <what>
        what = str(exc).rsplit("': ", 1)[-1]
        raise InvalidArgument(
            400,
            "INVALID_REQUEST_BODY",
            f"The request body is not a valid {request_type.DESCRIPTOR.full_name}: {what}",
        ) from None


def _http_status(response: Message) -> int:
    field = response.DESCRIPTOR.fields_by_name.get("http_status")
    return int(getattr(response, field.name)) if field is not None else 200


def rpc(service: str, level: int = logging.INFO) -> Callable[[Method[S, Req, Resp]], Method[S, Req, Resp]]:
    """Decorate a servicer method of ``service`` ("admin" or "simulation")."""

    def decorate(method: Method[S, Req, Resp]) -> Method[S, Req, Resp]:
        name = method.__name__

        @functools.wraps(method)
        def wrapper(self: S, request: Req, context: Any) -> Resp:
            started = time.perf_counter()
            record: dict[str, Any] = {"event": "rpc", "service": service, "rpc": name}
            try:
                if isinstance(request, bytes):  # served through register(): decode it here
                    request = cast(Req, _decode(request, REQUEST_TYPES[service, name]))
                response = method(self, request, context)
            except LifecycleError as exc:
                status = errors.to_status(exc)
                record.update(
                    code=status.code.name, reason=exc.reason, http_status=exc.http_status, message=exc.message
                )
                _log(level, record, request, started)
                context.abort(status.code, status.details, status.trailing_metadata)
                raise  # abort raises; this line is never reached
            except Exception as exc:  # a bug: answer INTERNAL, keep serving
                status = errors.internal_status(exc)
                record.update(
                    code=status.code.name, reason=errors.INTERNAL_REASON, http_status=500, message=status.details
                )
                log.exception("internal error in %s", name)
                _log(logging.ERROR, record, request, started)
                context.abort(status.code, status.details, status.trailing_metadata)
                raise
            record.update(code=grpc.StatusCode.OK.name, http_status=_http_status(response))
            _log(level, record, request, started)
            return response

        return wrapper

    return decorate


#: Field types whose Python value is already what proto JSON prints (64-bit ints print as strings).
_PLAIN_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_SFIXED32,
    }
)
#: How each field of a message type prints: None (as is), an enum's number -> name, or a nested
#: message type (printed the same way). None for the whole type when some field is none of these.
MessageType = Any  # a message Descriptor (the protobuf stubs name two classes for it)
Shape = dict[str, "dict[int, str] | MessageType | None"]
_SHAPES: dict[MessageType, Shape | None] = {}


def _shape(descriptor: MessageType) -> Shape | None:
    if descriptor in _SHAPES:
        return _SHAPES[descriptor]
    _SHAPES[descriptor] = None  # a recursive type is left to json_format
    shape: Shape | None = {}
    for field in descriptor.fields:
        assert shape is not None
        if field.is_repeated:
            shape = None
        elif field.type in _PLAIN_TYPES:
            shape[field.name] = None
        elif field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
            shape[field.name] = {v.number: v.name for v in field.enum_type.values}
        elif field.type == FieldDescriptor.TYPE_MESSAGE and _shape(field.message_type) is not None:
            shape[field.name] = field.message_type
        else:
            shape = None
        if shape is None:
            break
    _SHAPES[descriptor] = shape
    return shape


def _plain_fields(message: Message, shape: Shape) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        how = shape[field.name]
        if how is None:
            out[field.name] = value
        elif isinstance(how, dict):
            out[field.name] = how.get(value, value)
        else:
            nested = _SHAPES[how]
            assert nested is not None
            out[field.name] = _plain_fields(value, nested)
    return out


def request_fields(request: Message) -> dict[str, Any]:
    """``request`` as ``json_format.MessageToDict(preserving_proto_field_name=True)`` prints it.

    Most requests hold a few strings, small ints, enums and messages of those: their set fields are
    read straight from ``ListFields()`` (several times cheaper); any other shape (repeated, 64-bit,
    bytes, floats, well-known types) goes through ``json_format``.
    """
    shape = _shape(request.DESCRIPTOR)
    if shape is None:
        return json_format.MessageToDict(request, preserving_proto_field_name=True)
    return _plain_fields(request, shape)


def _log(level: int, record: dict[str, Any], request: Message | bytes, started: float) -> None:
    if not log.isEnabledFor(level):
        return
    # a body that did not decode is logged by its size only: nothing of it is kept
    record["request"] = {"undecoded_bytes": len(request)} if isinstance(request, bytes) else request_fields(request)
    record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    log.log(
        level,
        "%s.%s %s %s",
        record["service"],
        record["rpc"],
        record["code"],
        record.get("reason") or "",
        extra={"rpc": record},
    )
