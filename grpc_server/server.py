"""Build, start and stop the server: gRPC (both servicers, health, reflection, limits, TLS and token)
and Restate's HTTP admin API, in one asyncio event loop on a thread of its own.

A request runs on the loop itself once it has fully arrived, if nobody holds the engine, and on
one of a few worker threads if someone does (:func:`grpc_server.rpc.register`,
:meth:`grpc_server.world.GuardedEngine.try_run`): a client that stalls mid-request holds nothing,
and the loop never waits for another client's slow call.

:func:`start` returns a running :class:`Server` (tests use it with port 0); :func:`serve` runs one
until SIGTERM or SIGINT and then shuts down gracefully: health turns NOT_SERVING, new calls are
refused, calls in flight get ``grace_s`` seconds to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fsm.engine import Engine
from grpc_server.gen.invocation_lifecycle.v1 import admin_pb2, simulation_pb2

from . import rpc
from .admin import AdminServicer
from .http import build_app
from .http.serving import HttpListener, start_http
from .security import PLAIN, Security, TokenCheck, check_listen, credentials
from .simulation import SimulationServicer
from .store.sqlite import Store
from .world import GuardedEngine

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
#: Restate's own admin port: its HTTP admin API (and tools pointed at Restate) expect it here.
DEFAULT_HTTP_PORT = 9070
#: Largest message received or sent (a world snapshot is the biggest), in bytes.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: Threads that run a servicer when the engine is busy, and the long calls always (the event loop
#: receives, sends, and runs short calls itself). The engine lock serialises engine work and the
#: GIL most of the rest, so more threads only add hand-overs; two keep one slow call (a big
#: ImportWorld) from stalling every other.
DEFAULT_WORKERS = 2
#: Seconds calls in flight may take to finish after a shutdown signal.
DEFAULT_GRACE_S = 5.0

ADMIN_SERVICE = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name
SIMULATION_SERVICE = simulation_pb2.DESCRIPTOR.services_by_name["SimulationService"].full_name

log = logging.getLogger("grpc_server.server")


@dataclass
class Server:
    """A started server and what tests and the CLI need from it.

    The server is ``grpc.aio`` (and uvicorn, with HTTP) on an event loop of its own thread: a call
    holds nothing while its body is still arriving, so clients that stall cannot starve the others.
    The servicers stay plain functions, run on the loop when the engine is free, else on ``workers``
    threads.
    """

    grpc_server: grpc.aio.Server
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    host: str
    port: int
    world: GuardedEngine
    health: health.aio.HealthServicer
    http: HttpListener | None = None

    @property
    def target(self) -> str:
        return f"{_host_for_address(self.host)}:{self.port}"

    @property
    def http_url(self) -> str | None:
        """``http://host:port`` of Restate's admin API, or None when HTTP is off."""
        if self.http is None:
            return None
        return f"http://{_host_for_address(self.host)}:{self.http.port}"

    def stop(self, grace_s: float | None = DEFAULT_GRACE_S) -> None:
        """Refuse new calls, let calls in flight finish (at most ``grace_s``), then stop."""
        if not self.loop.is_running():
            return

        async def stopping() -> None:
            await self.health.enter_graceful_shutdown()
            if self.http is not None:
                await self.http.stop()
            await self.grpc_server.stop(grace_s)

        asyncio.run_coroutine_threadsafe(stopping(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _host_for_address(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def start(
    engine: Engine | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    workers: int = DEFAULT_WORKERS,
    security: Security = PLAIN,
    http_port: int | None = None,
    store: Store | None = None,
) -> Server:
    """Start serving ``engine`` (a new empty world if None) on ``host:port`` (0: any free port), and
    Restate's HTTP admin API on ``host:http_port`` when given (0: any free port). With a ``store``
    (which loaded ``engine``), every change is committed to it before its answer is sent.

    Off loopback, ``security`` must bring TLS or say ``insecure`` (see :mod:`grpc_server.security`).
    """
    warning = check_listen(host, security)
    if warning is not None:
        log.warning("%s", warning)
    world = GuardedEngine(engine if engine is not None else Engine(), store)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="grpc-loop", daemon=True)
    thread.start()
    try:
        server, bound, health_servicer, http = asyncio.run_coroutine_threadsafe(
            _start(world, host, port, max_message_bytes, workers, security, http_port), loop
        ).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        raise
    return Server(server, loop, thread, host, bound, world, health_servicer, http)


async def _start(
    world: GuardedEngine,
    host: str,
    port: int,
    max_message_bytes: int,
    workers: int,
    security: Security,
    http_port: int | None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer, HttpListener | None]:
    pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc-worker")
    server = grpc.aio.server(
        migration_thread_pool=pool,
        interceptors=[TokenCheck(security.token)] if security.token is not None else None,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),  # a second server on the same port fails instead of sharing it
        ],
    )
    rpc.register(server, "admin", AdminServicer(world), pool)
    rpc.register(server, "simulation", SimulationServicer(world), pool)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (ADMIN_SERVICE, SIMULATION_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{_host_for_address(host)}:{port}"
    tls = credentials(security)
    try:
        bound = server.add_insecure_port(address) if tls is None else server.add_secure_port(address, tls)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: {exc}") from None
    if bound == 0:
        raise OSError(f"cannot listen on {address}")
    http = None
    if http_port is not None:
        http = await start_http(build_app(world, security.token), host, http_port, security)
    await server.start()
    for name in ("", ADMIN_SERVICE, SIMULATION_SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound, health_servicer, http


def serve(
    engine: Engine | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    workers: int = DEFAULT_WORKERS,
    grace_s: float = DEFAULT_GRACE_S,
    security: Security = PLAIN,
    http_port: int | None = DEFAULT_HTTP_PORT,
    store: Store | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully. Call from the main thread."""
    server = start(
        engine,
        host=host,
        port=port,
        max_message_bytes=max_message_bytes,
        workers=workers,
        security=security,
        http_port=http_port,
        store=store,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, shutting down (grace %.1fs)", signal.Signals(signum).name, grace_s)
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("listening on %s", server.target)
    print(f"invocation-lifecycle gRPC server listening on {server.target}", flush=True)
    if server.http_url is not None:
        log.info("Restate admin API over HTTP on %s", server.http_url)
        print(f"invocation-lifecycle HTTP admin API listening on {server.http_url}", flush=True)
    try:
        # Woken every half second: a signal handled between Event.wait's check of the flag and its
        # block would otherwise leave the main thread blocked forever (set() found no waiter yet).
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop(grace_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("stopped")
