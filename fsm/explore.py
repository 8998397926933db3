"""Breadth-first exploration of everything one invocation and its surroundings can go through.

    python -m fsm.explore [--depth 6] [--invocations 2] [--journal 4] [--deployments 2] [--format text|json]

Why: the engine's rules are spread over a table, sixteen checks and a dozen operations; the
only way to know that no combination of them breaks an invariant, and that every answer of
restart-as-new can really happen, is to try them all on small worlds. Exploration drives a
real :class:`fsm.engine.Engine` through its public methods only, so what it finds is what a
user of the engine gets.

How:

- a node is a *trace* (a list of :class:`Action`, i.e. engine calls); its engine is rebuilt by
  replaying the trace from scratch (cheaper than copying an engine, and it proves every trace is
  a runnable program);
- a node's *abstract state* is a hashable tuple: per invocation its lifecycle state, service
  (type and retention), journal shape, pinned deployment and protocol, lock/inbox position,
  pending timers and retention deadlines *relative to the clock*, partition reachability; plus the
  deployments. Time enters only relatively, and the clock only jumps to the next pending event,
  so the space is finite and two nodes with the same abstraction behave the same;
- at every new abstract state the invariants are checked (``Engine.check_invariants`` and the
  ones in :data:`INVARIANTS`), restart-as-new is *explained* for a set of request shapes (pure),
  and restart-as-new is *applied* as an ordinary action, checking that the old invocation is
  unchanged and the new id shares its partition key.

BFS order makes every witness and every counterexample a shortest one; ties are broken by
the fixed action order, so the output is stable and diffs cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from .engine import Engine
from .errors import LifecycleError
from .ids import encode_deployment_id, encode_invocation_id, partition_key_of
from .lifecycle import COMPLETED, FREE, LIFECYCLE, LIVE_STATES, STATES, SUSPENDED, Lifecycle, refuses
from .model import COMMAND, DEFAULT_JOURNAL_RETENTION_S, SERVICE, VIRTUAL_OBJECT, WORKFLOW, Invocation
from .restart import CHECKS, Decision
from .snapshot import dump_invocation

U32_MAX = (1 << 32) - 1
#: A well-formed invocation id that never exists in an explored world (checks 3-5 without a call).
ABSENT_ID = encode_invocation_id(1, 1)
#: A well-formed deployment id that is never registered (check 12 with an id).
UNKNOWN_DEPLOYMENT = encode_deployment_id(1)
MALFORMED_ID = "abc"
MALFORMED_DEPLOYMENT = "dp_bad"
MALFORMED_FROM = "abc"

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


def _resolve(value: Any, engine: Engine, env: dict[str, str]) -> Any:
    if value.__class__ is Ref:
        return env[value.name]
    if isinstance(value, Ref):
        return env[value.name]
    if isinstance(value, PartitionOf):
        return engine.partition_of(partition_key_of(env[value.name]))
    if isinstance(value, list):
        return [_resolve(v, engine, env) for v in value]
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
            args = [_resolve(a, engine, env) for a in self.args]
            kwargs = {k: _resolve(v, engine, env) for k, v in self.kwargs}
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
    """The bounds of one exploration. Small on purpose: every state is replayed from scratch."""

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


#: Builds a fresh engine on the given lifecycle and machine (exploration watches the machine to see
#: which rows fire): e.g. ``lambda lifecycle, machine: Engine(seed=0, partitions=4, lifecycle=lifecycle,
#: machine=machine)``.
EngineFactory = Callable[[Lifecycle, Machine], Engine]


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


@dataclass(frozen=True)
class Violation:
    """An invariant that failed, with the shortest trace that breaks it."""

    invariant: str
    message: str
    trace: tuple[Action, ...]
    last: Action | None = None  # the action that broke it (already part of trace unless refused)


@dataclass
class Exploration:
    """What :func:`explore` found; :meth:`report` prints it, :meth:`to_json` serialises it."""

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

    # --- reading the result ---

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
        if self.violations:
            lines.append(f"INVARIANT VIOLATIONS: {len(self.violations)}")
            for v in self.violations.values():
                lines.append(f"  {v.invariant}: {v.message} (after {len(v.trace)} calls)")
        else:
            lines.append(f"invariant violations: none ({len(INVARIANTS)} invariants checked at every state)")
        if programs:
            for v in self.violations.values():
                lines += ["", f"# --- counterexample: {v.invariant} ---", self.counterexample(v)]
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
            "violations": [
                {
                    "invariant": v.invariant,
                    "message": v.message,
                    "trace": [a.render() for a in v.trace],
                    "program": self.counterexample(v),
                }
                for v in self.violations.values()
            ],
        }


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
    lines.append("engine.check_invariants()")
    return "\n".join(lines) + "\n"


# --- watching the machine ------------------------------------------------------------------------


def _recording_machine(lifecycle: Lifecycle, log: list[tuple[str, str, int]]) -> Machine:
    """A machine of ``lifecycle`` that appends (source, trigger, row index) to ``log`` for every transition.

    Its ``after_state_change`` callback runs after every executed transition, internal ones included;
    refusals never execute, so they are never logged. Every engine of the exploration shares it.
    """
    machine = lifecycle.new_machine()

    def record(event: Any) -> None:
        transition = event.transition
        rows = event.event.transitions[transition.source]
        log.append((transition.source, event.event.name, rows.index(transition)))

    machine.after_state_change = [record]
    return machine


# --- abstraction ---------------------------------------------------------------------------------------

State = tuple[Any, ...]


@dataclass
class _Node:
    trace: tuple[Action, ...]
    env_invocations: tuple[str, ...]  # variable names, creation order
    env_deployments: tuple[str, ...]
    depth: int


class _Explorer:
    def __init__(self, scope: Scope, lifecycle: Lifecycle | None, factory: EngineFactory | None) -> None:
        self.scope = scope
        self.lifecycle = LIFECYCLE if lifecycle is None else lifecycle
        self.log: list[tuple[str, str, int]] = []
        self.machine = _recording_machine(self.lifecycle, self.log)
        self.factory = factory
        self.prologue = scope.prologue()
        self.result = Exploration(scope, custom_lifecycle=lifecycle is not None or factory is not None)
        self.service_types = {s.name: s.type for s in scope.services}
        self._pk: dict[str, int] = {}
        self._explained: set[tuple[Any, ...]] = set()
        self.index: dict[State, int] = {}
        self.nodes: list[_Node] = []
        self.adjacency: list[set[int]] = []
        self.fired: set[tuple[str, str, int]] = set()

    # --- engines ---

    def fresh(self) -> Engine:
        if self.factory is not None:
            engine = self.factory(self.lifecycle, self.machine)
        else:
            engine = Engine(seed=self.scope.seed, lifecycle=self.lifecycle, machine=self.machine)
        env: dict[str, str] = {}
        for action in self.prologue:
            action.run(engine, env)
        return engine

    def replay(self, node: _Node) -> tuple[Engine, dict[str, str]]:
        engine = self.fresh()
        env: dict[str, str] = {}
        for action in node.trace:
            action.run(engine, env)
        self.log.clear()
        return engine, env

    def partition_key(self, inv_id: str) -> int:
        pk = self._pk.get(inv_id)
        if pk is None:
            pk = self._pk[inv_id] = partition_key_of(inv_id)
        return pk

    # --- abstraction ---

    def abstract(
        self, engine: Engine, env: dict[str, str], node_invs: tuple[str, ...], node_deps: tuple[str, ...]
    ) -> State:
        now = engine.now_ms
        interval = engine.cleanup_interval_ms
        dep_names = {env[d]: d for d in node_deps}
        sleeps = engine.pending_sleeps()
        invs: list[tuple[Any, ...]] = []
        pending_expiry = False
        for name in node_invs:
            inv = engine.invocations.get(env[name])
            if inv is None:
                invs.append((name, FREE))
                continue
            journal = (
                None
                if inv.journal is None
                else tuple((e.kind, e.type, e.completion_ids, e.completion_id) for e in inv.journal)
            )
            expiry: tuple[int, int | None] | None = None
            if inv.state == COMPLETED and inv.completed_ms is not None:
                status_due = max(0, inv.completed_ms + inv.completion_retention_s * 1000 - now)
                journal_due = None
                if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
                    journal_due = max(0, inv.completed_ms + inv.journal_retention_s * 1000 - now)
                expiry = (status_due, journal_due)
                pending_expiry = True
            lock = None
            if inv.key is not None:
                holder = engine.lock_holders.get((inv.service, inv.key))
                inbox = engine.inboxes.get((inv.service, inv.key))
                lock = (
                    "holds" if holder == inv.id else None,
                    list(inbox).index(inv.id) if inbox is not None and inv.id in inbox else None,
                )
            unavailable = bool(engine.unavailable_partitions) and (
                engine.partition_of(self.partition_key(inv.id)) in engine.unavailable_partitions
            )
            invs.append(
                (
                    name,
                    inv.state,
                    inv.service,
                    inv.completion,
                    journal,
                    None if inv.pinned_deployment is None else dep_names.get(inv.pinned_deployment, "?"),
                    inv.pinned_protocol,
                    lock,
                    inv.awaiting,
                    min(inv.retry_count, 1),
                    inv.next_completion_id,
                    None if inv.due_ms is None else inv.due_ms - now,
                    tuple((due - now, cid) for due, cid in sleeps.get(inv.id, ())),
                    expiry,
                    unavailable,
                    None
                    if inv.restarted_from is None
                    else next((n for n in node_invs if env[n] == inv.restarted_from), "?"),
                )
            )
        deps = tuple(
            (d, env[d] in engine.deployments)
            + (
                (engine.deployments[env[d]].protocol_min, engine.deployments[env[d]].protocol_max)
                if env[d] in engine.deployments
                else ()
            )
            for d in node_deps
        )
        cleanup = interval - now % interval if pending_expiry else None
        return (tuple(invs), deps, cleanup)

    # --- actions ---

    def next_event_ms(self, engine: Engine) -> int | None:
        """How far the clock must move for the next pending thing to happen (None: nothing pending)."""
        now = engine.now_ms
        interval = engine.cleanup_interval_ms
        next_cleanup = (now // interval + 1) * interval
        candidates = []
        for inv in engine.invocations.values():
            if inv.due_ms is not None:
                candidates.append(inv.due_ms)
            if inv.state == COMPLETED and inv.completed_ms is not None:
                dues = [inv.completed_ms + inv.completion_retention_s * 1000]
                if inv.journal is not None and inv.journal_retention_s < inv.completion_retention_s:
                    dues.append(inv.completed_ms + inv.journal_retention_s * 1000)
                for due in dues:
                    runs = max(0, -(-(due - next_cleanup) // interval))
                    candidates.append(next_cleanup + runs * interval)
        for timers in engine.pending_sleeps().values():
            candidates.extend(due for due, _ in timers)
        later = [c for c in candidates if c > now]
        return min(later) - now if later else None

    def actions(self, engine: Engine, env: dict[str, str], node: _Node) -> list[Action]:
        """Every call worth trying here, in a fixed order (the order breaks ties between witnesses)."""
        s = self.scope
        out: list[Action] = []
        if len(node.env_deployments) < s.max_deployments:
            bind = f"dp{len(node.env_deployments) + 1}"
            for protocol in s.protocols:
                out.append(Action("register_deployment", (s.service_names(),), (("protocol", protocol),), bind=bind))
        n_inv = len(node.env_invocations)
        if n_inv < s.max_invocations:
            bind = f"inv{n_inv + 1}"
            targets = s.services if n_inv == 0 else [x for x in s.services if x.name in s.later_calls]
            for shape in targets:
                for delay in s.delays_ms:
                    args: tuple[Any, ...] = (shape.name, "run") if shape.key is None else (shape.name, "run", shape.key)
                    kwargs = (("delay_ms", delay),) if delay else ()
                    out.append(Action("call", args, kwargs, bind=bind))
        for name in node.env_invocations:
            inv = engine.invocations.get(env[name])
            if inv is not None:
                out += self.invocation_actions(engine, inv, name, node)
        for d in node.env_deployments:
            if env[d] in engine.deployments:
                out.append(Action("remove_deployment", (Ref(d),)))
        delta = self.next_event_ms(engine)
        if delta is not None:
            out.append(Action("advance", (delta,)))
        return out

    def invocation_actions(self, engine: Engine, inv: Invocation, name: str, node: _Node) -> list[Action]:
        s = self.scope
        x = Ref(name)
        room = inv.journal is not None and len(inv.journal) < s.max_journal
        out: list[Action] = [Action("complete", (x,)), Action("complete", (x,), (("success", False),))]
        if room:
            out.append(Action("append_command", (x, "Run")))
        if inv.journal is not None:
            done = {e.completion_id for e in inv.journal if e.completion_id is not None}
            for cid in sorted({c for e in inv.journal if e.kind == COMMAND for c in e.completion_ids} - done):
                out.append(Action("complete_command", (x, cid)))
        out.append(Action("suspend", (x,)))
        if room:
            out.append(Action("sleep", (x, s.sleep_ms)))
        for op in ("kill", "purge", "purge_journal", "pause", "resume"):
            out.append(Action(op, (x,)))
        out.append(Action("resume", (x,), (("deployment", "latest"),)))
        if room or inv.state not in ("running", "suspended", "paused"):
            out.append(Action("cancel", (x,)))  # appends a signal to a started invocation
        out.append(Action("fail_attempt", (x,)))
        out.append(Action("fail_attempt", (x,), (("max_attempts", 1),)))
        out.append(Action("fail_attempt", (x,), (("max_attempts", 1), ("on_max_attempts", "kill"))))
        if len(node.env_invocations) < s.max_invocations:
            bind = f"inv{len(node.env_invocations) + 1}"
            last = len(inv.journal) - 1 if inv.journal else 0
            for from_, dep in ((None, None), (None, "keep"), (last, "keep")):
                out.append(
                    Action(
                        "restart_as_new",
                        (x,),
                        (("from_", from_), ("deployment", dep)),
                        bind=bind,
                        attr="new_invocation_id",
                    )
                )
        unavailable = engine.partition_of(self.partition_key(inv.id)) in engine.unavailable_partitions
        out.append(Action("set_partition_available", (PartitionOf(name), unavailable)))
        return out

    # --- restart shapes for witnesses ---

    def restart_shapes(
        self, engine: Engine, env: dict[str, str], node: _Node, state: State, root: bool
    ) -> Iterator[tuple[Any, RestartShape]]:
        """Request shapes, each with a memo key: the same key always gets the same answer.

        The answer depends only on the target's abstraction (state, service, journal, pin, partition),
        the deployments (order, presence, ranges) and the request, so a key seen at a shallower
        state cannot give a new (or shorter) witness.
        """
        deployments: list[Any] = (
            [None, "keep", "latest"]
            + [Ref(d) for d in node.env_deployments]
            + [UNKNOWN_DEPLOYMENT, MALFORMED_DEPLOYMENT]
        )
        if root:
            for target in (MALFORMED_ID, ABSENT_ID):
                for from_ in (None, 0, MALFORMED_FROM):
                    for dep in deployments:
                        yield None, RestartShape(target, from_, dep)
        invs, deps, _ = state
        for abstract_inv in invs:
            name = abstract_inv[0]
            inv = engine.invocations.get(env[name])
            length = len(inv.journal) if inv is not None and inv.journal is not None else 1
            froms: list[int | str | None] = list(
                dict.fromkeys([None, 0, 1, length - 1, length, U32_MAX, MALFORMED_FROM])
            )
            unavailable = engine.partition_of(self.partition_key(env[name])) in engine.unavailable_partitions
            if inv is None or inv.state != COMPLETED:
                # checks 1-7 decide: only the state, the partition and malformed parameters matter
                target_key: tuple[Any, ...] = (abstract_inv[1], unavailable)
                if target_key in self._explained:
                    continue
                self._explained.add(target_key)
                for from_ in (None, MALFORMED_FROM):
                    for dep in (None, MALFORMED_DEPLOYMENT):
                        yield None, RestartShape(Ref(name), from_, dep)
                continue
            # state, service, completion, journal, pin, protocol; not locks, timers or retention clocks
            target_key = (abstract_inv[1:7], unavailable, deps)
            if target_key in self._explained:
                continue
            self._explained.add(target_key)
            for from_ in froms:
                for dep in deployments:
                    yield None, RestartShape(Ref(name), from_, dep)

    def explain_witnesses(self, engine: Engine, env: dict[str, str], node: _Node, state: State) -> bool:
        """Explain every new request shape at this state; True if that (wrongly) changed the world."""
        explained = False
        for key, shape in self.restart_shapes(engine, env, node, state, root=node.depth == 0):
            if key is not None:
                if key in self._explained:
                    continue
                self._explained.add(key)
            target = _resolve(shape.target, engine, env)
            dep = _resolve(shape.deployment, engine, env)
            decision = engine.explain_restart_as_new(target, shape.from_, dep)
            explained = True
            outcome = _outcome(decision)
            if outcome not in self.result.witnesses:
                message = decision.error.message if decision.error is not None else "new invocation created"
                self.result.witnesses[outcome] = Witness(outcome, node.trace, shape, message)
        if explained and self.abstract(engine, env, node.env_invocations, node.env_deployments) != state:
            self.violation("explain-is-pure", "explain_restart_as_new changed the world", node.trace)
            return True
        return False

    # --- invariants ---

    def violation(self, invariant: str, message: str, trace: tuple[Action, ...], last: Action | None = None) -> None:
        if invariant not in self.result.violations:
            self.result.violations[invariant] = Violation(invariant, message, trace, last)

    def check_state(self, engine: Engine, trace: tuple[Action, ...]) -> None:
        try:
            engine.check_invariants()
        except AssertionError as exc:
            self.violation("engine", str(exc), trace)
        for inv in engine.invocations.values():
            if (inv.state == COMPLETED) != (inv.completion is not None):
                self.violation("completion", f"{inv.id} is {inv.state} with completion {inv.completion!r}", trace)
            if inv.awaiting is not None and inv.state != SUSPENDED:
                self.violation("awaiting", f"{inv.id} is {inv.state} but awaits completion {inv.awaiting}", trace)

    # --- the search ---

    def run(self) -> Exploration:
        scope = self.scope
        root = _Node((), (), (), 0)
        engine, env = self.replay(root)
        root_state = self.abstract(engine, env, (), ())
        self.add_state(root_state, root)
        self.check_state(engine, ())
        self.explain_witnesses(engine, env, root, root_state)
        frontier: deque[int] = deque([0])
        while frontier:
            idx = frontier.popleft()
            node = self.nodes[idx]
            if node.depth >= scope.max_depth:
                continue
            self.result.expanded += 1
            for child in self.expand(idx, node):
                frontier.append(child)
        self.finish()
        return self.result

    def add_state(self, state: State, node: _Node) -> int:
        idx = len(self.nodes)
        self.index[state] = idx
        self.nodes.append(node)
        self.adjacency.append(set())
        while len(self.result.by_depth) <= node.depth:
            self.result.by_depth.append(0)
        self.result.by_depth[node.depth] += 1
        return idx

    def expand(self, idx: int, node: _Node) -> list[int]:
        engine, env = self.replay(node)
        state = self.abstract(engine, env, node.env_invocations, node.env_deployments)
        new: list[int] = []
        fresh = False
        for action in self.actions(engine, env, node):
            if fresh:
                engine, env = self.replay(node)
                fresh = False
            self.result.actions_tried += 1
            before_old = None
            decision: Decision | None = None
            if action.method == "restart_as_new":
                old_id = env[action.args[0].name]
                old = engine.invocations.get(old_id)
                before_old = dump_invocation(engine, old) if old is not None else None
                kw = dict(action.kwargs)
                decision = engine.explain_restart_as_new(old_id, kw["from_"], kw["deployment"])
            self.log.clear()
            try:
                action.run(engine, env)
            except LifecycleError as error:
                self.result.refused += 1
                self.log.clear()
                if decision is not None and _outcome(decision) != (error.check, error.http_status, error.reason):
                    self.violation(
                        "restart-agrees-with-explain",
                        f"explain said {_outcome(decision)}, restart raised "
                        f"{(error.check, error.http_status, error.reason)}",
                        node.trace,
                        action,
                    )
                after = self.abstract(engine, env, node.env_invocations, node.env_deployments)
                if after != state:
                    self.violation(
                        "refusal-changes-nothing",
                        f"{action.render()} raised {error.http_status} {error.reason} but changed the world",
                        node.trace,
                        action,
                    )
                    fresh = True
                continue
            fresh = True
            self.result.edges += 1
            self.result.operations[action.method] += 1
            for s, t, i in self.log:
                dest = self.lifecycle.table[(s, t)][i][3] or s  # None: an internal transition
                self.result.transitions[(s, t, dest)] += 1
                self.result.triggers[t] += 1
                self.fired.add((s, t, i))
            self.log.clear()
            trace = node.trace + (action,)
            child_invs = node.env_invocations + (
                (action.bind,) if action.bind and action.bind.startswith("inv") else ()
            )
            child_deps = node.env_deployments + ((action.bind,) if action.bind and action.bind.startswith("dp") else ())
            if decision is not None:
                self.check_restart(engine, env, decision, before_old, action, trace)
            child_state = self.abstract(engine, env, child_invs, child_deps)
            child = self.index.get(child_state)
            if child is None:
                child_node = _Node(trace, child_invs, child_deps, node.depth + 1)
                child = self.add_state(child_state, child_node)
                self.check_state(engine, trace)
                if self.explain_witnesses(engine, env, child_node, child_state):
                    fresh = True  # explain changed the engine: already reported, and it must be rebuilt
                new.append(child)
            self.adjacency[idx].add(child)
        return new

    def check_restart(
        self,
        engine: Engine,
        env: dict[str, str],
        decision: Decision,
        before_old: dict[str, Any] | None,
        action: Action,
        trace: tuple[Action, ...],
    ) -> None:
        assert action.bind is not None
        old_id = env[action.args[0].name]
        new_id = env[action.bind]
        if decision.error is not None:
            self.violation(
                "restart-agrees-with-explain", f"explain said {_outcome(decision)}, restart succeeded", trace
            )
            return
        old = engine.invocations.get(old_id)
        if old is None or dump_invocation(engine, old) != before_old:
            self.violation("restart-old-unchanged", f"{old_id} changed by restart_as_new", trace)
        if new_id == old_id or new_id[:16] != old_id[:16]:
            self.violation("restart-same-partition", f"new id {new_id} for old {old_id}", trace)
        new = engine.invocations.get(new_id)
        if new is None or new.restarted_from != old_id or new.state not in ("running", "inboxed"):
            self.violation(
                "restart-new-state",
                f"new invocation {new!r} restarted_from {getattr(new, 'restarted_from', None)}",
                trace,
            )
        elif decision.plan is not None and new.journal != decision.plan.journal:
            self.violation("restart-agrees-with-explain", "the new journal is not the planned one", trace)

    def finish(self) -> None:
        r = self.result
        r.states = len(self.nodes)
        for (state, trigger), branches in sorted(
            self.lifecycle.table.items(), key=lambda kv: (STATES.index(kv[0][0]), kv[0][1])
        ):
            for i, (guards, unless, checks, dest) in enumerate(branches):
                if refuses(checks):
                    continue  # a refusal row: it answers, it never fires
                if (state, trigger, i) not in self.fired:
                    label = f"{state} --{trigger}--> {dest or state}"
                    if guards or unless:
                        label += " [" + ", ".join([*guards, *(f"not {u}" for u in unless)]) + "]"
                    r.rules_never_fired.append(label)
        seen: dict[str, set[str]] = {}
        left: set[str] = set()
        for src, _trig, dst in r.transitions:
            if src != dst:
                left.add(src)
        states_of: list[dict[str, str]] = []
        for abstract_state in self.index:
            invs = abstract_state[0]
            per: dict[str, str] = {}
            for inv in invs:
                per[inv[0]] = inv[1]
                if inv[1] != FREE:
                    seen.setdefault(self.service_types.get(inv[2], "?"), set()).add(inv[1])
            states_of.append(per)
        r.lifecycle_seen = {k: [s for s in LIVE_STATES if s in v] for k, v in sorted(seen.items())}
        all_seen = {s for v in seen.values() for s in v}
        r.lifecycle_never_left = [s for s in LIVE_STATES if s in all_seen and s not in left]
        # traps: an expanded state where some invocation is live and not completed, and no explored path ends it
        reverse: list[list[int]] = [[] for _ in self.nodes]
        for a, children in enumerate(self.adjacency):
            for b in children:
                reverse[b].append(a)
        names = sorted({n for per in states_of for n in per})
        for name in names:
            good = [i for i, per in enumerate(states_of) if per.get(name) in (COMPLETED, FREE)]
            reach = set(good)
            queue = deque(good)
            while queue:
                b = queue.popleft()
                for a in reverse[b]:
                    if a not in reach:
                        reach.add(a)
                        queue.append(a)
            for i, per in enumerate(states_of):
                node = self.nodes[i]
                # a state near the bound may need calls beyond it to escape (e.g. restore a partition, then kill)
                if (
                    per.get(name) not in (None, COMPLETED, FREE)
                    and i not in reach
                    and node.depth <= self.scope.max_depth - 2
                ):
                    r.traps.append((f"{name} {per[name]}", node.trace))


def _outcome(decision: Decision) -> tuple[int, int, str]:
    if decision.error is not None:
        return (decision.check.number, decision.error.http_status, decision.error.reason)
    return (decision.check.number, 200, "OK")


def explore(
    scope: Scope | None = None,
    *,
    lifecycle: Lifecycle | None = None,
    factory: EngineFactory | None = None,
    **bounds: Any,
) -> Exploration:
    """Explore every state reachable within ``scope`` (or ``Scope(**bounds)``).

    ``lifecycle`` runs the engine on a modified definition (e.g. to show that a broken rule is
    caught); ``factory(lifecycle)`` builds each fresh engine instead (it must be deterministic and
    use the lifecycle it is given). Witness programs assume ``Engine(seed=scope.seed)`` and say so
    when either is passed.
    """
    if scope is None:
        scope = Scope(**bounds)
    elif bounds:
        raise TypeError("pass either a Scope or keyword bounds, not both")
    return _Explorer(scope, lifecycle, factory).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsm.explore", description=__doc__.splitlines()[0])
    defaults = Scope()
    parser.add_argument("--depth", type=int, default=defaults.max_depth, help="engine calls after setup")
    parser.add_argument("--invocations", type=int, default=defaults.max_invocations)
    parser.add_argument("--journal", type=int, default=defaults.max_journal, help="entries appended up to")
    parser.add_argument("--deployments", type=int, default=defaults.max_deployments)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--no-programs", action="store_true", help="omit the witness programs")
    args = parser.parse_args(argv)
    scope = Scope(
        max_depth=args.depth,
        max_invocations=args.invocations,
        max_journal=args.journal,
        max_deployments=args.deployments,
        seed=args.seed,
    )
    result = explore(scope)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=1))
    else:
        sys.stdout.write(result.report(programs=not args.no_programs))
    return 1 if result.violations or result.missing_outcomes() else 0


if __name__ == "__main__":
    sys.exit(main())
