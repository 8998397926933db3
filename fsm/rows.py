"""Invocations as flat rows: what a store writes, and reads back fast, trusting what it wrote.

:func:`fsm.snapshot.load_world` checks every field of every record, which is right for a world from
outside and costs ~90 us an invocation. A store reads back only rows it wrote itself, a million of
them at a start: :class:`RowReader` rebuilds each :class:`~fsm.model.Invocation` directly (journal
entries shared between invocations whose entries are alike, as a simulator's are; one string object
per service, handler, state and deployment), and :meth:`fsm.engine.Engine.restore` then checks what
involves several invocations (keys, inboxes, services). A row holds the same information as the
world format's record (:func:`fsm.snapshot.dump_invocation`); ``tests/fsm/test_rows.py`` checks the
two agree.

A row is :data:`COLUMNS`, in order: the common fields as columns; the journal as compact JSON
(each entry ``[index, kind, type, name, completion id or -1, *awaited completion ids]``, null when
the journal is gone); the rare fields (retries, failures, timers, lineage, ...) as a JSON object in
``extras``, null when they are all at their defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .model import Entry, Invocation, Service

COLUMNS = (
    "id",
    "service",
    "handler",
    "key",
    "state",
    "completion",
    "pinned_deployment",
    "pinned_protocol",
    "created_ms",
    "completed_ms",
    "journal",
    "extras",
)
#: Fields written to ``extras`` only when they are not their default (None, or 0 for retry_count).
_EXTRAS = (
    "due_ms",
    "retry_count",
    "last_failure",
    "next_attempt_ms",
    "completion_failure",
    "idempotency_key",
    "restarted_from",
    "awaiting",
)
Row = tuple[Any, ...]
_JOURNAL_CACHE_MAX = 4_096
_NONE: dict[str, Any] = {}  # the extras of most rows (never written to)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def to_row(inv: Invocation, service: Service, timers: Sequence[tuple[int, int]] = ()) -> Row:
    """The row of one invocation (``timers``: its pending sleeps, [(due_ms, completion id)])."""
    extras: dict[str, Any] = {name: value for name in _EXTRAS if (value := getattr(inv, name))}
    if inv.journal_retention_s != service.effective_journal_retention_s:
        extras["journal_retention_s"] = inv.journal_retention_s
    if inv.completion_retention_s != service.effective_completion_retention_s:
        extras["completion_retention_s"] = inv.completion_retention_s
    if timers:
        extras["timers"] = [list(t) for t in timers]
    journal = (
        None
        if inv.journal is None
        else _compact(
            [
                [e.index, e.kind, e.type, e.name, -1 if e.completion_id is None else e.completion_id, *e.completion_ids]
                for e in inv.journal
            ]
        )
    )
    return (
        inv.id,
        inv.service,
        inv.handler,
        inv.key,
        inv.state,
        inv.completion,
        inv.pinned_deployment,
        inv.pinned_protocol,
        inv.created_ms,
        inv.completed_ms,
        journal,
        _compact(extras) if extras else None,
    )


class RowReader:
    """Rebuilds invocations from rows; alike journals and entries are decoded once and shared."""

    def __init__(self, services: Mapping[str, Service]) -> None:
        self._services = services
        self._journals: dict[str, tuple[tuple[Entry, ...], int]] = {}  # text -> entries, next completion id
        self._entries: dict[tuple[Any, ...], Entry] = {}
        self._words: dict[str, str] = {}  # one object per service, handler, state, deployment, ...
        self._retention: dict[str, tuple[int, int]] = {}  # service -> its journal, completion retention

    def _journal(self, text: str) -> tuple[tuple[Entry, ...], int]:
        found = self._journals.get(text)
        if found is not None:
            return found
        entries = []
        highest = 0
        for raw in json.loads(text):
            key = tuple(raw)
            entry = self._entries.get(key)
            if entry is None:
                index, kind, type_, name, completion_id, *awaited = raw
                entry = Entry(index, kind, type_, name, tuple(awaited), None if completion_id < 0 else completion_id)
                self._entries[key] = entry
            highest = max(highest, entry.completion_id or 0, *entry.completion_ids)
            entries.append(entry)
        decoded = (tuple(entries), highest + 1)
        if len(self._journals) >= _JOURNAL_CACHE_MAX:
            self._journals.clear()
        self._journals[text] = decoded
        return decoded

    def invocation(self, row: Row) -> tuple[Invocation, list[tuple[int, int]]]:
        """The invocation of a row and its pending sleep timers. ``KeyError`` for a service the
        registry does not hold; ``ValueError``/``TypeError`` for a row that is not one."""
        inv_id, service_name, handler, key, state, completion, deployment, protocol, created, completed, text, raw = row
        words = self._words
        service_name = words.setdefault(service_name, service_name)
        handler = words.setdefault(handler, handler)
        state = words.setdefault(state, state)
        if completion is not None:
            completion = words.setdefault(completion, completion)
        if deployment is not None:
            deployment = words.setdefault(deployment, deployment)
        retention = self._retention.get(service_name)
        if retention is None:
            service = self._services[service_name]
            retention = (service.effective_journal_retention_s, service.effective_completion_retention_s)
            self._retention[service_name] = retention
        extras: dict[str, Any] = json.loads(raw) if raw is not None else _NONE
        inv = Invocation(
            inv_id,
            service_name,
            handler,
            key,
            state,
            extras.get("journal_retention_s", retention[0]),
            extras.get("completion_retention_s", retention[1]),
        )
        inv.completion = completion
        inv.pinned_deployment = deployment
        inv.pinned_protocol = protocol
        inv.created_ms = created
        inv.completed_ms = completed
        if text is None:
            inv.journal = None
        else:
            entries, inv.next_completion_id = self._journal(text)
            inv.journal = list(entries)
        if not extras:
            return inv, []
        for name in _EXTRAS:
            if name in extras:
                setattr(inv, name, extras[name])
        return inv, [(due, cid) for due, cid in extras.get("timers", ())]
