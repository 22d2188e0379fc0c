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

from memsim.engine.simkernel import NORMAL, URGENT, BareEvent, events_at, schedule

_DONE_BYTES = 1e-3  # a transfer with less than this left is complete (float round-off)


class _Transfer:
    __slots__ = ("remaining", "weight", "event", "tag")

    def __init__(self, remaining: float, weight: float, event: simpy.Event, tag=None):
        self.remaining = remaining
        self.weight = weight
        self.event = event
        self.tag = tag  # who issued it (the fast path's state signature reads it)


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
        self._refresh: _Refresh | None = None

    @property
    def active(self) -> int:
        """Number of transfers in progress."""
        return len(self._active)

    def transfer(self, nbytes: float, weight: float = 1.0, tag=None) -> simpy.Event:
        """Start moving ``nbytes``; the returned event fires when they have all crossed.
        ``tag`` names the issuer (kept with the transfer, read by ``memsim.engine.fastpath``)."""
        event = simpy.Event(self.env)
        if nbytes <= 0:
            event.succeed()
            return event
        if self._refresh is not None:
            self._catch_up()
        self._advance_to(self.env.now)
        self._active.append(_Transfer(float(nbytes), float(weight), event, tag))
        self.bytes += nbytes
        self.transfers += 1
        self._reschedule()
        return event

    def block(self) -> None:
        """Stop all progress (e.g. a refresh window) until ``unblock``."""
        if self._blocked:
            return
        now = self.env.now
        self._advance_to(now)
        self._blocked = True
        self._blocked_since = now
        self._version += 1  # cancels the pending completion timer

    def unblock(self) -> None:
        """Resume progress after ``block``."""
        if not self._blocked:
            return
        now = self.env.now
        self._advance_to(now)
        self.blocked_ps += now - self._blocked_since
        self._blocked = False
        self._reschedule()

    # _advance_to and _reschedule keep the exact float operations of the general formulas
    # (``sum`` of one weight is that weight; one transfer is its own minimum), so results do
    # not depend on which path ran.
    def _advance_to(self, now: int) -> None:
        elapsed = now - self._last
        self._last = now
        active = self._active
        if elapsed <= 0 or not active or self._blocked:
            return
        if len(active) == 1:
            t = active[0]
            t.remaining -= elapsed * self._rate_per_ps / t.weight * t.weight
        else:
            total_weight = sum(t.weight for t in active)
            moved = elapsed * self._rate_per_ps / total_weight
            for t in active:
                t.remaining -= moved * t.weight
        self.busy_ps += elapsed

    def _reschedule(self) -> None:
        self._version += 1
        active = self._active
        if not active:
            return
        if len(active) == 1:
            t = active[0]
            if t.remaining <= _DONE_BYTES:
                self._active = []
                t.event.succeed()
                return
            if self._blocked:
                self._blocked_with_work()
                return
            exact = t.remaining / t.weight * t.weight / self._rate_per_ps
        else:
            # one pass: the finished transfers, and over the others (in order) the sum of the
            # weights from 0 and the least remaining/weight — what sum() and min() would give
            total_weight, soonest, done = 0, math.inf, None
            for t in active:
                if t.remaining <= _DONE_BYTES:
                    done = [t] if done is None else done + [t]
                    continue
                total_weight += t.weight
                share = t.remaining / t.weight
                if share < soonest:
                    soonest = share
            if done is not None:
                active = self._active = [t for t in active if t.remaining > _DONE_BYTES]
                for t in done:
                    t.event.succeed()
            if not active:
                return
            if self._blocked:
                self._blocked_with_work()
                return
            exact = soonest * total_weight / self._rate_per_ps
        # float round-off must not add a picosecond: tolerate a relative 1e-12 (see _DONE_BYTES)
        delay = max(1, math.ceil(exact * (1 - 1e-12) - 1e-6))
        env = self.env
        at = env.now + delay
        rf = self._refresh
        if rf is not None:
            block_at = rf.phase + rf.next_k * rf.interval
            if at > block_at:
                # the next refresh window starts first and would cancel this timer: wake up
                # when it ends instead (its start is applied on the way, see _catch_up)
                self._arm(block_at + rf.blocked)
                return
        # a bare timer event (what env.timeout(delay) schedules, without the Timeout object)
        schedule(env, at, NORMAL, _Timer(self._on_timer, self._version))

    def _on_timer(self, timer: "_Timer") -> None:
        if timer.version != self._version:
            return
        if self._refresh is not None:
            self._catch_up()
            if timer.version != self._version:  # a window started since
                if self._blocked and self._active:
                    self._blocked_with_work()
                return
        self._advance_to(self.env.now)
        self._reschedule()

    # -- lazy refresh ---------------------------------------------------------------------
    def refresh_lazily(self, interval_ps: int, blocked_ps: int, phase_ps: int) -> None:
        """Block this link for ``blocked_ps`` every ``interval_ps`` from ``phase_ps`` on, the
        schedule of the refresh process (``tests/refresh_oracle.py``), without simulating a window
        that no transfer sees.

        A window's start only moves the link's clock (progress up to that picosecond) and
        cancels the pending completion timer; it creates no event. So it is applied when the
        link is next used (``transfer``, a completion timer), with the float operations the
        process would have done at that picosecond. A window's end is an event only when
        transfers are waiting (its completion timer and finished transfers are created there);
        it is scheduled when needed, as an urgent event at that picosecond. Results are
        identical to that process as long as nothing else happens at a window's start or
        end picosecond, where simpy's order of simultaneous events could differ (a transfer
        or completion exactly then; any other event at an end that starts work). Those cases
        raise ``RefreshHazard`` (and set ``refresh_hazard``): the caller runs again in the
        exact mode, ``start_refresh`` (``memsim.engine.run.simulate`` does).
        """
        if blocked_ps <= 0 or interval_ps <= 0:
            return
        self._refresh = _Refresh(int(interval_ps), int(blocked_ps), int(phase_ps))

    @property
    def refresh_hazard(self) -> bool:
        """True once a lazily refreshed link met a simultaneous event (see ``refresh_lazily``)."""
        return self._refresh is not None and self._refresh.hazard

    def _hazard(self, what: str):
        self._refresh.hazard = True
        raise RefreshHazard(f"link {self.name!r}: {what} at {self.env.now} ps")

    def _catch_up(self) -> None:
        """Apply the refresh window starts and (idle) ends before now; a link operation exactly
        at a window's start or end is a hazard."""
        rf = self._refresh
        now = self.env.now
        if now >= rf.phase:
            r = (now - rf.phase) % rf.interval
            if r == 0 or r == rf.blocked:
                self._hazard("link used at a refresh boundary")
        self._apply_until(now)

    def _apply_until(self, now: int) -> None:
        """Refresh window starts and ends strictly before ``now``, as the process would have
        done them (its ``block``/``unblock`` at those picoseconds)."""
        rf = self._refresh
        interval, blocked = rf.interval, rf.blocked
        while True:
            if self._blocked:
                end = self._blocked_since + blocked
                if end >= now:
                    return
                if self._active:  # an end with waiting transfers must have been an event
                    self._hazard("missed refresh end")
                # unblock with nothing to move: clock mark, counter, version
                self._last = end
                self.blocked_ps += blocked
                self._blocked = False
                self._version += 1
                continue
            start = rf.phase + rf.next_k * interval
            if start >= now:
                return
            if not self._active:
                last = (now - 1 - rf.phase) // interval  # the last window starting before now
                if last > rf.next_k:
                    # windows next_k .. last-1 ended before now with nothing to move: each was
                    # a block and an unblock that only moved the clock mark and the counters
                    whole = last - rf.next_k
                    self._last = rf.phase + (last - 1) * interval + blocked
                    self.blocked_ps += whole * blocked
                    self._version += 2 * whole
                    rf.next_k = last
                    start = rf.phase + last * interval
            self._advance_to(start)  # block at the window's start
            self._blocked = True
            self._blocked_since = start
            self._version += 1
            rf.next_k += 1

    def _blocked_with_work(self) -> None:
        """Transfers wait behind a lazily applied refresh window: its end must be an event."""
        rf = self._refresh
        if rf is not None:
            self._arm(self._blocked_since + rf.blocked)

    def _arm(self, at: int) -> None:
        rf = self._refresh
        if rf.tick is not None and rf.tick.at == at:
            return
        rf.tick = _RefreshEnd(self._refresh_end, at)
        env = self.env
        schedule(env, at, URGENT, rf.tick)

    def _refresh_end(self, tick: "_RefreshEnd") -> None:
        rf = self._refresh
        if tick is not rf.tick:
            return
        rf.tick = None
        now = self.env.now
        self._apply_until(now)  # the window's start, if no link operation applied it yet
        if not (self._blocked and self._blocked_since + rf.blocked == now):
            return
        if self._active:
            # the end creates events (completion timer, finished transfers): the process's
            # event would be ordered among this picosecond's others by creation time
            if events_at(self.env, now):
                self._hazard("event at a refresh end")
        self.unblock()


class RefreshHazard(RuntimeError):
    """A lazily refreshed link met another event at a refresh boundary (run again exactly)."""


class _Refresh:
    __slots__ = ("interval", "blocked", "phase", "next_k", "tick", "hazard")

    def __init__(self, interval: int, blocked: int, phase: int):
        self.interval = interval
        self.blocked = blocked
        self.phase = phase
        self.next_k = 0  # index of the next window whose start is not applied yet
        self.tick = None  # the pending window-end event
        self.hazard = False


class _RefreshEnd(BareEvent):
    """The end of a lazily applied refresh window (scheduled urgent)."""

    __slots__ = ("at",)

    def __init__(self, callback, at: int):
        super().__init__(callback)
        self.at = at


class _Timer(BareEvent):
    """A scheduled completion check of a ``SharedLink``; stale when the link's version moved
    on."""

    __slots__ = ("version",)

    def __init__(self, callback, version: int):
        super().__init__(callback)
        self.version = version


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

    def transfer(self, nbytes: float, weight: float = 1.0, tag=None) -> simpy.Event:
        """Split ``nbytes`` evenly over the members; the event fires when all shares are done."""
        if len(self.links) == 1:
            return self.links[0].transfer(nbytes, weight, tag)
        share = nbytes / len(self.links)
        # what ``env.all_of`` of the shares does, without its Condition: the group's event
        # succeeds while the last share's event is processed (so it is scheduled at the same
        # moment, with the same order among simultaneous events)
        done = simpy.Event(self.env)
        left = [len(self.links)]

        def part(_event) -> None:
            left[0] -= 1
            if left[0] == 0:
                done.succeed()
        for link in self.links:
            link.transfer(share, weight, tag).callbacks.append(part)
        return done


def start_refresh(env: simpy.Environment, link: SharedLink, interval_ps: int, blocked_ps: int,
                  phase_ps: int, stop: simpy.Event) -> None:
    """Block ``link`` for ``blocked_ps`` every ``interval_ps`` from ``phase_ps`` until ``stop``.

    The same schedule as the refresh process (``tests/refresh_oracle.py``), with the same events
    scheduled at the same moments (so simpy orders every simultaneous event exactly as it would
    with the process), driven by callbacks instead of a generator and an ``any_of`` condition
    per period. It mirrors the process step by step: start (an urgent event, like a process's
    ``Initialize``) → timeout(phase) → block → timeout(blocked) → unblock →
    timeout(interval − blocked) → one zero-delay event (the ``any_of`` condition triggering)
    → block → …
    """
    gap = interval_ps - blocked_ps

    def block(_event) -> None:
        if stop.triggered:
            return
        link.block()
        schedule(env, env.now + blocked_ps, NORMAL, _Tick(unblock))

    def unblock(_event) -> None:
        link.unblock()
        schedule(env, env.now + gap, NORMAL, _Tick(hop))

    def hop(_event) -> None:
        schedule(env, env.now, NORMAL, _Tick(block))

    def begin(_event) -> None:
        if blocked_ps <= 0 or interval_ps <= 0:
            return
        schedule(env, env.now + phase_ps, NORMAL, _Tick(block))

    schedule(env, env.now, URGENT, _Tick(begin))


_Tick = BareEvent  # a refresh step: one callback
