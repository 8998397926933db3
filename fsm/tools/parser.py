"""The tools' argument parser: a refusal is one line on stderr, naming the flag and the problem.

argparse prints its usage before an error, so a bad flag costs the reader three lines to find
one. :class:`Parser` prints ``prog: problem (see prog --help)`` and exits 2, as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(status)
