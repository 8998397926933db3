"""ExportWorldStream / ImportWorldStream: worlds larger than a message, in chunks, both ways."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import grpc
import pytest

from fsm.snapshot import dump_world_lines
from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2_grpc
from grpc_server.server import DEFAULT_MAX_MESSAGE_BYTES
from grpc_server.world import CHUNK_BYTES

from .conftest import World, big_engine


def chunks(data: bytes, size: int, seed: int | None = None) -> Iterator[sim.WorldChunk]:
    for start in range(0, len(data), size):
        chunk = sim.WorldChunk(data=data[start : start + size])
        if start == 0 and seed is not None:
            chunk.seed = seed
        yield chunk


def exported(stub: simulation_pb2_grpc.SimulationServiceStub) -> tuple[bytes, list[int]]:
    parts = list(stub.ExportWorldStream(sim.ExportWorldRequest(), timeout=120))
    return b"".join(p.data for p in parts), [len(p.data) for p in parts]


def test_a_world_over_the_message_limit_goes_in_and_out_in_chunks(
    world: World, sim_stub: simulation_pb2_grpc.SimulationServiceStub
) -> None:
    engine = big_engine(7_000)
    lines = "".join(dump_world_lines(engine)).encode()
    assert len(lines) > DEFAULT_MAX_MESSAGE_BYTES
    answer = sim_stub.ImportWorldStream(chunks(lines, 777_777, seed=8), timeout=120)
    assert (answer.invocations, answer.services) == (7_000, 1)
    data, sizes = exported(sim_stub)
    assert data == lines and max(sizes) == CHUNK_BYTES  # byte for byte, in chunks of at most 1 MiB
    new = sim_stub.Call(sim.CallRequest(service="Steps", handler="run"), timeout=30).invocation_id
    assert new == engine.call("Steps", "run")  # the same ids from here on


def test_a_stream_cut_anywhere_reads_the_same(
    world: World, sim_stub: simulation_pb2_grpc.SimulationServiceStub
) -> None:
    before, _ = exported(sim_stub)
    for size in (1, 7, 4096):
        sim_stub.ImportWorldStream(chunks(before, size), timeout=60)
        assert exported(sim_stub)[0] == before


def refusal(call: Callable[[], object]) -> errors.WireError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return errors.read_error(caught.value)


def test_a_bad_stream_is_refused_and_changes_nothing(
    world: World, channel: grpc.Channel, sim_stub: simulation_pb2_grpc.SimulationServiceStub
) -> None:
    before, _ = exported(sim_stub)
    header = json.dumps({"services": [], "deployments": []}).encode()
    bad_line = refusal(lambda: sim_stub.ImportWorldStream(chunks(header + b"\n{oops\n", 10), timeout=30))
    assert (bad_line.code, bad_line.reason, bad_line.http_status) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_SNAPSHOT",
        400,
    )
    assert bad_line.message.startswith("Invalid world at 'line 2': is not JSON: ")
    empty = refusal(lambda: sim_stub.ImportWorldStream(iter([]), timeout=30))
    assert empty.message == "Invalid world at 'world': has no header line"
    raw = channel.stream_unary(
        "/invocation_lifecycle.v1.SimulationService/ImportWorldStream",
        request_serializer=lambda body: body,
        response_deserializer=sim.ImportWorldResponse.FromString,
    )
    garbled = refusal(lambda: raw(iter([b"\xff\xff\xff"]), timeout=30))
    assert (garbled.code, garbled.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST_BODY")
    assert exported(sim_stub)[0] == before
