"""The admin operations, answering as Restate's admin API does: each one is a trigger.

``cancel``, ``kill``, ``purge``, ``purge_journal``, ``pause``, ``resume`` and ``restart_as_new``
first validate what needs no invocation state (the id parses, the partition answers, the
invocation exists; resume's and restart's query parameters), then ask the lifecycle where their
trigger leads from the invocation's state: a refusal row raises Restate's answer, a check raises
its refusal (restart-as-new's checks 8-15, resume's deployment checks), and an accepted row gives
the HTTP status. Only then is anything written. :meth:`Admin.explain_restart_as_new` walks the
same path and stops before writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import restart
from .deployments import resolve_deployment
from .errors import LifecycleError, wrong_type
from .lifecycle import COMPLETED, FREE, NO_FACTS, SUSPENDED
from .model import FAILURE, KILLED_FAILURE, NOTIFICATION, Entry, Invocation
from .requests import KEEP, parse_deployment
from .world import World


@dataclass(frozen=True)
class RestartResult:
    """The answer of a successful restart-as-new."""

    new_invocation_id: str
    restarted_from: str
    copied_indexes: list[int]
    pinned_deployment_id: str | None
    pinned_protocol: int | None
    status: str


class Admin:
    """The admin operations over one world."""

    def __init__(self, world: World) -> None:
        self._world = world

    def _accept(
        self, operation: str, invocation_id: Any, facts: dict[str, Any] | None = None
    ) -> tuple[Invocation, str, int]:
        """The invocation, where ``operation`` leads it, and the answer; or the refusal, raised."""
        world = self._world
        inv = world.lookup(invocation_id)
        dest = world.resolve(inv, operation, NO_FACTS if facts is None else facts)
        return inv, dest, world.lifecycle.answers[(inv.state, operation)]

    def cancel(self, invocation_id: Any) -> int:
        """200 and forgotten if not started; 202 and a cancel signal appended otherwise."""
        inv, dest, status = self._accept("cancel", invocation_id)
        if dest != FREE:
            journal = inv.journal
            assert journal is not None
            journal.append(Entry(len(journal), NOTIFICATION, "Signal", "cancel"))
            if inv.state == SUSPENDED:
                inv.awaiting = None
        self._world.move(inv, "cancel", dest)
        if dest == FREE:
            self._world.forget(inv)
        return status

    def kill(self, invocation_id: Any) -> int:
        """200: forgotten if not started, else completed with failure 'killed'."""
        world = self._world
        inv, dest, status = self._accept("kill", invocation_id)
        if dest == COMPLETED:
            world.stage_completion(inv, FAILURE, KILLED_FAILURE)
        world.move(inv, "kill", dest)
        if dest == FREE:
            world.forget(inv)
        else:
            world.completed(inv)
        return status

    def purge(self, invocation_id: Any) -> int:
        inv, dest, status = self._accept("purge", invocation_id)
        self._world.move(inv, "purge", dest)
        self._world.forget(inv)
        return status

    def purge_journal(self, invocation_id: Any) -> int:
        inv, dest, status = self._accept("purge_journal", invocation_id)
        inv.journal = None
        self._world.move(inv, "purge_journal", dest)
        return status

    def pause(self, invocation_id: Any) -> int:
        """202 for a running invocation (it pauses); 200 if suspended or already paused."""
        inv, dest, status = self._accept("pause", invocation_id)
        inv.next_attempt_ms = None  # a paused invocation waits for resume, not for its retry timer
        self._world.move(inv, "pause", dest)
        return status

    def resume(self, invocation_id: Any, deployment: Any = None) -> int:
        """Resume a suspended or paused invocation, optionally on another deployment; its retry count
        starts again from 0 (Restate starts a new run of attempts with a fresh retry policy).

        ``deployment`` is ``keep`` (the default), ``latest`` or a deployment id; changing it needs
        a pinned invocation that is suspended or paused.
        """
        world = self._world
        if not isinstance(invocation_id, str) or invocation_id not in world.invocations:
            world.parse_id(invocation_id)  # a malformed id is refused before the deployment is read
        _check_deployment_type(deployment)
        selector = KEEP if deployment is None else parse_deployment(deployment)
        facts = {"selector": selector, "view": world.registry}
        inv, dest, status = self._accept("resume", invocation_id, facts)
        if selector is not KEEP:
            target = resolve_deployment(world.registry, inv.service, selector)
            assert target is not None, "resume's check passed"
            inv.pinned_deployment = target.id
        inv.awaiting = None
        inv.retry_count = 0  # a resumed invocation starts a fresh run of attempts (its last failure stays)
        inv.next_attempt_ms = None
        world.move(inv, "resume", dest, facts)
        return status

    # --- restart-as-new -------------------------------------------------------------------------

    @staticmethod
    def _check_types(invocation_id: Any, deployment: Any) -> None:
        if not isinstance(invocation_id, str):
            raise wrong_type("invocation_id", f"must be a string, got {type(invocation_id).__name__}")
        _check_deployment_type(deployment)

    def explain_restart_as_new(self, invocation_id: Any, from_: Any = None, deployment: Any = None) -> restart.Decision:
        """Which check decides, and what a success would create; changes nothing."""
        self._check_types(invocation_id, deployment)
        world = self._world
        inv: Invocation | None = None
        request: restart.RestartRequest | None = None
        try:
            request, inv = restart.validate_request(world, invocation_id, from_, deployment)
            world.resolve(inv, "restart_as_new", {"request": request, "view": world.registry})
        except LifecycleError as exc:
            assert exc.check is not None, f"every restart-as-new refusal carries its check: {exc!r}"
            resolved = None
            if inv is not None and request is not None:
                resolved = restart.resolved_deployment(inv, request, world.registry, exc.check)
            return restart.Decision(restart.CHECKS_BY_NUMBER[exc.check], error=exc, resolved_deployment=resolved)
        plan = restart.plan(inv, request, world.registry)
        number = 10 if plan.old_protocol else 16
        return restart.Decision(
            restart.CHECKS_BY_NUMBER[number],
            plan=plan,
            resolved_deployment=restart.resolved_deployment(inv, request, world.registry, number),
        )

    def restart_as_new(self, invocation_id: Any, from_: Any = None, deployment: Any = None) -> RestartResult:
        """Create a new invocation from a completed one (behaviour.md sections 3-5)."""
        self._check_types(invocation_id, deployment)
        world = self._world
        request, old = restart.validate_request(world, invocation_id, from_, deployment)  # checks 1-5
        facts = {"request": request, "view": world.registry}
        dest = world.resolve(old, "restart_as_new", facts)  # checks 6-15
        plan = restart.plan(old, request, world.registry)  # check 16
        world.move(old, "restart_as_new", dest, facts)  # internal: the old invocation stays completed
        inv = world.new_invocation(old.service, old.handler, old.key, plan.partition_key)
        inv.journal_retention_s = old.journal_retention_s
        inv.completion_retention_s = old.completion_retention_s
        inv.journal = list(plan.journal)
        inv.next_completion_id = 1 + max((c for e in plan.journal for c in e.completion_ids), default=0)
        inv.pinned_deployment = plan.pinned_deployment
        inv.pinned_protocol = plan.pinned_protocol
        inv.restarted_from = old.id
        world.enter(inv, "restarted")
        world.restarted_as.setdefault(old.id, []).append(inv.id)
        return RestartResult(
            inv.id, old.id, list(plan.copied_indexes), inv.pinned_deployment, inv.pinned_protocol, inv.state
        )


def _check_deployment_type(deployment: Any) -> None:
    """``deployment`` is absent or a string (its text is parsed later, as Restate parses it)."""
    if deployment is not None and not isinstance(deployment, str):
        raise wrong_type("deployment", f"must be a string, got {type(deployment).__name__}")
