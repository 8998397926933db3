"""The testing kit for users' own tests (needs the ``[testing]`` extra: hypothesis).

- :class:`EngineStateMachine` (:mod:`fsm.stateful`): a Hypothesis ``RuleBasedStateMachine`` over an
  engine; subclass it to add rules and invariants. A failing run prints a runnable program.
- Strategies (:mod:`fsm.strategies`): :func:`worlds`, :func:`journals`, :func:`calls`,
  :func:`admin_requests`, :func:`restart_requests`, :func:`worlds_with_requests`,
  :func:`invocations`; and :func:`make_invocation`, an engine holding an invocation in any state,
  reached through the engine's own operations.
- :func:`check_case` (:mod:`fsm.conformance`): a conformance case as a test. A case file, recorded
  or written by ``python -m fsm.tools.explore --cases witnesses.jsonl``, becomes one test per case::

      from fsm.testing import check_case
      from fsm.tools.conformance import read_cases

      CASES = list(read_cases(["witnesses.jsonl"]))

      @pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
      def test_case(case):
          check_case(case)
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401  (checked first, to name the extra that brings it)
except ModuleNotFoundError as exc:  # tests/test_extras.py tries it without hypothesis
    raise ModuleNotFoundError(
        f"fsm.testing needs the [testing] extra (pip install 'invocation-lifecycle[testing]'): {exc}"
    ) from None

from .conformance import check_case
from .stateful import STATUSES, EngineStateMachine, check_refusal
from .strategies import (
    ADMIN_OPERATIONS,
    COMMAND_TYPES,
    MALFORMED_DEPLOYMENTS,
    MALFORMED_FROMS,
    MALFORMED_INVOCATION_IDS,
    AdminRequest,
    Call,
    RestartRequest,
    admin_requests,
    calls,
    invocations,
    journals,
    make_invocation,
    restart_requests,
    worlds,
    worlds_with_requests,
)

__all__ = [
    "ADMIN_OPERATIONS",
    "COMMAND_TYPES",
    "MALFORMED_DEPLOYMENTS",
    "MALFORMED_FROMS",
    "MALFORMED_INVOCATION_IDS",
    "STATUSES",
    "AdminRequest",
    "Call",
    "EngineStateMachine",
    "RestartRequest",
    "admin_requests",
    "calls",
    "check_case",
    "check_refusal",
    "invocations",
    "journals",
    "make_invocation",
    "restart_requests",
    "worlds",
    "worlds_with_requests",
]
