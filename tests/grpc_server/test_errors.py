"""The mapping table: a refusal's class decides its code; every error carries the details trailer."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from fsm.errors import (
    FailedPrecondition,
    IllegalTransition,
    InvalidArgument,
    LifecycleError,
    NotFound,
    OutOfRange,
    SnapshotError,
    Unavailable,
)
from grpc_server import errors

C = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgument(400, "INVALID_INVOCATION_ID", "m", check=2), C.INVALID_ARGUMENT),
        (SnapshotError("world", "bad"), C.INVALID_ARGUMENT),
        (OutOfRange(400, "JOURNAL_INDEX_OUT_OF_RANGE", "m", check=15), C.OUT_OF_RANGE),
        (FailedPrecondition(400, "INCOMPLETE_PREFIX", "m", check=14), C.FAILED_PRECONDITION),
        (FailedPrecondition(400, "DEPLOYMENT_NOT_FOUND", "m", check=12), C.FAILED_PRECONDITION),
        (NotFound(404, "DEPLOYMENT_NOT_FOUND", "m"), C.NOT_FOUND),
        (FailedPrecondition(409, "STILL_RUNNING", "m", check=7), C.FAILED_PRECONDITION),
        (FailedPrecondition(410, "INPUT_NOT_AVAILABLE", "m", check=8), C.FAILED_PRECONDITION),
        (FailedPrecondition(422, "UNSUPPORTED", "m", check=9), C.FAILED_PRECONDITION),
        (FailedPrecondition(425, "NOT_STARTED", "m", check=6), C.FAILED_PRECONDITION),
        (IllegalTransition("inv", "complete", "completed", ("running",)), C.FAILED_PRECONDITION),
        (Unavailable(503, "PARTITION_UNAVAILABLE", "m", check=4), C.UNAVAILABLE),
        (LifecycleError(400, "SOMETHING_NEW", "m"), C.INTERNAL),
    ],
)
def test_code_follows_the_class_not_the_number(error: LifecycleError, code: grpc.StatusCode) -> None:
    assert errors.code_for(error) == code


def test_same_http_status_different_codes() -> None:
    """400 is three causes; the table keeps them apart."""
    codes = {
        errors.code_for(e)
        for e in (InvalidArgument(400, "A", "m"), OutOfRange(400, "B", "m"), FailedPrecondition(400, "C", "m"))
    }
    assert codes == {C.INVALID_ARGUMENT, C.OUT_OF_RANGE, C.FAILED_PRECONDITION}


def _details(status: grpc.Status) -> status_pb2.Status:
    ((key, raw),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    return status_pb2.Status.FromString(raw)


def test_status_carries_error_info_with_http_status_and_check() -> None:
    status = errors.to_status(FailedPrecondition(409, "STILL_RUNNING", "The invocation 'x' is still running.", check=7))
    assert (status.code, status.details) == (C.FAILED_PRECONDITION, "The invocation 'x' is still running.")
    detail = _details(status)
    assert (detail.code, detail.message) == (9, "The invocation 'x' is still running.")
    info = error_details_pb2.ErrorInfo()
    assert len(detail.details) == 1 and detail.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "STILL_RUNNING",
        "invocation-lifecycle.dev",
        {"http_status": "409", "check": "7"},
    )


def test_unavailable_carries_retry_info() -> None:
    detail = _details(errors.to_status(Unavailable(503, "PARTITION_UNAVAILABLE", "m")))
    retry = error_details_pb2.RetryInfo()
    assert detail.details[1].Unpack(retry) and retry.retry_delay.seconds == errors.RETRY_DELAY_S


def test_internal_status() -> None:
    status = errors.internal_status(KeyError("x"))
    assert (status.code, status.details) == (C.INTERNAL, "Internal error: KeyError: 'x'")
    info = error_details_pb2.ErrorInfo()
    _details(status).details[0].Unpack(info)
    assert (info.reason, dict(info.metadata)) == ("INTERNAL", {"http_status": "500"})


def test_every_class_of_the_hierarchy_is_in_the_table() -> None:
    def subclasses(cls: type) -> set[type]:
        found: set[type] = {cls}
        children: list[type] = cls.__subclasses__()
        for sub in children:
            found |= subclasses(sub)
        return found

    for cls in subclasses(LifecycleError) - {LifecycleError}:
        if cls.__module__ == "fsm.errors":
            assert any(issubclass(cls, listed) for listed in errors.CODES), cls


def test_a_long_message_keeps_its_ends_and_says_how_much_was_left_out() -> None:
    short = "m" * errors.MAX_MESSAGE_CHARS
    assert errors.fit_message(short) == short
    long = "The requested service '" + "x" * 10_000 + "' does not exist"
    fitted = errors.fit_message(long)
    keep = errors.MAX_MESSAGE_CHARS // 2
    assert fitted == f"{long[:keep]}… ({len(long) - 2 * keep} characters left out) …{long[-keep:]}"
    assert fitted.endswith("' does not exist") and len(fitted) < errors.MAX_MESSAGE_CHARS + 50
