"""Everything the engine relies on inside simpy, in one place.

simpy's public API costs an object and a method call per event; the engine's hottest events
(link completion timers, refresh ticks) and the step loop skip that by using three internals of
``simpy.Environment`` — the event heap ``_queue`` of ``(time, priority, id, event)`` entries,
the id counter ``_eid`` and the clock ``_now`` — and the event fields ``callbacks``, ``_ok``,
``_value`` and ``_defused``. No other engine module touches them. They are stable across the
simpy 4.1 releases (4.1.0–4.1.2, checked by ``tests/test_engine_simkernel.py``, which runs the
fast loop and the bare events against simpy's own ``step``); ``pyproject.toml`` pins
``simpy>=4.1,<4.2`` so a release that changes them cannot be installed unnoticed.
"""

from __future__ import annotations

from heapq import heappop, heappush

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, EventPriority

__all__ = ["BareEvent", "Environment", "NORMAL", "SIMPY_TESTED", "URGENT", "events_at",
           "schedule"]

#: simpy versions whose internals this module was checked against
SIMPY_TESTED = ">=4.1,<4.2"


class BareEvent:
    """A minimal scheduled event: what ``Environment.step`` reads of an event — its
    ``callbacks`` (called with the event) and ``_ok`` — without ``simpy.Event``'s state.
    Subclasses add ``__slots__`` for their own data."""

    __slots__ = ("callbacks",)
    _ok = True
    _value = None

    def __init__(self, callback):
        self.callbacks = [callback]


def schedule(env: simpy.Environment, at: int, priority: int, event) -> None:
    """Put ``event`` (a :class:`BareEvent` or any ``simpy.Event``) on ``env``'s heap at time
    ``at`` (≥ ``env.now``) with ``priority`` (``URGENT`` before ``NORMAL`` at the same time;
    among equals, scheduling order) — what ``env.schedule`` does, without its delay
    arithmetic, for events that are not ``simpy.Event`` objects."""
    heappush(env._queue, (at, priority, next(env._eid), event))


def events_at(env: simpy.Environment, at: int) -> bool:
    """True when some event is scheduled at time ``at`` (a linear scan of the heap)."""
    return any(entry[0] == at for entry in env._queue)


class Environment(simpy.Environment):
    """``simpy.Environment`` whose ``run(until=event)`` steps in one loop (no method call per
    event); events are processed in exactly the order, and with exactly the effects, of
    ``simpy.Environment.step`` (4.1: pop the earliest entry, set the clock, call the callbacks,
    re-raise a failed event nobody defused)."""

    def run(self, until=None):
        """As ``simpy.Environment.run``; a ``simpy.Event`` ``until`` takes the fast loop."""
        if not isinstance(until, simpy.Event) or until.callbacks is None:
            return super().run(until)
        until.callbacks.append(StopSimulation.callback)
        try:
            self._loop()
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            assert not until.triggered
            raise RuntimeError(f'No scheduled events left but "until" event was not '
                               f'triggered: {until}') from None

    def _loop(self) -> None:
        queue = self._queue
        while True:
            try:
                self._now, _, _, event = heappop(queue)
            except IndexError:
                raise EmptySchedule from None
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                self.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
