"""Retry policies: backoff on the virtual clock, the end of retries, what resume resets, why failures ended."""

from __future__ import annotations

import pytest

from fsm import Engine, InvalidArgument, dump_world, load_world
from fsm.errors import FailedPrecondition, WrongType
from fsm.retry import DEFAULT_RETRY_POLICY, OnMaxAttempts, RetryPolicy
from tests.refusals import answer, refused


def engine_with(policy: RetryPolicy | None = None) -> tuple[Engine, str]:
    e = Engine()
    e.register_service("Flaky", retry_policy=policy)
    e.register_deployment(["Flaky"])
    return e, e.call("Flaky", "run")


def fail_until_done(e: Engine, inv: str) -> list[tuple[str, int | None]]:
    """Fail every attempt, waiting out each backoff; (state, delay before the next attempt) per failure."""
    out: list[tuple[str, int | None]] = []
    while True:
        state = e.fail_attempt(inv)
        nxt = e.invocations[inv].next_attempt_ms if inv in e.invocations else None
        out.append((state, None if nxt is None else nxt - e.now_ms))
        if nxt is None:
            return out
        e.advance(nxt - e.now_ms)


def test_restates_default_policy_backs_off_for_63_minutes_then_pauses() -> None:
    assert DEFAULT_RETRY_POLICY == RetryPolicy(500, 2.0, 60_000, 70, OnMaxAttempts.PAUSE)
    e, inv = engine_with()
    started = e.now_ms
    trail = fail_until_done(e, inv)
    delays = [d for _, d in trail[:-1]]
    assert delays[:8] == [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]
    assert delays[8:] == [60_000] * 61 and trail[-1] == ("paused", None)
    assert len(trail) == 70 and e.invocations[inv].retry_count == 70
    assert e.now_ms - started == 63_500 + 62 * 60_000


def test_a_services_policy_decides_and_a_call_overrides_it() -> None:
    policy = RetryPolicy(
        initial_interval_ms=100, factor=3, max_interval_ms=1_000, max_attempts=4, on_max_attempts=OnMaxAttempts.KILL
    )
    e, inv = engine_with(policy)
    assert fail_until_done(e, inv) == [("running", 100), ("running", 300), ("running", 900), ("completed", None)]
    assert (e.invocations[inv].completion, e.invocations[inv].completion_failure) == ("failure", "[500] attempt failed")
    other = e.call("Flaky", "run")
    assert e.fail_attempt(other, max_attempts=1, on_max_attempts="pause") == "paused"


def test_a_backing_off_invocation_refuses_its_own_steps_but_takes_completions() -> None:
    e, inv = engine_with()
    awaited = e.append_command(inv, "Call").completion_ids
    e.fail_attempt(inv, failure="[503] upstream down")
    err = refused(lambda: e.append_command(inv, "Run"), FailedPrecondition)
    assert answer(err) == (
        409,
        "BACKING_OFF",
        f"The invocation '{inv}' is backing off after 1 failed attempt(s): its next attempt starts at "
        f"{e.now_ms + 500} ms, 500 ms from now. Advance the clock to it first.",
    )
    for step in (
        lambda: e.complete(inv),
        lambda: e.sleep(inv, 10),
        lambda: e.suspend(inv),
        lambda: e.fail_attempt(inv),
    ):
        assert refused(step, FailedPrecondition).reason == "BACKING_OFF"
    e.complete_command(inv, awaited[0])  # the callee's id arrives whatever the handler does
    e.advance(499)
    assert refused(lambda: e.complete(inv), FailedPrecondition).reason == "BACKING_OFF"
    e.advance(1)
    assert e.invocations[inv].last_failure == "[503] upstream down"
    e.append_command(inv, "Run")  # the next attempt makes progress: the last failure is forgotten
    assert e.invocations[inv].last_failure is None and e.invocations[inv].retry_count == 1


def test_pause_stops_the_backoff_and_resume_starts_a_fresh_run_of_attempts() -> None:
    e, inv = engine_with(RetryPolicy(max_attempts=2))
    e.fail_attempt(inv, failure="[500] first")
    assert e.pause(inv) == 202
    assert e.invocations[inv].next_attempt_ms is None
    assert e.resume(inv) == 200
    record = e.invocations[inv]
    assert (record.state, record.retry_count, record.last_failure) == ("running", 0, "[500] first")
    assert e.fail_attempt(inv) == "running"  # a fresh run: the first of two attempts again


def test_resume_of_a_backing_off_invocation_starts_its_next_attempt_now() -> None:
    e, inv = engine_with()
    e.fail_attempt(inv)
    assert e.resume(inv) == 200
    assert e.invocations[inv].next_attempt_ms is None
    e.append_command(inv, "Run")


@pytest.mark.parametrize(
    ("end", "failure"),
    [
        (lambda e, inv: e.kill(inv), "[409] killed"),
        (lambda e, inv: (e.cancel(inv), e.complete(inv, False)), "[409] canceled"),
        (lambda e, inv: e.complete(inv, False), "[500] terminal error"),
        (lambda e, inv: e.complete(inv, False, failure="[400] bad input"), "[400] bad input"),
        (lambda e, inv: e.fail_attempt(inv, 1, "kill", failure="[500] crash"), "[500] crash"),
    ],
    ids=["kill", "cancel", "terminal", "named", "retries-exhausted"],
)
def test_kill_cancel_and_failure_leave_distinguishable_reasons(end: object, failure: str) -> None:
    e, inv = engine_with()
    end(e, inv)  # type: ignore[operator]
    record = e.invocations[inv]
    assert (record.completion, record.completion_failure) == ("failure", failure)
    assert dump_world(load_world(dump_world(e))) == dump_world(e)


@pytest.mark.parametrize(
    ("fields", "kind", "message"),
    [
        (
            {"initial_interval_ms": "1s"},
            WrongType,
            "Invalid argument 'initial_interval_ms': must be an integer >= 0, got '1s'",
        ),
        ({"factor": 0.5}, InvalidArgument, "Invalid argument 'factor': must be a finite number >= 1.0, got 0.5"),
        (
            {"factor": float("nan")},
            InvalidArgument,
            "Invalid argument 'factor': must be a finite number >= 1.0, got nan",
        ),
        (
            {"max_interval_ms": 100},
            InvalidArgument,
            "Invalid argument 'max_interval_ms': must be an integer >= 500, got 100",
        ),
        ({"max_attempts": 0}, InvalidArgument, "Invalid argument 'max_attempts': must be an integer >= 1, got 0"),
        (
            {"on_max_attempts": "explode"},
            InvalidArgument,
            "Invalid argument 'on_max_attempts': must be 'pause' or 'kill', got 'explode'",
        ),
    ],
)
def test_a_policy_names_its_bad_field(fields: dict[str, object], kind: type[Exception], message: str) -> None:
    with pytest.raises(kind) as caught:
        RetryPolicy(**fields)  # type: ignore[arg-type]
    assert str(caught.value) == f"400 INVALID_ARGUMENT: {message}"


def test_the_delay_never_overflows_and_stays_capped() -> None:
    policy = RetryPolicy(initial_interval_ms=1, factor=1e300, max_interval_ms=10**15, max_attempts=10**6)
    assert policy.delay_ms(1) == 1 and policy.delay_ms(5_000) == 10**15


def test_a_world_keeps_policies_backoffs_and_failures_through_a_round_trip() -> None:
    e, inv = engine_with(RetryPolicy(initial_interval_ms=250, max_attempts=3, on_max_attempts=OnMaxAttempts.KILL))
    e.fail_attempt(inv, failure="[500] once")
    world = dump_world(e)
    (record,) = world["invocations"]
    assert (record["next_attempt_ms"], record["last_failure"]) == (e.now_ms + 250, "[500] once")
    assert world["services"][0]["retry_policy"] == {
        "initial_interval_ms": 250,
        "factor": 2.0,
        "max_interval_ms": 60_000,
        "max_attempts": 3,
        "on_max_attempts": "kill",
    }
    copy = load_world(world)
    assert dump_world(copy) == world
    assert refused(lambda: copy.append_command(inv, "Run"), FailedPrecondition).reason == "BACKING_OFF"
    copy.advance(250)
    copy.append_command(inv, "Run")
