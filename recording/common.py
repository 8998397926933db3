"""What every recording module shares: where things live, the one error type, the log line."""

from __future__ import annotations

import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Everything a run installs or writes besides its output (git-ignored).
WORK = HERE / ".work"
#: Where a recording goes by default: ``recorded/`` (the cases), ``recorded_http/`` (raw answers of
#: an empty server) and ``recorded_sql/`` (the SQL schema, and what the tables show in each state).
OUT = ROOT / "tests" / "conformance"


class RecordingError(Exception):
    """A loud, clear failure: the run stops with a non-zero exit code."""


def log(msg: str) -> None:
    print(f"[record {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def shown(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it (shorter log lines)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
