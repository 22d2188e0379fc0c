"""Processes that load the memory system besides the network: background users.

(DRAM refresh — every ``interval_ps`` a channel is blocked for ``blocked_ps``, JEDEC all-bank
refresh tREFI / tRFC — is ``SharedLink.refresh_lazily`` and, exactly, ``links.start_refresh``;
docs/model.md "DRAM refresh".)

- Background traffic (ISP, display, other bus masters): bursts of ``burst_bytes`` at an average
  ``bandwidth_bytes_per_s``, either evenly spaced (``constant``) or with exponential gaps
  (``poisson``), drawn from the run's seeded generator.
"""

from __future__ import annotations

import numpy as np
import simpy
from simpy import Event, Timeout


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
        yield _first_of(env, Timeout(env, max(1, int(round(gap)))), stop)
        if stop.triggered:
            return
        target.transfer(burst_bytes)
        counter["bytes"] = counter.get("bytes", 0) + burst_bytes


def _first_of(env: simpy.Environment, timer: simpy.Event, stop: simpy.Event) -> simpy.Event:
    """What ``env.any_of([timer, stop])`` does for a waiting process, without its Condition:
    an event that succeeds while the first of the two is processed (so it is scheduled at the
    same moment, in the same order among simultaneous events); its hooks are then removed."""
    wake = Event(env)

    def fire(_event) -> None:
        if wake.triggered:
            return
        wake.succeed()
        for event in (timer, stop):
            if event.callbacks and fire in event.callbacks:
                event.callbacks.remove(fire)
    for event in (timer, stop):
        if event.callbacks is None:  # already processed
            fire(event)
        else:
            event.callbacks.append(fire)
    return wake
