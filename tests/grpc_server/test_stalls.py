"""Clients that open a call and never send its body cannot starve the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc
from grpc_server.server import start

#: Generous: the answer comes in milliseconds; a starved server never answers (``make bench``
#: measures the time).
DEADLINE_S = 10


def stalled_body(release: threading.Event) -> Iterator[bytes]:
    release.wait()  # the call's headers are sent; its body never comes until released
    yield b""


@pytest.mark.parametrize("stalled", [8, 100])
def test_health_and_calls_answer_while_streams_stall(stalled: int) -> None:
    server = start(port=0, host="127.0.0.1")
    release = threading.Event()
    channels = [grpc.insecure_channel(server.target) for _ in range(4)]
    try:
        calls = []
        for i in range(stalled):  # a unary method called as client-streaming: headers, then nothing
            open_call = channels[i % len(channels)].stream_unary(
                "/invocation_lifecycle.v1.AdminService/ListServices",
                request_serializer=lambda raw: raw,
                response_deserializer=lambda raw: raw,
            )
            calls.append(open_call.future(stalled_body(release), timeout=60))
        time.sleep(0.5)  # let every stalled stream reach the server
        with grpc.insecure_channel(server.target) as fresh:
            health = health_pb2_grpc.HealthStub(fresh).Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE_S)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            admin_pb2_grpc.AdminServiceStub(fresh).ListServices(adm.ListServicesRequest(), timeout=DEADLINE_S)
    finally:
        release.set()
        for channel in channels:
            channel.close()
        server.stop(0)


def test_a_call_waiting_for_a_busy_engine_does_not_hold_the_event_loop() -> None:
    server = start(port=0, host="127.0.0.1")
    holding, release = threading.Event(), threading.Event()

    def hold(engine: object) -> None:
        holding.set()
        release.wait(6 * DEADLINE_S)  # longer than the health check may take: a blocked loop fails it

    holder = threading.Thread(target=server.world.run, args=(hold,))
    holder.start()
    try:
        assert holding.wait(DEADLINE_S)
        with grpc.insecure_channel(server.target) as channel:
            waiting = admin_pb2_grpc.AdminServiceStub(channel).ListServices.future(
                adm.ListServicesRequest(), timeout=DEADLINE_S
            )
            time.sleep(0.2)  # it reached the server and waits for the engine, on a worker thread
            assert not waiting.done()
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE_S)
            assert health.status == health_pb2.HealthCheckResponse.SERVING  # the loop still answers
            release.set()
            assert list(waiting.result(timeout=DEADLINE_S).services) == []
    finally:
        release.set()
        holder.join()
        server.stop(0)
