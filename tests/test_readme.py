"""The README's embedding example runs as written, prints what the README shows, and is typed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = re.compile(r"<!-- embedding-example:start -->\n(.*?)<!-- embedding-example:end -->", re.S)


def example() -> tuple[str, str]:
    """The example's code and the output the README shows for it."""
    found = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md lost its embedding example markers"
    code, shown = re.findall(r"```(?:python|text)\n(.*?)```", found.group(1), re.S)
    return code, shown


def test_the_embedding_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    code, shown = example()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown


def test_the_embedding_example_is_typed_without_any(tmp_path: Path) -> None:
    code, _ = example()
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--disallow-any-expr",
            "--follow-imports=silent",  # the user's script only: no Any in what it sees of the API
            "--no-incremental",
            str(script),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
