"""``python -m bench.mutation``: mutmut's verdicts counted, equivalents apart, untriaged survivors named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import mutation


def _write_run(tmp_path: Path) -> tuple[Path, Path]:
    mutants = tmp_path / "mutants"
    (mutants / "fsm").mkdir(parents=True)
    verdicts: dict[str, int | None] = {
        "fsm.clock.x_a__mutmut_1": 1,
        "fsm.clock.x_a__mutmut_2": 0,
        "fsm.clock.x_a__mutmut_3": 0,
    }
    verdicts |= {"fsm.clock.x_a__mutmut_4": -24, "fsm.clock.x_a__mutmut_5": 33, "fsm.clock.x_a__mutmut_6": 1}
    verdicts |= {"fsm.clock.x_a__mutmut_7": None}
    (mutants / "fsm" / "clock.py.meta").write_text(json.dumps({"exit_code_by_key": verdicts}))
    equivalents = tmp_path / "equivalent.toml"
    equivalents.write_text(
        '[equivalent]\n"fsm.clock.x_a__mutmut_2" = "cannot matter"\n"fsm.clock.x_a__mutmut_6" = "was killed"\n'
        '"fsm.clock.x_a__mutmut_7" = "not run yet"\n"fsm.clock.x_gone__mutmut_1" = "no such mutant"\n'
    )
    return mutants, equivalents


def test_the_score_leaves_the_equivalents_out(tmp_path: Path) -> None:
    mutants, equivalents = _write_run(tmp_path)
    report = mutation.tally(mutation.read_verdicts(mutants), mutation.read_equivalents(equivalents))
    counts = report.modules["fsm/clock.py"].counts
    assert (counts["killed"], counts["survived"], counts["equivalent"], counts["timeout"]) == (2, 1, 1, 1)
    assert (counts["no tests"], counts["not checked"], counts["total"]) == (1, 1, 7)
    assert report.total.score == 3 / 6  # (killed + timeout) / (total - equivalent)
    assert report.total.untriaged == ["fsm.clock.x_a__mutmut_3", "fsm.clock.x_a__mutmut_5"]
    assert report.stale == ["fsm.clock.x_a__mutmut_6", "fsm.clock.x_gone__mutmut_1"]


def test_strict_fails_while_a_survivor_is_untriaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutants, equivalents = _write_run(tmp_path)
    args = ["--mutants", str(mutants), "--equivalents", str(equivalents)]
    assert mutation.main(args) == 0
    assert mutation.main([*args, "--strict"]) == 1
    out = capsys.readouterr().out
    assert "survivors not yet triaged (2)" in out and "  fsm.clock.x_a__mutmut_5" in out


def test_the_equivalents_file_parses_and_names_mutants() -> None:
    reasons = mutation.read_equivalents(mutation.EQUIVALENTS)
    assert reasons and all(name.startswith("fsm.") and "__mutmut_" in name for name in reasons)
    assert all(reason.strip() for reason in reasons.values())
