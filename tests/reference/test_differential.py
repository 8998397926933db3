"""The engine and the reference model side by side: every operation, the same answers, the same world.

Each rule applies one action to both (``fsm.engine.Engine``'s public API, and
:class:`tests.reference.steps.Reference`), then asserts equal answers (success or refusal; for a
refusal the HTTP status, reason, message and restart check), and after every rule the same world:
every invocation's state, journal, pin and retention, lock holders, inbox order, idempotency keys,
pending sleeps, deployments and the clock. When the engine's ``machine`` is observed (drawn per
example), the order of what the clock did (timers, cleaner runs) is compared too.

Ids: the engine makes them; the reference is told the id of each new invocation or deployment (a
name, never an answer) and decides everything else itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from fsm.engine import DEFAULT_EPOCH_MS, Engine
from fsm.errors import LifecycleError
from tests.budget import budget

from .ids import ALPHABET, decode, partition_key
from .records import COMMAND, COMPLETED, NOTIFICATION, Entry, Refusal, Restarted
from .steps import Reference

HOUR = 3_600_000
MAIN = ("Steps", "Short", "NoRet", "Gone", "Hour", "Brief", "Locker", "WF")
# (name, type, journal retention s, completion retention s): every order of the two retentions,
# 0 for either, and neither set.
SERVICES = [
    ("Steps", "service", 86_400, None),
    ("Short", "service", 3_600, 7_200),
    ("NoRet", "service", 0, None),
    ("Gone", "service", 0, 0),
    ("Hour", "service", 3_600, None),
    ("Brief", "service", 86_400, 3_600),
    ("Locker", "virtual_object", 3_600, 7_200),
    ("WF", "workflow", 86_400, None),
    ("Other", "service", 86_400, None),
]
TARGETS = [
    ("Steps", "run", None),
    ("Short", "run", None),
    ("NoRet", "run", None),
    ("Gone", "run", None),
    ("Hour", "run", None),
    ("Brief", "run", None),
    ("Locker", "add", "k1"),
    ("Locker", "add", "k1"),
    ("Locker", "get", "k1"),
    ("Locker", "add", "k2"),
    ("WF", "run", "w1"),
    ("WF", "signal", "w1"),
    ("Other", "run", None),
]
#: Protocol ranges around section 7's boundaries (old journal < 4 <= new journal, prefixes from 6).
RANGES = [(1, 3), (3, 3), (3, 4), (4, 4), (4, 5), (5, 5), (5, 7), (6, 6), (6, 7), (7, 7), (1, 7)]


def b62(value: int, width: int) -> str:
    text = ""
    while value:
        value, digit = divmod(value, 62)
        text = ALPHABET[digit] + text
    return text.rjust(width, "0")


ZEROS = "0" * 33
#: Malformed or absent invocation ids, one per reason of section 4 and its boundaries. ASCII only:
#: section 4 counts characters, the engine UTF-8 bytes (as Rust slices a str), so for an id such as
#: "inv_1" + "0" * 10 + "é" + ... they differ ("base62 decode error" vs "bad length"); left open.
BAD_IDS = [
    "",
    "xyz",
    "KEEP",
    "foo_1abc",
    "inv_",
    "inv_2" + ZEROS,
    "inv_x",
    "inv__1" + ZEROS,
    "dp_1" + "0" * 22,  # a known prefix of the wrong kind
    "dp_2" + "0" * 22,  # ... with a bad version: the version is checked first
    "dp_",
    "sub_9abc",
    "vq_1",
    "inv_1" + "0" * 10,
    "inv_1" + "0" * 10 + "!" + "0" * 22,
    "inv_1" + b62(2**64, 11) + "0" * 22,  # partition key one past u64
    "inv_1" + b62(2**64 - 1, 11) + "0" * 22,  # u64::MAX: well-formed, absent
    "inv_1" + "0" * 11 + b62(2**128, 22),  # uuid one past u128
    "inv_1" + "0" * 11 + b62(2**128 - 1, 22),
    "inv_1" + ZEROS + "0",  # trailing characters
    "inv_1" + ZEROS,  # well-formed, absent
    "inv_1" + "0" * 32,
]
#: `deployment` values that parse (section 3): words, and tokens the test resolves to deployment ids.
GOOD_DEPLOYMENTS = [
    None,
    "keep",
    "Keep",
    "latest",
    "Latest",
    "@first",
    "@last",
    "@other",
    "@any",
    "@removed",
    "@unknown",
]
#: ... and every kind of malformed one (section 4, check 3).
DEPLOYMENTS = [
    *GOOD_DEPLOYMENTS,
    "KEEP",
    "xyz",
    "",
    "dp_bogus",
    "dp_2" + "0" * 22,
    "dp_1" + "0" * 21,
    "dp_1" + "0" * 23,
    "dp_1" + b62(2**128, 22),
    "inv_1" + ZEROS,  # an invocation id as deployment
    "inv_2" + ZEROS,  # ... with a bad version
]
#: `from` values that are u32s (section 3), "len" tokens relative to the invocation's journal length ...
GOOD_FROMS = [None, 0, 1, 2, "len-1", "len-1", "len", "len", "len+1", "len-text", 4_294_967_295, "+1"]
#: ... and ones that are not (section 4, check 1).
FROMS = [*GOOD_FROMS, -1, 4_294_967_296, "abc", "", "1.5"]
COMMANDS = ["Run", "Run", "Call", "OneWayCall", "SetState", "GetLazyState", "Sleep", "run", "Custom", "Output"]
ADVANCES = [0, 1, 999, 1_000, 60_000, HOUR - 1, HOUR, HOUR, HOUR + 1, 2 * HOUR, 86_400_000 - 1, 86_400_000, 86_400_001]
PROGRAMS = [
    ("complete",),
    ("run", "deliver", "complete"),
    ("run", "deliver", "run", "deliver", "complete"),
    ("call", "deliver", "deliver", "complete"),
    ("run", "complete"),
    ("run", "cancel", "deliver", "complete"),
    ("setstate", "run", "deliver", "sleep"),
    ("run", "deliver", "fail"),
]


def comparable(value: Any) -> Any:
    """An answer of either side in one shape."""
    if isinstance(value, Entry):
        return value.fields()
    if isinstance(value, Restarted):
        return (
            value.new_invocation_id,
            value.restarted_from,
            value.copied_indexes,
            value.pinned_deployment,
            value.pinned_protocol,
            value.status,
        )
    if hasattr(value, "copied_indexes"):  # the engine's RestartResult
        return (
            value.new_invocation_id,
            value.restarted_from,
            tuple(value.copied_indexes),
            value.pinned_deployment_id,
            value.pinned_protocol,
            value.status,
        )
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # the engine's journal Entry
        return tuple(value)
    return value


#: What the model and the reference must agree on for each invocation, in this order.
INVOCATION_FIELDS = (
    "id",
    "state",
    "service",
    "handler",
    "key",
    "completion",
    "pinned_deployment",
    "pinned_protocol",
    "journal",
    "retry_count",
    "next_attempt_ms",
    "restarted_from",
    "idempotency_key",
    "due_ms",
    "completed_ms",
    "journal_retention_s",
    "completion_retention_s",
    "awaiting",
)


def _view(i: Any, entry: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    """An invocation as :data:`INVOCATION_FIELDS`, its journal entries as ``entry`` makes them tuples."""
    journal = None if i.journal is None else [entry(item) for item in i.journal]
    return tuple(journal if field == "journal" else getattr(i, field) for field in INVOCATION_FIELDS)


def engine_world(e: Engine) -> dict[str, Any]:
    return {
        "now": e.now_ms,
        "invocations": [_view(i, tuple) for i in e.invocations.values()],
        "locks": dict(e.lock_holders),
        "inboxes": {lock: list(inbox) for lock, inbox in e.inboxes.items()},
        "idempotency": dict(e.idempotency),
        "sleeps": e.pending_sleeps(),
        "deployments": [(d.id, tuple(d.services), d.protocol_min, d.protocol_max) for d in e.deployments.values()],
        "unavailable": set(e.unavailable_partitions),
    }


def reference_world(r: Reference) -> dict[str, Any]:
    return {
        "now": r.now_ms,
        "invocations": [_view(i, Entry.fields) for i in r.invocations.values()],
        "locks": dict(r.locks),
        "inboxes": {lock: list(inbox) for lock, inbox in r.inboxes.items()},
        "idempotency": dict(r.idempotency),
        "sleeps": r.pending_sleeps(),
        "deployments": [(d, dep.services, dep.low, dep.high) for d, dep in r.deployments.items()],
        "unavailable": set(r.unavailable),
    }


def clock_story(log: list[tuple[int, str, str]]) -> list[Any]:
    """What the clock did, in order; one cleaner run's work as a set (its order is not specified)."""
    story: list[Any] = []
    for when, what, inv_id in log:
        if what in ("expire", "expire_journal"):
            if story and isinstance(story[-1], tuple) and story[-1][0] == when:
                story[-1][1].add((what, inv_id))
            else:
                story.append((when, {(what, inv_id)}))
        else:
            story.append([when, what, inv_id])
    for item in story:  # a journal dropped in the run that forgets its invocation is not told apart
        if isinstance(item, tuple):
            gone = {i for what, i in item[1] if what == "expire"}
            item[1].difference_update({("expire_journal", i) for i in gone})
    return story


#: The engine's triggers that the clock fires, as the reference names them.
CLOCK_TRIGGERS = {"due": "start", "complete_command": "sleep", "expire": "expire", "expire_journal": "expire_journal"}


class Differential(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.engine_log: list[tuple[int, str, str]] = []
        self.fresh = 0
        self.refused = False

    # --- applying one action to both ---------------------------------------------------------------

    def apply(self, name: str, on_engine: Callable[[], Any], on_reference: Callable[[Any], Any]) -> Any:
        """Run the action on the engine, then on the reference (told the engine's new id, if any);
        assert the same answer. Returns the engine's value, or None when refused.

        Check numbers are restart-as-new's (section 4): compared for it, not for other operations.
        """
        numbered = name == "restart_as_new"
        try:
            got: tuple[str, Any] = ("ok", comparable(on_engine()))
        except LifecycleError as exc:
            got = ("refused", (exc.http_status, exc.reason, exc.message, exc.check if numbered else None))
        try:
            want: tuple[str, Any] = ("ok", comparable(on_reference(got[1] if got[0] == "ok" else None)))
        except Refusal as refusal:
            want = ("refused", refusal.answer())
        assert got == want, f"{name}: engine answered {got!r}, the reference {want!r}"
        event(f"{name}: {want[1][0] if want[0] == 'refused' else 'ok'}")
        self.refused = got[0] == "refused"
        return got[1] if got[0] == "ok" else None

    def same(self, operation: str, *args: Any) -> Any:
        """``apply`` for an operation both sides spell alike."""
        return self.apply(
            operation, lambda: getattr(self.engine, operation)(*args), lambda _: getattr(self.ref, operation)(*args)
        )

    def fresh_id(self) -> str:
        """An id for the reference's new invocation when the engine made none (the answers differ then)."""
        self.fresh += 1
        return "inv_1" + "0" * 11 + b62(self.fresh, 22)

    def deploy(self, services: tuple[str, ...], protocol: tuple[int, int]) -> None:
        deployment_id = self.engine.register_deployment(list(services), protocol)
        self.ref.register_deployment(deployment_id, services, *protocol)
        self.deployment_ids.append(deployment_id)

    def record(self, event_data: Any) -> None:
        """engine.machine's after_state_change: what fired, on which invocation, at what time."""
        self.engine_log.append((self.engine.now_ms, event_data.event.name, event_data.model.id))

    # --- the world ---------------------------------------------------------------------------------------

    @initialize(
        target=ids,
        max_protocol=st.sampled_from([6, 7, 4]),
        offset=st.sampled_from([0, 0, 0, 1]),
        seed=st.integers(0, 3),
        latest=st.sampled_from(RANGES),
        observe=st.booleans(),
        plans=st.lists(
            st.tuples(st.sampled_from(TARGETS), st.sampled_from(PROGRAMS), st.sampled_from([None, None, *RANGES])),
            min_size=2,
            max_size=6,
        ),
    )
    def setup(
        self,
        max_protocol: int,
        offset: int,
        seed: int,
        latest: tuple[int, int],
        observe: bool,
        plans: list[tuple[tuple[str, str, str | None], tuple[str, ...], tuple[int, int] | None]],
    ) -> Any:
        """A world like the recorded one, and a few invocations already run (some of them to the end,
        pinned to deployments of different protocols) so that restart-as-new has something to restart."""
        now = DEFAULT_EPOCH_MS + offset  # the epoch is on the hour: completions land on cleaner runs
        self.engine = Engine(seed=seed, now_ms=now, max_protocol=max_protocol)
        self.ref = Reference(now, partitions=self.engine.partitions, max_protocol=max_protocol)
        for name, type_, journal_s, completion_s in SERVICES:
            self.engine.register_service(name, type_, journal_s, completion_s)
            self.ref.register_service(name, type_, journal_s, completion_s)
        self.deployment_ids: list[str] = []
        self.deploy(MAIN, (5, 7))
        self.deploy(("Other",), (5, 7))
        self.deploy(MAIN, latest)
        self.observe = observe
        if observe:  # the fast path otherwise; with the machine, the clock's order is observable
            self.engine.machine.after_state_change = [self.record]
        created = []
        for where, steps, protocol in plans:
            if protocol is not None:
                self.deploy(MAIN, protocol)
            made = self.call(where, 0, None, steps)
            if isinstance(made, str):
                created.append(made)
        return multiple(*created)

    @rule(protocol=st.sampled_from(RANGES), services=st.sampled_from([MAIN, ("Steps", "Locker"), ("Other",)]))
    def register_deployment(self, protocol: tuple[int, int], services: tuple[str, ...]) -> None:
        self.deploy(services, protocol)

    @rule(
        service=st.sampled_from(["Steps", "Short", "NoRet", "Locker"]),
        retention=st.sampled_from([(86_400, None), (0, None), (3_600, 7_200), (7_200, 3_600), (3_600, 3_600), (0, 0)]),
    )
    def change_retention(self, service: str, retention: tuple[int, int | None]) -> None:
        """Section 1: retention is copied onto an invocation when it is created; later changes leave it."""
        type_ = "virtual_object" if service == "Locker" else "service"
        self.engine.register_service(service, type_, *retention)
        self.ref.register_service(service, type_, *retention)

    @rule(data=st.data())
    def remove_deployment(self, data: st.DataObject) -> None:
        live = [d for d in self.deployment_ids if d in self.ref.deployments]
        if live:
            chosen = data.draw(st.sampled_from(live))
            self.engine.remove_deployment(chosen)
            self.ref.remove_deployment(chosen)

    @rule(inv=ids, down=st.sampled_from([True, False, False]))
    def partition(self, inv: str, down: bool) -> None:
        """Take down the partition owning ``inv`` (section 6), or bring every partition back."""
        partitions = [self.ref.partition_of(partition_key(inv))] if down else sorted(self.ref.unavailable)
        for partition in partitions:
            self.engine.set_partition_available(partition, not down)
            self.ref.set_partition_available(partition, not down)

    @rule(
        inv=ids,
        operation=st.sampled_from(["cancel", "kill", "purge", "purge_journal", "pause", "resume", "complete"]),
    )
    def outage(self, inv: str, operation: str) -> None:
        """One operation while the invocation's partition is down (503, section 2), then back up."""
        partition = self.ref.partition_of(partition_key(inv))
        was_down = partition in self.ref.unavailable
        self.engine.set_partition_available(partition, False)
        self.ref.set_partition_available(partition, False)
        self.same(operation, inv)
        self.engine.set_partition_available(partition, not was_down)
        self.ref.set_partition_available(partition, not was_down)

    # --- calls and handler steps -------------------------------------------------------------------------

    @rule(
        target=ids,
        where=st.sampled_from(TARGETS),
        delay=st.sampled_from([0, 0, 0, 1, 1_000, HOUR]),
        idem=st.sampled_from([None, None, "a"]),
        then=st.sampled_from([None, *PROGRAMS]),
    )
    def call(
        self, where: tuple[str, str, str | None], delay: int, idem: str | None, then: tuple[str, ...] | None
    ) -> Any:
        """A new invocation, and perhaps a few handler steps on it straight away."""
        service, handler, key = where
        new = self.apply(
            "call",
            lambda: self.engine.call(service, handler, key, delay_ms=delay, idempotency_key=idem),
            lambda new: self.ref.call(service, handler, key, new or self.fresh_id(), delay, idem),
        )
        if new is None:
            return multiple()
        if then is not None:
            self.program(new, then)
        return new

    @rule(inv=ids, type_=st.sampled_from(COMMANDS))
    def append_command(self, inv: str, type_: str) -> None:
        self.same("append_command", inv, type_)

    def completion_to_deliver(self, inv: str, which: str | int) -> int:
        """A completion id chosen from the reference's journal (input only; both then judge it)."""
        found = self.ref.invocations.get(inv)
        if isinstance(which, int) or found is None or found.journal is None:
            return which if isinstance(which, int) else 1
        awaited = [c for e in found.journal if e.kind == COMMAND for c in e.completion_ids]
        done = [e.completion_id for e in found.journal if e.kind == NOTIFICATION and e.completion_id]
        pending = [c for c in awaited if c not in done]
        if which == "done":
            return done[-1] if done else 1
        if not pending:
            return awaited[-1] if awaited else 1
        return pending[0] if which == "oldest" else pending[-1]

    @rule(inv=ids, which=st.sampled_from(["oldest", "oldest", "newest", "done", 1, 2, 99]))
    def complete_command(self, inv: str, which: str | int) -> None:
        self.same("complete_command", inv, self.completion_to_deliver(inv, which))

    @rule(inv=ids, which=st.sampled_from([None, None, "oldest", "done", 99]))
    def suspend(self, inv: str, which: str | int | None) -> None:
        awaiting = None if which is None else self.completion_to_deliver(inv, which)
        self.same("suspend", inv, awaiting)

    @rule(inv=ids, duration=st.sampled_from([0, 1, 1_000, HOUR, HOUR + 1]))
    def sleep(self, inv: str, duration: int) -> None:
        self.same("sleep", inv, duration)

    @rule(inv=ids, max_attempts=st.sampled_from([1, 2, 70]), policy=st.sampled_from(["pause", "kill"]))
    def fail_attempt(self, inv: str, max_attempts: int, policy: str) -> None:
        self.same("fail_attempt", inv, max_attempts, policy)

    @rule(inv=ids, success=st.booleans())
    def complete(self, inv: str, success: bool) -> None:
        self.same("complete", inv, success)

    @rule(inv=ids, steps=st.sampled_from(PROGRAMS))
    def run_program(self, inv: str, steps: tuple[str, ...]) -> None:
        self.program(inv, steps)

    def program(self, inv: str, program: tuple[str, ...]) -> None:
        """A few steps in a row (each one compared), to reach deeper journals within the budget."""
        commands = {"run": "Run", "call": "Call", "setstate": "SetState"}
        for step in program:
            if step == "deliver":
                self.same("complete_command", inv, self.completion_to_deliver(inv, "oldest"))
            elif step in commands:
                self.same("append_command", inv, commands[step])
            elif step == "sleep":
                self.same("sleep", inv, HOUR)
            elif step == "fail":
                self.same("fail_attempt", inv, 1)
            else:
                self.same(step, inv)
            if self.refused:
                return

    # --- admin operations ---------------------------------------------------------------------------------

    @rule(operation=st.sampled_from(["cancel", "kill", "purge", "purge_journal", "pause", "resume"]), inv=ids)
    def admin(self, operation: str, inv: str) -> None:
        self.same(operation, inv)

    def deployment_value(self, token: str | None, data: st.DataObject) -> str | None:
        if token is None or not token.startswith("@"):
            return token
        live = [d for d in self.deployment_ids if d in self.ref.deployments]
        removed = [d for d in self.deployment_ids if d not in self.ref.deployments]
        if token == "@first" and live:
            return live[0]
        if token == "@last" and live:
            return live[-1]
        if token == "@other":
            return self.deployment_ids[1]  # serves only "Other"; it may be removed meanwhile
        if token == "@any" and live:
            return data.draw(st.sampled_from(live))
        if token == "@removed" and removed:
            return removed[-1]
        return "dp_1" + b62(12345, 22)  # well-formed, never registered

    @rule(inv=ids, deployment=st.sampled_from(GOOD_DEPLOYMENTS), data=st.data())
    def resume_on(self, inv: str, deployment: str | None, data: st.DataObject) -> None:
        self.resume_with(inv, deployment, data)

    def resume_with(self, inv: str, deployment: str | None, data: st.DataObject) -> None:
        chosen = self.deployment_value(deployment, data)
        self.same("resume", inv, chosen)

    def from_value(self, inv: str, token: int | str | None) -> int | str | None:
        found = self.ref.invocations.get(inv)
        length = len(found.journal) if found is not None and found.journal is not None else 0
        relative: dict[str, int | str] = {
            "len-1": length - 1,
            "len": length,
            "len+1": length + 1,
            "len-text": str(length),
        }
        return relative.get(token, token) if isinstance(token, str) else token

    @rule(
        target=ids,
        inv=ids,
        from_=st.sampled_from(GOOD_FROMS),
        deployment=st.sampled_from(GOOD_DEPLOYMENTS),
        data=st.data(),
    )
    def restart_as_new(self, inv: str, from_: int | str | None, deployment: str | None, data: st.DataObject) -> Any:
        completed = [i for i, found in self.ref.invocations.items() if found.state == COMPLETED]
        instead = data.draw(st.booleans())
        if completed and instead:
            inv = data.draw(st.sampled_from(completed))  # the state where checks 8-16 answer
        return self.restart(inv, from_, deployment, data)

    @rule(
        target=ids,
        operation=st.sampled_from(
            ["restart_as_new"] * 4 + ["resume"] * 2 + ["cancel", "kill", "purge", "purge_journal", "pause", "sleep"]
        ),
        inv=st.one_of(ids, st.sampled_from(BAD_IDS)),
        from_=st.sampled_from(FROMS),
        deployment=st.sampled_from(DEPLOYMENTS),
        data=st.data(),
    )
    def bad_request(
        self, operation: str, inv: str, from_: int | str | None, deployment: str | None, data: st.DataObject
    ) -> Any:
        """Malformed or absent ids, `from` values that are not u32s, deployments that do not parse."""
        if operation == "restart_as_new":
            return self.restart(inv, from_, deployment, data)
        if operation == "resume":
            self.resume_with(inv, deployment, data)
        else:
            self.same(operation, inv, *((1_000,) if operation == "sleep" else ()))
        return multiple()

    def restart(self, inv: str, from_: int | str | None, deployment: str | None, data: st.DataObject) -> Any:
        raw_from = self.from_value(inv, from_)
        chosen = self.deployment_value(deployment, data)
        # the dry run: the same decision (check number included), and nothing changes
        decision = self.engine.explain_restart_as_new(inv, raw_from, chosen)
        if decision.error is not None:
            error = decision.error
            got: Any = ("refused", (error.http_status, error.reason, error.message, error.check))
        else:
            plan = decision.plan
            assert plan is not None
            got = (
                "ok",
                (decision.check.number, tuple(plan.copied_indexes), plan.pinned_deployment, plan.pinned_protocol),
            )
        try:
            dry = self.ref.restart_as_new(inv, raw_from, chosen, None)
            want: Any = ("ok", (dry.check, dry.copied_indexes, dry.pinned_deployment, dry.pinned_protocol))
        except Refusal as refusal:
            want = ("refused", refusal.answer())
        assert got == want, f"explain_restart_as_new: engine {got!r}, reference {want!r}"
        event(f"restart check {want[1][0] if want[0] == 'ok' else want[1][3]}")
        self.same_world()
        old = self.engine.get_invocation(inv)
        before = engine_world(self.engine)["invocations"]
        result = self.apply(
            "restart_as_new",
            lambda: self.engine.restart_as_new(inv, raw_from, chosen),
            lambda new: self.ref.restart_as_new(inv, raw_from, chosen, new[0] if new else self.fresh_id()),
        )
        if result is None:
            return multiple()
        new_id = result[0]
        event(f"restart_as_new: new invocation {result[5]}, check {want[1][0]}")
        decode(new_id, "inv")  # section 5: the new id parses, differs, and keeps the partition key
        assert new_id != inv and new_id[:16] == inv[:16]
        assert old is not None and engine_world(self.engine)["invocations"][: len(before)] == before
        return new_id

    # --- the clock ------------------------------------------------------------------------------------------

    def advance(self, ms: int) -> None:
        self.engine_log.clear()
        self.ref.clock_log.clear()
        self.engine.advance(ms)
        self.ref.advance(ms)
        if self.observe:
            seen = [(t, CLOCK_TRIGGERS[name], i) for t, name, i in self.engine_log if name in CLOCK_TRIGGERS]
            assert clock_story(seen) == clock_story(self.ref.clock_log), "the clock fired in another order"

    @rule(ms=st.sampled_from(ADVANCES))
    def advance_by(self, ms: int) -> None:
        self.advance(ms)

    @rule(to=st.sampled_from(["cleaner", "timer", "journal", "completion"]), delta=st.sampled_from([-1, 0, 1]))
    def advance_to(self, to: str, delta: int) -> None:
        """Just before, at, or just after the next cleaner run, timer, or the run an expiry waits for."""
        r = self.ref
        target = r.next_cleaner_ms
        if to == "timer" and r.timers:
            target = min(r.timers)[0]
        elif to in ("journal", "completion"):
            done = [i for i in r.invocations.values() if i.state == COMPLETED and i.completed_ms is not None]
            if done:
                inv = done[0]
                assert inv.completed_ms is not None
                seconds = inv.journal_retention_s if to == "journal" else inv.completion_retention_s
                expiry = inv.completed_ms + seconds * 1000
                target = -(-expiry // HOUR) * HOUR  # the first cleaner run at or after it
        self.advance(max(0, target + delta - r.now_ms))

    # --- the same world after every rule -------------------------------------------------------------------------

    @invariant()
    def same_world(self) -> None:
        if not hasattr(self, "ref"):
            return
        got, want = engine_world(self.engine), reference_world(self.ref)
        for part in want:
            assert got[part] == want[part], f"{part} differ"


# 300 sequences of 50 steps in make test (derandomized, a few seconds); make test-long multiplies both
Differential.TestCase.settings = settings(
    budget(300, steps=50), suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
TestDifferential = Differential.TestCase
