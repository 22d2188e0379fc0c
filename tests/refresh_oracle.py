"""The reference DRAM refresh schedule, as a plain simpy process (a test oracle).

The engine has one refresh implementation (``SharedLink.refresh_lazily``) and its exact mode
(``memsim.engine.links.start_refresh``, callbacks creating the same events at the same moments
as this process); the tests compare both against this definition.
"""

from __future__ import annotations

import simpy


def refresh_process(env: simpy.Environment, link, interval_ps: int, blocked_ps: int,
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
