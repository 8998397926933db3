"""``make crash-test``: SIGKILL a server that keeps its state (``--db``) under load, again and again.

    python -m bench.crash [--rounds 100] [--seed 1] [--db FILE]

Each round starts ``python -m grpc_server --db FILE`` (the same file every round) and drives it
with one client that never waits: calls, journal steps, sleeps, completions and clock moves over
gRPC; restart-as-new, cancel, kill, pause, resume and purge over HTTP. Every acknowledged request
is also applied to a shadow engine in this process, and must have answered exactly what the
shadow answers (the same new ids, as the file keeps the id generator's position). At a random
moment the server is killed with SIGKILL. The next round's server must come back with exactly the
shadow's world, or with the shadow's world plus the one request in flight at the kill (committed
but not yet answered): anything else is a loss, or a half-present write. Invariants are checked
on every world that comes back.

It prints rounds, acknowledged writes, the requests in flight found committed or not, and losses;
the exit code is 1 on any loss or wrong answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from fsm.engine import Engine
from fsm.errors import LifecycleError
from fsm.snapshot import dump_world, load_world
from grpc_server import errors
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2 as adm
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2_grpc, simulation_pb2_grpc
from grpc_server.gen.invocation_lifecycle.v1 import common_pb2 as common
from grpc_server.gen.invocation_lifecycle.v1 import simulation_pb2 as sim

from .grpc_bench import ServerProcess, start_server

WAIT_S = 30.0
#: Engine methods whose result the server answers too: a new id, or an HTTP status (200 / 202).
ANSWERS_A_VALUE = frozenset({"call", "cancel", "kill", "pause", "resume", "purge"})
Outcome = tuple[str, Any]  # ("ok", value) or ("error", gRPC code name / HTTP status)


@dataclass(frozen=True)
class Op:
    """One request: how the shadow engine does it, and how it goes over the wire."""

    method: str  # the Engine method
    args: tuple[Any, ...]
    transport: str  # "grpc" or "http"

    def on(self, engine: Engine) -> Outcome:
        try:
            result: Any
            if self.method == "call":
                service, handler, key, delay_ms = self.args
                result = engine.call(service, handler, key, delay_ms=delay_ms)
            else:
                result = getattr(engine, self.method)(*self.args)
        except LifecycleError as err:
            return ("error", errors.to_status(err).code.name if self.transport == "grpc" else err.http_status)
        if self.method == "restart_as_new":
            return ("ok", result.new_invocation_id)
        return ("ok", result if self.method in ANSWERS_A_VALUE else None)


class Wire:
    """The server's gRPC stubs and its HTTP admin API."""

    def __init__(self, server: ServerProcess) -> None:
        self.channel = grpc.insecure_channel(server.target)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)
        self.sim = simulation_pb2_grpc.SimulationServiceStub(self.channel)
        assert server.http_port is not None
        self.http_port = server.http_port

    def close(self) -> None:
        self.channel.close()

    def send(self, op: Op) -> Outcome:
        """What the server answered (ConnectionError when it is gone)."""
        if op.transport == "http":
            return self._http(op)
        try:
            return ("ok", self._grpc(op))
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not _lifecycle(err):
                raise ConnectionError(err.details()) from None
            return ("error", err.code().name)

    def _grpc(self, op: Op) -> Any:
        a = op.args
        if op.method == "call":
            request = sim.CallRequest(service=a[0], handler=a[1], delay_ms=a[3])
            if a[2] is not None:
                request.key = a[2]
            return self.sim.Call(request, timeout=WAIT_S).invocation_id
        if op.method == "append_command":
            self.sim.AppendCommand(sim.AppendCommandRequest(invocation_id=a[0], type=a[1]), timeout=WAIT_S)
        elif op.method == "complete_command":
            notification = sim.AppendNotificationRequest(invocation_id=a[0], completion_id=a[1])
            self.sim.AppendNotification(notification, timeout=WAIT_S)
        elif op.method == "sleep":
            self.sim.Sleep(sim.SleepRequest(invocation_id=a[0], duration_ms=a[1]), timeout=WAIT_S)
        elif op.method == "complete":
            self.sim.Complete(sim.CompleteRequest(invocation_id=a[0], failed=not a[1]), timeout=WAIT_S)
        elif op.method == "advance":
            self.sim.AdvanceClock(sim.AdvanceClockRequest(by_ms=a[0]), timeout=WAIT_S)
        else:
            raise ValueError(f"no gRPC request for {op.method}")
        return None

    def _http(self, op: Op) -> Outcome:
        path = "restart-as-new" if op.method == "restart_as_new" else op.method
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=WAIT_S)
        try:
            conn.request("PATCH", f"/invocations/{op.args[0]}/{path}")
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionError(str(exc)) from None
        finally:
            conn.close()
        if answer.status >= 300:
            return ("error", answer.status)
        if op.method == "restart_as_new":
            return ("ok", json.loads(body)["new_invocation_id"])
        return ("ok", answer.status)


def _lifecycle(err: grpc.RpcError) -> bool:
    """An answer of the model (it carries an HTTP status), not a dead connection."""
    metadata = err.trailing_metadata() or ()
    return any(key == "http_status" for key, _ in metadata)


def next_op(rng: random.Random, shadow: Engine) -> Op:
    """A request that makes sense most of the time (some are refused: those must match too)."""
    ids = list(shadow.invocations)
    running = [i for i, inv in shadow.invocations.items() if inv.state == "running"]
    roll = rng.random()
    if roll < 0.25 or not ids:
        if rng.random() < 0.3:
            return Op("call", ("Locker", "hold", f"k{rng.randrange(4)}", 0), "grpc")
        return Op("call", ("Steps", "run", None, rng.choice((0, 0, 0, 2_000))), "grpc")
    if roll < 0.55 and running:
        target = rng.choice(running)
        kind = rng.random()
        if kind < 0.4:
            return Op("append_command", (target, rng.choice(("Run", "SetState", "Call"))), "grpc")
        if kind < 0.6:
            return Op("sleep", (target, rng.choice((500, 5_000))), "grpc")
        if kind < 0.7:
            return Op("complete_command", (target, rng.randrange(1, 4)), "grpc")
        return Op("complete", (target, rng.random() < 0.8), "grpc")
    if roll < 0.65:
        return Op("advance", (rng.choice((100, 1_000, 3_000)),), "grpc")
    operation = rng.choice(("restart_as_new", "restart_as_new", "cancel", "kill", "pause", "resume", "purge"))
    return Op(operation, (rng.choice(ids),), "http")


@dataclass
class Tally:
    rounds: int = 0
    acknowledged: int = 0
    in_flight_committed: int = 0
    in_flight_lost: int = 0
    losses: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"crash test: {self.rounds} rounds, {self.acknowledged:,} acknowledged writes, "
            f"{len(self.losses)} lost or wrong; requests in flight at the kill: {self.in_flight_committed} "
            f"committed, {self.in_flight_lost} not"
        )


def set_up(wire: Wire, shadow: Engine) -> None:
    wire.admin.RegisterService(adm.RegisterServiceRequest(name="Steps"), timeout=WAIT_S)
    wire.admin.RegisterService(
        adm.RegisterServiceRequest(name="Locker", type=common.SERVICE_TYPE_VIRTUAL_OBJECT), timeout=WAIT_S
    )
    deployment = wire.admin.RegisterDeployment(
        adm.RegisterDeploymentRequest(services=["Steps", "Locker"]), timeout=WAIT_S
    )
    shadow.register_service("Steps")
    shadow.register_service("Locker", "virtual_object")
    if shadow.register_deployment(["Steps", "Locker"]) != deployment.id:
        raise AssertionError("the server and the shadow drew different deployment ids")


def one_round(
    server: ServerProcess, shadow: Engine, rng: random.Random, tally: Tally, kill_after_s: float
) -> tuple[Engine, Op | None]:
    """Load until the kill; the shadow of what was acknowledged and the request in flight."""
    wire = Wire(server)
    killer = threading.Timer(kill_after_s, lambda: server.proc.send_signal(signal.SIGKILL))
    killer.start()
    in_flight: Op | None = None
    try:
        while server.proc.poll() is None:
            op = next_op(rng, shadow)
            try:
                got = wire.send(op)
            except ConnectionError:
                in_flight = op
                break
            want = op.on(shadow)  # acknowledged: the shadow takes it too
            if got != want:
                tally.losses.append(f"round {tally.rounds}: {op} answered {got}, the shadow {want}")
            tally.acknowledged += got[0] == "ok"
    finally:
        killer.join()
        wire.close()
        server.proc.wait(timeout=WAIT_S)
        server.log.close()
    return shadow, in_flight


def check_restart(server: ServerProcess, shadow: Engine, in_flight: Op | None, tally: Tally) -> Engine:
    """The world the restarted server holds must be the shadow's, or the shadow's plus the request
    in flight; returns the shadow that matches."""
    wire = Wire(server)
    try:
        world = json.loads(wire.sim.ExportWorld(sim.ExportWorldRequest(), timeout=WAIT_S).world_json)
    finally:
        wire.close()
    try:
        load_world(world).check_invariants()
    except AssertionError as broken:
        tally.losses.append(f"round {tally.rounds}: the world that came back breaks an invariant: {broken}")
    if world == dump_world(shadow):
        tally.in_flight_lost += in_flight is not None
        return shadow
    if in_flight is not None:
        ahead = load_world(dump_world(shadow))  # a lossless copy
        in_flight.on(ahead)
        if world == dump_world(ahead):
            tally.in_flight_committed += 1
            return ahead
    tally.losses.append(
        f"round {tally.rounds}: the file holds {len(world['invocations'])} invocations at {world.get('now_ms')}, "
        f"the shadow {len(shadow.invocations)} at {shadow.now_ms} (in flight: {in_flight})"
    )
    return load_world(world)


def run(
    rounds: int,
    seed: int,
    db: Path,
    log_dir: Path,
    progress: Callable[[str], None],
    program: Sequence[str] = (),
) -> Tally:
    """``rounds`` kills of the server (``program``: another command line that takes its flags)."""
    rng = random.Random(seed)
    tally = Tally()
    shadow = Engine(seed=seed)
    extra = ["--db", str(db), "--seed", str(seed), "--log-level", "ERROR"]
    server = start_server(None, log_dir / "server-0.log", extra, program)
    try:
        wire = Wire(server)
        try:
            set_up(wire, shadow)
        finally:
            wire.close()
        for n in range(1, rounds + 1):
            tally.rounds = n
            shadow, in_flight = one_round(server, shadow, rng, tally, rng.uniform(0.05, 0.6))
            log = log_dir / f"server-{n}.log"
            try:
                server = start_server(None, log, extra, program)
            except RuntimeError:
                said = log.read_text(errors="replace").strip().splitlines()
                tally.losses.append(f"round {n}: the server did not come back: {said[-1] if said else 'silence'}")
                return tally
            shadow = check_restart(server, shadow, in_flight, tally)
            if n % 10 == 0 or n == rounds:
                progress(f"{tally.line()}  ({len(shadow.invocations)} invocations held)")
    finally:
        server.stop()  # whatever happened: no server outlives the run (stopping a dead one is a no-op)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="kills (default 100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the load and of the server's ids (default 1)")
    parser.add_argument("--db", type=Path, help="the database file (default: a new one in a temporary directory)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="crash-") as folder:
        db = args.db if args.db is not None else Path(folder) / "state.db"
        if db.exists():
            parser.error(f"--db {db} exists: the crash test starts from a new file")
        try:
            tally = run(args.rounds, args.seed, db, Path(folder), lambda line: print(line, file=sys.stderr))
        except (OSError, RuntimeError, grpc.RpcError) as exc:
            print(f"crash test stopped: {exc}", file=sys.stderr)
            return 1
    print(tally.line())
    for loss in tally.losses[:20]:
        print(f"  {loss}")
    return 1 if tally.losses else 0


if __name__ == "__main__":
    sys.exit(main())
