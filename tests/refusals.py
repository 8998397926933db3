"""Refusal assertions: a refusal test pins the whole answer (status, reason, message), never a fragment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fsm.errors import InvalidArgument, LifecycleError
from fsm.stateful import check_refusal

E = TypeVar("E", bound=LifecycleError)


def refused(call: Callable[[], object], kind: type[E]) -> E:
    """The error ``call()`` raises, which must be a ``kind``; fails if it returns."""
    try:
        returned = call()
    except LifecycleError as err:
        assert isinstance(err, kind), f"expected {kind.__name__}, got {err!r}"
        return err
    raise AssertionError(f"expected {kind.__name__}, but the call returned {returned!r}")


def well_formed(err: LifecycleError) -> None:
    """What any refusal must be (the testing kit's rule: a known status, a reason code, the
    documented text), and a malformed argument a 400."""
    check_refusal(err)
    if isinstance(err, InvalidArgument):
        assert err.http_status == 400, err


def answer(err: LifecycleError) -> tuple[int, str, str]:
    """What a client sees of a refusal: HTTP status, reason code, message."""
    return err.http_status, err.reason, err.message
