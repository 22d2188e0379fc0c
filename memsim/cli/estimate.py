"""A one-line wall-time estimate for long runs, printed once on stderr after a few frames.

Frames are simulated one after another, so after the first frames (the first one also pays
for compilation and memoisation and is left out of the rate) the remaining time is close to
``remaining frames × seconds per frame``. The estimate is printed only when it exceeds
``threshold_s``, so short runs stay quiet.
"""

from __future__ import annotations

import sys
import time


class FrameEstimate:
    """``progress(done, total)`` callback that prints the estimate once (see module doc)."""

    def __init__(self, total: int, *, threshold_s: float = 30.0, stream=None, clock=time.monotonic):
        self.total = total
        self.threshold_s = threshold_s
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.first = None  # (clock, done) when the first frame finished
        self.printed = False

    def __call__(self, done: int, total: int | None = None) -> None:
        total = total or self.total
        if self.printed or done < 1:
            return
        now = self.clock()
        if self.first is None:
            self.first = (now, done)
            return
        t0, d0 = self.first
        if done - d0 < 2 or now - t0 <= 0:
            return
        per_frame = (now - t0) / (done - d0)
        left = per_frame * (total - done)
        self.printed = True
        if left > self.threshold_s:
            self.stream.write(f"memsim: {total:,} frames at ~{per_frame:.3g} s each: about "
                              f"{_duration(left)} more of wall time (Ctrl-C stops; fewer frames "
                              "with --set streams.N.frames=...)\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    for unit, scale in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.0f} s"
