"""Processes that load the memory system besides the network: DRAM refresh and background users.

- Refresh: every ``interval_ps`` a DRAM channel is blocked for ``blocked_ps`` (JEDEC all-bank
  refresh: tREFI / tRFC, e.g. LPDDR4 tREFI 3.9 µs; JESD209-4). Channels refresh staggered
  evenly across the interval, so a multi-channel device never stops entirely.
- Background traffic (ISP, display, other bus masters): bursts of ``burst_bytes`` at an average
  ``bandwidth_bytes_per_s``, either evenly spaced (``constant``) or with exponential gaps
  (``poisson``), drawn from the run's seeded generator.
"""

from __future__ import annotations

import numpy as np
import simpy

from memsim.engine.links import SharedLink


def refresh_process(env: simpy.Environment, link: SharedLink, interval_ps: int, blocked_ps: int,
                    phase_ps: int, stop: simpy.Event):
    """Block ``link`` for ``blocked_ps`` every ``interval_ps``, starting at ``phase_ps``."""
    if blocked_ps <= 0 or interval_ps <= 0:
        return
    yield env.timeout(phase_ps)
    while not stop.triggered:
        link.block()
        yield env.timeout(blocked_ps)
        link.unblock()
        yield env.any_of([env.timeout(interval_ps - blocked_ps), stop])


def background_process(env: simpy.Environment, target, bandwidth_bytes_per_s: float,
                       burst_bytes: int, pattern: str, rng: np.random.Generator,
                       stop: simpy.Event, counter: dict):
    """Issue bursts on ``target`` (a link or link group) until ``stop`` fires.

    ``counter['bytes']`` accumulates the background bytes issued.
    """
    mean_gap_ps = burst_bytes / bandwidth_bytes_per_s * 1e12
    while not stop.triggered:
        if pattern == "poisson":
            gap = rng.exponential(mean_gap_ps)
        else:
            gap = mean_gap_ps
        yield env.any_of([env.timeout(max(1, int(round(gap)))), stop])
        if stop.triggered:
            return
        target.transfer(burst_bytes)
        counter["bytes"] = counter.get("bytes", 0) + burst_bytes
