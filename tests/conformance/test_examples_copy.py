"""The copy of the shared examples kept in the repository is the spec's file, byte for byte."""

from __future__ import annotations

import pytest

from tests.examples import COPY, SHARED


def test_the_kept_copy_is_the_shared_file() -> None:
    if not SHARED.is_file():
        pytest.skip(f"no {SHARED} beside the checkout: the tests use the copy in {COPY.parent}")
    assert COPY.read_bytes() == SHARED.read_bytes(), f"the shared examples changed: cp {SHARED} {COPY}"
