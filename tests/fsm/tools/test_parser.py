"""fsm.tools.parser: every tool refuses a bad command line in one line, naming the problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fsm.tools import conformance, diagram, explore, simulate


@pytest.mark.parametrize(
    ("main", "args", "problem"),
    [
        (explore.main, ["--depth", "-1"], "--depth must be at least 0, got -1"),
        (explore.main, ["--bogus"], "unrecognized arguments: --bogus"),
        (simulate.main, ["--set", "nope=1"], "argument --set: unknown knob 'nope'"),
        (simulate.main, ["--set", "nope"], "argument --set: expected NAME=VALUE, got 'nope'"),
        (simulate.main, ["--set", "keys=many"], "argument --set: keys must be an integer"),
        (diagram.main, ["--format", "png"], "argument --format: invalid choice: 'png'"),
        (conformance.main, [], "the following arguments are required"),
    ],
)
def test_a_bad_command_line_is_one_line(
    main: Callable[[list[str]], int], args: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(args)
    err = capsys.readouterr().err
    assert refused.value.code == 2 and err.count("\n") == 1 and problem in err, err
    assert err.startswith("python -m fsm.tools.") and err.endswith(" --help)\n")
