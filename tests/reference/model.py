"""A second, independent statement of the invocation lifecycle: a test oracle for ``fsm.engine``.

Written from ``behaviour.md`` (section numbers beside each rule) with plain dicts and functions. It
imports nothing from ``fsm``. Where behaviour.md says nothing (when a deployment is pinned, what the
handler steps refuse, the engine API's own error texts), it states the engine API's documented
contract, marked "engine API".
"""

from __future__ import annotations

from . import restart
from .ids import BadId, decode, partition_key
from .records import (
    COMPLETED,
    INBOXED,
    NOTIFICATION,
    PAUSED,
    RUNNING,
    SCHEDULED,
    SUSPENDED,
    VIRTUAL_OBJECT,
    Deployment,
    Entry,
    Invocation,
    Refusal,
    Restarted,
    Service,
    cannot_change_deployment,
    incompatible,
)

HOUR_MS = 3_600_000  # section 8: the cleaner runs every hour
DEFAULT_JOURNAL_RETENTION_S = 86_400  # section 8: 24 h

# --- section 2: the admin operations in every state --------------------------------------------------

_ALREADY_COMPLETED = (409, "ALREADY_COMPLETED", "The invocation '{id}' was already completed.")
_NOT_COMPLETED = (409, "NOT_COMPLETED", "The invocation '{id}' is not yet completed.")
_NOT_RUNNING = (409, "NOT_RUNNING", "The invocation '{id}' is not running, cannot be paused.")
_RESUME_EARLY = (425, "NOT_STARTED", "The invocation '{id}' is either inboxed or scheduled, cannot be resumed.")
_RESUME_DONE = (409, "COMPLETED", "The invocation '{id}' is completed, cannot be resumed.")

#: (operation, state) -> the HTTP status of an accepted operation, or its refusal (section 2's table).
ADMIN: dict[tuple[str, str], int | tuple[int, str, str]] = {
    **{("cancel", s): 200 for s in (SCHEDULED, INBOXED)},  # freed
    **{("cancel", s): 202 for s in (RUNNING, SUSPENDED, PAUSED)},  # signal appended
    ("cancel", COMPLETED): _ALREADY_COMPLETED,
    **{("kill", s): 200 for s in (SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED)},
    ("kill", COMPLETED): _ALREADY_COMPLETED,
    **{("purge", s): _NOT_COMPLETED for s in (SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED)},
    ("purge", COMPLETED): 200,
    **{("purge_journal", s): _NOT_COMPLETED for s in (SCHEDULED, INBOXED, RUNNING, SUSPENDED, PAUSED)},
    ("purge_journal", COMPLETED): 200,
    **{("pause", s): _NOT_RUNNING for s in (SCHEDULED, INBOXED, COMPLETED)},
    ("pause", RUNNING): 202,
    **{("pause", s): 200 for s in (SUSPENDED, PAUSED)},  # "already paused"
    **{("resume", s): _RESUME_EARLY for s in (SCHEDULED, INBOXED)},
    **{("resume", s): 200 for s in (RUNNING, SUSPENDED, PAUSED)},  # deployment rules in resume()
    ("resume", COMPLETED): _RESUME_DONE,
}


def refuse(answer: tuple[int, str, str], invocation_id: str) -> Refusal:
    status, reason, template = answer
    return Refusal(status, reason, template.format(id=invocation_id))


class World:
    """Services, deployments, invocations, key locks, inboxes and a virtual clock."""

    def __init__(self, now_ms: int, partitions: int = 24, max_protocol: int = 6, interval_ms: int = HOUR_MS) -> None:
        self.now_ms = now_ms
        self.partitions = partitions
        self.max_protocol = max_protocol
        self.interval_ms = interval_ms
        self.next_cleaner_ms = (now_ms // interval_ms + 1) * interval_ms  # section 1: every hour, on the hour
        self.services: dict[str, Service] = {}
        self.deployments: dict[str, Deployment] = {}  # registration order
        self.invocations: dict[str, Invocation] = {}  # creation order
        self.locks: dict[tuple[str, str], str] = {}
        self.inboxes: dict[tuple[str, str], list[str]] = {}
        self.idempotency: dict[tuple[str, str, str | None, str], str] = {}
        self.unavailable: set[int] = set()
        self.timers: list[tuple[int, int, str, str, int]] = []  # (due, order, "start"|"sleep", id, completion)
        self.order = 0
        self.clock_log: list[tuple[int, str, str]] = []  # (time, what, invocation id): what advance() did

    # --- the world ----------------------------------------------------------------------------

    def register_service(
        self,
        name: str,
        type: str,
        journal_retention_s: int = DEFAULT_JOURNAL_RETENTION_S,
        completion_s: int | None = None,
    ) -> None:
        # Section 1 says a plain call keeps its status "for the journal retention"; restate-server
        # 1.7.12 does not for calls through its ingress, which adds an idempotency key of its own:
        # asked with a 1 s cleaner, journal retentions 0 s, 5 s and 1 d all kept the status 24 h
        # (the idempotency retention), and an idempotency retention of 3 s cut the journal to 3 s.
        status_s = 86_400 if completion_s is None else completion_s
        self.services[name] = Service(type, min(journal_retention_s, status_s), status_s)

    def register_deployment(self, deployment_id: str, services: tuple[str, ...], low: int, high: int) -> None:
        self.deployments[deployment_id] = Deployment(services, low, high)

    def remove_deployment(self, deployment_id: str) -> None:
        del self.deployments[deployment_id]  # section 5: invocations pinned to it stay pinned

    def set_partition_available(self, partition: int, available: bool) -> None:
        (self.unavailable.discard if available else self.unavailable.add)(partition)

    def latest(self, service: str) -> str | None:
        """cases-format.md: the latest deployment is the last registered one serving the service."""
        serving = [d for d, dep in self.deployments.items() if service in dep.services]
        return serving[-1] if serving else None

    def partition_of(self, key: int) -> int:
        return key * self.partitions // 2**64  # the u64 key range split evenly

    def exclusive(self, inv: Invocation) -> bool:
        """cases-format.md: handlers of a virtual object are exclusive; its key is the lock."""
        return inv.key is not None and self.services[inv.service].type == VIRTUAL_OBJECT

    # --- lookups: section 2 "400 malformed, 404 absent, 503 routing" (section 4's order 2, 4, 5) ----

    def parse_invocation_id(self, raw: str, check: int | None = None) -> int:
        try:
            return partition_key(raw)
        except BadId as bad:
            raise Refusal(
                400,
                "INVALID_INVOCATION_ID",
                f"The request field 'invocation_id' is invalid. Reason: {bad.reason}",
                check,
            ) from None

    def route(self, key: int, check: int | None = None) -> None:
        partition = self.partition_of(key)
        if partition in self.unavailable:  # section 6; the reason text is the engine API's
            raise Refusal(
                503,
                "PARTITION_UNAVAILABLE",
                f"Error when routing the request internally. Reason: partition {partition} has no known leader",
                check,
            )

    def find(self, raw: str, check: int | None = None) -> Invocation:
        inv = self.invocations.get(raw)
        if inv is None:
            raise Refusal(404, "INVOCATION_NOT_FOUND", f"The requested invocation '{raw}' does not exist", check)
        return inv

    def lookup(self, raw: str) -> Invocation:
        self.route(self.parse_invocation_id(raw))
        return self.find(raw)

    def parse_deployment(self, raw: str | None, default: str, check: int | None = None) -> str:
        """Section 3: Keep/keep, Latest/latest, else a deployment id that must parse ("id:" + it)."""
        if raw is None:
            return default
        if raw in ("Keep", "keep"):
            return "keep"
        if raw in ("Latest", "latest"):
            return "latest"
        try:
            decode(raw, "dp")
        except BadId as bad:
            raise Refusal(
                400,
                "INVALID_DEPLOYMENT_ID",
                f"The query parameter 'deployment' is invalid. Reason: {bad.reason}",
                check,
            ) from None
        return "id:" + raw

    def resolve(self, service: str, selector: str) -> str | None:
        """Section 5: latest -> the newest serving the service; an id -> that one, if registered."""
        if selector == "latest":
            return self.latest(service)
        chosen = selector.removeprefix("id:")
        return chosen if chosen in self.deployments else None

    # --- section 1: entering, locks and inboxes ----------------------------------------------------

    def call(
        self,
        service: str,
        handler: str,
        key: str | None,
        new_id: str,
        delay_ms: int = 0,
        idempotency_key: str | None = None,
    ) -> str:
        if idempotency_key is not None:  # engine API: a repeated key returns the existing invocation
            existing = self.idempotency.get((service, handler, key, idempotency_key))
            if existing is not None:
                return existing
        assert new_id not in self.invocations, "the engine reused an id"
        found = self.services[service]
        inv = Invocation(
            new_id, service, handler, key, SCHEDULED, found.journal_retention_s, found.completion_retention_s
        )
        inv.idempotency_key = idempotency_key
        self.invocations[new_id] = inv
        if delay_ms > 0:  # section 1: (new) --call with delay--> scheduled
            inv.due_ms = self.now_ms + delay_ms
            self.add_timer(inv.due_ms, "start", new_id, 0)
        else:
            self.start_or_queue(inv)
        if idempotency_key is not None:
            self.idempotency[(service, handler, key, idempotency_key)] = new_id
        return new_id

    def start_or_queue(self, inv: Invocation) -> None:
        """Section 1: inboxed behind the holder of a locked exclusive key, else running (taking the key)."""
        if self.exclusive(inv):
            assert inv.key is not None
            lock = (inv.service, inv.key)
            if lock in self.locks:
                inv.state = INBOXED
                self.inboxes.setdefault(lock, []).append(inv.id)
                return
            self.locks[lock] = inv.id
        inv.state = RUNNING

    def release(self, inv: Invocation) -> None:
        """Section 1: inboxed --key released (the holder ended)--> running, first come first served."""
        if not self.exclusive(inv):
            return
        assert inv.key is not None
        lock = (inv.service, inv.key)
        if self.locks.get(lock) != inv.id:
            return
        del self.locks[lock]
        waiting = self.inboxes.pop(lock, [])
        if waiting:
            head = self.invocations[waiting.pop(0)]
            head.state = RUNNING
            self.locks[lock] = head.id
            if waiting:
                self.inboxes[lock] = waiting

    def forget(self, inv: Invocation) -> None:
        """Section 1: (free) - no record remains, nor anything pointing at it."""
        del self.invocations[inv.id]
        for lock, waiting in list(self.inboxes.items()):
            if inv.id in waiting:
                waiting.remove(inv.id)
                if not waiting:
                    del self.inboxes[lock]
        if inv.idempotency_key is not None:
            self.idempotency.pop((inv.service, inv.handler, inv.key, inv.idempotency_key), None)

    def complete_with(self, inv: Invocation, completion: str) -> None:
        """Section 1: -> completed; the key passes on; retention 0 drops the journal / frees it."""
        inv.state = COMPLETED
        inv.completion = completion
        inv.completed_ms = self.now_ms
        inv.awaiting = None
        inv.next_attempt_ms = None
        self.release(inv)
        if inv.completion_retention_s == 0:
            self.forget(inv)  # section 1 (free): "completed with completion retention 0"
        elif inv.journal_retention_s == 0:
            inv.journal = None  # section 1: "0 means the journal is dropped at completion"

    def pin(self, inv: Invocation) -> None:
        """Engine API: an attempt pins the latest deployment at the highest protocol both speak."""
        if inv.pinned_deployment is not None:
            return
        chosen = self.latest(inv.service)
        if chosen is None:
            return
        deployment = self.deployments[chosen]
        protocol = min(deployment.high, self.max_protocol)
        if protocol >= deployment.low:
            inv.pinned_deployment, inv.pinned_protocol = chosen, protocol

    def add_timer(self, due_ms: int, kind: str, invocation_id: str, completion_id: int) -> None:
        self.order += 1
        self.timers.append((due_ms, self.order, kind, invocation_id, completion_id))

    # --- section 2: the admin operations ----------------------------------------------------------------

    def admit(self, operation: str, inv: Invocation) -> int:
        answer = ADMIN[(operation, inv.state)]
        if isinstance(answer, tuple):
            raise refuse(answer, inv.id)
        return answer

    def cancel(self, raw: str) -> int:
        inv = self.lookup(raw)
        status = self.admit("cancel", inv)
        if inv.state in (SCHEDULED, INBOXED):
            self.forget(inv)  # section 1: scheduled | inboxed --cancel--> free
        else:
            assert inv.journal is not None  # section 1: a cancel signal appended; it wakes the handler
            inv.journal.append(Entry(len(inv.journal), NOTIFICATION, "Signal", "cancel"))
            inv.state, inv.awaiting = RUNNING, None
        return status

    def kill(self, raw: str) -> int:
        inv = self.lookup(raw)
        status = self.admit("kill", inv)
        if inv.state in (SCHEDULED, INBOXED):
            self.forget(inv)  # section 1: scheduled | inboxed --kill--> free
        else:
            self.complete_with(inv, "failure")  # section 1: --kill--> completed (failure "killed")
        return status

    def purge(self, raw: str) -> int:
        inv = self.lookup(raw)
        status = self.admit("purge", inv)
        self.forget(inv)  # section 1: completed --purge--> free
        return status

    def purge_journal(self, raw: str) -> int:
        inv = self.lookup(raw)
        status = self.admit("purge_journal", inv)
        inv.journal = None  # section 1: completed --purge-journal--> completed, journal gone
        return status

    def pause(self, raw: str) -> int:
        inv = self.lookup(raw)
        status = self.admit("pause", inv)
        if inv.state == RUNNING:
            inv.state = PAUSED  # section 1: running --pause operation--> paused
            inv.next_attempt_ms = None  # waits for resume, not for its retry timer
        return status

    def resume(self, raw: str, deployment: str | None = None) -> int:
        self.parse_invocation_id(raw)
        selector = self.parse_deployment(deployment, "keep")  # resume's default: keep
        inv = self.lookup(raw)
        status = self.admit("resume", inv)
        if inv.state == RUNNING:
            if selector != "keep":  # section 2: "200 with keep; 409 with latest or an id"
                raise cannot_change_deployment(inv.id)
            inv.retry_count, inv.next_attempt_ms = 0, None  # a fresh run of attempts, starting now
            return status
        if selector != "keep":  # the recorded resume cases: move a suspended/paused invocation
            if inv.pinned_deployment is None or inv.pinned_protocol is None:
                raise cannot_change_deployment(inv.id)
            target = self.resolve(inv.service, selector)
            if target is None:
                raise Refusal(
                    400,
                    "DEPLOYMENT_NOT_FOUND",
                    f"The given deployment was not found when trying to resume the invocation '{inv.id}'.",
                )
            found = self.deployments[target]
            if not found.low <= inv.pinned_protocol <= found.high:
                raise incompatible(inv.id, inv.pinned_protocol, target, found)
            inv.pinned_deployment = target
        inv.state, inv.awaiting = RUNNING, None  # section 1: suspended | paused --resume--> running
        inv.retry_count = 0  # a fresh run of attempts
        return status

    def restart_as_new(
        self, raw: str, from_: int | str | None, deployment: str | None, new_id: str | None = None
    ) -> Restarted:
        return restart.restart_as_new(self, raw, from_, deployment, new_id)  # sections 3-5
