"""The layers hold: ``fsm/*.py`` is a pure core, ``fsm/tools/`` its command lines, the rest above.

- the core (every ``fsm/*.py`` at the top level) imports nothing from ``fsm.tools``,
  ``grpc_server``, ``recording`` or ``bench``, and does no I/O of its own: no argparse, no
  ``print``/``open``/``input``, no ``sys.stdout``/``stderr``/``stdin``/``argv``, no
  ``Path.read_text``/``write_text``/``open``, no processes, no ``if __name__ == "__main__"``;
- the command lines (``fsm/tools/*.py``) import nothing from ``grpc_server``, ``recording`` or
  ``bench``: the server, the recorder and the benches sit above them, never below.

Read from the source with :mod:`ast` (nothing is imported), so imports inside functions and
relative imports count too. This lives at the top of ``tests/`` rather than under ``tests/fsm/``:
it checks how packages stand to one another, not what one module does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "fsm").glob("*.py"))
TOOLS = sorted((ROOT / "fsm" / "tools").glob("*.py"))

#: Packages a layer must not import, with the fix a failure names.
ABOVE_TOOLS = {
    name: f"{what} sits above fsm and fsm/tools: it imports them, never the reverse; move what both need down "
    "into fsm/ (or into fsm/tools/ if it does I/O)"
    for name, what in (("grpc_server", "the gRPC server"), ("recording", "the recorder"), ("bench", "the bench"))
}
ABOVE_CORE = {
    "fsm.tools": "the core must not depend on its command lines: move the code that needs fsm.tools into "
    "fsm/tools/, or move what both need down into fsm/",
    **ABOVE_TOOLS,
}
#: Modules the core does not import: command lines and processes belong to fsm/tools/.
IO_MODULES = {
    "argparse": "parse flags in a command line under fsm/tools/",
    "multiprocessing": "run worker processes from a command line under fsm/tools/",
    "concurrent.futures": "run workers from a command line under fsm/tools/",
    "subprocess": "start processes from a command line under fsm/tools/",
}
IO_BUILTINS = {"print", "open", "input"}
IO_SYS = {"stdout", "stderr", "stdin", "argv"}
IO_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "open"}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}; fix: {self.fix}"


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _resolve(package: str, level: int, module: str | None) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: max(0, len(parts) - (level - 1))]
    return ".".join([*base, *([module] if module else [])])


def imported(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """Every module a source may import, with its line: ``import``, ``from ... import`` (relative
    ones resolved, each imported name also as a submodule) and ``importlib.import_module("...")``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(package, node.level, node.module)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _forbidden(tree: ast.AST, package: str, rules: dict[str, str]) -> dict[tuple[int, str], str]:
    """(line, rule) -> the module imported there that breaks it (the one after ``from``, if it does)."""
    found: dict[tuple[int, str], str] = {}
    for line, module in imported(tree, package):
        for prefix in rules:
            if _matches(module, prefix):
                found.setdefault((line, prefix), module)
    return found


def layer_problems(source: str, path: str, package: str, above: dict[str, str]) -> list[Problem]:
    """Imports of a package that sits above this layer."""
    found = _forbidden(ast.parse(source, path), package, above)
    return [Problem(path, line, f"imports {module}", above[prefix]) for (line, prefix), module in sorted(found.items())]


def io_problems(source: str, path: str) -> list[Problem]:
    """Everything in a core module that does I/O or runs as a program."""
    tree = ast.parse(source, path)
    tool = f"fsm/tools/{Path(path).name}"
    out = []
    for (line, name), module in _forbidden(tree, "fsm", IO_MODULES).items():
        out.append(Problem(path, line, f"imports {module}", f"{IO_MODULES[name]} (e.g. {tool})"))
    sys_names = {"sys"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "sys" and alias.asname
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            out.append(
                Problem(
                    path,
                    node.lineno,
                    f"calls {node.func.id}()",
                    f"return the text or data and let a command line print or read it (e.g. {tool})",
                )
            )
        elif isinstance(node, ast.Attribute) and node.attr in IO_METHODS:
            out.append(
                Problem(
                    path,
                    node.lineno,
                    f"uses .{node.attr}",
                    f"take the text, lines or a stream as an argument; open files in a command line (e.g. {tool})",
                )
            )
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in IO_SYS
            and isinstance(node.value, ast.Name)
            and node.value.id in sys_names
        ):
            out.append(
                Problem(
                    path,
                    node.lineno,
                    f"uses sys.{node.attr}",
                    f"take arguments or a stream as a parameter; the command line (e.g. {tool}) passes sys.{node.attr}",
                )
            )
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and node.level == 0:
            for alias in node.names:
                if alias.name in IO_SYS:
                    out.append(Problem(path, node.lineno, f"imports sys.{alias.name}", f"use it in {tool} instead"))
        elif isinstance(node, ast.Compare) and _is_main_guard(node):
            out.append(
                Problem(path, node.lineno, 'has an `if __name__ == "__main__"` block', f"run it as {tool} instead")
            )
    return sorted(out, key=lambda p: p.line)


def _is_main_guard(node: ast.Compare) -> bool:
    sides = [node.left, *node.comparators]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_is_a_core_and_there_are_tools() -> None:
    assert {p.name for p in CORE} >= {"engine.py", "explore.py", "simulate.py", "diagram.py", "conformance.py"}
    assert {p.name for p in TOOLS} >= {"__init__.py", "explore.py", "simulate.py", "diagram.py", "conformance.py"}


@pytest.mark.parametrize("path", CORE, ids=[p.name for p in CORE])
def test_the_core_is_pure_and_imports_nothing_above_it(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = layer_problems(source, _rel(path), "fsm", ABOVE_CORE) + io_problems(source, _rel(path))
    if found:
        lines = sorted(found, key=lambda p: p.line)
        pytest.fail("the pure core does I/O or imports a layer above it:\n" + "\n".join(map(str, lines)))


@pytest.mark.parametrize("path", TOOLS, ids=[p.name for p in TOOLS])
def test_the_tools_import_nothing_above_them(path: Path) -> None:
    found = layer_problems(path.read_text(encoding="utf-8"), _rel(path), "fsm.tools", ABOVE_TOOLS)
    if found:
        pytest.fail("a command line of fsm/tools imports a layer above it:\n" + "\n".join(map(str, found)))


#: Modules of fsm/tools the tools share, with no command line of their own.
TOOL_HELPERS = {"parser.py", "plots.py"}


def test_every_tool_has_a_main_and_is_listed() -> None:
    listing = ast.get_docstring(ast.parse((ROOT / "fsm" / "tools" / "__init__.py").read_text(encoding="utf-8")))
    for path in TOOLS:
        if path.name == "__init__.py":
            continue
        if path.name in TOOL_HELPERS:
            assert f"fsm.tools.{path.stem}" in (listing or ""), f"fsm/tools/__init__.py does not name {path.stem}"
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body), f"{_rel(path)}: no main()"
        assert f"fsm.tools.{path.stem}" in (listing or ""), f"fsm/tools/__init__.py does not list {path.stem}"


# --- the checks catch what they forbid -------------------------------------------------------------

PLANTED = """
import argparse
import sys as system
from concurrent import futures
from sys import argv
from . import tools
from ..grpc_server import server


def f(path):
    import bench.common
    from .tools.explore import main
    print("x")
    system.stdout.write(path.read_text())
    return open(path)


if __name__ == "__main__":
    f(__import__("recording.record"))
"""


def test_the_checks_catch_what_they_forbid() -> None:
    layers = {(p.line, p.what) for p in layer_problems(PLANTED, "fsm/x.py", "fsm", ABOVE_CORE)}
    assert layers == {
        (6, "imports fsm.tools"),
        (7, "imports grpc_server"),
        (11, "imports bench.common"),
        (12, "imports fsm.tools.explore"),
        (19, "imports recording.record"),
    }
    io = {(p.line, p.what) for p in io_problems(PLANTED, "fsm/x.py")}
    assert io == {
        (2, "imports argparse"),
        (4, "imports concurrent.futures"),
        (5, "imports sys.argv"),
        (13, "calls print()"),
        (14, "uses sys.stdout"),
        (14, "uses .read_text"),
        (15, "calls open()"),
        (18, 'has an `if __name__ == "__main__"` block'),
    }
    message = str(io_problems(PLANTED, "fsm/x.py")[0])
    assert message.startswith("fsm/x.py:2: imports argparse; fix: ") and "fsm/tools/x.py" in message
    tools = layer_problems("from ..grpc_server import server\nimport fsm.explore\n", "fsm/tools/x.py", "fsm.tools", {})
    assert tools == []
    tools = layer_problems("from ...grpc_server import server\n", "fsm/tools/x.py", "fsm.tools", ABOVE_TOOLS)
    assert [str(p) for p in tools] == [f"fsm/tools/x.py:1: imports grpc_server; fix: {ABOVE_TOOLS['grpc_server']}"]
