"""The command lines' argument parser: a refusal is one line on stderr, naming the flag and the problem.

argparse prints its usage before an error, so a bad flag costs the reader three lines to find
one. :class:`Parser` prints ``prog: problem (see prog --help)`` and exits 2, as argparse does,
and every command line built on it answers ``--version``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn


def version() -> str:
    """The installed package's version (``make setup`` installs it), or why there is none."""
    import importlib.metadata  # only when asked: importing it costs a server ~20 ms of its start

    try:
        return importlib.metadata.version("invocation-lifecycle")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (the package is not installed: pip install -e .)"


class _Version(argparse.Action):
    """``--version``: print ``prog version`` and exit; the version is looked up only then."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with ``--version``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action=_Version)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(status)


def run(main: Callable[[], int], prog: str) -> NoReturn:
    """Exit with ``main()``'s code: what every command line's ``__main__`` does.

    A reader that goes away early (``| head``) is one line on stderr and exit code 141 (as a
    shell reports SIGPIPE), and Ctrl-C is one line and 130, never a traceback.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.stderr.write(f"{prog}: the output was closed before it was all written\n")
        code = 141
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        code = 130
    sys.exit(code)
