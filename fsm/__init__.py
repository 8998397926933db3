"""A pure-Python model of how Restate treats an invocation, above all "restart as new".

The package, in the order a newcomer should read it:

- :mod:`fsm.lifecycle`  the rules: states, transitions (one `transitions` Machine) and the
  admin-operation table; compiled into a dict for the hot path;
- :mod:`fsm.restart`    the sixteen ordered checks of restart-as-new, as pure functions;
- :mod:`fsm.engine`     the world (services, deployments, invocations, locks, inboxes,
  journals, retention, a virtual clock) and the operations on it;
- :mod:`fsm.errors`     the exception hierarchy, each error with Restate's status and message;
- :mod:`fsm.ids`, :mod:`fsm.requests`, :mod:`fsm.journal`, :mod:`fsm.model`  the pieces;
- :mod:`fsm.snapshot`   the world format of cases-format.md, in and out;
- :mod:`fsm.conformance` replaying recorded cases.

No I/O and no gRPC here.
"""

from .engine import Engine, RestartResult
from .errors import (
    FailedPrecondition,
    IllegalTransition,
    InvalidArgument,
    LifecycleError,
    NotFound,
    OutOfRange,
    SnapshotError,
    Unavailable,
)
from .lifecycle import LIVE_STATES, MACHINE, STATES
from .restart import CHECKS, Decision, RestartPlan
from .snapshot import dump_world, load_world

__all__ = [
    "CHECKS",
    "Decision",
    "Engine",
    "FailedPrecondition",
    "IllegalTransition",
    "InvalidArgument",
    "LIVE_STATES",
    "LifecycleError",
    "MACHINE",
    "NotFound",
    "OutOfRange",
    "RestartPlan",
    "RestartResult",
    "STATES",
    "SnapshotError",
    "Unavailable",
    "dump_world",
    "load_world",
]
