"""Hypothesis profiles of the differential test: "reference-ci" (the default) and "reference-long".

``HYPOTHESIS_PROFILE=long`` selects the long one. The differential test applies them to itself:
nothing is loaded globally, and Hypothesis' own "ci" profile (and any project-wide one) is left as is.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

PROFILES = {
    # derandomized: the same sequences on every run, well under 20 s
    "reference-ci": settings(
        derandomize=True,
        max_examples=300,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    ),
    # a search: random, many more and longer sequences
    "reference-long": settings(
        max_examples=2_000,
        stateful_step_count=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    ),
}

for _name, _profile in PROFILES.items():
    settings.register_profile(_name, _profile)
