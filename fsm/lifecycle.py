"""The invocation lifecycle, defined once with `transitions`: states, triggers and their conditions.

``RULES`` is the whole lifecycle (behaviour.md sections 1 and 2). Every handler step (``invoke``,
``append_command``, ``complete_command``, ``suspend``, ``wake``, ``fail_attempt``, ``complete``),
every admin operation (``cancel``, ``kill``, ``purge``, ``purge_journal``, ``pause``, ``resume``,
``restart_as_new``) and every event of the clock or of a key's inbox (``due``, ``dequeue``,
``expire``, ``expire_journal``) is a trigger; the new invocation of a restart enters through
``restarted``. A row is one of three kinds:

- a *transition*: ``dest`` is a state; exit and enter callbacks fire;
- an *internal transition*: ``dest=None``, the state is kept (a journal entry appended, a failed
  attempt that retries, resume of a running invocation, restart-as-new on the old invocation);
  its event callbacks fire, no exit or enter does;
- a *refusal*: the operation is refused in these states with Restate's exact answer; its one
  condition is a :class:`Refuse`, which raises it.

Conditions are of two kinds. *Guards* are named facts the engine passes as keyword arguments
(``delayed``, ``key_locked``, ...): rows of one trigger and state are tried in table order and the
first whose guards hold wins, as in `transitions`. *Checks* read the invocation and the trigger's
inputs and either pass or raise the refusal: the restart-as-new checks 8-15 (:mod:`fsm.restart`)
and resume's deployment checks (:mod:`fsm.deployments`). Conditions have no side effects, so a dry
run (and `transitions`' ``may_``) can run them freely.

From ``RULES``, :class:`Lifecycle` builds:

- ``machine``: the definition as a `transitions` ``Machine`` (``model=None``, no auto transitions,
  ``send_event=True``), read by diagrams and exploration; :meth:`Lifecycle.new_machine` builds the
  same for each engine that wants callbacks (``Engine.machine``);
- ``table``: that machine compiled into ``{(state, trigger): branches}``, and ``quick``, the
  state each (state, trigger) leads to when no fact is true and no check stands in the way. These
  are the engine's fast path while nobody has asked for its machine; a test drives random operations
  through both paths and compares every answer;
- definition-time checks: a broken table fails at construction, naming the rule and the fix.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, cast

from transitions import Machine

from . import restart
from .deployments import resume_deployment_usable, resume_keeps_deployment
from .errors import FailedPrecondition, IllegalTransition


class Status(StrEnum):
    """The lifecycle's states, for typed code (a member equals its word: ``Status.RUNNING == "running"``)."""

    FREE = "free"
    SCHEDULED = "scheduled"
    INBOXED = "inboxed"
    RUNNING = "running"
    SUSPENDED = "suspended"
    PAUSED = "paused"
    COMPLETED = "completed"


# The engine moves plain strings (the fast path compares and hashes them); each equals its Status.
FREE: str = Status.FREE.value
SCHEDULED: str = Status.SCHEDULED.value
INBOXED: str = Status.INBOXED.value
RUNNING: str = Status.RUNNING.value
SUSPENDED: str = Status.SUSPENDED.value
PAUSED: str = Status.PAUSED.value
COMPLETED: str = Status.COMPLETED.value

#: Every state; ``free`` stands for "absent" (never existed, purged, or freed).
STATES: tuple[str, ...] = (FREE, SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED, COMPLETED)
#: The states an existing invocation can be in (the snapshot format's ``status`` values).
LIVE_STATES: tuple[str, ...] = STATES[1:]
#: States in which an exclusive virtual-object handler holds its key's lock.
HOLDS_LOCK: frozenset[str] = frozenset({RUNNING, SUSPENDED, PAUSED})

#: Facts a guard may test. The engine computes them; nothing else does.
GUARDS: dict[str, str] = {
    "delayed": "the call has a due time in the future",
    "key_locked": "an exclusive handler of a virtual object whose key another invocation holds",
    "retries_exhausted": "the failed attempt was the last one the retry policy allows",
    "pause_on_max_attempts": "the retry policy pauses (rather than kills) when attempts run out",
}

#: The admin operations: each is a trigger whose rows cover every live state (accepted or refused).
OPERATIONS: tuple[str, ...] = ("cancel", "kill", "purge", "purge_journal", "pause", "resume", "restart_as_new")

#: A condition: called with the firing event (``event.model``, ``event.kwargs``); True passes.
Condition = Callable[[Any], bool]


class Guard:
    """A named fact, called the way `transitions` calls conditions with ``send_event=True``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, event: Any) -> bool:
        return bool(event.kwargs.get(self.name, False))

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Refuse:
    """Restate's refusal of an operation in a state; as a condition it raises the refusal."""

    status: int
    reason: str
    template: str  # formatted with {id}
    check: int | None = None  # restart-as-new's check number

    def error(self, invocation_id: str) -> FailedPrecondition:
        return FailedPrecondition(self.status, self.reason, self.template.format(id=invocation_id), check=self.check)

    def __call__(self, event: Any) -> bool:
        raise self.error(event.model.id)


@dataclass(frozen=True)
class Accept:
    """The operation is accepted in this state: ``trigger`` fires and ``status`` is the answer."""

    status: int
    trigger: str


@dataclass(frozen=True)
class Rule:
    """One row: ``trigger`` moves ``sources`` to ``dest`` (None: stays) when the conditions hold.

    ``answer`` is the HTTP status of an admin operation the row accepts.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    guards: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    checks: tuple[Condition, ...] = ()
    answer: int | None = None
    doc: str = ""

    @property
    def refusal(self) -> Refuse | None:
        return self.checks[0] if len(self.checks) == 1 and isinstance(self.checks[0], Refuse) else None


def refuses(conditions: Iterable[object]) -> bool:
    """Whether a row with these conditions is a refusal (it answers; it never moves)."""
    return any(isinstance(condition, Refuse) for condition in conditions)


def refuse(trigger: str, sources: tuple[str, ...], refusal: Refuse) -> Rule:
    """A refusal row: ``trigger`` is refused in ``sources`` with ``refusal``."""
    return Rule(trigger, sources, None, checks=(refusal,), doc=f"refused: {refusal.status} {refusal.reason}")


ALREADY_COMPLETED = Refuse(409, "ALREADY_COMPLETED", "The invocation '{id}' was already completed.")
NOT_COMPLETED = Refuse(409, "NOT_COMPLETED", "The invocation '{id}' is not yet completed.")
NOT_RUNNING = Refuse(409, "NOT_RUNNING", "The invocation '{id}' is not running, cannot be paused.")
RESUME_NOT_STARTED = Refuse(
    425, "NOT_STARTED", "The invocation '{id}' is either inboxed or scheduled, cannot be resumed."
)
RESUME_COMPLETED = Refuse(409, "COMPLETED", "The invocation '{id}' is completed, cannot be resumed.")
RESTART_NOT_STARTED = Refuse(
    425, "NOT_STARTED", "The invocation '{id}' cannot be restarted because it's not running yet.", check=6
)
RESTART_STILL_RUNNING = Refuse(409, "STILL_RUNNING", "The invocation '{id}' is still running.", check=7)

_STARTED = (RUNNING, SUSPENDED, PAUSED)
_NOT_DONE = (SCHEDULED, INBOXED, *_STARTED)

RULES: tuple[Rule, ...] = (
    # a call enters, and waits for its time or its key
    Rule("invoke", (FREE,), SCHEDULED, ("delayed",), doc="call with a delay"),
    Rule("invoke", (FREE,), INBOXED, ("key_locked",), doc="exclusive handler, key held by another"),
    Rule("invoke", (FREE,), RUNNING, doc="any other call (locks the key if exclusive)"),
    Rule("restarted", (FREE,), INBOXED, ("key_locked",), doc="restart-as-new's new invocation, key held"),
    Rule("restarted", (FREE,), RUNNING, doc="restart-as-new's new invocation"),
    Rule("due", (SCHEDULED,), INBOXED, ("key_locked",), doc="due time reached, key held"),
    Rule("due", (SCHEDULED,), RUNNING, doc="due time reached"),
    Rule("dequeue", (INBOXED,), RUNNING, doc="the key's holder ended; first in the inbox starts"),
    # what a deployment does while it runs the handler
    Rule("append_command", (RUNNING,), None, doc="a command journaled (its completion ids allocated)"),
    Rule(
        "complete_command",
        (RUNNING, SUSPENDED, PAUSED),
        None,
        doc="a completion journaled as a notification (kept while paused, seen after resume)",
    ),
    Rule("suspend", (RUNNING,), SUSPENDED, doc="awaits a completion that is not there yet"),
    Rule("wake", (SUSPENDED,), RUNNING, doc="the awaited completion or signal arrived"),
    Rule(
        "fail_attempt",
        (RUNNING,),
        PAUSED,
        ("retries_exhausted", "pause_on_max_attempts"),
        doc="last attempt failed, policy pauses",
    ),
    Rule("fail_attempt", (RUNNING,), COMPLETED, ("retries_exhausted",), doc="last attempt failed, policy kills"),
    Rule("fail_attempt", (RUNNING,), None, doc="attempt failed, backing off"),
    Rule("complete", (RUNNING,), COMPLETED, doc="handler returned or failed terminally"),
    # admin operations
    Rule("cancel", (SCHEDULED, INBOXED), FREE, answer=200, doc="never started: forgotten"),
    Rule("cancel", (RUNNING,), None, answer=202, doc="cancel signal appended"),
    Rule("cancel", (SUSPENDED, PAUSED), RUNNING, answer=202, doc="cancel signal appended, wakes up"),
    refuse("cancel", (COMPLETED,), ALREADY_COMPLETED),
    Rule("kill", (SCHEDULED, INBOXED), FREE, answer=200, doc="never started: forgotten"),
    Rule("kill", _STARTED, COMPLETED, answer=200, doc="ends with failure 'killed'"),
    refuse("kill", (COMPLETED,), ALREADY_COMPLETED),
    Rule("purge", (COMPLETED,), FREE, answer=200, doc="purge operation"),
    refuse("purge", _NOT_DONE, NOT_COMPLETED),
    Rule("purge_journal", (COMPLETED,), None, answer=200, doc="journal dropped, status kept"),
    refuse("purge_journal", _NOT_DONE, NOT_COMPLETED),
    Rule("pause", (RUNNING,), PAUSED, answer=202, doc="pause operation"),
    # A suspended invocation is not executing: Restate answers "already paused" (200), unchanged.
    Rule("pause", (SUSPENDED, PAUSED), None, answer=200, doc="nothing to pause"),
    refuse("pause", (SCHEDULED, INBOXED, COMPLETED), NOT_RUNNING),
    refuse("resume", (SCHEDULED, INBOXED), RESUME_NOT_STARTED),
    Rule("resume", (SUSPENDED, PAUSED), RUNNING, checks=(resume_deployment_usable,), answer=200, doc="resumes"),
    Rule("resume", (RUNNING,), None, checks=(resume_keeps_deployment,), answer=200, doc="nothing to do"),
    refuse("resume", (COMPLETED,), RESUME_COMPLETED),
    refuse("restart_as_new", (SCHEDULED, INBOXED), RESTART_NOT_STARTED),
    refuse("restart_as_new", _STARTED, RESTART_STILL_RUNNING),
    Rule(
        "restart_as_new",
        (COMPLETED,),
        None,
        checks=restart.CONDITIONS,
        answer=200,
        doc="checks 8-15; the old invocation stays, a new one enters through 'restarted'",
    ),
    # the cleaner
    Rule("expire", (COMPLETED,), FREE, doc="completion retention expired (cleaner)"),
    Rule("expire_journal", (COMPLETED,), None, doc="journal retention expired (cleaner)"),
)

Branch = tuple[tuple[str, ...], tuple[str, ...], tuple[Condition, ...], str | None]  # guards, unless, checks, dest
Table = dict[tuple[str, str], tuple[Branch, ...]]
NO_FACTS: Mapping[str, Any] = {}


class HasState(Protocol):
    id: str
    state: str


class Firing:
    """The event a condition receives on the fast path: the same ``model`` and ``kwargs`` as EventData."""

    __slots__ = ("model", "kwargs")

    def __init__(self, model: Any, kwargs: Mapping[str, Any]) -> None:
        self.model = model
        self.kwargs = kwargs


def check_definition(rules: tuple[Rule, ...]) -> None:
    """Definition-time checks: a broken table fails at construction with the fix spelled out."""
    for rule in rules:
        for name in (*rule.guards, *rule.unless):
            if name not in GUARDS:
                raise ValueError(f"Rule {rule.trigger} uses unknown guard '{name}': add it to GUARDS.")
        for state in (*rule.sources, *((rule.dest,) if rule.dest is not None else ())):
            if state not in STATES:
                raise ValueError(f"Rule {rule.trigger} names unknown state '{state}': add it to STATES.")
        if rule.dest in rule.sources:
            raise ValueError(
                f"Rule {rule.trigger} leads '{rule.dest}' to itself: use dest=None (an internal transition), "
                "so that a step which keeps the state fires no exit or enter callbacks."
            )
        if rule.checks and (rule.guards or rule.unless):
            raise ValueError(f"Rule {rule.trigger} mixes guards and checks: split it into two rows.")
        if rule.answer is not None and rule.trigger not in OPERATIONS:
            raise ValueError(f"Rule {rule.trigger} has an answer, but only admin operations ({OPERATIONS}) answer.")
    for trigger in dict.fromkeys(r.trigger for r in rules):
        for state in STATES:
            rows = [r for r in rules if r.trigger == trigger and state in r.sources]
            if rows and (rows[-1].guards or rows[-1].unless):
                raise ValueError(
                    f"'{trigger}' from '{state}' has no row without guards: add one last, for when no guard holds."
                )
    reachable = {FREE}
    frontier = deque([FREE])
    while frontier:
        state = frontier.popleft()
        for rule in rules:
            if state in rule.sources and rule.dest is not None and rule.dest not in reachable:
                reachable.add(rule.dest)
                frontier.append(rule.dest)
    unreachable = [s for s in STATES if s not in reachable]
    if unreachable:
        raise ValueError(f"States unreachable from 'free': {unreachable}; add a rule that enters them.")
    for operation in OPERATIONS:
        for state in LIVE_STATES:
            rows = [r for r in rules if r.trigger == operation and state in r.sources]
            if not rows:
                raise ValueError(f"'{operation}' says nothing from '{state}': add a row that accepts or refuses it.")
            answers = {r.answer for r in rows if r.refusal is None}
            refusals = [r for r in rows if r.refusal is not None]
            if refusals and (len(rows) > 1):
                raise ValueError(f"'{operation}' from '{state}' both refuses and accepts: keep one.")
            if not refusals and (None in answers or len(answers) != 1):
                raise ValueError(f"'{operation}' from '{state}' needs one answer (HTTP status) on every row.")


def _specs(rules: tuple[Rule, ...], guards: dict[str, Guard]) -> list[dict[str, Any]]:
    return [
        {
            "trigger": rule.trigger,
            "source": list(rule.sources),
            "dest": rule.dest,
            "conditions": [*(guards[g] for g in rule.guards), *rule.checks],
            "unless": [guards[g] for g in rule.unless],
        }
        for rule in rules
    ]


def compile_table(machine: Machine) -> Table:
    """Compile a machine into ``{(state, trigger): ((guards, unless, checks, dest), ...)}``, in firing order.

    Read from the ``Machine`` itself (not from RULES), so the fast path is derived from the definition
    that `transitions` runs. Guards become fact names; other conditions stay callables.
    """
    table: dict[tuple[str, str], list[Branch]] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                guards: list[str] = []
                unless: list[str] = []
                checks: list[Condition] = []
                for condition in transition.conditions:
                    if isinstance(condition.func, Guard):
                        (guards if condition.target else unless).append(condition.func.name)
                    elif condition.target and callable(condition.func):
                        checks.append(cast(Condition, condition.func))
                    else:
                        raise TypeError(f"'{trigger}' from '{source}': unsupported condition {condition.func!r}")
                branch = (tuple(guards), tuple(unless), tuple(checks), transition.dest)
                table.setdefault((source, trigger), []).append(branch)
    return {key: tuple(branches) for key, branches in table.items()}


def quick_map(table: Table) -> dict[tuple[str, str], str]:
    """(state, trigger) -> the state it leads to when no fact is true and no check stands in the way."""
    quick: dict[tuple[str, str], str] = {}
    for (state, trigger), branches in table.items():
        for guards, _unless, checks, dest in branches:
            if checks:
                break  # a check must run: no shortcut
            if not guards:
                quick[(state, trigger)] = state if dest is None else dest
                break
    return quick


class Lifecycle:
    """One definition: the rules, the `transitions` machine built from them, and its compiled form.

    ``Lifecycle()`` is the lifecycle of behaviour.md (module-level :data:`LIFECYCLE`); pass other
    rules to try a change (exploration does, to show a broken rule is caught).
    """

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        check_definition(rules)
        self.rules = rules
        self.guards = {name: Guard(name) for name in GUARDS}
        self._built: weakref.WeakSet[Machine] = weakref.WeakSet()
        self.machine = self.new_machine()
        self.table: Table = compile_table(self.machine)
        self.quick = quick_map(self.table)
        self.triggers: tuple[str, ...] = tuple(self.machine.events)
        #: trigger -> the states it is defined from (refusal rows included)
        self.allowed: dict[str, tuple[str, ...]] = {
            trigger: tuple(s for s in STATES if (s, trigger) in self.table) for trigger in self.triggers
        }
        #: (state, operation) -> the answer of an accepted admin operation
        self.answers: dict[tuple[str, str], int] = {
            (state, rule.trigger): rule.answer for rule in rules if rule.answer is not None for state in rule.sources
        }

    def new_machine(self) -> Machine:
        """A fresh `transitions` Machine of this definition (~0.2 ms, ~40 KiB): one per engine that asks."""
        machine = Machine(
            model=None,
            states=list(STATES),
            transitions=_specs(self.rules, self.guards),
            initial=FREE,
            auto_transitions=False,
            send_event=True,
            model_attribute="state",
        )
        self._built.add(machine)
        return machine

    def built(self, machine: object) -> bool:
        """Whether ``machine`` came from this lifecycle's :meth:`new_machine`."""
        return machine in self._built

    def resolve(self, model: HasState, trigger: str, facts: Mapping[str, Any] = NO_FACTS) -> str:
        """The state ``trigger`` leads ``model`` to (its own state for an internal transition); moves nothing.

        Runs the conditions as `transitions` would: raises the refusal a check raises, or
        :class:`IllegalTransition` naming the states the trigger is allowed from.
        """
        state = model.state
        branches = self.table.get((state, trigger))
        if branches is not None:
            event: Firing | None = None
            # Plain loops rather than all()/any() over generators: half the cost of a guarded trigger.
            for guards, unless, checks, dest in branches:
                for guard in guards:
                    if not facts.get(guard, False):
                        break
                else:
                    for name in unless:
                        if facts.get(name, False):
                            break
                    else:
                        if checks:
                            event = event or Firing(model, facts)
                            if not all(check(event) for check in checks):
                                continue
                        return state if dest is None else dest
        raise IllegalTransition(model.id, trigger, state, self.allowed.get(trigger, ()))

    def fire(self, model: HasState, trigger: str, facts: Mapping[str, Any] | None = None) -> str:
        """Move ``model`` by ``trigger`` through the compiled table (no callbacks): the fast path."""
        if facts is None or True not in facts.values():
            dest = self.quick.get((model.state, trigger))
            if dest is not None:
                model.state = dest
                return dest
        dest = self.resolve(model, trigger, NO_FACTS if facts is None else facts)
        model.state = dest
        return dest

    def next_state(self, state: str, trigger: str, facts: Mapping[str, bool] | None = None) -> str | None:
        """Where ``trigger`` leads from ``state`` given guard facts, assuming its checks pass.

        None when the trigger is not defined there or the state refuses it.
        """
        facts = facts or {}
        for guards, unless, checks, dest in self.table.get((state, trigger), ()):
            if all(facts.get(g, False) for g in guards) and not any(facts.get(u, False) for u in unless):
                if refuses(checks):
                    return None
                return state if dest is None else dest
        return None

    def outcome(self, operation: str, state: str) -> Accept | Refuse:
        """What admin ``operation`` answers in live ``state``: accepted with a status, or refused."""
        answer = self.answers.get((state, operation))
        if answer is not None:
            return Accept(answer, operation)
        for rule in self.rules:
            if rule.trigger == operation and state in rule.sources and rule.refusal is not None:
                return rule.refusal
        raise ValueError(f"'{operation}' is not an admin operation defined from '{state}'")


#: The lifecycle of behaviour.md.
LIFECYCLE = Lifecycle()
#: Its definition machine (read it, draw it; engines fire through ``Engine.machine``, not this one).
MACHINE = LIFECYCLE.machine
TABLE = LIFECYCLE.table
TRIGGERS = LIFECYCLE.triggers
