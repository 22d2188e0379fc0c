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
        self._current = FrameRecord(state, self._mark(runner, None))
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
        mark = cur.marks[index] = self._mark(runner, _digest(state))
        last = self._last
        if last is None or (self.hierarchy is not None and last.end_snapshot is None):
            return None
        then = last.marks.get(index)
        if then is None or then.digest != mark.digest:
            return None
        return last

    def replay(self, runner, rec: "FrameRecord", frame: int) -> int:
        """Append ``rec``'s layers as frame ``frame`` starting now and add its counters;
        returns its duration (the caller waits it). The cache state is left as it is: the
        recorded frame started from this state and ended in it."""
        self.frames_replayed += 1
        return self._copy(runner, rec, rec.start, frame)

    def replay_rest(self, runner, rec: "FrameRecord", index: int, frame: int) -> int:
        """Append ``rec``'s layers ``index..`` as frame ``frame``'s, starting now, add what
        they added to every counter and leave the cache kernel in the state ``rec`` ended in;
        returns how long they took (the caller waits it, then ends the frame as usual)."""
        then, here = rec.marks[index], self._current.marks[index]
        duration = self._copy(runner, rec, then, frame)
        # this frame's later boundaries are that frame's, moved by what lies between
        for j, mark in rec.marks.items():
            if j > index:
                self._current.marks[j] = mark.moved(then, here)
        self.rests_replayed += 1
        return duration

    def _copy(self, runner, rec: "FrameRecord", since: "_Mark", frame: int) -> int:
        """Append ``rec``'s layers from mark ``since`` on as frame ``frame``'s, starting now,
        and add what they added to every counter (the cache kernel left in the state ``rec``
        ended in, unless ``since`` is its start); returns how long they took."""
        end = rec.end
        shift = runner.env.now - since.now
        rest = rec.layers[since.layer_pos - rec.start.layer_pos:]
        for st in rest:
            runner.layers.append(shifted_layer(st, frame, shift))
        for link, a, b in zip(self.system.links(), since.links, end.links):
            link.bytes += b[0] - a[0]
            link.busy_ps += b[1] - a[1]
            link.transfers += b[2] - a[2]
        runner.events_tiles += end.tiles - since.tiles
        hier = self.hierarchy
        if hier is not None:
            counters = hier._stats + (end.kernel - since.kernel)
            if since is not rec.start:
                hier.restore(rec.end_snapshot)
            hier._stats[:] = counters
        self.layers_replayed += len(rest)
        return end.now - since.now

    def frame_end(self, runner) -> None:
        """At the end of a simulated frame: keep its record as the template for the next."""
        rec, self._current = self._current, None
        if rec is None:
            self._last = None
            return
        end = self._mark(runner, None)
        if len(end.links) != len(rec.start.links):
            self._last = None
            return
        rec.finish(runner, end, None if self.hierarchy is None else self.hierarchy.snapshot())
        self._last = rec

    def _mark(self, runner, digest) -> "_Mark":
        """Every counter now (with the state's ``digest``, or None)."""
        return _Mark(digest, runner.env.now, len(runner.layers),
                     link_counters(self.system.links()), runner.events_tiles,
                     self._kernel_stats())

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
    """Every counter at one moment of a recorded frame (its start, before a layer, its end)
    and, before a layer, the state's digest."""

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
    """A simulated frame: the state it started from, its layers, every counter at its start
    (``start``), before each of its first layers (``marks``) and at its end (``end``), and
    the cache state it ended in."""

    def __init__(self, state, start: _Mark):
        self.state = state
        self.start = start
        self.marks: dict[int, _Mark] = {}
        self.layers: list = []
        self.end: _Mark | None = None
        self.end_snapshot = None

    def finish(self, runner, end: _Mark, snapshot) -> None:
        self.layers = runner.layers[self.start.layer_pos:]
        self.end = end
        self.end_snapshot = snapshot


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
