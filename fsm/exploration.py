"""What an exploration is made of and what it reports, apart from the search (:mod:`fsm.explore`).

- :class:`Action`: one public engine call, as a value that both runs and renders as Python, so
  every trace the search keeps is a runnable program (:func:`resolve` binds its variables);
- :class:`Scope` and :class:`ServiceShape`: the bounds of one exploration and its world's services;
- :class:`Witness`, :class:`Violation` and :class:`Exploration`: what was found, with the
  text report and the JSON the command line prints;
- :func:`witness_program` and :func:`violation_program`: a finding as a program to run;
- :data:`OUTCOMES`, :data:`NOT_REACHABLE_BY_OPERATIONS` and :data:`INVARIANTS`: what is looked for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .engine import Engine
from .ids import partition_key_of
from .lifecycle import LIVE_STATES, STATES
from .model import DEFAULT_JOURNAL_RETENTION_S, SERVICE, VIRTUAL_OBJECT, WORKFLOW
from .restart import CHECKS
from .witnesses import Answer

#: Every answer restart-as-new can give, as (check, http status, reason); 200 is check 16 (or 10).
OUTCOMES: tuple[tuple[int, int, str], ...] = (
    (1, 400, "INVALID_QUERY_STRING"),
    (2, 400, "INVALID_INVOCATION_ID"),
    (3, 400, "INVALID_DEPLOYMENT_ID"),
    (4, 503, "PARTITION_UNAVAILABLE"),
    (5, 404, "INVOCATION_NOT_FOUND"),
    (6, 425, "NOT_STARTED"),
    (7, 409, "STILL_RUNNING"),
    (8, 410, "INPUT_NOT_AVAILABLE"),
    (9, 422, "UNSUPPORTED"),
    (10, 422, "UNSUPPORTED"),
    (10, 409, "CANNOT_CHANGE_DEPLOYMENT"),
    (10, 410, "INPUT_NOT_AVAILABLE"),
    (10, 200, "OK"),
    (11, 422, "UNSUPPORTED"),
    (12, 400, "DEPLOYMENT_NOT_FOUND"),
    (13, 400, "INCOMPATIBLE_DEPLOYMENT"),
    (14, 400, "INCOMPLETE_PREFIX"),
    (15, 400, "JOURNAL_INDEX_OUT_OF_RANGE"),
    (16, 200, "OK"),
)
#: Outcomes no sequence of engine operations can produce, with the reason (reported, not missed).
NOT_REACHABLE_BY_OPERATIONS: dict[tuple[int, int, str], str] = {
    (10, 410, "INPUT_NOT_AVAILABLE"): "every journal the engine writes starts with Input; only a loaded world lacks it",
}

#: Invariants checked besides ``Engine.check_invariants`` (name: what it means).
INVARIANTS: dict[str, str] = {
    "engine": "Engine.check_invariants() holds (locks, inboxes, dense journals, no stored free record)",
    "completion": "an invocation has a completion (success/failure) exactly when it is completed",
    "awaiting": "only a suspended invocation awaits a completion",
    "refusal-changes-nothing": "an operation that raises leaves the world unchanged",
    "explain-is-pure": "explain_restart_as_new changes nothing",
    "restart-agrees-with-explain": "restart_as_new answers what explain_restart_as_new predicted",
    "restart-old-unchanged": "a successful restart leaves the old invocation unchanged",
    "restart-same-partition": "the new id differs from the old one and shares its partition key",
    "restart-new-state": "the new invocation is running or inboxed, and restarted_from the old one",
}


# --- actions: engine calls that render as Python ---------------------------------------------


@dataclass(frozen=True, order=True)
class Ref:
    """A variable of the trace (an invocation or deployment id bound by an earlier action)."""

    name: str


@dataclass(frozen=True, order=True)
class PartitionOf:
    """The partition owning a variable's invocation id."""

    name: str


def _render(value: Any) -> str:
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, PartitionOf):
        return f"engine.partition_of(partition_key_of({value.name}))"
    if isinstance(value, tuple):
        return "(" + ", ".join(_render(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def resolve(value: Any, engine: Engine, env: dict[str, str]) -> Any:
    """An argument as the engine takes it: variables replaced by the ids ``env`` bound to them."""
    if value.__class__ is Ref:
        return env[value.name]
    if isinstance(value, Ref):
        return env[value.name]
    if isinstance(value, PartitionOf):
        return engine.partition_of(partition_key_of(env[value.name]))
    if isinstance(value, list):
        return [resolve(v, engine, env) for v in value]
    return value


@dataclass(frozen=True)
class Action:
    """One public engine call: ``bind = engine.method(*args, **kwargs)[.attr]``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    bind: str | None = None
    attr: str | None = None
    #: no argument names a variable (most calls): run them without resolving anything
    literal: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        variables = [v for v in (*self.args, *(v for _, v in self.kwargs)) if isinstance(v, (Ref, PartitionOf, list))]
        object.__setattr__(self, "literal", not variables)

    def render(self) -> str:
        params = [_render(a) for a in self.args] + [f"{k}={_render(v)}" for k, v in self.kwargs]
        call = f"engine.{self.method}({', '.join(params)})" + (f".{self.attr}" if self.attr else "")
        return f"{self.bind} = {call}" if self.bind else call

    def run(self, engine: Engine, env: dict[str, str]) -> Any:
        if self.literal:
            result = getattr(engine, self.method)(*self.args, **dict(self.kwargs))
        else:
            args = [resolve(a, engine, env) for a in self.args]
            kwargs = {k: resolve(v, engine, env) for k, v in self.kwargs}
            result = getattr(engine, self.method)(*args, **kwargs)
        if self.attr is not None:
            result = getattr(result, self.attr)
        if self.bind is not None:
            env[self.bind] = result
        return result


# --- what is explored --------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceShape:
    """A service of the explored world; its retention is one axis of the abstraction."""

    name: str
    type: str
    journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S
    completion_retention_s: int | None = None

    @property
    def key(self) -> str | None:
        return None if self.type == SERVICE else "k"


DEFAULT_SERVICES: tuple[ServiceShape, ...] = (
    ServiceShape("svc", SERVICE),
    ServiceShape("vo", VIRTUAL_OBJECT),
    ServiceShape("wf", WORKFLOW),
    ServiceShape("nojournal", SERVICE, journal_retention_s=0),
    ServiceShape("short", SERVICE, journal_retention_s=3600, completion_retention_s=7200),
    ServiceShape("ephemeral", SERVICE, journal_retention_s=0, completion_retention_s=0),
)


@dataclass(frozen=True)
class Scope:
    """The bounds of one exploration. Small on purpose: the states grow about sevenfold per level."""

    max_depth: int = 4
    max_invocations: int = 2
    max_journal: int = 4
    max_deployments: int = 2
    seed: int = 0
    services: tuple[ServiceShape, ...] = DEFAULT_SERVICES
    #: Services the second and later calls may target (the first may target any): contention.
    later_calls: tuple[str, ...] = ("vo",)
    delays_ms: tuple[int, ...] = (0, 1000)
    protocols: tuple[tuple[int, int], ...] = ((5, 7), (1, 3), (5, 5))
    sleep_ms: int = 1000

    def prologue(self) -> list[Action]:
        out = []
        for s in self.services:
            kwargs: list[tuple[str, Any]] = []
            if s.journal_retention_s != DEFAULT_JOURNAL_RETENTION_S:
                kwargs.append(("journal_retention_s", s.journal_retention_s))
            if s.completion_retention_s is not None:
                kwargs.append(("completion_retention_s", s.completion_retention_s))
            out.append(Action("register_service", (s.name, s.type), tuple(kwargs)))
        return out

    def service_names(self) -> list[str]:
        return [s.name for s in self.services]


@dataclass(frozen=True)
class RestartShape:
    """One restart-as-new request: the target and the raw ``from`` and ``deployment``."""

    target: Any  # Ref or a literal id
    from_: int | str | None
    deployment: Any  # None, a literal, or Ref

    def render(self, call: str = "restart_as_new") -> str:
        return (
            f"engine.{call}({_render(self.target)}, from_={_render(self.from_)}, deployment={_render(self.deployment)})"
        )


@dataclass(frozen=True)
class Witness:
    """The shortest trace after which ``request`` gets ``outcome``."""

    outcome: tuple[int, int, str]
    trace: tuple[Action, ...]
    request: RestartShape
    message: str


#: A user's question about a state: an invariant (False, or an AssertionError, means it breaks;
#: anything else that it holds) or a goal (true when the state is the one looked for).
Predicate = Callable[[Engine], object]


class PredicateError(Exception):
    """A user's invariant or goal raised something other than AssertionError: a bug in it, reported
    with the calls that reach the state it failed on."""


@dataclass(frozen=True)
class Violation:
    """An invariant that failed, with the shortest trace that breaks it."""

    invariant: str
    message: str
    trace: tuple[Action, ...]
    last: Action | None = None  # the action that broke it (already part of trace unless refused)


@dataclass
class Exploration:
    """What :func:`explore` found; :meth:`report` renders it as text, :meth:`to_json` as data."""

    scope: Scope
    custom_lifecycle: bool
    states: int = 0
    expanded: int = 0
    edges: int = 0
    actions_tried: int = 0
    refused: int = 0
    by_depth: list[int] = field(default_factory=list)
    transitions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    rules_never_fired: list[str] = field(default_factory=list)
    lifecycle_seen: dict[str, list[str]] = field(default_factory=dict)  # service type -> states
    lifecycle_never_left: list[str] = field(default_factory=list)
    traps: list[tuple[str, tuple[Action, ...]]] = field(default_factory=list)
    witnesses: dict[tuple[int, int, str], Witness] = field(default_factory=dict)
    violations: dict[str, Violation] = field(default_factory=dict)
    triggers: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    #: The user's invariants checked (by name), and each goal asked for with its shortest trace
    #: (None: not reached within the scope).
    user_invariants: list[str] = field(default_factory=list)
    goals: dict[str, tuple[Action, ...] | None] = field(default_factory=dict)
    #: Each witness as a conformance case (cases-format.md): the world just before its request,
    #: the request, the model's answer, and ``steps``, the calls from the setup that reach it.
    cases: dict[tuple[int, int, str], dict[str, Any]] = field(default_factory=dict)
    #: Every distinct answer of every call tried: (operation, status, reason, message with ids blanked).
    answers: set[Answer] = field(default_factory=set)
    #: The first world where an admin operation (cancel, kill, purge, purge_journal, pause, resume)
    #: gave each of its answers, as a case (with ``operation`` and ``expect.status_after``).
    admin_cases: dict[Answer, dict[str, Any]] = field(default_factory=dict)

    # --- reading the result ---

    def goals_missed(self) -> list[str]:
        return [name for name, trace in self.goals.items() if trace is None]

    def missing_outcomes(self) -> list[tuple[int, int, str]]:
        return [o for o in OUTCOMES if o not in self.witnesses and o not in NOT_REACHABLE_BY_OPERATIONS]

    def checks_witnessed(self) -> list[int]:
        return sorted({o[0] for o in self.witnesses})

    def unreachable_states(self) -> list[str]:
        seen = {s for states in self.lifecycle_seen.values() for s in states}
        return [s for s in LIVE_STATES if s not in seen]

    def program(self, witness: Witness) -> str:
        return witness_program(self.scope, witness, custom_lifecycle=self.custom_lifecycle)

    def counterexample(self, violation: Violation) -> str:
        return violation_program(self.scope, violation, custom_lifecycle=self.custom_lifecycle)

    def report(self, programs: bool = True) -> str:
        s = self.scope
        lines = [
            f"scope: depth <= {s.max_depth}, invocations <= {s.max_invocations}, journal <= {s.max_journal} "
            f"entries, deployments <= {s.max_deployments}, services {', '.join(s.service_names())}"
            + (" (modified lifecycle)" if self.custom_lifecycle else ""),
            f"abstract states: {self.states} ({self.expanded} expanded; by depth {self.by_depth})",
            f"edges: {self.edges}; actions tried: {self.actions_tried}, refused: {self.refused}",
            "operations that changed the world: " + ", ".join(f"{k} {v}" for k, v in sorted(self.operations.items())),
            "",
            "lifecycle transitions fired (state --trigger--> state: times):",
        ]
        for (src, trig, dst), n in sorted(self.transitions.items(), key=lambda kv: _transition_order(kv[0])):
            lines.append(f"  {src} --{trig}--> {dst}: {n}")
        lines.append("rules never fired: " + (", ".join(self.rules_never_fired) or "none"))
        lines.append("lifecycle states reached, by service type:")
        for kind in sorted(self.lifecycle_seen):
            lines.append(f"  {kind}: {', '.join(self.lifecycle_seen[kind])}")
        lines.append("lifecycle states never reached: " + (", ".join(self.unreachable_states()) or "none"))
        lines.append("lifecycle states never left: " + (", ".join(self.lifecycle_never_left) or "none"))
        lines.append(
            "traps (an invocation no explored path completes or frees, judged up to depth "
            f"{max(0, s.max_depth - 2)}): {len(self.traps) or 'none'}"
        )
        for label, trace in self.traps[:5]:
            lines.append(f"  {label} after: {'; '.join(a.render() for a in trace)}")
        lines.append("")
        lines.append("restart-as-new outcomes, each with its shortest witness (engine calls after the setup):")
        for outcome in OUTCOMES:
            check, status, reason = outcome
            name = CHECKS[check - 1].name
            found = self.witnesses.get(outcome)
            if found is not None:
                where = f"after {len(found.trace)} calls: {found.request.render()[len('engine.') :]}"
            elif outcome in NOT_REACHABLE_BY_OPERATIONS:
                where = "not reachable by operations: " + NOT_REACHABLE_BY_OPERATIONS[outcome]
            else:
                where = "NOT FOUND within the scope"
            lines.append(f"  check {check:2} {status} {reason:<26} ({name}) {where}")
        lines.append("")
        lines.append("admin operations' answers, each with its shortest witness case:")
        for answer, case in sorted(self.admin_cases.items(), key=lambda kv: _answer_order(kv[0])):
            operation, code, why, message = answer
            lines.append(
                f"  {operation} {code}{' ' + why if why else ''} after {len(case['steps'])} calls"
                + (f": {message}" if message else "")
            )
        lines.append(f"distinct answers of all calls tried: {len(self.answers)}")
        lines.append("")
        if self.violations:
            lines.append(f"INVARIANT VIOLATIONS: {len(self.violations)}")
            for v in self.violations.values():
                lines.append(f"  {v.invariant}: {v.message} (after {len(v.trace)} calls)")
        else:
            checked = len(INVARIANTS) + len(self.user_invariants)
            lines.append(f"invariant violations: none ({checked} invariants checked at every state)")
        for name, path in self.goals.items():
            reached = "NOT REACHED within the scope" if path is None else f"reached after {len(path)} calls"
            lines.append(f"goal {name}: {reached}")
        if programs:
            for v in self.violations.values():
                lines += ["", f"# --- counterexample: {v.invariant} ---", self.counterexample(v)]
            for name, path in self.goals.items():
                if path is not None:
                    lines += ["", f"# --- goal: {name} ---", goal_program(self.scope, name, path)]
            for outcome in OUTCOMES:
                if outcome in self.witnesses:
                    w = self.witnesses[outcome]
                    lines += [
                        "",
                        f"# --- witness: check {outcome[0]} -> {outcome[1]} {outcome[2]} ---",
                        self.program(w),
                    ]
        return "\n".join(lines).rstrip() + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": {
                "max_depth": self.scope.max_depth,
                "max_invocations": self.scope.max_invocations,
                "max_journal": self.scope.max_journal,
                "max_deployments": self.scope.max_deployments,
                "services": self.scope.service_names(),
            },
            "states": self.states,
            "expanded": self.expanded,
            "edges": self.edges,
            "by_depth": self.by_depth,
            "actions_tried": self.actions_tried,
            "refused": self.refused,
            "operations": dict(sorted(self.operations.items())),
            "transitions": [
                {"source": a, "trigger": t, "dest": b, "times": n}
                for (a, t, b), n in sorted(self.transitions.items(), key=lambda kv: _transition_order(kv[0]))
            ],
            "rules_never_fired": self.rules_never_fired,
            "lifecycle_seen": self.lifecycle_seen,
            "unreachable_states": self.unreachable_states(),
            "lifecycle_never_left": self.lifecycle_never_left,
            "traps": [{"invocation": label, "trace": [a.render() for a in trace]} for label, trace in self.traps],
            "witnesses": [
                {
                    "check": o[0],
                    "http_status": o[1],
                    "reason": o[2],
                    "trace": [a.render() for a in w.trace],
                    "request": w.request.render(),
                    "message": w.message,
                    "program": self.program(w),
                }
                for o, w in sorted(self.witnesses.items())
            ],
            "not_reachable_by_operations": [
                {"check": o[0], "http_status": o[1], "reason": o[2], "why": why}
                for o, why in NOT_REACHABLE_BY_OPERATIONS.items()
            ],
            "missing": [list(o) for o in self.missing_outcomes()],
            "answers": [
                {"operation": o, "http_status": st, "reason": r, "message": m}
                for o, st, r, m in sorted(self.answers, key=_answer_order)
            ],
            "violations": [
                {
                    "invariant": v.invariant,
                    "message": v.message,
                    "trace": [a.render() for a in v.trace],
                    "program": self.counterexample(v),
                }
                for v in self.violations.values()
            ],
            "user_invariants": self.user_invariants,
            "goals": [
                {
                    "goal": name,
                    "reached": trace is not None,
                    "trace": None if trace is None else [a.render() for a in trace],
                    "program": None if trace is None else goal_program(self.scope, name, trace),
                }
                for name, trace in self.goals.items()
            ],
        }


def _answer_order(answer: Answer) -> tuple[str, int, str, str]:
    operation, status, reason, message = answer
    return (operation, status, reason or "", message or "")


def _transition_order(key: tuple[str, str, str]) -> tuple[int, str, int]:
    src, trig, dst = key
    return (STATES.index(src), trig, STATES.index(dst))


# --- programs ------------------------------------------------------------------------------------

_HEADER = [
    "from fsm.engine import Engine",
    "from fsm.errors import LifecycleError",
    "from fsm.ids import partition_key_of",
    "",
]


def _setup_lines(scope: Scope, custom_lifecycle: bool) -> list[str]:
    lines = list(_HEADER)
    if custom_lifecycle:
        lines.append("# found with a modified lifecycle (or engine factory): build the engine the same way")
    lines.append(f"engine = Engine(seed={scope.seed})")
    lines += [a.render() for a in scope.prologue()]
    return lines


def witness_program(scope: Scope, witness: Witness, *, custom_lifecycle: bool = False) -> str:
    """A runnable program: the setup, each call of the trace, then the restart with its expected answer.

    Running it prints the answer and fails (AssertionError) if the engine no longer gives it.
    """
    check, status, reason = witness.outcome
    name = CHECKS[check - 1].name
    lines = [f"# restart-as-new check {check} ({name}) answers {status} {reason}"]
    lines += _setup_lines(scope, custom_lifecycle)
    lines += [a.render() for a in witness.trace]
    lines += [
        f"decision = {witness.request.render('explain_restart_as_new')}  # pure: names the deciding check",
        "try:",
        f"    result = {witness.request.render()}",
        '    status, reason = 200, "OK"',
        "except LifecycleError as error:",
        "    status, reason = error.http_status, error.reason",
        "check = decision.check.number",
        "print(status, reason, check)",
        f"# expected: {status} {reason} from check {check} ({name})",
        f"assert (status, reason, check) == ({status}, {json.dumps(reason)}, {check}), (status, reason, check)",
    ]
    return "\n".join(lines) + "\n"


def violation_program(scope: Scope, violation: Violation, *, custom_lifecycle: bool = False) -> str:
    """A runnable program that ends where ``violation.invariant`` breaks."""
    lines = [f"# invariant '{violation.invariant}' breaks: {violation.message}"]
    lines += _setup_lines(scope, custom_lifecycle)
    lines += [a.render() for a in violation.trace]
    if violation.last is not None:
        lines.append(f"{violation.last.render()}  # this call breaks it")
    lines += _check_lines(violation.invariant)
    return "\n".join(lines) + "\n"


def _check_lines(invariant: str) -> list[str]:
    """How a program checks ``invariant`` at its end: the engine's own, or a user's MODULE:FUNC."""
    if invariant in INVARIANTS:
        return ["engine.check_invariants()"]
    module, _, func = invariant.partition(":")
    if func.isidentifier() and all(part.isidentifier() for part in module.split(".")):
        return [f"from {module} import {func}", f"assert {func}(engine) is not False, {invariant!r}"]
    return [f"# the invariant {invariant} breaks here"]


def goal_program(scope: Scope, goal: str, trace: tuple[Action, ...]) -> str:
    """A runnable program: the setup, then the shortest calls found that reach ``goal``."""
    lines = [f"# the shortest way found to '{goal}'"]
    lines += _setup_lines(scope, False)
    lines += [a.render() for a in trace]
    lines.append(f"# here: {goal}")
    return "\n".join(lines) + "\n"
