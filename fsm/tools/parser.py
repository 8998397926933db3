"""The command lines' argument parser: a refusal is one line on stderr, naming the flag and the problem.

argparse prints its usage before an error, so a bad flag costs the reader three lines to find
one. :class:`Parser` prints ``prog: problem (see prog --help)`` and exits 2, as argparse does,
and every command line built on it answers ``--version``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Any, NoReturn


def version() -> str:
    """The installed package's version (``make setup`` installs it), or why there is none."""
    try:
        return importlib.metadata.version("invocation-lifecycle")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (the package is not installed: pip install -e .)"


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with ``--version``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"%(prog)s {version()}")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(status)
