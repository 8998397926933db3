"""The command lines over the pure core: argument parsing, printing, files and processes live here.

Each tool runs as ``python -m fsm.tools.<name>`` and has ``main(argv: list[str] | None = None) -> int``:

- :mod:`fsm.tools.explore`  breadth-first exploration: a witness of every restart-as-new answer,
  the invariants checked at every state (the search is :mod:`fsm.explore`).

The core (``fsm/*.py``) never imports from here; ``tests/test_layout.py`` checks that.
"""
