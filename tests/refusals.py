"""Refusal assertions: a refusal test pins the whole answer (status, reason, message), never a fragment."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from fsm.errors import InvalidArgument, LifecycleError

E = TypeVar("E", bound=LifecycleError)


def refused(call: Callable[[], object], kind: type[E]) -> E:
    """The error ``call()`` raises, which must be a ``kind``; fails if it returns."""
    try:
        returned = call()
    except LifecycleError as err:
        assert isinstance(err, kind), f"expected {kind.__name__}, got {err!r}"
        return err
    raise AssertionError(f"expected {kind.__name__}, but the call returned {returned!r}")


#: Every status code the model refuses with (Restate's admin API uses no others for refusals).
STATUSES = frozenset({400, 404, 409, 410, 422, 425, 503})
REASON = re.compile(r"[A-Z][A-Z_]*[A-Z]")


def well_formed(err: LifecycleError) -> None:
    """What any refusal must be, whatever caused it: a known status, a reason code, a message."""
    assert err.http_status in STATUSES, err
    assert REASON.fullmatch(err.reason), err
    assert err.message and str(err) == f"{err.http_status} {err.reason}: {err.message}", err
    if isinstance(err, InvalidArgument):
        assert err.http_status == 400, err


def answer(err: LifecycleError) -> tuple[int, str, str]:
    """What a client sees of a refusal: HTTP status, reason code, message."""
    return err.http_status, err.reason, err.message
