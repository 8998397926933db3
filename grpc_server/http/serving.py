"""Serving the HTTP app with uvicorn inside the server's own asyncio loop, beside grpc.aio.

uvicorn (with httptools' C parser) does the HTTP; we hand it a socket we bound ourselves, so port
0 works and the bound port is known before the first request. TLS, when the server has it, comes
from the same PEM bytes as gRPC's (written to a private temporary directory for uvicorn).
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from ..security import Security

#: How long to wait for uvicorn to start or stop.
START_TIMEOUT_S = 10.0


@dataclass
class HttpListener:
    """A running uvicorn server and the port it bound."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int
    tls_dir: tempfile.TemporaryDirectory[str] | None

    async def stop(self) -> None:
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, START_TIMEOUT_S)
        finally:
            if self.tls_dir is not None:
                self.tls_dir.cleanup()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets whose proto says TCP, and
    # with Nagle on, a response written as headers then body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen for HTTP on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def start_http(app: ASGIApp, host: str, port: int, security: Security) -> HttpListener:
    """Serve ``app`` on ``host:port`` (0: any free port) in the running loop."""
    sock = _bind(host, port)
    tls_dir = None
    options: dict[str, str] = {}
    if security.tls_cert is not None and security.tls_key is not None:
        tls_dir = tempfile.TemporaryDirectory(prefix="invocation-lifecycle-tls-")
        cert, key = Path(tls_dir.name) / "cert.pem", Path(tls_dir.name) / "key.pem"
        cert.write_bytes(security.tls_cert)
        key.write_bytes(security.tls_key)
        key.chmod(0o600)
        options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    config = uvicorn.Config(
        app,
        lifespan="off",
        http="httptools",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=True,
        **options,  # type: ignore[arg-type]
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise OSError(f"the HTTP server on {host}:{port} stopped while starting")
        if asyncio.get_running_loop().time() > deadline:
            raise OSError(f"the HTTP server on {host}:{port} did not start in {START_TIMEOUT_S} s")
        await asyncio.sleep(0.005)
    return HttpListener(server, task, sock.getsockname()[1], tls_dir)
