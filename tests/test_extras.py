"""The core installs with transitions alone; the server and the testing kit say which extra they need.

Each check runs a fresh interpreter in which the optional packages cannot be imported (a finder
at the front of ``sys.meta_path`` refuses them, as if they were not installed).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = (
    *("grpc", "grpc_status", "grpc_health", "grpc_reflection", "grpc_tools", "google", "hypothesis"),
    *("dask", "distributed", "matplotlib"),
)

BLOCKER = textwrap.dedent(
    f"""
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {OPTIONAL!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    """
)


def run_without_extras(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` with the optional packages hidden (a sitecustomize installs the blocker)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_core_needs_transitions_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["transitions>=0.9.3,<0.10"]
    assert set(project["optional-dependencies"]) == {"server", "sim", "testing", "dev"}
    assert (ROOT / "fsm" / "py.typed").exists()


def test_fsm_builds_and_drives_an_engine_without_grpc_or_hypothesis(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import fsm
        engine = fsm.Engine()
        engine.register_service("Greeter")
        engine.register_deployment(["Greeter"])
        inv = engine.call("Greeter", "greet")
        engine.complete(inv)
        print(engine.restart_as_new(inv).new_invocation_id[:4])
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("grpc", "google", "hypothesis")))
        """
    )
    done = run_without_extras(tmp_path, "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["inv_", "[]"]


@pytest.mark.parametrize("command", [["-m", "grpc_server"], ["-m", "grpc_server.cli", "list-services"]])
def test_a_server_command_without_its_extra_says_which_to_install(tmp_path: Path, command: list[str]) -> None:
    done = run_without_extras(tmp_path, *command)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "grpc is not installed: the gRPC server and its command line need the [server] extra "
        "(pip install 'invocation-lifecycle[server]')"
    ]


def test_the_testing_kit_without_hypothesis_names_its_extra(tmp_path: Path) -> None:
    done = run_without_extras(tmp_path, "-c", "import fsm.testing")
    assert done.returncode == 1
    assert (
        "ModuleNotFoundError: fsm.testing needs the [testing] extra (pip install 'invocation-lifecycle[testing]'): "
        "No module named 'hypothesis'" in done.stderr
    )


def test_the_simulator_runs_without_its_extra_and_names_it_for_dask_and_plots(tmp_path: Path) -> None:
    args = ["-m", "fsm.tools.simulate", "--invocations", "50", "--json"]
    assert run_without_extras(tmp_path, *args).returncode == 0  # serial, no files: the core alone
    on_dask = run_without_extras(tmp_path, *args, "--workers", "2")
    assert on_dask.returncode == 2
    assert on_dask.stderr.startswith("simulate: Dask is not installed") and on_dask.stderr.count("\n") == 1
    assert "invocation-lifecycle[sim]" in on_dask.stderr
    plotted = run_without_extras(tmp_path, *args, "--out", str(tmp_path / "run"))
    assert plotted.returncode == 2 and plotted.stderr.startswith("simulate: matplotlib is not installed")
    assert plotted.stderr.count("\n") == 1 and "Traceback" not in plotted.stderr
