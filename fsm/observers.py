"""Watching an engine: small typed events for every transition and every admin answer.

    from fsm import Engine
    from fsm.observers import AnswerEvent, Event, TransitionEvent

    engine = Engine()
    seen: list[Event] = []
    unsubscribe = engine.subscribe(seen.append)

Two kinds of event, both frozen and slotted:

- :class:`TransitionEvent`: a trigger fired on an invocation (``source`` to ``dest``; the same state
  for a step that keeps it, such as ``append_command``), at the virtual time it happened;
- :class:`AnswerEvent`: an admin operation answered (``status``, and ``reason``/``message`` when it
  refused), after the transitions it caused.

Transitions are recorded by a callback on the engine's `transitions` Machine (subscribing switches
the engine from its compiled fast path to that machine; an engine nobody subscribes to pays
nothing). Events are delivered in order once the operation that caused them has finished, when the
world is consistent again: an observer may read the engine and call it. An observer that raises
does not stop the others; the operation then raises the first such exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import wrong_type


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    """A trigger fired on an invocation."""

    invocation_id: str
    trigger: str
    source: str
    dest: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """An admin operation answered: ``reason`` and ``message`` are None when it was accepted."""

    operation: str
    invocation_id: str
    status: int
    reason: str | None
    message: str | None
    now_ms: int


Event = TransitionEvent | AnswerEvent
Observer = Callable[[Event], object]


class Observers:
    """The subscribers of one engine and the events of the operation in progress."""

    __slots__ = ("_observers", "pending")

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self.pending: list[Event] = []

    def __bool__(self) -> bool:
        return bool(self._observers)

    def subscribe(self, observer: Observer) -> None:
        if not callable(observer):
            raise wrong_type("observer", f"must be callable (it receives each event), got {type(observer).__name__}")
        self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        """Stop delivering to ``observer`` (LookupError if it is not subscribed)."""
        for i, subscribed in enumerate(self._observers):
            if subscribed is observer or subscribed == observer:
                del self._observers[i]
                return
        raise LookupError(f"{observer!r} is not subscribed to this engine")

    def deliver(self) -> None:
        """Hand the pending events to every observer, in order; then raise the first error any raised."""
        if not self.pending:
            return
        events, self.pending = self.pending, []
        first: BaseException | None = None
        for event in events:
            for observer in tuple(self._observers):
                try:
                    observer(event)
                except Exception as exc:
                    if first is None:
                        exc.add_note(f"Raised by the observer {observer!r} on {event!r}.")
                        first = exc
        if first is not None:
            raise first


__all__ = ["AnswerEvent", "Event", "Observer", "Observers", "TransitionEvent"]
