"""Breadth-first exploration of everything one invocation and its surroundings can go through.

    python -m fsm.tools.explore [--depth 6] [--invocations 2] [--journal 4] [--deployments 2] [--format text|json]

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

What the search works with and reports (actions, the scope, witnesses, the report, witness
programs) is :mod:`fsm.exploration`; the names a caller needs are re-exported here. The command
line is :mod:`fsm.tools.explore`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from transitions import Machine

from .engine import Engine
from .errors import LifecycleError
from .exploration import (
    INVARIANTS,
    NOT_REACHABLE_BY_OPERATIONS,
    OUTCOMES,
    Action,
    Exploration,
    PartitionOf,
    Predicate,
    PredicateError,
    Ref,
    RestartShape,
    Scope,
    ServiceShape,
    Violation,
    Witness,
    resolve,
    violation_program,
    witness_program,
)
from .ids import encode_deployment_id, encode_invocation_id, partition_key_of
from .lifecycle import COMPLETED, FREE, LIFECYCLE, LIVE_STATES, STATES, SUSPENDED, Lifecycle, refuses
from .model import COMMAND, Invocation
from .restart import Decision
from .snapshot import dump_invocation, dump_world, load_world

__all__ = [
    "INVARIANTS",
    "NOT_REACHABLE_BY_OPERATIONS",
    "OUTCOMES",
    "Action",
    "EngineFactory",
    "Exploration",
    "Predicate",
    "PredicateError",
    "Scope",
    "ServiceShape",
    "Violation",
    "Witness",
    "explore",
    "violation_program",
    "witness_program",
]

U32_MAX = (1 << 32) - 1
#: A well-formed invocation id that never exists in an explored world (checks 3-5 without a call).
ABSENT_ID = encode_invocation_id(1, 1)
#: A well-formed deployment id that is never registered (check 12 with an id).
UNKNOWN_DEPLOYMENT = encode_deployment_id(1)
MALFORMED_ID = "abc"
MALFORMED_DEPLOYMENT = "dp_bad"
MALFORMED_FROM = "abc"


#: Builds a fresh engine on the given lifecycle and machine (exploration watches the machine to see
#: which rows fire): e.g. ``lambda lifecycle, machine: Engine(seed=0, partitions=4, lifecycle=lifecycle,
#: machine=machine)``.
EngineFactory = Callable[[Lifecycle, Machine], Engine]


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


#: Told, as the search starts each level: the level's depth, the states found so far, the frontier.
Progress = Callable[[int, int, int], None]


# --- abstraction ---------------------------------------------------------------------------------------

State = tuple[Any, ...]


@dataclass
class _Node:
    trace: tuple[Action, ...]
    env_invocations: tuple[str, ...]  # variable names, creation order
    env_deployments: tuple[str, ...]
    depth: int


class _Explorer:
    def __init__(
        self,
        scope: Scope,
        lifecycle: Lifecycle | None,
        factory: EngineFactory | None,
        invariants: Mapping[str, Predicate],
        goals: Mapping[str, Predicate],
        progress: Progress | None = None,
    ) -> None:
        self.scope = scope
        self.progress = progress
        self.invariants = dict(invariants)
        self.goals = dict(goals)
        self.lifecycle = LIFECYCLE if lifecycle is None else lifecycle
        self.log: list[tuple[str, str, int]] = []
        self.machine = _recording_machine(self.lifecycle, self.log)
        self.factory = factory
        self.prologue = scope.prologue()
        self.result = Exploration(scope, custom_lifecycle=lifecycle is not None or factory is not None)
        self.result.user_invariants = list(self.invariants)
        self.result.goals = dict.fromkeys(self.goals)
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
            target = resolve(shape.target, engine, env)
            dep = resolve(shape.deployment, engine, env)
            decision = engine.explain_restart_as_new(target, shape.from_, dep)
            explained = True
            outcome = _outcome(decision)
            if outcome not in self.result.witnesses:
                message = decision.error.message if decision.error is not None else "new invocation created"
                self.result.witnesses[outcome] = Witness(outcome, node.trace, shape, message)
                self.result.cases[outcome] = witness_case(engine, outcome, node.trace, target, shape.from_, dep)
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
        for name, holds in self.invariants.items():
            try:
                verdict = self.ask(name, holds, engine, trace)
            except AssertionError as broken:
                self.violation(name, str(broken) or "an assertion failed", trace)
                continue
            if verdict is False:
                self.violation(name, "returned False", trace)
        for name, reached in self.goals.items():
            if self.result.goals[name] is None and self.ask(name, reached, engine, trace):
                self.result.goals[name] = trace

    def ask(self, name: str, predicate: Predicate, engine: Engine, trace: tuple[Action, ...]) -> object:
        """A user's predicate on this state; a bug in it (anything but AssertionError) stops the search."""
        try:
            return predicate(engine)
        except AssertionError:
            raise
        except Exception as exc:
            calls = "; ".join(a.render() for a in trace) or "the setup alone"
            raise PredicateError(
                f"{name} raised {type(exc).__name__}: {exc} (at the state reached by: {calls})"
            ) from exc

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
        depth = 0
        while frontier:
            idx = frontier.popleft()
            node = self.nodes[idx]
            if self.progress is not None and node.depth != depth:  # a level is done: say how far
                depth = node.depth
                self.progress(depth, len(self.nodes), len(frontier) + 1)
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


def witness_case(
    engine: Engine,
    outcome: tuple[int, int, str],
    trace: tuple[Action, ...],
    target: Any,
    from_: int | str | None,
    deployment: Any,
) -> dict[str, Any]:
    """A witness as a conformance case: the world now, the request, and what a copy of the world
    answers it (the original is left as it is)."""
    world = dump_world(engine)
    copy = load_world(world, seed=0)
    raw_from = None if from_ is None else str(from_)
    raw_deployment = None if deployment is None else str(deployment)
    query = [
        f"{name}={quote(value, safe='')}"
        for name, value in (("from", raw_from), ("deployment", raw_deployment))
        if value is not None
    ]
    expect: dict[str, Any]
    try:
        result = copy.restart_as_new(target, from_, deployment)
    except LifecycleError as refused:
        expect = {"http_status": refused.http_status, "message": refused.message}
    else:
        new = copy.invocations[result.new_invocation_id]
        expect = {
            "http_status": 200,
            "message": None,
            "new_invocation": {
                "copied_indexes": list(range(len(new.journal or ()))),
                "pinned_deployment_id": new.pinned_deployment,
                "pinned_protocol": new.pinned_protocol,
                "status": new.state,
                "restarted_from": target,
            },
        }
    check, status, reason = outcome
    return {
        "name": f"explore/check{check}-{status}-{reason}",
        "transport": "any",
        "world": world,
        "request": {
            "invocation_id": target,
            "from": raw_from,
            "deployment": raw_deployment,
            "query_string": "&".join(query),
        },
        "expect": expect,
        "steps": [a.render() for a in trace],
    }


def _outcome(decision: Decision) -> tuple[int, int, str]:
    if decision.error is not None:
        return (decision.check.number, decision.error.http_status, decision.error.reason)
    return (decision.check.number, 200, "OK")


def explore(
    scope: Scope | None = None,
    *,
    lifecycle: Lifecycle | None = None,
    factory: EngineFactory | None = None,
    invariants: Mapping[str, Predicate] | None = None,
    goals: Mapping[str, Predicate] | None = None,
    progress: Progress | None = None,
    **bounds: Any,
) -> Exploration:
    """Explore every state reachable within ``scope`` (or ``Scope(**bounds)``).

    ``invariants`` (name -> predicate) are checked at every new state besides the built-in ones: a
    predicate that returns ``False`` or raises ``AssertionError`` breaks, and the report holds the
    shortest calls that break it. ``goals`` (name -> predicate) are looked for: the first state
    where one returns a true value is reported with the shortest calls that reach it. Name a
    predicate ``"MODULE:FUNC"`` and its counterexample program imports and asserts it. A predicate
    sees one state per abstract state (:mod:`fsm.explore`'s abstraction: lifecycle states, journal
    shapes, locks, timers relative to the clock, ...); one that raises anything else stops the
    search with :class:`fsm.exploration.PredicateError`. ``progress(depth, states, frontier)`` is
    called as the breadth-first search starts each level (the command line prints it on stderr).

    ``lifecycle`` runs the engine on a modified definition (e.g. to show that a broken rule is
    caught); ``factory(lifecycle)`` builds each fresh engine instead (it must be deterministic and
    use the lifecycle it is given). Witness programs assume ``Engine(seed=scope.seed)`` and say so
    when either is passed.
    """
    if scope is None:
        scope = Scope(**bounds)
    elif bounds:
        raise TypeError("pass either a Scope or keyword bounds, not both")
    return _Explorer(scope, lifecycle, factory, invariants or {}, goals or {}, progress).run()
