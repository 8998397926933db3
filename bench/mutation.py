"""``python -m bench.mutation`` (the end of ``make mutate``): mutmut's verdicts, counted and triaged.

Reads what ``mutmut run`` left in ``mutants/`` (one ``<module>.py.meta`` JSON file per mutated
module: ``exit_code_by_key`` maps each mutant to its test run's exit code) and the reasons in
``tests/mutation/equivalent.toml``, then prints per module and in total: killed, survived,
reasoned equivalent, timeout, suspicious, no tests, total, and the score

    score = detected / (total - equivalent),  detected = killed + timeout

(a mutant that makes the tests run for ever is caught too). A survivor, or a mutant that no test
runs, is *triaged* when the equivalents file gives its reason; every other one is listed at the
end. ``--strict`` exits 1 while any is left, or when the file names a mutant that no longer
survives (its entry has gone stale).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
EQUIVALENTS = ROOT / "tests" / "mutation" / "equivalent.toml"

#: mutmut 3.8's exit codes (mutmut.stats.status_by_exit_code); any other code is "suspicious".
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed",
    3: "killed",  # pytest's internal error: the mutant broke something
    0: "survived",
    5: "no tests",
    33: "no tests",
    2: "interrupted",
    None: "not checked",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",  # SIGXCPU
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}
#: The verdicts that need a reason when no test fails.
UNDETECTED = ("survived", "no tests")
COLUMNS = ("killed", "survived", "equivalent", "timeout", "suspicious", "no tests", "not checked", "total")


def status(exit_code: int | None) -> str:
    return STATUS_BY_EXIT_CODE.get(exit_code, "suspicious")


@dataclass
class Tally:
    """One module's (or the whole run's) counts; ``equivalent`` survivors are not in ``survived``."""

    counts: Counter[str] = field(default_factory=Counter)
    untriaged: list[str] = field(default_factory=list)

    def add(self, name: str, verdict: str, equivalent: bool) -> None:
        self.counts["total"] += 1
        if verdict in UNDETECTED and equivalent:
            self.counts["equivalent"] += 1
            return
        self.counts[verdict] += 1
        if verdict in UNDETECTED:
            self.untriaged.append(name)

    @property
    def detected(self) -> int:
        return self.counts["killed"] + self.counts["timeout"] + self.counts["caught by type check"]

    @property
    def score(self) -> float:
        judged = self.counts["total"] - self.counts["equivalent"]
        return self.detected / judged if judged else 1.0


@dataclass
class Report:
    modules: dict[str, Tally]
    total: Tally
    stale: list[str]  # reasons given for mutants that no longer exist or no longer survive


def read_verdicts(mutants: Path) -> dict[str, dict[str, int | None]]:
    """Module path (``fsm/clock.py``) -> {mutant name: exit code}, from mutmut's ``.meta`` files."""
    verdicts: dict[str, dict[str, int | None]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        verdicts[meta.relative_to(mutants).as_posix().removesuffix(".meta")] = dict(data["exit_code_by_key"])
    return verdicts


def read_equivalents(path: Path) -> dict[str, str]:
    """Mutant name -> why it cannot change what the model does (the ``[equivalent]`` table)."""
    if not path.exists():
        return {}
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", {})
    return {str(name): str(reason) for name, reason in table.items()}


def tally(verdicts: Mapping[str, Mapping[str, int | None]], equivalents: Mapping[str, str]) -> Report:
    modules: dict[str, Tally] = {}
    total = Tally()
    verdict_of: dict[str, str] = {}
    for module, by_name in verdicts.items():
        tally_ = modules[module] = Tally()
        for name, code in sorted(by_name.items()):
            verdict = verdict_of[name] = status(code)
            for target in (tally_, total):
                target.add(name, verdict, name in equivalents)
    # Stale: the mutant is gone, or a test now kills it (one not checked yet is not judged).
    stale = sorted(name for name in equivalents if verdict_of.get(name, "gone") not in (*UNDETECTED, "not checked"))
    return Report(modules, total, stale)


def render(report: Report) -> str:
    width = max((len(m) for m in report.modules), default=5)
    head = f"{'module':<{width}}  " + "  ".join(f"{c:>11}" for c in COLUMNS) + "       score"
    lines = [head]
    rows = [*report.modules.items(), ("total", report.total)]
    for name, t in rows:
        cells = "  ".join(f"{t.counts[c]:>11}" for c in COLUMNS)
        lines.append(f"{name:<{width}}  {cells}  {t.score:>10.1%}")
    lines.append("")
    lines.append("score = (killed + timeout) / (total - equivalent); equivalents: tests/mutation/equivalent.toml")
    if report.total.untriaged:
        lines.append(f"survivors not yet triaged ({len(report.total.untriaged)}): kill them with a test, or give")
        lines.append("the reason they cannot change any behaviour in tests/mutation/equivalent.toml")
        lines.extend(f"  {name}" for name in report.total.untriaged)
    else:
        lines.append("every survivor is triaged")
    if report.stale:
        lines.append(f"equivalents that no longer survive ({len(report.stale)}): remove them")
        lines.extend(f"  {name}" for name in report.stale)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=Path, default=MUTANTS, help="mutmut's output directory")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS, help="the reasons, a TOML file")
    parser.add_argument("--strict", action="store_true", help="exit 1 on an untriaged survivor or a stale reason")
    args = parser.parse_args(argv)
    verdicts = read_verdicts(args.mutants)
    if not verdicts:
        print(f"no mutmut results under {args.mutants}: run make mutate", file=sys.stderr)
        return 1
    report = tally(verdicts, read_equivalents(args.equivalents))
    print(render(report))
    return 1 if args.strict and (report.total.untriaged or report.stale) else 0


if __name__ == "__main__":
    sys.exit(main())
