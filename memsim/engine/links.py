"""Shared links: a bandwidth shared by concurrent transfers under processor sharing.

A ``SharedLink`` models one port of a memory level or one DRAM channel. Every active transfer
gets a share of the bandwidth proportional to its weight (``k`` equal transfers each get
``1/k``), recomputed at every arrival and departure (egalitarian processor sharing; Kleinrock,
*Queueing Systems* vol. 2, §4.4). So contention costs one event per arrival and departure,
never one per byte or per line. A link can be blocked (DRAM refresh): while blocked nobody
makes progress.

Time is the simpy environment's integer picoseconds; completion times are rounded up to the
next picosecond.
"""

from __future__ import annotations

import math

import simpy

_DONE_BYTES = 1e-3  # a transfer with less than this left is complete (float round-off)


class _Transfer:
    __slots__ = ("remaining", "weight", "event")

    def __init__(self, remaining: float, weight: float, event: simpy.Event):
        self.remaining = remaining
        self.weight = weight
        self.event = event


class SharedLink:
    """A link of ``bandwidth_bytes_per_s`` shared by processor sharing among active transfers.

    ``transfer(nbytes, weight)`` returns an event that succeeds when the bytes have crossed.
    Counters: ``bytes`` (total bytes accepted), ``busy_ps`` (time with at least one transfer
    making progress), ``blocked_ps`` (time blocked while work was waiting or not).
    """

    def __init__(self, env: simpy.Environment, bandwidth_bytes_per_s: float, name: str = ""):
        if not bandwidth_bytes_per_s > 0:
            raise ValueError(f"link {name!r}: bandwidth must be positive")
        self.env = env
        self.name = name
        self.bandwidth_bytes_per_s = float(bandwidth_bytes_per_s)
        self._rate_per_ps = self.bandwidth_bytes_per_s / 1e12
        self._active: list[_Transfer] = []
        self._last = env.now
        self._version = 0
        self._blocked = False
        self._blocked_since = 0
        self.bytes = 0.0
        self.busy_ps = 0
        self.blocked_ps = 0
        self.transfers = 0

    @property
    def active(self) -> int:
        """Number of transfers in progress."""
        return len(self._active)

    def transfer(self, nbytes: float, weight: float = 1.0) -> simpy.Event:
        """Start moving ``nbytes``; the returned event fires when they have all crossed."""
        event = self.env.event()
        if nbytes <= 0:
            event.succeed()
            return event
        self._advance()
        self._active.append(_Transfer(float(nbytes), float(weight), event))
        self.bytes += nbytes
        self.transfers += 1
        self._reschedule()
        return event

    def block(self) -> None:
        """Stop all progress (e.g. a refresh window) until ``unblock``."""
        if self._blocked:
            return
        self._advance()
        self._blocked = True
        self._blocked_since = self.env.now
        self._version += 1  # cancels the pending completion timer

    def unblock(self) -> None:
        """Resume progress after ``block``."""
        if not self._blocked:
            return
        self._advance()
        self.blocked_ps += self.env.now - self._blocked_since
        self._blocked = False
        self._reschedule()

    def _advance(self) -> None:
        now = self.env.now
        elapsed = now - self._last
        self._last = now
        if elapsed <= 0 or not self._active or self._blocked:
            return
        total_weight = sum(t.weight for t in self._active)
        moved = elapsed * self._rate_per_ps / total_weight
        for t in self._active:
            t.remaining -= moved * t.weight
        self.busy_ps += elapsed

    def _reschedule(self) -> None:
        self._version += 1
        done = [t for t in self._active if t.remaining <= _DONE_BYTES]
        if done:
            self._active = [t for t in self._active if t.remaining > _DONE_BYTES]
            for t in done:
                t.event.succeed()
        if not self._active or self._blocked:
            return
        total_weight = sum(t.weight for t in self._active)
        soonest = min(t.remaining / t.weight for t in self._active)
        exact = soonest * total_weight / self._rate_per_ps
        # float round-off must not add a picosecond: tolerate a relative 1e-12 (see _DONE_BYTES)
        delay = max(1, math.ceil(exact * (1 - 1e-12) - 1e-6))
        version = self._version
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _ev: self._on_timer(version))

    def _on_timer(self, version: int) -> None:
        if version != self._version:
            return
        self._advance()
        self._reschedule()


class LinkGroup:
    """Several links used as one (DRAM channels with fine-grained address interleaving).

    A transfer is split evenly across the members, so it finishes when its slowest share does.
    """

    def __init__(self, links: list[SharedLink], name: str = ""):
        if not links:
            raise ValueError("a link group needs at least one link")
        self.links = links
        self.name = name
        self.env = links[0].env

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Total bandwidth of the group."""
        return sum(link.bandwidth_bytes_per_s for link in self.links)

    @property
    def bytes(self) -> float:
        """Total bytes moved over all members."""
        return sum(link.bytes for link in self.links)

    def transfer(self, nbytes: float, weight: float = 1.0) -> simpy.Event:
        """Split ``nbytes`` evenly over the members; the event fires when all shares are done."""
        if len(self.links) == 1:
            return self.links[0].transfer(nbytes, weight)
        share = nbytes / len(self.links)
        return self.env.all_of([link.transfer(share, weight) for link in self.links])
