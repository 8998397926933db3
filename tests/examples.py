"""Where the tests find the shared examples: ``../shared/spec/examples.jsonl`` beside the checkout
(the spec's own file, as CI lays it out), else the copy kept in ``tests/conformance/shared/`` (a
clone on its own still runs every test), unless ``INVOCATION_LIFECYCLE_EXAMPLES`` names a file
(``make mutate`` does: its tests run from a copy in ``mutants/``). A test fails when the copy
differs from the spec's file beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "spec" / "examples.jsonl"
COPY = ROOT / "tests" / "conformance" / "shared" / "examples.jsonl"
EXAMPLES = Path(os.environ.get("INVOCATION_LIFECYCLE_EXAMPLES") or (SHARED if SHARED.is_file() else COPY))
