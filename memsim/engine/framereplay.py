"""Frame replay, whole frames and the rest of a frame from a layer on (the fast path's frame
level: docs/model.md "Event granularity").

The state everything after a moment depends on, when the system is at rest at that moment (no
transfer in flight, nothing scheduled but stale link timers), is the cache kernel's canonical
state (``Hierarchy.state_key``): links hold nothing but counters and a clock mark, the cores
nothing at all, and layers are separated by a barrier. So when a frame reaches such a moment in
the state the frame before was in at the same point of its layer list, the rest of this frame
is the rest of that one again:

- **whole frames**: at a frame's start, the state the frame before started from — its layers
  are copied, shifted in time, and its counters added; the cache state is left as it is (that
  frame started from this state and ended in it);
- **the rest of a frame**: before layer ``i`` (at rest), the state the frame before was in
  before its layer ``i`` — its layers ``i..`` are copied, shifted, the counters they added are
  added, and the cache kernel is set to the state that frame ended in (a copy taken then; its
  cumulative counters keep counting). This is what makes a frame after a cold one cheap: the
  cold frame's first layers leave other lines behind, but once a layer has streamed enough
  lines through every set the two frames' caches hold the same lines in the same order.

States at layer boundaries are compared by a 128-bit BLAKE2b digest of the canonical state
(keeping a whole state per layer would cost megabytes each); the frame start keeps comparing
whole states. Boundary states are taken before at most ``MAX_MARKS`` layers per frame (each
costs a pass over the cache state, ≈ 1–10 ms on the shipped presets).
"""

from __future__ import annotations

import copy
import hashlib

from memsim.engine.links import _Timer

#: layer boundaries per frame at which the state is taken (and compared with the frame before)
MAX_MARKS = 64


class FrameReplay:
    """Records each simulated frame (its start state, its layers, the state before each layer,
    what it added to every counter) and replays the next frame, or its rest, from it."""

    def __init__(self, system, hierarchy):
        self.system = system
        self.hierarchy = hierarchy  # a memsim.cache.Hierarchy or None (no cache levels)
        self.frames_replayed = 0
        self.rests_replayed = 0     # frames replayed from a layer on
        self.layers_replayed = 0    # layers copied by either
        self._last: FrameRecord | None = None     # the frame before, as recorded
        self._current: FrameRecord | None = None  # the frame being recorded

    def frame_begin(self, runner) -> "FrameRecord | None":
        """At a frame's start: the recorded frame to replay instead of simulating this one
        (None: simulate it, recording it when the system is at rest)."""
        state = self.rest_state(runner.env)
        self._current = None
        if state is None:
            self._last = None
            return None
        last = self._last
        if last is not None and same_state(last.state, state):
            return last
        self._current = FrameRecord(state, runner.env.now, len(runner.layers),
                                    link_counters(self.system.links()), runner.events_tiles,
                                    self._kernel_stats())
        return None

    def layer_begin(self, runner, index: int) -> "FrameRecord | None":
        """Before layer ``index`` (≥ 1) of a simulated frame: the frame before, when this frame
        is now in the state it was in before its layer ``index`` (the caller then runs
        ``replay_rest``); None: go on simulating."""
        cur = self._current
        if cur is None or index >= MAX_MARKS:
            return None
        state = self.rest_state(runner.env)
        if state is None:
            return None
        mark = _Mark(_digest(state), runner.env.now, len(runner.layers),
                     link_counters(self.system.links()), runner.events_tiles,
                     self._kernel_stats())
        cur.marks[index] = mark
        last = self._last
        if last is None or (self.hierarchy is not None and last.end_snapshot is None):
            return None
        then = last.marks.get(index)
        if then is None or then.digest != mark.digest:
            return None
        return last

    def replay(self, runner, rec: "FrameRecord", frame: int) -> int:
        """Append ``rec``'s layers as frame ``frame`` starting now and add its counters;
        returns its duration (the caller waits it)."""
        shift = runner.env.now - rec.start_ps
        for st in rec.layers:
            runner.layers.append(shifted_layer(st, frame, shift))
        for link, step in zip(self.system.links(), rec.link_steps):
            link.bytes += step[0]
            link.busy_ps += step[1]
            link.transfers += step[2]
        runner.events_tiles += rec.tiles_step
        if self.hierarchy is not None:
            self.hierarchy._stats += rec.kernel_step
        self.frames_replayed += 1
        self.layers_replayed += len(rec.layers)
        return rec.duration_ps

    def replay_rest(self, runner, rec: "FrameRecord", index: int, frame: int) -> int:
        """Append ``rec``'s layers ``index..`` as frame ``frame``'s, starting now, add what
        they added to every counter and leave the cache kernel in the state ``rec`` ended in;
        returns how long they took (the caller waits it, then ends the frame as usual)."""
        then, here = rec.marks[index], self._current.marks[index]
        now = runner.env.now
        shift = now - then.now
        rest = rec.layers[then.layer_pos - rec.first_layer:]
        for st in rest:
            runner.layers.append(shifted_layer(st, frame, shift))
        for link, a, b in zip(self.system.links(), then.links, rec.end_links):
            link.bytes += b[0] - a[0]
            link.busy_ps += b[1] - a[1]
            link.transfers += b[2] - a[2]
        runner.events_tiles += rec.end_tiles - then.tiles
        hier = self.hierarchy
        if hier is not None:
            counters = hier._stats + (rec.end_kernel - then.kernel)
            hier.restore(rec.end_snapshot)
            hier._stats[:] = counters
        # this frame's later boundaries are that frame's, moved by what lies between
        for j, mark in rec.marks.items():
            if j > index:
                self._current.marks[j] = mark.moved(then, here)
        self.rests_replayed += 1
        self.layers_replayed += len(rest)
        return rec.end_now - then.now

    def frame_end(self, runner) -> None:
        """At the end of a simulated frame: keep its record as the template for the next."""
        rec, self._current = self._current, None
        if rec is None:
            self._last = None
            return
        links = link_counters(self.system.links())
        if len(links) != len(rec.links):
            self._last = None
            return
        rec.finish(runner, links, self._kernel_stats(),
                   None if self.hierarchy is None else self.hierarchy.snapshot())
        self._last = rec

    def _kernel_stats(self):
        return None if self.hierarchy is None else self.hierarchy._stats.copy()

    def rest_state(self, env):
        """The whole state when the system is at rest (no transfer, nothing scheduled but
        stale link timers): the cache kernel's state array without its counters and scratch
        stack (``Hierarchy.state_key``); None when not at rest."""
        for link in self.system.links():
            if link._active or link._blocked or link._refresh is not None:
                return None
        for _at, _prio, _eid, event in env._queue:
            if type(event) is not _Timer:
                return None
            if event.version == event.callbacks[0].__self__._version:
                return None
        return () if self.hierarchy is None else tuple(self.hierarchy.state_key())


class _Mark:
    """The state before one layer of a recorded frame (its digest) and every counter then."""

    __slots__ = ("digest", "now", "layer_pos", "links", "tiles", "kernel")

    def __init__(self, digest, now, layer_pos, links, tiles, kernel):
        self.digest = digest
        self.now = now
        self.layer_pos = layer_pos
        self.links = links
        self.tiles = tiles
        self.kernel = kernel

    def moved(self, a: "_Mark", b: "_Mark") -> "_Mark":
        """This mark of another frame, with every counter moved by ``b − a``."""
        return _Mark(self.digest, self.now + b.now - a.now,
                     self.layer_pos + b.layer_pos - a.layer_pos,
                     [tuple(x + z - y for x, y, z in zip(m, p, q))
                      for m, p, q in zip(self.links, a.links, b.links)],
                     self.tiles + b.tiles - a.tiles,
                     None if self.kernel is None else self.kernel + b.kernel - a.kernel)


class FrameRecord:
    """A simulated frame: the state it started from, its layers, the state before each of its
    first layers, what it added to every counter and the cache state it ended in."""

    def __init__(self, state, start_ps, first_layer, links, tiles_events, kernel_stats):
        self.state = state
        self.start_ps = start_ps
        self.first_layer = first_layer
        self.links = links
        self._tiles = tiles_events
        self._kernel = kernel_stats
        self.marks: dict[int, _Mark] = {}
        self.layers: list = []
        self.duration_ps = 0
        self.link_steps: list = []
        self.tiles_step = 0
        self.kernel_step = None
        self.end_now = 0
        self.end_links: list = []
        self.end_tiles = 0
        self.end_kernel = None
        self.end_snapshot = None

    def finish(self, runner, links, kernel_stats, snapshot) -> None:
        self.layers = runner.layers[self.first_layer:]
        self.end_now = runner.env.now
        self.duration_ps = self.end_now - self.start_ps
        self.end_links = links
        self.link_steps = [(b[0] - a[0], b[1] - a[1], b[2] - a[2])
                           for a, b in zip(self.links, links)]
        self.end_tiles = runner.events_tiles
        self.tiles_step = runner.events_tiles - self._tiles
        self.end_kernel = kernel_stats
        self.end_snapshot = snapshot
        if kernel_stats is not None:
            self.kernel_step = kernel_stats - self._kernel


def _digest(state) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in state:
        h.update(str(part.shape).encode())
        h.update(part.tobytes())
    return h.digest()


def same_state(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and (x == y).all() for x, y in zip(a, b))


def shifted_layer(st, frame: int, shift: int):
    """A copy of layer stats ``st`` as frame ``frame``, ``shift`` ps later."""
    new = copy.copy(st)
    new.frame = frame
    new.start_ps = st.start_ps + shift
    new.end_ps = st.end_ps + shift
    new.compute_ps_by_core = dict(st.compute_ps_by_core)
    new.compute_span = {c: [a + shift, b + shift] for c, (a, b) in st.compute_span.items()}
    new.stall_ps_by_resource = dict(st.stall_ps_by_resource)
    new.bytes_by_level = dict(st.bytes_by_level)
    new.hits_by_level = dict(st.hits_by_level)
    return new


def link_counters(links) -> list:
    return [(link.bytes, link.busy_ps, link.transfers) for link in links]
