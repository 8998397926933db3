"""Hypothesis budgets: derandomized and bounded in ``make test``, deep and random in ``make test-long``.

``HYPOTHESIS_PROFILE`` picks the profile (``ci`` when unset; ``long`` for ``make test-long``);
``tests/conftest.py`` loads it. A test states its budget for the ``ci`` profile with
:func:`budget`, and the ``long`` profile multiplies it: more examples, longer stateful runs,
random seeds instead of the fixed derandomized ones, so each deep run explores new ground.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {"ci": (1, 1), "long": (25, 4)}  # name -> (examples factor, stateful steps factor)

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile(
    "long", derandomize=False, deadline=None, print_blob=True, max_examples=2_500, stateful_step_count=200
)


def profile() -> str:
    """The profile ``HYPOTHESIS_PROFILE`` names; an unknown name fails with the choices spelled out."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"HYPOTHESIS_PROFILE={name!r}: expected one of {', '.join(PROFILES)}")
    return name


def budget(max_examples: int, *, steps: int | None = None, slow_ok: bool = False) -> settings:
    """Settings for ``max_examples`` examples (and ``steps`` stateful steps) under ``ci``, scaled under ``long``."""
    examples, step_factor = PROFILES[profile()]
    chosen = settings(max_examples=max_examples * examples)
    if steps is not None:
        chosen = settings(chosen, stateful_step_count=steps * step_factor)
    if slow_ok:
        chosen = settings(chosen, suppress_health_check=[HealthCheck.too_slow])
    return chosen
