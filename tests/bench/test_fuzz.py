"""``make fuzz`` on a few hundred calls: a live server, every method, no INTERNAL answer."""

from __future__ import annotations

import pytest

from bench import fuzz
from grpc_server.rpc import METHODS, REQUEST_TYPES


def test_a_short_fuzz_run_reports_and_finds_no_internal_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz.main(["--requests", "300", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["requests", "answers", "INTERNAL/UNKNOWN", "server", "slowest"]
    assert lines[2] == "INTERNAL/UNKNOWN 0"
    assert lines[0].startswith("requests        300 calls, half random bodies, half extreme values in ")


def test_random_bodies_alone_are_all_refused_as_the_clients_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz.main(["--requests", "200", "--random-only"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("requests        200 random bodies in ")
    answered = dict(part.rsplit(" ", 1) for part in lines[1].removeprefix("answers").strip().split(", "))
    # A few random bodies decode (an empty one is a valid request); the rest are the client's mistake.
    assert int(answered["INVALID_ARGUMENT"].replace(",", "")) >= 150, answered


def test_every_method_gets_well_typed_extreme_requests() -> None:
    import random

    rng = random.Random(3)
    for service, method in METHODS:
        request_type = REQUEST_TYPES[service, method]
        decoded = request_type.FromString(fuzz.extreme_request(rng, request_type))
        assert isinstance(decoded, request_type)
