"""Who may talk to the server: TLS off loopback, and an optional bearer token on every call.

- On a loopback address (127.0.0.0/8, ::1, ``localhost``) the server needs nothing: plaintext is
  fine where only this machine can connect.
- On any other address it needs TLS (a certificate and its key), or an explicit ``insecure``
  choice, which it logs as a warning: plaintext off loopback lets anyone who can reach the port
  drive the engine.
- With a token, every call but the health check must carry ``authorization: Bearer <token>``;
  others are refused UNAUTHENTICATED (ErrorInfo reason ``UNAUTHENTICATED``, http_status 401).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from . import errors

#: The environment variable the server and the CLI read the token from when no flag gives one.
TOKEN_ENV = "INVOCATION_LIFECYCLE_TOKEN"
#: Calls that need no token: load balancers and orchestrators probe health without credentials.
OPEN_PREFIX = "/grpc.health.v1.Health/"


@dataclass(frozen=True)
class Security:
    """TLS material (PEM bytes), the bearer token, and whether plaintext off loopback is accepted."""

    tls_cert: bytes | None = None
    tls_key: bytes | None = None
    token: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and its key")
        if self.token is not None and not self.token:
            raise ValueError("the token must not be empty")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


#: No TLS, no token: what a server on loopback needs.
PLAIN = Security()


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_listen(host: str, security: Security) -> str | None:
    """Refuse plaintext off loopback unless it was chosen explicitly (OSError naming the fix).

    Returns the warning to log when plaintext off loopback *was* chosen, else None.
    """
    if is_loopback(host) or security.tls:
        return None
    if not security.insecure:
        raise OSError(
            f"refusing to listen on {host} in plaintext: pass --tls-cert and --tls-key, or --insecure "
            "to accept that anyone who can reach the port may drive the engine"
        )
    return f"listening on {host} in plaintext (--insecure): anyone who can reach it can drive the engine"


def credentials(security: Security) -> grpc.ServerCredentials | None:
    """The server's TLS credentials, or None for plaintext."""
    if security.tls_cert is None or security.tls_key is None:
        return None
    return grpc.ssl_server_credentials([(security.tls_key, security.tls_cert)])


def _refuse(message: str) -> grpc.RpcMethodHandler:
    status = errors.unauthenticated_status(message)

    async def behaviour(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(status.code, status.details, status.trailing_metadata)

    return grpc.unary_unary_rpc_method_handler(behaviour)


class TokenCheck(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc's interceptor base is untyped
    """Lets a call through only with ``authorization: Bearer <token>`` (health checks always)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()
        self._missing = _refuse("missing bearer token: send the metadata 'authorization: Bearer <token>'")
        self._wrong = _refuse("wrong bearer token")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if details.method.startswith(OPEN_PREFIX):
            return await continuation(details)
        sent = [value for key, value in details.invocation_metadata or () if key == "authorization"]
        if not sent:
            return self._missing
        given = sent[0].encode() if isinstance(sent[0], str) else sent[0]
        if not hmac.compare_digest(given, self._expected):
            return self._wrong
        return await continuation(details)
