"""A real server on 127.0.0.1 (port 0) for the whole session, stubs, and worlds built over the wire."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pytest

from fsm.engine import Engine
from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim
from grpc_server.server import Server, start
from tests import examples

ROOT = Path(__file__).resolve().parents[2]


def client_missing(why: str) -> NoReturn:
    """What a test needing another language's tools (Node and tests/node's packages, or Debian's
    grpc-java) does without them: skip, saying ``why``; fail instead where
    ``INVOCATION_LIFECYCLE_REQUIRE_CLIENTS`` is set (CI, which installs them)."""
    if os.environ.get("INVOCATION_LIFECYCLE_REQUIRE_CLIENTS"):
        pytest.fail(why)
    pytest.skip(why)


EXAMPLES = examples.EXAMPLES  # ../shared's, or the copy kept in the repository (tests/examples.py)

D1 = "dp_16hyvaGLkmYCmSH4nzeUDZv"
PROTO5 = "dp_11hZJyLqfOKKtJGGm4piGyt"
D2 = "dp_16cRnGpcnx76y3EtKOfifDP"
OTHER = "dp_12PliZagEBrzYiYaC96Ef9n"
#: An invocation id that parses but exists nowhere.
ABSENT = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"

#: Services of every kind and four deployments, like the recorded world (D2 is the latest).
BASE_WORLD: dict[str, Any] = {
    "services": [
        {"name": "Steps", "type": "service", "journal_retention_s": 86400},
        {"name": "NoRet", "type": "service", "journal_retention_s": 0},
        {"name": "Locker", "type": "virtual_object", "journal_retention_s": 86400},
        {"name": "WF", "type": "workflow", "journal_retention_s": 86400},
        {"name": "Other", "type": "service", "journal_retention_s": 86400},
        {"name": "Lonely", "type": "service", "journal_retention_s": 86400},
    ],
    "deployments": [
        {"id": D1, "services": ["Steps", "NoRet", "Locker", "WF"], "protocol": [5, 7], "name": "D1"},
        {"id": PROTO5, "services": ["Steps", "NoRet", "Locker", "WF"], "protocol": [5, 5], "name": "proto5"},
        {"id": D2, "services": ["Steps", "NoRet", "Locker", "WF"], "protocol": [5, 7], "name": "D2"},
        {"id": OTHER, "services": ["Other"], "protocol": [5, 7], "name": "other"},
    ],
    "invocations": [],
}


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    running = start(port=0, host="127.0.0.1")
    yield running
    running.stop(0)


@pytest.fixture(scope="session")
def channel(server: Server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


@pytest.fixture(scope="session")
def admin(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    return admin_pb2_grpc.AdminServiceStub(channel)


@pytest.fixture(scope="session")
def sim_stub(channel: grpc.Channel) -> simulation_pb2_grpc.SimulationServiceStub:
    return simulation_pb2_grpc.SimulationServiceStub(channel)


class World:
    """Builds invocations in every state through the simulation service."""

    def __init__(
        self,
        admin: admin_pb2_grpc.AdminServiceStub,
        sim_stub: simulation_pb2_grpc.SimulationServiceStub,
        world: dict[str, Any],
    ) -> None:
        self.admin = admin
        self.sim = sim_stub
        self.sim.ImportWorld(sim.ImportWorldRequest(world_json=json.dumps(world), seed=7))

    def running(self, service: str = "Steps", key: str | None = None, handler: str = "run") -> str:
        return str(self.sim.Call(sim.CallRequest(service=service, handler=handler, key=key)).invocation_id)

    def steps(self, inv: str, steps: int) -> None:
        for _ in range(steps):
            entry = self.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Run")).entry
            self.sim.AppendNotification(
                sim.AppendNotificationRequest(invocation_id=inv, completion_id=entry.completion_ids[0])
            )

    def completed(self, steps: int = 2, service: str = "Steps", key: str | None = None, failed: bool = False) -> str:
        """Input, ``steps`` x (Run, its completion), Output: journal length 2 + 2 * steps."""
        inv = self.running(service, key)
        self.steps(inv, steps)
        self.sim.Complete(sim.CompleteRequest(invocation_id=inv, failed=failed))
        return inv

    def suspended(self, service: str = "Steps", key: str | None = None) -> str:
        inv = self.running(service, key)
        self.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=inv, type="Run"))
        self.sim.Suspend(sim.SuspendRequest(invocation_id=inv))
        return inv

    def paused(self) -> str:
        inv = self.running()
        self.admin.Pause(adm.PauseRequest(invocation_id=inv))
        return inv

    def scheduled(self, delay_ms: int = 60_000) -> str:
        return str(self.sim.Call(sim.CallRequest(service="Steps", handler="run", delay_ms=delay_ms)).invocation_id)

    def inboxed(self, key: str = "k") -> tuple[str, str]:
        """(the holder of ``key``, an invocation queued behind it)."""
        holder = self.running("Locker", key)
        return holder, self.running("Locker", key)

    def get(self, inv: str) -> Any:
        return self.admin.GetInvocation(adm.GetInvocationRequest(invocation_id=inv))

    def export(self) -> dict[str, Any]:
        return dict(json.loads(self.sim.ExportWorld(sim.ExportWorldRequest()).world_json))


@pytest.fixture
def world(admin: admin_pb2_grpc.AdminServiceStub, sim_stub: simulation_pb2_grpc.SimulationServiceStub) -> World:
    """A fresh copy of BASE_WORLD on the session server."""
    return World(admin, sim_stub, BASE_WORLD)


def expect_error(
    call: Callable[[], Any],
    code: grpc.StatusCode,
    reason: str,
    http_status: int,
    message: str,
    check: int | None = None,
) -> errors.WireError:
    """Run ``call``; it must fail with this code, ErrorInfo reason, http_status and message."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = errors.read_error(caught.value)
    assert (error.code, error.reason, error.http_status) == (code, reason, http_status), error
    assert error.domain == errors.DOMAIN
    assert error.details_code == code.value[0] and error.details_message == error.message
    assert error.message == message, repr(error.message)
    if check is not None:
        assert error.metadata.get("check") == str(check)
    assert (error.retry_delay_s is not None) == (code == grpc.StatusCode.UNAVAILABLE)
    return error


def big_engine(invocations: int) -> Engine:
    """A world whose JSON is over the 16 MiB body and message limits: long journals of long-named runs."""
    e = Engine(seed=8)
    e.register_service("Steps")
    e.register_deployment(["Steps"])
    for n in range(invocations):
        inv = e.call("Steps", "run")
        for step in range(12):
            e.complete_command(inv, e.append_command(inv, "Run", f"step-{step}-" + "x" * 60).completion_ids[0])
        if n % 2:
            e.complete(inv)
    return e
