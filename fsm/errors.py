"""Every refusal of the model, as one small exception hierarchy.

Each error carries what Restate's admin API would answer: the HTTP status, the exact
``message`` of the JSON error body, and ``restate_code`` (always ``None`` for these
operations). It also carries a stable UPPER_SNAKE ``reason`` that clients can switch on
without parsing text, and, for restart-as-new, the number of the check that decided.

The class says *why* a request was refused, independent of the HTTP number (several
causes share 400 or 409), so a transport maps the class, never the number::

    LifecycleError              any refusal: http_status, reason, message, check
    ├── InvalidArgument         the request cannot be parsed (400): ids, `from`, query string
    │   ├── WrongType           an argument of the wrong Python type (400; also a TypeError)
    │   └── SnapshotError       a world (snapshot) that is not in the documented format (400)
    ├── OutOfRange              `from` beyond the stored journal (400, check 15)
    ├── NotFound                the invocation (or service, deployment) does not exist (404)
    ├── FailedPrecondition      well-formed, but the current state refuses it:
    │   │                         400 (checks 12-14), 409, 410, 422, 425
    │   └── IllegalTransition   a simulation step that the lifecycle does not allow (409)
    └── Unavailable             the owning partition cannot be reached (503)

``str(err)`` is ``"<http_status> <reason>: <message>"``, e.g. ``409 STILL_RUNNING: The invocation
'inv_…' is still running.``; ``err.check`` is the restart-as-new check that decided (else None).

Not a refusal, and not a ``LifecycleError``: :class:`LifecycleChanged`, raised when something
registered on ``Engine.machine`` tried to change where a trigger leads (a condition or a
transition added to it); the machine takes callbacks, the definition owns the rules.
"""

from __future__ import annotations


class LifecycleError(Exception):
    """A refusal, with the exact answer a Restate server gives for it."""

    http_status: int = 500
    restate_code: str | None = None

    def __init__(self, http_status: int, reason: str, message: str, *, check: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.reason = reason
        self.message = message
        self.check = check

    def __str__(self) -> str:
        return f"{self.http_status} {self.reason}: {self.message}"

    def to_body(self) -> dict[str, str | None]:
        """The JSON error body Restate's admin API sends."""
        return {"message": self.message, "restate_code": self.restate_code}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http_status}, {self.reason!r}, {self.message!r})"


class InvalidArgument(LifecycleError):
    """The request cannot be parsed: a malformed id, `from` or query string."""


class WrongType(InvalidArgument, TypeError):
    """A public function was given an argument of the wrong Python type; the message names it.

    A ``TypeError`` too, so ``except TypeError`` in an embedder's code catches it, and a
    ``LifecycleError`` (400) so a transport answers it like any other malformed argument.
    """


class SnapshotError(InvalidArgument):
    """A world that is not in the format of cases-format.md; the message names the field."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(400, "INVALID_SNAPSHOT", f"Invalid world at '{where}': {problem}")
        self.where = where


class OutOfRange(LifecycleError):
    """`from` points past the journal that is stored (restart-as-new check 15)."""


class NotFound(LifecycleError):
    """The invocation (or the named service or deployment) does not exist."""


class FailedPrecondition(LifecycleError):
    """Well-formed, but refused in the current state (400 checks 12-14, 409, 410, 422, 425)."""


class IllegalTransition(FailedPrecondition):
    """A simulation step the lifecycle forbids in the invocation's current state.

    The message names the step, the state, and the states the step is allowed from, so the
    fix is spelled out.
    """

    def __init__(self, invocation_id: str, trigger: str, state: str, allowed_from: tuple[str, ...]) -> None:
        allowed = ", ".join(allowed_from) if allowed_from else "no state"
        super().__init__(
            409,
            "ILLEGAL_TRANSITION",
            f"Cannot '{trigger}' the invocation '{invocation_id}' in state '{state}': "
            f"'{trigger}' is allowed from {allowed}.",
        )
        self.trigger = trigger
        self.state = state
        self.allowed_from = allowed_from


class Unavailable(LifecycleError):
    """The partition owning the invocation cannot be reached (restart-as-new check 4)."""


class LifecycleChanged(RuntimeError):
    """``Engine.machine`` did not move an invocation as the definition does; the message says why."""


def invalid_argument(what: str, problem: str) -> InvalidArgument:
    """A 400 for a malformed argument of the model's own (non-Restate) API, naming it."""
    return InvalidArgument(400, "INVALID_ARGUMENT", f"Invalid argument '{what}': {problem}")


def wrong_type(what: str, problem: str) -> WrongType:
    """A 400 (and a TypeError) for an argument of the wrong Python type, naming it."""
    return WrongType(400, "INVALID_ARGUMENT", f"Invalid argument '{what}': {problem}")
