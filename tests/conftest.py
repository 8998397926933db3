"""Loads the Hypothesis profile for the whole suite (see :mod:`tests.budget`)."""

from hypothesis import settings

from tests.budget import profile

settings.load_profile(profile())
