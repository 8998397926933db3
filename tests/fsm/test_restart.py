"""One table test per check of restart-as-new (behaviour.md section 4), in order."""

from __future__ import annotations

import pytest

from fsm import Engine, LifecycleError, OutOfRange
from fsm.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from fsm.ids import parse_invocation_id
from fsm.model import COMMAND, NOTIFICATION, Entry
from fsm.restart import CHECKS
from fsm.snapshot import dump_invocation, load_world
from tests.refusals import answer, refused

from .conftest import World

ABSENT = "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8ed"


UNSUPPORTED = (
    "Restarting the invocation '{id}' is not supported. Restarting workflows is not supported, "
    "and restarting invocations created using the old service protocol."
)
INPUT_GONE = (
    "The invocation '{id}' cannot be restarted because the input is not available. "
    "This indicates that the journal was already purged, or not retained at all."
)
#: behaviour.md section 4, written out here: the whole answer of every (check, status) whose
#: message names nothing but the invocation. :func:`refusal` holds every refusal to it.
ANSWERS: dict[tuple[int, int], tuple[str, str]] = {
    (5, 404): ("INVOCATION_NOT_FOUND", "The requested invocation '{id}' does not exist"),
    (6, 425): ("NOT_STARTED", "The invocation '{id}' cannot be restarted because it's not running yet."),
    (7, 409): ("STILL_RUNNING", "The invocation '{id}' is still running."),
    (8, 410): ("INPUT_NOT_AVAILABLE", INPUT_GONE),
    (9, 422): ("UNSUPPORTED", UNSUPPORTED),
    (10, 422): ("UNSUPPORTED", UNSUPPORTED),
    (10, 409): (
        "CANNOT_CHANGE_DEPLOYMENT",
        "The invocation '{id}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed.",
    ),
    (10, 410): ("INPUT_NOT_AVAILABLE", INPUT_GONE),
    (11, 422): ("UNSUPPORTED", UNSUPPORTED),
    (12, 400): (
        "DEPLOYMENT_NOT_FOUND",
        "The given deployment was not found when trying to restart as new the invocation '{id}'.",
    ),
    (14, 400): (
        "INCOMPLETE_PREFIX",
        "The prefix of the journal '{id}' up to 'from' (included) contains some Commands without respective "
        "Completions.",
    ),
    (15, 400): (
        "JOURNAL_INDEX_OUT_OF_RANGE",
        "The given index is out of range of currently stored journal for invocation '{id}'.",
    ),
}


def refusal(engine: Engine, inv: str, from_: int | str | None = None, deployment: str | None = None) -> LifecycleError:
    """The refusal of this request; explain agrees on the check, and ANSWERS on the whole answer."""
    decision = engine.explain_restart_as_new(inv, from_, deployment)
    with pytest.raises(LifecycleError) as caught:
        engine.restart_as_new(inv, from_, deployment)
    err = caught.value
    assert decision.error is not None and decision.check.number == err.check
    assert err.check is not None
    if (err.check, err.http_status) in ANSWERS:
        reason, template = ANSWERS[err.check, err.http_status]
        assert (err.reason, err.message) == (reason, template.format(id=inv))
    else:
        assert err.check in (1, 2, 3, 4, 13), f"no answer written out for {err!r}"
    return err


def test_checks_are_numbered_in_order() -> None:
    assert [c.number for c in CHECKS] == list(range(1, 17))


def test_check_1_from_is_parsed_before_anything_else() -> None:
    err = refusal(Engine(), "not-an-id", "abc", "xyz")
    assert isinstance(err, InvalidArgument) and err.check == 1
    assert err.message == "Failed to deserialize query string: from: invalid digit found in string"


def test_check_2_malformed_invocation_id_before_deployment(world: World) -> None:
    err = refusal(world.engine, "inv_bogus", None, "dp_bogus")
    assert (err.http_status, err.reason, err.check) == (400, "INVALID_INVOCATION_ID", 2)
    assert err.message == "The request field 'invocation_id' is invalid. Reason: unrecognized codec version"


def test_check_3_malformed_deployment_before_404(world: World) -> None:
    err = refusal(world.engine, ABSENT, None, "KEEP")
    assert (err.http_status, err.reason, err.check) == (400, "INVALID_DEPLOYMENT_ID", 3)
    assert err.message == "The query parameter 'deployment' is invalid. Reason: bad format"


def test_check_4_unroutable_partition_before_404(world: World) -> None:
    e = world.engine
    partition = e.partition_of(parse_invocation_id(ABSENT).partition_key)
    e.set_partition_available(partition, False)
    err = refusal(e, ABSENT)
    assert isinstance(err, Unavailable) and (err.http_status, err.reason, err.check) == (
        503,
        "PARTITION_UNAVAILABLE",
        4,
    )
    assert (
        err.message == f"Error when routing the request internally. Reason: partition {partition} has no known leader"
    )


def test_check_5_absent(world: World) -> None:
    err = refusal(world.engine, ABSENT, 1)
    assert isinstance(err, NotFound) and (err.http_status, err.check) == (404, 5)
    assert err.message == f"The requested invocation '{ABSENT}' does not exist"


def test_check_5_purged_is_absent(world: World) -> None:
    inv = world.completed()
    world.engine.purge(inv)
    assert refusal(world.engine, inv).http_status == 404


def test_check_6_scheduled_and_inboxed(world: World) -> None:
    e = world.engine
    scheduled = e.call("Steps", "run", delay_ms=60_000)
    e.call("Locker", "hold", "k")
    inboxed = e.call("Locker", "hold", "k")
    for inv in (scheduled, inboxed):
        err = refusal(e, inv, 1, "keep")
        assert (err.http_status, err.reason, err.check) == (425, "NOT_STARTED", 6)
        assert err.message == f"The invocation '{inv}' cannot be restarted because it's not running yet."


def test_check_7_running_suspended_paused(world: World) -> None:
    e = world.engine
    running = e.call("Steps", "run")
    suspended = e.call("Steps", "run")
    e.sleep(suspended, 10_000)
    paused = e.call("Steps", "run")
    e.pause(paused)
    for inv in (running, suspended, paused):
        err = refusal(e, inv)
        assert (err.http_status, err.reason, err.check) == (409, "STILL_RUNNING", 7)
        assert err.message == f"The invocation '{inv}' is still running."


def test_check_8_journal_gone(world: World) -> None:
    e = world.engine
    not_retained = world.completed(service="NoRet")
    purged = world.completed()
    e.purge_journal(purged)
    workflow = e.call("WF", "run", "wf-1")
    e.complete(workflow)
    e.purge_journal(workflow)  # 410 comes before 422
    for inv in (not_retained, purged, workflow):
        err = refusal(e, inv)
        assert (err.http_status, err.reason, err.check) == (410, "INPUT_NOT_AVAILABLE", 8)
        assert err.message == (
            f"The invocation '{inv}' cannot be restarted because the input is not available. "
            "This indicates that the journal was already purged, or not retained at all."
        )


def test_check_8_journal_expired_only_when_the_cleaner_runs() -> None:
    e = Engine()
    e.register_service("Short", journal_retention_s=60, completion_retention_s=86_400)
    e.register_deployment(["Short"])
    inv = e.call("Short", "run")
    e.complete(inv)
    e.advance(61_000)  # expired, but the cleaner has not run yet: still restartable
    e.restart_as_new(inv)
    e.advance(3_600_000)
    assert refusal(e, inv).http_status == 410


def test_check_9_workflow(world: World) -> None:
    inv = world.engine.call("WF", "run", "wf-1")
    world.engine.complete(inv)
    err = refusal(world.engine, inv, 1)
    assert (err.http_status, err.reason, err.check) == (422, "UNSUPPORTED", 9)
    assert err.message == (
        f"Restarting the invocation '{inv}' is not supported. Restarting workflows is not "
        "supported, and restarting invocations created using the old service protocol."
    )


@pytest.fixture
def old_protocol() -> tuple[Engine, str]:
    e = Engine()
    e.register_service("Old")
    e.register_deployment(["Old"], (1, 3))
    inv = e.call("Old", "run")
    step = e.append_command(inv, "Run")
    e.complete_command(inv, step.completion_ids[0])
    e.complete(inv)
    assert e.invocations[inv].pinned_protocol == 3
    return e, inv


@pytest.mark.parametrize(("protocol", "old"), [(1, True), (3, True), (4, False), (5, False)])
def test_check_10_applies_to_protocols_below_4_only(protocol: int, old: bool) -> None:
    e = Engine()
    e.register_service("S")
    e.register_deployment(["S"], (protocol, protocol))
    inv = e.call("S", "run")
    e.complete(inv)
    assert e.invocations[inv].pinned_protocol == protocol
    if old:  # keep cannot be honoured on the old path: 409
        err = refusal(e, inv, 0, "keep")
        assert (err.http_status, err.reason, err.check) == (409, "CANNOT_CHANGE_DEPLOYMENT", 10)
    else:  # the new journal: keep succeeds and pins the old deployment and protocol
        result = e.restart_as_new(inv, 0, "keep")
        assert result.pinned_protocol == protocol and result.pinned_deployment_id is not None
        assert e.explain_restart_as_new(inv, 0, "keep").check.number == 16


def test_check_10_old_protocol_refusals(old_protocol: tuple[Engine, str]) -> None:
    e, inv = old_protocol
    err = refusal(e, inv, 1)
    assert (err.http_status, err.reason, err.check) == (422, "UNSUPPORTED", 10)
    for deployment in ("keep", "dp_16hyvaGLkmYCmSH4nzeUDZv"):  # an unknown id is not even looked up
        err = refusal(e, inv, 0, deployment)
        assert (err.http_status, err.reason, err.check) == (409, "CANNOT_CHANGE_DEPLOYMENT", 10)
        assert err.message == (
            f"The invocation '{inv}' is still running or the deployment id is not pinned yet, "
            "deployment id cannot be changed."
        )


def test_check_10_old_protocol_success_is_a_plain_new_call(old_protocol: tuple[Engine, str]) -> None:
    e, inv = old_protocol
    for deployment_id in list(e.deployments):
        e.remove_deployment(deployment_id)  # latest succeeds even with no deployment serving the service
    result = e.restart_as_new(inv, None, "latest")
    assert result.copied_indexes == [0]
    assert (result.pinned_deployment_id, result.pinned_protocol) == (None, None)
    assert e.explain_restart_as_new(inv).check.number == 10


def test_check_10_old_protocol_without_input(old_protocol: tuple[Engine, str]) -> None:
    e, inv = old_protocol
    e.invocations[inv].journal = []  # only reachable on old data; the rule is still Restate's
    err = refusal(e, inv)
    assert (err.http_status, err.check) == (410, 10)


def test_check_11_prefix_needs_protocol_6(world: World) -> None:
    e = world.engine
    e.register_service("P5")
    e.register_deployment(["P5"], (5, 5))
    inv = e.call("P5", "run")
    e.complete(inv)
    assert e.invocations[inv].pinned_protocol == 5
    err = refusal(e, inv, 1)
    assert (err.http_status, err.reason, err.check) == (422, "UNSUPPORTED", 11)
    assert e.restart_as_new(inv, 0).pinned_protocol == 5


def test_check_11_prefix_needs_a_pinned_deployment() -> None:
    e = Engine()
    e.register_service("Lonely")
    inv = e.call("Lonely", "run")
    e.complete(inv)  # no deployment ever served it: never pinned
    assert refusal(e, inv, 1).check == 11


def test_check_12_deployment_not_found(world: World) -> None:
    e = world.engine
    inv = world.completed()
    err = refusal(e, inv, 0, "dp_16hyvaGLkmYCmSH4nzeUDAv")
    assert (err.http_status, err.reason, err.check) == (400, "DEPLOYMENT_NOT_FOUND", 12)
    assert err.message == f"The given deployment was not found when trying to restart as new the invocation '{inv}'."
    for dep in (world.d1, world.proto5, world.d2):
        e.remove_deployment(dep)
    assert refusal(e, inv).check == 12  # the default is latest, and nothing serves Steps any more
    assert e.restart_as_new(inv, 0, "keep").pinned_deployment_id == world.d2  # keep: even if deleted


def test_check_12_unpinned_still_checks_the_deployment() -> None:
    e = Engine()
    e.register_service("Lonely")
    inv = e.call("Lonely", "run")
    e.complete(inv)
    assert refusal(e, inv).check == 12
    e.register_deployment(["Lonely"])
    e.invocations[inv].pinned_deployment = None  # never pinned, yet a deployment exists now
    result = e.restart_as_new(inv)
    assert (result.pinned_deployment_id, result.pinned_protocol) == (None, None)


def test_check_13_incompatible_protocol(world: World) -> None:
    inv = world.completed()
    err = refusal(world.engine, inv, 1, world.proto5)
    assert (err.http_status, err.reason, err.check) == (400, "INCOMPATIBLE_DEPLOYMENT", 13)
    assert err.message == (
        f"The invocation '{inv}' is running on protocol version '6', while the chosen "
        f"deployment '{world.proto5}' supports the range 5..=5."
    )


def test_check_14_incomplete_prefix(world: World) -> None:
    e = world.engine
    inv = e.call("Steps", "run")
    e.append_command(inv, "Run")  # index 1, completion 1: completed
    e.complete_command(inv, 1)
    e.append_command(inv, "Sleep")  # index 3, completion 2: never completed
    e.kill(inv)
    assert e.restart_as_new(inv, 2).copied_indexes == [0, 1, 2]
    for from_ in (3, 4, 1000, 4294967294):
        err = refusal(e, inv, from_)
        assert (err.http_status, err.reason, err.check) == (400, "INCOMPLETE_PREFIX", 14)
        assert err.message == (
            f"The prefix of the journal '{inv}' up to 'from' (included) contains some Commands "
            "without respective Completions."
        )


def test_check_15_the_overflowing_bound(world: World) -> None:
    inv = world.completed()
    err = refusal(world.engine, inv, 4294967295)
    assert isinstance(err, OutOfRange) and (err.http_status, err.reason, err.check) == (
        400,
        "JOURNAL_INDEX_OUT_OF_RANGE",
        15,
    )
    assert err.message == f"The given index is out of range of currently stored journal for invocation '{inv}'."


@pytest.mark.parametrize(
    ("from_", "copied"),
    [(0, [0]), (1, [0, 1, 2]), (2, [0, 1, 2]), (3, [0, 1, 2, 3, 4]), (5, list(range(7))), (7, list(range(8)))],
)
def test_check_16_copies_the_prefix_as_behaviour_md_says(world: World, from_: int, copied: list[int]) -> None:
    inv = world.completed(steps=3)
    result = world.engine.restart_as_new(inv, from_)
    assert result.copied_indexes == copied
    new = world.engine.invocations[result.new_invocation_id]
    assert [e.index for e in new.journal or []] == list(range(len(copied)))
    assert refusal(world.engine, inv, 8).check == 14


def test_later_completions_of_prefix_commands_are_appended() -> None:
    world = load_world(
        {
            "deployments": [{"id": "dp_16hyvaGLkmYCmSH4nzeUDZv", "services": ["S"], "protocol": [5, 7]}],
            "services": [{"name": "S", "type": "service", "journal_retention_s": 86400}],
            "invocations": [
                {
                    "id": "inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9",
                    "target": {"service": "S", "handler": "h", "key": None},
                    "status": "completed",
                    "completion": "success",
                    "pinned": {"deployment_id": "dp_16hyvaGLkmYCmSH4nzeUDZv", "protocol": 6},
                    "journal_retained": True,
                    "journal": [
                        {"index": 0, "kind": "command", "type": "Input"},
                        {"index": 1, "kind": "command", "type": "Call", "completion_ids": [1, 2]},
                        {"index": 2, "kind": "command", "type": "Run", "completion_ids": [3]},
                        {"index": 3, "kind": "notification", "type": "CallInvocationId", "completion_id": 1},
                        {"index": 4, "kind": "notification", "type": "Run", "completion_id": 3},
                        {"index": 5, "kind": "notification", "type": "Signal", "name": "awakeable"},
                        {"index": 6, "kind": "notification", "type": "Call", "completion_id": 2},
                    ],
                }
            ],
        }
    )
    result = world.restart_as_new("inv_1drCQQYKZl9p7MIOJSFmvUm5T2w3LPR8e9", 1)
    assert result.copied_indexes == [0, 1, 3, 6]  # the Call's two completions, not the Run's or the signal
    new = world.invocations[result.new_invocation_id]
    assert new.journal == [
        Entry(0, COMMAND, "Input"),
        Entry(1, COMMAND, "Call", None, (1, 2)),
        Entry(2, NOTIFICATION, "CallInvocationId", None, (), 1),
        Entry(3, NOTIFICATION, "Call", None, (), 2),
    ]
    assert new.next_completion_id == 3


def test_success_pins_by_selector(world: World) -> None:
    e = world.engine
    inv = world.completed()
    assert e.invocations[inv].pinned_deployment == world.d2
    e.invocations[inv].pinned_deployment = world.d1  # as if D2 had been registered after it ran
    assert e.restart_as_new(inv, 1, "keep").pinned_deployment_id == world.d1
    assert e.restart_as_new(inv, 1).pinned_deployment_id == world.d2
    assert e.restart_as_new(inv, 1, "Latest").pinned_deployment_id == world.d2
    assert e.restart_as_new(inv, 1, world.other).pinned_deployment_id == world.other  # even a foreign one
    assert {e.restart_as_new(inv).pinned_protocol for _ in range(2)} == {6}


def test_success_creates_a_new_invocation_and_leaves_the_old_one_alone(world: World) -> None:
    e = world.engine
    inv = e.call("Steps", "run", idempotency_key="once")
    e.complete(inv)
    before = dump_invocation(e, e.invocations[inv])
    first, second = e.restart_as_new(inv), e.restart_as_new(inv)
    assert first.new_invocation_id != second.new_invocation_id  # not idempotent
    assert dump_invocation(e, e.invocations[inv]) == before
    for result in (first, second):
        new = e.invocations[result.new_invocation_id]
        assert result.new_invocation_id[:16] == inv[:16]
        assert new.restarted_from == inv and new.idempotency_key is None
        assert new.state == result.status == "running"
    e.check_invariants()


def test_success_on_a_locked_key_is_inboxed(world: World) -> None:
    e = world.engine
    done = e.call("Locker", "hold", "k")
    e.complete(done)
    holder = e.call("Locker", "hold", "k")
    result = e.restart_as_new(done)
    assert result.status == "inboxed"
    e.complete(holder)
    assert e.invocations[result.new_invocation_id].state == "running"
    e.check_invariants()


def test_explain_changes_nothing_and_names_the_check(world: World) -> None:
    inv = world.completed()
    from fsm.snapshot import dump_world

    before = dump_world(world.engine)
    decision = world.engine.explain_restart_as_new(inv, 3, "keep")
    assert decision.check.number == 16 and decision.plan is not None and decision.http_status == 200
    assert decision.plan.copied_indexes == [0, 1, 2, 3, 4]
    assert dump_world(world.engine) == before


def test_non_string_arguments_are_rejected_clearly(world: World) -> None:
    err = refused(lambda: world.engine.restart_as_new(42), InvalidArgument)  # type: ignore[arg-type]
    assert answer(err) == (400, "INVALID_ARGUMENT", "Invalid argument 'invocation_id': must be a string, got int")
    inv = world.completed()
    err = refused(lambda: world.engine.restart_as_new(inv, 0, 7), InvalidArgument)  # type: ignore[arg-type]
    assert answer(err) == (400, "INVALID_ARGUMENT", "Invalid argument 'deployment': must be a string, got int")


def test_failed_precondition_class_for_state_refusals(world: World) -> None:
    assert isinstance(refusal(world.engine, world.engine.call("Steps", "run")), FailedPrecondition)


def test_explain_names_the_deployment_the_selector_chose(world: World) -> None:
    """keep: the pinned deployment, whatever decided; latest or an id: only once check 12 has passed."""
    e = world.engine
    inv = world.completed()
    e.invocations[inv].pinned_deployment = world.d1  # so that keep and latest (D2) differ
    assert e.explain_restart_as_new(inv, 1, "keep").resolved_deployment == world.d1
    assert e.explain_restart_as_new(inv, 1).resolved_deployment == world.d2
    assert e.explain_restart_as_new(inv, 1, world.other).resolved_deployment == world.other
    assert e.explain_restart_as_new(inv, 99, "keep").resolved_deployment == world.d1  # refused by check 14
    assert e.explain_restart_as_new(inv, 99).resolved_deployment == world.d2  # check 14: 12 had passed
    decided_by_13 = e.explain_restart_as_new(inv, 1, world.proto5)
    assert (decided_by_13.check.number, decided_by_13.resolved_deployment) == (13, world.proto5)
    unknown = e.explain_restart_as_new(inv, 1, "dp_16hyvaGLkmYCmSH4nzeUDAv")
    assert (unknown.check.number, unknown.resolved_deployment) == (12, None)


def test_check_10_old_protocol_latest_skips_check_13(old_protocol: tuple[Engine, str]) -> None:
    e, inv = old_protocol
    e.register_deployment(["Old"], (5, 7))  # now the latest, and it cannot speak protocol 3
    result = e.restart_as_new(inv, 0, "latest")
    assert (result.copied_indexes, result.pinned_deployment_id, result.pinned_protocol) == ([0], None, None)


def test_check_13_latest_that_cannot_speak_the_pinned_protocol(world: World) -> None:
    e = world.engine
    inv = world.completed()
    newest = e.register_deployment(["Steps"], (5, 5), name="P5")
    err = refusal(e, inv, 0, "latest")
    assert (err.http_status, err.reason, err.check) == (400, "INCOMPATIBLE_DEPLOYMENT", 13)
    assert err.message == (
        f"The invocation '{inv}' is running on protocol version '6', while the chosen "
        f"deployment '{newest}' supports the range 5..=5."
    )


def test_check_10_old_protocol_success_copies_the_input_entry(old_protocol: tuple[Engine, str]) -> None:
    e, inv = old_protocol
    old = e.invocations[inv]
    assert old.journal is not None
    plan = e.explain_restart_as_new(inv, 0, "latest").plan
    assert plan is not None
    assert (plan.restarted_from, plan.partition_key, plan.journal) == (
        inv,
        parse_invocation_id(inv).partition_key,
        [old.journal[0]],
    )
    new = e.invocations[e.restart_as_new(inv, 0, "latest").new_invocation_id]
    assert new.journal == [old.journal[0]] and new.journal[0].type == "Input"


def test_explain_names_what_it_would_restart(world: World) -> None:
    inv = world.completed()
    plan = world.engine.explain_restart_as_new(inv, 2).plan
    assert plan is not None and (plan.restarted_from, plan.partition_key) == (
        inv,
        parse_invocation_id(inv).partition_key,
    )
