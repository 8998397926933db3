"""From a refusal's cause to a gRPC status: the one mapping table, and the error details.

The code is chosen by the exception *class* (the cause), never by the HTTP number: several causes
share 400 (a malformed id, an incomplete prefix, `from` out of range) and each gets its own code.
The most specific class listed wins (looked up along the class's MRO)::

    InvalidArgument (and SnapshotError)      INVALID_ARGUMENT
    OutOfRange                               OUT_OF_RANGE
    NotFound                                 NOT_FOUND
    FailedPrecondition (and IllegalTransition) FAILED_PRECONDITION   400 checks 12-14, 409, 410, 422, 425
    Unavailable                              UNAVAILABLE, with RetryInfo
    anything else                            INTERNAL

Every error carries, in the standard ``grpc-status-details-bin`` trailer, a ``google.rpc.Status``
with the same code and message and a ``google.rpc.ErrorInfo``: ``reason`` (the model's UPPER_SNAKE
reason), ``domain`` (:data:`DOMAIN`), ``metadata`` ``{"http_status": "409"}`` plus ``"check"`` for
restart-as-new refusals. The message is Restate's HTTP message, unchanged.

:func:`read_error` is the client side: what a caller (the CLI, the wire replay, tests) reads back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from fsm.errors import FailedPrecondition, InvalidArgument, LifecycleError, NotFound, OutOfRange, Unavailable

#: ErrorInfo.domain of every error this server sends.
DOMAIN = "invocation-lifecycle.dev"
#: How long a client should wait before retrying an UNAVAILABLE answer (RetryInfo.retry_delay).
RETRY_DELAY_S = 1
#: ErrorInfo.reason of an unexpected server error.
INTERNAL_REASON = "INTERNAL"

#: The mapping table: the cause (exception class) -> gRPC code.
CODES: dict[type[LifecycleError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    NotFound: grpc.StatusCode.NOT_FOUND,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def code_for(error: LifecycleError) -> grpc.StatusCode:
    """The gRPC code for a refusal: the entry of its most specific class in :data:`CODES`."""
    for cls in type(error).__mro__:
        code = CODES.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


#: The longest status message sent, in characters. The message travels twice in headers (grpc-message
#: and the details trailer), and clients refuse more than 16 KiB of headers (gRPC's default): a
#: message quoting a huge argument back would reach the client as RESOURCE_EXHAUSTED instead.
MAX_MESSAGE_CHARS = 2_000


def fit_message(message: str) -> str:
    """``message``, or its beginning and end around a note of how much was left out."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    keep = MAX_MESSAGE_CHARS // 2
    return f"{message[:keep]}… ({len(message) - 2 * keep} characters left out) …{message[-keep:]}"


def _status(
    code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str], retry_delay_s: int | None = None
) -> grpc.Status:
    message = fit_message(message)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata)
    detail = status_pb2.Status(code=code.value[0], message=message)
    detail.details.add().Pack(info)
    if retry_delay_s is not None:
        detail.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_delay_s)))
    return rpc_status.to_status(detail)


def to_status(error: LifecycleError) -> grpc.Status:
    """The gRPC status (with its details trailer) for a refusal of the model."""
    code = code_for(error)
    metadata = {"http_status": str(error.http_status)}
    if error.check is not None:
        metadata["check"] = str(error.check)
    retry = RETRY_DELAY_S if code == grpc.StatusCode.UNAVAILABLE else None
    return _status(code, error.message, error.reason, metadata, retry)


def unauthenticated_status(message: str) -> grpc.Status:
    """UNAUTHENTICATED (http_status 401) for a call without the server's bearer token."""
    return _status(grpc.StatusCode.UNAUTHENTICATED, message, "UNAUTHENTICATED", {"http_status": "401"})


def internal_status(error: BaseException) -> grpc.Status:
    """INTERNAL for an unexpected exception: a bug, reported without crashing the server."""
    message = f"Internal error: {type(error).__name__}: {error}"
    return _status(grpc.StatusCode.INTERNAL, message, INTERNAL_REASON, {"http_status": "500"})


@dataclass(frozen=True)
class WireError:
    """An error as a client reads it from the wire."""

    code: grpc.StatusCode
    message: str  # the status message (grpc-message)
    reason: str | None = None  # ErrorInfo.reason, None if the details are missing
    domain: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    retry_delay_s: float | None = None  # RetryInfo, if present
    details_message: str | None = None  # google.rpc.Status.message in the trailer
    details_code: int | None = None  # google.rpc.Status.code in the trailer

    @property
    def http_status(self) -> int | None:
        raw = self.metadata.get("http_status")
        return int(raw) if raw is not None and raw.isdigit() else None

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code.name,
            "message": self.message,
            "reason": self.reason,
            "domain": self.domain,
            "metadata": dict(sorted(self.metadata.items())),  # a map has no order: print a stable one
            "retry_delay_s": self.retry_delay_s,
        }


def read_error(error: grpc.RpcError) -> WireError:
    """Decode a failed call: its code, message, ErrorInfo and RetryInfo."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    detail = rpc_status.from_call(error)
    if detail is None:
        return WireError(code, message)
    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = {}
    retry_delay_s: float | None = None
    for item in detail.details:
        if item.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            item.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif item.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            item.Unpack(retry)
            retry_delay_s = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return WireError(code, message, reason, domain, metadata, retry_delay_s, detail.message, detail.code)


__all__ = ["CODES", "DOMAIN", "RETRY_DELAY_S", "WireError", "code_for", "internal_status", "read_error", "to_status"]
