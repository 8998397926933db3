"""A pure-Python model of how Restate treats an invocation, above all "restart as new".

The package, in the order a newcomer should read it:

- :mod:`fsm.lifecycle`  the one definition: states, every step and admin operation as a trigger
  of a `transitions` Machine, their conditions and refusals; compiled for the fast path;
- :mod:`fsm.restart`    the sixteen ordered checks of restart-as-new (the trigger's conditions);
- :mod:`fsm.engine`     the public face over the rooms: :mod:`fsm.registry` (services and
  deployments), :mod:`fsm.clock` (virtual time), :mod:`fsm.world` (invocations, locks, inboxes,
  and where triggers fire), :mod:`fsm.steps` (handler steps), :mod:`fsm.admin` (admin operations),
  :mod:`fsm.invariants`;
- :mod:`fsm.errors`     the exception hierarchy, each error with Restate's status and message;
- :mod:`fsm.ids`, :mod:`fsm.requests`, :mod:`fsm.journal`, :mod:`fsm.model`,
  :mod:`fsm.deployments`  the pieces;
- :mod:`fsm.snapshot`   the world format of cases-format.md, in and out;
- :mod:`fsm.conformance` replaying recorded cases;
- :mod:`fsm.explore` (with :mod:`fsm.exploration`, :mod:`fsm.abstraction`, :mod:`fsm.witnesses`),
  :mod:`fsm.simulate`, :mod:`fsm.diagram`  the state-space search (its states, canonical forms and
  witness cases), the workload simulator, the generated diagrams.

No I/O and no gRPC here: the command lines over these (flags, printing, files, processes) are
:mod:`fsm.tools`, run as ``python -m fsm.tools.<name>``; ``tests/test_layout.py`` keeps it so.
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
from .lifecycle import LIFECYCLE, LIVE_STATES, MACHINE, STATES, Lifecycle, Status
from .restart import CHECKS, Decision, RestartPlan
from .snapshot import dump_world, load_world

__all__ = [
    "CHECKS",
    "Decision",
    "Engine",
    "FailedPrecondition",
    "IllegalTransition",
    "InvalidArgument",
    "LIFECYCLE",
    "LIVE_STATES",
    "Lifecycle",
    "LifecycleError",
    "MACHINE",
    "NotFound",
    "OutOfRange",
    "RestartPlan",
    "RestartResult",
    "STATES",
    "SnapshotError",
    "Status",
    "Unavailable",
    "dump_world",
    "load_world",
]
