"""What wraps every RPC: refusals become statuses, nothing escapes, and one log line per call.

A servicer method decorated with :func:`rpc` may raise any :class:`fsm.errors.LifecycleError`: it
is answered with the status of :mod:`grpc_server.errors`. Any other exception is a bug: it is
logged with its traceback and answered INTERNAL, and the server goes on serving.

Each call is logged as one JSON object (logger ``grpc_server.calls``): service, rpc, the request
(as proto JSON), the gRPC code, the ErrorInfo reason and the HTTP status. Admin calls log at INFO,
simulation calls at DEBUG (a replay makes thousands).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from fsm.errors import LifecycleError

from . import errors

log = logging.getLogger("grpc_server.calls")

S = TypeVar("S")
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Method = Callable[[S, Req, Any], Resp]


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
                response = method(self, request, context)
            except LifecycleError as exc:
                status = errors.to_status(exc)
                record.update(code=status.code.name, reason=exc.reason, http_status=exc.http_status,
                              message=exc.message)
                _log(level, record, request, started)
                context.abort_with_status(status)
                raise  # abort_with_status raises; this line is never reached
            except Exception as exc:  # a bug: answer INTERNAL, keep serving
                status = errors.internal_status(exc)
                record.update(code=status.code.name, reason=errors.INTERNAL_REASON, http_status=500,
                              message=status.details)
                log.exception("internal error in %s", name)
                _log(logging.ERROR, record, request, started)
                context.abort_with_status(status)
                raise
            record.update(code=grpc.StatusCode.OK.name, http_status=_http_status(response))
            _log(level, record, request, started)
            return response

        return wrapper

    return decorate


def _log(level: int, record: dict[str, Any], request: Message, started: float) -> None:
    if not log.isEnabledFor(level):
        return
    record["request"] = json_format.MessageToDict(request, preserving_proto_field_name=True)
    record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    log.log(level, "%s.%s %s %s", record["service"], record["rpc"], record["code"], record.get("reason") or "",
            extra={"rpc": record})


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an RPC's record is spread into it (see :func:`rpc`)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                               "logger": record.name}
        fields = getattr(record, "rpc", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)
