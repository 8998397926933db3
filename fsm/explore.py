"""Breadth-first exploration of everything a few invocations and their surroundings can go through.

    python -m fsm.tools.explore [--depth 6] [--invocations 2] [--journal 4] [--deployments 2] [--format text|json]

Why: the engine's rules are spread over a table, sixteen checks and a dozen operations; the
only way to know that no combination of them breaks an invariant, and that every answer of
restart-as-new and of the other admin operations can really happen, is to try them all on small
worlds. Exploration drives a real :class:`fsm.engine.Engine` through its public methods only, so
what it finds is what a user of the engine gets.

How:

- a node is the state reached by one more :class:`Action` (an engine call) from its parent; the
  search stores only that (parent, action, depth: a few bytes), and rebuilds a node's engine by
  forking its parent's (:meth:`fsm.engine.Engine.fork`) and running the action. Nodes are expanded
  in creation order, so consecutive nodes share their ancestors and each level costs about one
  fork and one call per node;
- a node's *abstract state* (:mod:`fsm.abstraction`) keeps what decides every later answer, with
  times relative to the clock (the clock only jumps to the next pending event, so the space is
  finite). The search keys nodes by its *canonical* form, where the order of invocations is
  forgotten: worlds that differ only by which invocation came first are visited once
  (``reduce=False`` keys by the plain abstract state, to show the reduction loses nothing). A key
  is a 16-byte digest;
- at every new state the invariants are checked (``Engine.check_invariants``, :data:`INVARIANTS`,
  the user's), restart-as-new is *explained* for a set of request shapes (pure), and every action
  tried is an answer: each distinct one (operation, status, reason, message) is kept, and the
  first world where an admin operation gives it becomes a witness case.

BFS order makes every witness and every counterexample a shortest one; ties are broken by
the fixed action order, so the output is stable and diffs cleanly.

What the search works with and reports (actions, the scope, witnesses, the report, witness
programs) is :mod:`fsm.exploration`; the names a caller needs are re-exported here. The command
line is :mod:`fsm.tools.explore`.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from transitions import Machine

from .abstraction import Abstraction, Ranks, State, canonical, next_event_ms
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
from .ids import encode_deployment_id, encode_invocation_id
from .lifecycle import COMPLETED, FREE, LIFECYCLE, LIVE_STATES, STATES, SUSPENDED, Lifecycle, refuses
from .model import COMMAND, Invocation
from .restart import Decision
from .snapshot import dump_invocation
from .witnesses import ADMIN_OPERATIONS, admin_case, answer_of, restart_case

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

#: A state's code in a node's per-invocation codes (0: not created yet).
_CODE = {state: i + 1 for i, state in enumerate(STATES)}
_ENDED = frozenset({_CODE[COMPLETED], _CODE[FREE]})
_NO_NAME = 255

K = TypeVar("K")
V = TypeVar("V")

#: Builds a fresh engine on the given lifecycle and machine (exploration watches the machine to see
#: which rows fire): e.g. ``lambda lifecycle, machine: Engine(seed=0, partitions=4, lifecycle=lifecycle,
#: machine=machine)``.
EngineFactory = Callable[[Lifecycle, Machine], Engine]

#: Told, as the search starts each level: the level's depth, the states found so far, the frontier.
Progress = Callable[[int, int, int], None]


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


def _intern(index: dict[K, int], table: list[V], key: K, value: V) -> int:
    """``key``'s number in ``index``; a new key is numbered next and its ``value`` appended to ``table``
    (nodes and edges store these small numbers instead of actions, ranks and name maps)."""
    number = index.get(key)
    if number is None:
        number = index[key] = len(table)
        table.append(value)
    return number


class _Explorer:
    def __init__(
        self,
        scope: Scope,
        lifecycle: Lifecycle | None,
        factory: EngineFactory | None,
        invariants: Mapping[str, Predicate],
        goals: Mapping[str, Predicate],
        progress: Progress | None,
        reduce: bool,
    ) -> None:
        self.scope = scope
        self.progress = progress
        self.reduce = reduce
        self.invariants = dict(invariants)
        self.goals = dict(goals)
        self.lifecycle = LIFECYCLE if lifecycle is None else lifecycle
        self.log: list[tuple[str, str, int]] = []
        self.machine = _recording_machine(self.lifecycle, self.log)
        self.factory = factory
        self.abstraction = Abstraction()
        self.result = Exploration(scope, custom_lifecycle=lifecycle is not None or factory is not None)
        self.result.user_invariants = list(self.invariants)
        self.result.goals = dict.fromkeys(self.goals)
        self.service_types = {s.name: s.type for s in scope.services}
        self._explained: set[tuple[Any, ...]] = set()
        self._answers: dict[tuple[str, int, str | None, str | None], Any] = {}  # raw answers seen
        self.fired: set[tuple[str, str, int]] = set()
        self.seen: dict[str, set[str]] = {}
        # the nodes, a few bytes each: parent, the action from it, depth, names bound, ranks, codes
        self.keys: dict[bytes, int] = {}
        self.parents = array("i")
        self.steps = array("I")
        self.depths = bytearray()
        self.inv_counts = bytearray()
        self.dep_counts = bytearray()
        self.rank_ids = bytearray()
        self.codes = bytearray()  # scope.max_invocations bytes per node
        self.escapes = bytearray()  # per node: bit i set when a call ends invocation i+1 at once
        self.actions_by_id: list[Action] = []
        self.action_ids: dict[str, int] = {}  # by what the action renders as
        self.rank_table: list[Ranks] = []
        self.rank_index: dict[Ranks, int] = {}
        # the edges (for traps): parent, child, and where the parent's names are among the child's
        self.edge_from = array("I")
        self.edge_to = array("I")
        self.edge_map = array("H")
        self.maps: list[tuple[int, ...]] = []
        self.map_index: dict[tuple[int, ...], int] = {}
        # the engines of the last node rebuilt at each depth (its ancestors), reused by its siblings
        self.cache: list[tuple[int, Engine, dict[str, str]]] = []

    # --- engines ---

    def fresh(self) -> Engine:
        if self.factory is not None:
            engine = self.factory(self.lifecycle, self.machine)
        else:
            engine = Engine(seed=self.scope.seed, lifecycle=self.lifecycle, machine=self.machine)
        env: dict[str, str] = {}
        for action in self.scope.prologue():
            action.run(engine, env)
        self.log.clear()
        return engine

    def engine_of(self, node: int) -> tuple[Engine, dict[str, str]]:
        """The engine at ``node`` (not to be changed: fork it), rebuilt from its nearest cached ancestor
        (the root's, built by :meth:`run`, stays cached at depth 0)."""
        depth = self.depths[node]
        if depth < len(self.cache) and self.cache[depth][0] == node:
            return self.cache[depth][1], self.cache[depth][2]
        parent, parent_env = self.engine_of(self.parents[node])
        engine, env = parent.fork(), dict(parent_env)
        self.actions_by_id[self.steps[node]].run(engine, env)
        self.log.clear()
        del self.cache[depth:]
        self.cache.append((node, engine, env))
        return engine, env

    def trace_of(self, node: int) -> tuple[Action, ...]:
        out: list[Action] = []
        while node > 0:
            out.append(self.actions_by_id[self.steps[node]])
            node = self.parents[node]
        return tuple(reversed(out))

    # --- states ---

    def key_of(self, state: State) -> tuple[bytes, Ranks]:
        if self.reduce:
            form, ranks = canonical(state)
        else:
            form, ranks = state, tuple(range(len(state[0])))
        return hashlib.blake2b(repr(form).encode(), digest_size=16).digest(), ranks

    def add_node(
        self, key: bytes, parent: int, action: Action | None, depth: int, state: State, ranks: Ranks, deps: int
    ) -> int:
        node = len(self.depths)
        self.keys[key] = node
        self.parents.append(parent)
        self.steps.append(
            0 if action is None else _intern(self.action_ids, self.actions_by_id, action.render(), action)
        )
        self.depths.append(depth)
        invs = state[0]
        self.inv_counts.append(len(invs))
        self.dep_counts.append(deps)
        self.rank_ids.append(_intern(self.rank_index, self.rank_table, ranks, ranks))
        codes = [0] * self.scope.max_invocations
        for i, entry in enumerate(invs):
            codes[i] = _CODE[entry[1]]
            if entry[1] != FREE:
                self.seen.setdefault(self.service_types.get(entry[2], "?"), set()).add(entry[1])
        self.codes.extend(codes)
        self.escapes.append(0)
        while len(self.result.by_depth) <= depth:
            self.result.by_depth.append(0)
        self.result.by_depth[depth] += 1
        return node

    def add_edge(self, parent: int, parent_names: int, child: int, ranks: Ranks) -> None:
        """An edge, with where each of the parent's invocations is among the child's names."""
        child_ranks = self.rank_table[self.rank_ids[child]]
        by_rank = {rank: name for name, rank in enumerate(child_ranks)}
        mapping = tuple(by_rank[ranks[name]] for name in range(parent_names))
        self.edge_map.append(_intern(self.map_index, self.maps, mapping, mapping))
        self.edge_from.append(parent)
        self.edge_to.append(child)

    # --- actions ---

    def actions(self, engine: Engine, env: dict[str, str], invocations: int, deployments: int) -> list[Action]:
        """Every call worth trying here, in a fixed order (the order breaks ties between witnesses)."""
        s = self.scope
        out: list[Action] = []
        if deployments < s.max_deployments:
            bind = f"dp{deployments + 1}"
            for protocol in s.protocols:
                out.append(Action("register_deployment", (s.service_names(),), (("protocol", protocol),), bind=bind))
        if invocations < s.max_invocations:
            bind = f"inv{invocations + 1}"
            targets = s.services if invocations == 0 else [x for x in s.services if x.name in s.later_calls]
            for shape in targets:
                for delay in s.delays_ms:
                    args: tuple[Any, ...] = (shape.name, "run") if shape.key is None else (shape.name, "run", shape.key)
                    kwargs = (("delay_ms", delay),) if delay else ()
                    out.append(Action("call", args, kwargs, bind=bind))
        for i in range(1, invocations + 1):
            name = f"inv{i}"
            inv = engine.invocations.get(env[name])
            if inv is not None:
                out += self.invocation_actions(engine, inv, name, invocations)
        for i in range(1, deployments + 1):
            if env[f"dp{i}"] in engine.deployments:
                out.append(Action("remove_deployment", (Ref(f"dp{i}"),)))
        delta = next_event_ms(engine)
        if delta is not None:
            out.append(Action("advance", (delta,)))
        return out

    def invocation_actions(self, engine: Engine, inv: Invocation, name: str, invocations: int) -> list[Action]:
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
        if invocations < s.max_invocations:
            bind = f"inv{invocations + 1}"
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
        unavailable = self.abstraction.unavailable(engine, inv.id)
        out.append(Action("set_partition_available", (PartitionOf(name), unavailable)))
        return out

    # --- restart shapes for witnesses ---

    def restart_shapes(
        self, engine: Engine, env: dict[str, str], state: State, deployments: int, root: bool
    ) -> Iterator[RestartShape]:
        """Request shapes whose answer may be new here.

        The answer depends only on the target's abstraction (state, service, journal, pin, partition),
        the deployments (order, presence, ranges) and the request, so a target seen alike at a
        shallower state cannot give a new (or shorter) witness.
        """
        choices: list[Any] = (
            [None, "keep", "latest"]
            + [Ref(f"dp{i}") for i in range(1, deployments + 1)]
            + [UNKNOWN_DEPLOYMENT, MALFORMED_DEPLOYMENT]
        )
        if root:
            for target in (MALFORMED_ID, ABSENT_ID):
                for from_ in (None, 0, MALFORMED_FROM):
                    for dep in choices:
                        yield RestartShape(target, from_, dep)
        invs, deps, _ = state
        for abstract_inv in invs:
            name = abstract_inv[0]
            inv = engine.invocations.get(env[name])
            length = len(inv.journal) if inv is not None and inv.journal is not None else 1
            froms: list[int | str | None] = list(
                dict.fromkeys([None, 0, 1, length - 1, length, U32_MAX, MALFORMED_FROM])
            )
            unavailable = self.abstraction.unavailable(engine, env[name])
            if inv is None or inv.state != COMPLETED:
                # checks 1-7 decide: only the state, the partition and malformed parameters matter
                target_key: tuple[Any, ...] = (abstract_inv[1], unavailable)
                if target_key in self._explained:
                    continue
                self._explained.add(target_key)
                for from_ in (None, MALFORMED_FROM):
                    for dep in (None, MALFORMED_DEPLOYMENT):
                        yield RestartShape(Ref(name), from_, dep)
                continue
            # state, service, completion, journal, pin, protocol; not locks, timers or retention clocks
            target_key = (abstract_inv[1:7], unavailable, deps)
            if target_key in self._explained:
                continue
            self._explained.add(target_key)
            for from_ in froms:
                for dep in choices:
                    yield RestartShape(Ref(name), from_, dep)

    def explain_witnesses(self, engine: Engine, env: dict[str, str], node: int, state: State) -> None:
        """Explain every new request shape at this state; report it if that (wrongly) changed the world."""
        explained = False
        deployments = self.dep_counts[node]
        for shape in self.restart_shapes(engine, env, state, deployments, root=node == 0):
            target = resolve(shape.target, engine, env)
            dep = resolve(shape.deployment, engine, env)
            decision = engine.explain_restart_as_new(target, shape.from_, dep)
            explained = True
            outcome = _outcome(decision)
            if outcome not in self.result.witnesses:
                message = decision.error.message if decision.error is not None else "new invocation created"
                trace = self.trace_of(node)
                self.result.witnesses[outcome] = Witness(outcome, trace, shape, message)
                steps = [a.render() for a in trace]
                self.result.cases[outcome] = restart_case(engine, outcome, steps, target, shape.from_, dep)
        if explained and self.abstraction.state(engine, env, self.inv_counts[node], deployments) != state:
            self.violation("explain-is-pure", "explain_restart_as_new changed the world", self.trace_of(node))

    # --- answers ---

    def note_answer(
        self,
        node: int,
        engine: Engine,
        env: dict[str, str],
        action: Action,
        status: int,
        reason: str | None,
        message: str | None,
    ) -> None:
        """An action's answer; the first world where an admin operation gives a new one is its witness."""
        raw = (action.method, status, reason, message)
        answer = self._answers.get(raw)
        if answer is not None:
            return
        answer = self._answers[raw] = answer_of(*raw)
        if answer in self.result.answers:
            return
        self.result.answers.add(answer)
        if action.method in ADMIN_OPERATIONS:
            kw = dict(action.kwargs)
            target = resolve(action.args[0], engine, env)
            name = f"explore/{action.method}-{status}-{reason or 'OK'}"
            taken = sum(1 for case in self.result.admin_cases.values() if case["name"].startswith(name))
            steps = [a.render() for a in self.trace_of(node)]
            case = admin_case(
                engine, name + (f"-{taken + 1}" if taken else ""), action.method, target, kw.get("deployment"), steps
            )
            self.result.admin_cases[answer] = case

    # --- invariants ---

    def violation(self, invariant: str, message: str, trace: tuple[Action, ...], last: Action | None = None) -> None:
        if invariant not in self.result.violations:
            self.result.violations[invariant] = Violation(invariant, message, trace, last)

    def check_state(self, engine: Engine, node: int) -> None:
        try:
            engine.check_invariants()
        except AssertionError as exc:
            self.violation("engine", str(exc), self.trace_of(node))
        for inv in engine.invocations.values():
            if (inv.state == COMPLETED) != (inv.completion is not None):
                self.violation(
                    "completion", f"{inv.id} is {inv.state} with completion {inv.completion!r}", self.trace_of(node)
                )
            if inv.awaiting is not None and inv.state != SUSPENDED:
                self.violation(
                    "awaiting", f"{inv.id} is {inv.state} but awaits completion {inv.awaiting}", self.trace_of(node)
                )
        if self.invariants or self.goals:
            engine = engine.fork()  # a user's predicate cannot change the explored engine
        for name, holds in self.invariants.items():
            try:
                verdict = self.ask(name, holds, engine, node)
            except AssertionError as broken:
                self.violation(name, str(broken) or "an assertion failed", self.trace_of(node))
                continue
            if verdict is False:
                self.violation(name, "returned False", self.trace_of(node))
        for name, reached in self.goals.items():
            if self.result.goals[name] is None and self.ask(name, reached, engine, node):
                self.result.goals[name] = self.trace_of(node)

    def ask(self, name: str, predicate: Predicate, engine: Engine, node: int) -> object:
        """A user's predicate on this state; a bug in it (anything but AssertionError) stops the search."""
        try:
            return predicate(engine)
        except AssertionError:
            raise
        except Exception as exc:
            calls = "; ".join(a.render() for a in self.trace_of(node)) or "the setup alone"
            raise PredicateError(
                f"{name} raised {type(exc).__name__}: {exc} (at the state reached by: {calls})"
            ) from exc

    # --- the search ---

    def run(self) -> Exploration:
        engine, env = self.fresh(), dict[str, str]()
        self.cache = [(0, engine, env)]
        state = self.abstraction.state(engine, env, 0, 0)
        key, ranks = self.key_of(state)
        self.add_node(key, 0, None, 0, state, ranks, 0)
        self.check_state(engine, 0)
        self.explain_witnesses(engine, env, 0, state)
        node = 0
        depth = -1
        while node < len(self.depths):
            if self.depths[node] != depth:  # a level starts
                depth = self.depths[node]
                if depth >= self.scope.max_depth:
                    break
                if self.progress is not None and depth > 0:
                    self.progress(depth, len(self.depths), len(self.depths) - node)
            self.result.expanded += 1
            self.expand(node)
            node += 1
        if self.progress is not None and depth > 0:
            self.progress(depth, len(self.depths), len(self.depths) - node)
        self.cache.clear()
        self.finish()
        return self.result

    def expand(self, node: int) -> None:
        base, env = self.engine_of(node)
        invocations, deployments = self.inv_counts[node], self.dep_counts[node]
        depth = self.depths[node]
        state = self.abstraction.state(base, env, invocations, deployments)
        engine: Engine | None = None
        work: dict[str, str] = {}
        for action in self.actions(base, env, invocations, deployments):
            if engine is None:
                engine, work = base.fork(), dict(env)
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
                answer = action.run(engine, work)
            except LifecycleError as error:
                self.result.refused += 1
                self.log.clear()
                self.note_answer(node, base, env, action, error.http_status, error.reason, error.message)
                if decision is not None and _outcome(decision) != (error.check, error.http_status, error.reason):
                    self.violation(
                        "restart-agrees-with-explain",
                        f"explain said {_outcome(decision)}, restart raised "
                        f"{(error.check, error.http_status, error.reason)}",
                        self.trace_of(node),
                        action,
                    )
                if self.abstraction.state(engine, work, invocations, deployments) != state:
                    self.violation(
                        "refusal-changes-nothing",
                        f"{action.render()} raised {error.http_status} {error.reason} but changed the world",
                        self.trace_of(node),
                        action,
                    )
                    engine = None
                continue
            status = answer if action.method in ADMIN_OPERATIONS and isinstance(answer, int) else 200
            self.note_answer(node, base, env, action, status, None, None)
            child_engine, child_env, engine = engine, work, None
            self.result.edges += 1
            self.result.operations[action.method] += 1
            for s, t, i in self.log:
                dest = self.lifecycle.table[(s, t)][i][3] or s  # None: an internal transition
                self.result.transitions[(s, t, dest)] += 1
                self.result.triggers[t] += 1
                self.fired.add((s, t, i))
            self.log.clear()
            bound = action.bind or ""
            child_invs = invocations + bound.startswith("inv")
            child_deps = deployments + bound.startswith("dp")
            if decision is not None:
                self.check_restart(child_engine, child_env, decision, before_old, action, node)
            child_state = self.abstraction.state(child_engine, child_env, child_invs, child_deps)
            for i, entry in enumerate(child_state[0][:invocations]):
                if entry[1] in (COMPLETED, FREE):
                    self.escapes[node] |= 1 << i
            key, ranks = self.key_of(child_state)
            child = self.keys.get(key)
            if child is None:
                child = self.add_node(key, node, action, depth + 1, child_state, ranks, child_deps)
                self.check_state(child_engine, child)
                self.explain_witnesses(child_engine, child_env, child, child_state)
            self.add_edge(node, invocations, child, ranks)

    def check_restart(
        self,
        engine: Engine,
        env: dict[str, str],
        decision: Decision,
        before_old: dict[str, Any] | None,
        action: Action,
        node: int,
    ) -> None:
        assert action.bind is not None
        old_id = env[action.args[0].name]
        new_id = env[action.bind]

        def broken(invariant: str, message: str) -> None:  # after the restart itself
            self.violation(invariant, message, self.trace_of(node) + (action,))

        if decision.error is not None:
            broken("restart-agrees-with-explain", f"explain said {_outcome(decision)}, restart succeeded")
            return
        old = engine.invocations.get(old_id)
        if old is None or dump_invocation(engine, old) != before_old:
            broken("restart-old-unchanged", f"{old_id} changed by restart_as_new")
        if new_id == old_id or new_id[:16] != old_id[:16]:
            broken("restart-same-partition", f"new id {new_id} for old {old_id}")
        new = engine.invocations.get(new_id)
        if new is None or new.restarted_from != old_id or new.state not in ("running", "inboxed"):
            broken("restart-new-state", f"new invocation {new!r} restarted_from {getattr(new, 'restarted_from', None)}")
        elif decision.plan is not None and new.journal != decision.plan.journal:
            broken("restart-agrees-with-explain", "the new journal is not the planned one")

    # --- the report ---

    def finish(self) -> None:
        r = self.result
        r.states = len(self.depths)
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
        left = {src for src, _trig, dst in r.transitions if src != dst}
        r.lifecycle_seen = {k: [s for s in LIVE_STATES if s in v] for k, v in sorted(self.seen.items())}
        all_seen = {s for v in self.seen.values() for s in v}
        r.lifecycle_never_left = [s for s in LIVE_STATES if s in all_seen and s not in left]
        r.traps = [(label, self.trace_of(node)) for label, node in self.traps()]

    def traps(self) -> list[tuple[str, int]]:
        """(invocation and state, node) where a live invocation, not completed, has no explored path
        to its end (completed or free), judged up to depth ``max_depth - 2`` (a state near the bound
        may need calls beyond it to escape, e.g. restore a partition, then kill).

        Most invocations end in one call (``escapes``); the others are followed backwards from
        every (node, invocation) that has ended, along edges that say where each invocation went.
        """
        k = self.scope.max_invocations
        limit = self.scope.max_depth - 2
        codes, escapes = self.codes, self.escapes
        ended = _ENDED
        open_pairs = [
            (node, i)
            for node in range(len(self.depths))
            if self.depths[node] <= limit
            for i in range(self.inv_counts[node])
            if codes[node * k + i] not in ended and not escapes[node] >> i & 1
        ]
        if not open_pairs:
            return []
        # reversed edges, grouped by child
        n = len(self.depths)
        starts = array("I", bytes(4 * (n + 1)))
        for child in self.edge_to:
            starts[child + 1] += 1
        for node in range(n):
            starts[node + 1] += starts[node]
        fill = array("I", starts)
        by_child = array("I", bytes(4 * len(self.edge_to)))
        for e, child in enumerate(self.edge_to):
            by_child[fill[child]] = e
            fill[child] += 1
        reached = bytearray(n * k)
        queue: deque[tuple[int, int]] = deque()
        for node in range(n):
            for i in range(self.inv_counts[node]):
                if codes[node * k + i] in ended:
                    reached[node * k + i] = 1
                    queue.append((node, i))
        while queue:
            child, name = queue.popleft()
            for e in by_child[starts[child] : starts[child + 1]]:
                parent = self.edge_from[e]
                for i, where in enumerate(self.maps[self.edge_map[e]]):
                    if where == name and not reached[parent * k + i]:
                        reached[parent * k + i] = 1
                        queue.append((parent, i))
        return [
            (f"inv{i + 1} {STATES[codes[node * k + i] - 1]}", node)
            for node, i in open_pairs
            if not reached[node * k + i]
        ]


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
    reduce: bool = True,
    **bounds: Any,
) -> Exploration:
    """Explore every state reachable within ``scope`` (or ``Scope(**bounds)``).

    ``invariants`` (name -> predicate) are checked at every new state besides the built-in ones: a
    predicate that returns ``False`` or raises ``AssertionError`` breaks, and the report holds the
    shortest calls that break it. ``goals`` (name -> predicate) are looked for: the first state
    where one returns a true value is reported with the shortest calls that reach it. Name a
    predicate ``"MODULE:FUNC"`` and its counterexample program imports and asserts it. A predicate
    sees one state per abstract state (:mod:`fsm.abstraction`: lifecycle states, journal shapes,
    locks, timers relative to the clock, ...), on a fork of the explored engine; one that raises
    anything else stops the search with :class:`fsm.exploration.PredicateError`.
    ``progress(depth, states, frontier)`` is called as the breadth-first search starts each level
    and once at the end (the command line prints it on stderr).

    ``reduce=False`` visits states that differ only by the order of their invocations separately:
    slower, and it finds the same answers and verdicts (a test checks it).

    ``lifecycle`` runs the engine on a modified definition (e.g. to show that a broken rule is
    caught); ``factory(lifecycle, machine)`` builds each fresh engine instead (it must be
    deterministic and use the lifecycle and machine it is given). Witness programs assume
    ``Engine(seed=scope.seed)`` and say so when either is passed.
    """
    if scope is None:
        scope = Scope(**bounds)
    elif bounds:
        raise TypeError("pass either a Scope or keyword bounds, not both")
    return _Explorer(scope, lifecycle, factory, invariants or {}, goals or {}, progress, reduce).run()
