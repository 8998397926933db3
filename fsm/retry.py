"""Retry policies: how long an invocation backs off between attempts, and what ends its retries.

Restate retries a failed attempt with exponential backoff and, once attempts run out, pauses the
invocation (or kills it). A :class:`RetryPolicy` says how; restate-server 1.7.12's defaults
(``restate-server --dump-config``, ``[default-retry-policy]``) are :data:`DEFAULT_RETRY_POLICY`::

    initial-interval = "500ms"   exponentiation-factor = 2.0   max-interval = "1m"
    max-attempts = 70            on-max-attempts = "pause"

The first attempt counts as one of ``max_attempts``. After the n-th failed attempt (n below
``max_attempts``) the next attempt starts ``delay_ms(n)`` later on the virtual clock:
``initial_interval_ms * factor ** (n - 1)``, at most ``max_interval_ms`` (500 ms, 1 s, 2 s, ...,
32 s, then 60 s each: 70 attempts span 63.5 s + 62 x 60 s, about 63 minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .errors import invalid_argument, wrong_type


class OnMaxAttempts(StrEnum):
    """What happens when the last attempt fails."""

    PAUSE = "pause"
    KILL = "kill"


def _check_int(what: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(what, f"must be an integer >= {low}, got {value!r}")
    if value < low:
        raise invalid_argument(what, f"must be an integer >= {low}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between attempts and the end of retries (times in virtual milliseconds)."""

    initial_interval_ms: int = 500
    factor: float = 2.0
    max_interval_ms: int = 60_000
    max_attempts: int = 70
    on_max_attempts: OnMaxAttempts = OnMaxAttempts.PAUSE

    def __post_init__(self) -> None:
        _check_int("initial_interval_ms", self.initial_interval_ms, 0)
        if isinstance(self.factor, bool) or not isinstance(self.factor, (int, float)):
            raise wrong_type("factor", f"must be a number >= 1.0, got {self.factor!r}")
        if not math.isfinite(self.factor) or self.factor < 1.0:
            raise invalid_argument("factor", f"must be a finite number >= 1.0, got {self.factor!r}")
        _check_int("max_interval_ms", self.max_interval_ms, self.initial_interval_ms)
        _check_int("max_attempts", self.max_attempts, 1)
        if not isinstance(self.on_max_attempts, str):
            raise wrong_type("on_max_attempts", f"must be 'pause' or 'kill', got {self.on_max_attempts!r}")
        try:
            object.__setattr__(self, "on_max_attempts", OnMaxAttempts(self.on_max_attempts))
        except ValueError:
            raise invalid_argument(
                "on_max_attempts", f"must be 'pause' or 'kill', got {self.on_max_attempts!r}"
            ) from None

    def delay_ms(self, failed_attempts: int) -> int:
        """How long after its ``failed_attempts``-th failure (1, 2, ...) the next attempt starts."""
        exponent = max(failed_attempts - 1, 0)
        try:
            delay = self.initial_interval_ms * self.factor**exponent
        except OverflowError:
            return self.max_interval_ms
        return self.max_interval_ms if delay >= self.max_interval_ms else round(delay)

    def exhausted(self, failed_attempts: int) -> bool:
        """Whether ``failed_attempts`` failures use up every attempt."""
        return failed_attempts >= self.max_attempts

    def with_overrides(self, max_attempts: Any = None, on_max_attempts: Any = None) -> RetryPolicy:
        """This policy with a call's own ``max_attempts`` / ``on_max_attempts`` (None keeps the policy's)."""
        if max_attempts is None and on_max_attempts is None:
            return self
        changes: dict[str, Any] = {}
        if max_attempts is not None:
            changes["max_attempts"] = max_attempts
        if on_max_attempts is not None:
            changes["on_max_attempts"] = on_max_attempts
        return replace(self, **changes)


#: restate-server 1.7.12's ``[default-retry-policy]``.
DEFAULT_RETRY_POLICY = RetryPolicy()

__all__ = ["DEFAULT_RETRY_POLICY", "OnMaxAttempts", "RetryPolicy"]
