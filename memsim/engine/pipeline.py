"""Layers, frames and streams as simpy processes on a ``System``.

- A layer's tiles are dealt round-robin to the stream's cores (tile ``i`` to core ``i mod n``),
  each core working through its own share in order. Layers are separated by a barrier: a layer
  starts when every core finished the previous one.
- Per core, prefetch depth ``d`` keeps up to ``d`` tiles' memory phases in flight while the
  current tile computes (``d = 1`` is double buffering); with ``d = 0`` fetch and compute
  alternate. The compute unit is a simpy resource, so several streams on one core interleave at
  tile granularity.
- A stream releases frame ``f`` at ``f·period + U(0, jitter)`` (seeded), or back to back without
  a period; frames of one stream run in order, so a late frame delays the next (latency counts
  from arrival).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy import Event, Timeout

from memsim.engine.system import System


class _Dealer:
    """Deals a layer's lazily generated tiles round-robin: tile ``i`` goes to core ``i mod n``
    (a static schedule, OpenMP's ``schedule(static, 1)``), so a core prefetching ahead never
    takes work another core would otherwise do; a tile whose ``core`` is set (a runtime's own
    static schedule) goes to that core instead."""

    def __init__(self, tiles, n: int):
        self._tiles = tiles
        self._queues = [deque() for _ in range(n)]
        self._turn = 0

    def hand(self, k: int) -> "_Hand":
        """The tiles dealt to the ``k``-th core, in order."""
        return _Hand(self, k)

    def next_for(self, k: int):
        """The next tile of core ``k`` (None when the layer has no more)."""
        queue = self._queues[k]
        while not queue:
            tile = next(self._tiles, None)
            if tile is None:
                return None
            if tile.core is not None:
                self._queues[tile.core % len(self._queues)].append(tile)
                continue
            self._queues[self._turn].append(tile)
            self._turn = (self._turn + 1) % len(self._queues)
        return queue.popleft()


class _Hand:
    """An iterator over one core's tiles; ``push_back`` returns tiles taken but not used (the
    fast path's verification), which come out again first, in order."""

    __slots__ = ("_dealer", "_k", "_back", "taken")

    def __init__(self, dealer: _Dealer, k: int):
        self._dealer = dealer
        self._k = k
        self._back: deque = deque()
        self.taken = 0  # tiles handed out and not pushed back

    def __iter__(self):
        return self

    def __next__(self):
        if self._back:
            tile = self._back.popleft()
        else:
            tile = self._dealer.next_for(self._k)
            if tile is None:
                raise StopIteration
        self.taken += 1
        return tile

    def push_back(self, tiles: list) -> None:
        self._back.extendleft(reversed(tiles))
        self.taken -= len(tiles)


class _CoreState:
    """Buffers between one core's fetcher and its compute unit, and the times the core's
    processes wait from (kept here, not in generator locals, so the fast path can read and
    shift them: ``memsim.engine.fastpath``)."""

    __slots__ = ("free", "ready", "pending", "fetch_wait", "compute_wait", "k", "core", "work",
                 "prev", "waited_from", "compute_start", "computing", "exhausted", "shared")

    def __init__(self, buffers: int, k: int = 0, core: int = 0, work=None, shared=False):
        self.free = buffers
        self.ready: deque = deque()     # fetched (tile, cost, key), in order, for the compute unit
        self.pending: deque = deque()   # [tile, cost, done event, chain, key] issued, not handed over
        self.fetch_wait = None
        self.compute_wait = None
        self.k = k              # position among the layer's cores
        self.core = core
        self.work = work        # the core's _Hand
        self.prev = None        # FetchChain of the last fetch
        self.waited_from = 0    # when the compute unit began waiting for its next tile
        self.compute_start = 0  # when the current compute began
        self.computing = False
        self.exhausted = False  # the fetcher met the end of the layer
        self.shared = shared    # the core runs several streams (its compute is a resource)

    def on_done(self, _event) -> None:
        """Callback of a fetch's done event: ``flush``."""
        self.flush()

    def flush(self) -> None:
        """Hand over, in issue order, every pending tile whose memory phase is done."""
        while self.pending:
            entry = self.pending[0]
            done = entry[2]
            if done is not None and not done.triggered:
                return
            self.pending.popleft()
            self.deliver(None if entry[0] is None else (entry[0], entry[1], entry[4]))

    def deliver(self, item) -> None:
        self.ready.append(item)
        if self.compute_wait is not None and not self.compute_wait.triggered:
            self.compute_wait.succeed()
        self.compute_wait = None

    def wake_fetcher(self) -> None:
        if self.fetch_wait is not None and not self.fetch_wait.triggered:
            self.fetch_wait.succeed()
        self.fetch_wait = None


@dataclass
class LayerPlan:
    """What the engine needs of one mapped layer (built from a ``LayerMapping``)."""

    name: str
    op: str
    macs: int
    target: str | None
    tiles: object  # callable returning an iterator of memsim.mapping.Tile (the contract)
    utilisation: float = 1.0
    extra_cycles_per_tile: float = 0.0  # e.g. decompression work added by strategies
    onchip_lines: tuple[tuple[int, int], ...] | None = None  # resident line ranges (stream-relative)
    host_in_bytes: int = 0   # graph inputs copied in from host memory before the tiles
    host_out_bytes: int = 0  # graph outputs copied back to host memory after them
    fixed_ps: int = 0  # runtime's fixed cost (dispatch/launch/setup + barrier) before the tiles
    n_tiles: int | None = None  # tiles the layer yields, when known (a hint for the fast path)


@dataclass
class LayerStats:
    """Accumulated per (stream, frame, layer)."""

    stream: int
    frame: int
    name: str
    op: str
    macs: int = 0
    start_ps: int = 0
    end_ps: int = 0
    compute_ps_by_core: dict[int, int] = field(default_factory=dict)
    compute_span: dict[int, list[int]] = field(default_factory=dict)
    compute_cycles: float = 0.0
    stall_ps_by_resource: dict[str, int] = field(default_factory=dict)
    bytes_by_level: dict[str, float] = field(default_factory=dict)
    hits_by_level: dict[str, int] = field(default_factory=dict)
    dram_read_bytes: float = 0.0
    dram_write_bytes: float = 0.0
    tiles: int = 0
    lines: int = 0
    utilisation: float = 1.0


@dataclass
class FrameRecord:
    """One frame of one stream."""

    stream: int
    frame: int
    arrival_ps: int
    start_ps: int = 0
    end_ps: int = 0
    deadline_ps: int | None = None


class Runner:
    """Runs streams of layers on a ``System``; results land in ``layers`` and ``frames``."""

    def __init__(self, system: System, prefetch_depth: int, clock_hz: int):
        self.system = system
        self.env = system.env
        self.depth = max(0, int(prefetch_depth))
        self.ps_per_cycle = 1e12 / clock_hz
        self.layers: list[LayerStats] = []
        self.frames: list[FrameRecord] = []
        self.events_tiles = 0
        self.on_frame = None  # optional callback after every finished frame
        self.shared_cores: dict[int, int] = {}  # core -> number of streams using it
        self.fast = None  # a memsim.engine.fastpath.FastPath when coarser events may be taken

    # -- streams -------------------------------------------------------------------------
    def stream(self, index: int, layers: list[LayerPlan], cores: list[int], frames: int,
               period_ps: int | None, jitter_ps: int, deadline_ps: int | None,
               rng: np.random.Generator, line_offset: int, done: simpy.Event):
        """Process: run ``frames`` frames of ``layers`` on ``cores``; succeed ``done`` at the end."""
        env = self.env
        for f in range(frames):
            if period_ps:
                jitter = int(rng.uniform(0, jitter_ps)) if jitter_ps else 0
                arrival = f * period_ps + jitter
                if arrival > env.now:
                    yield env.timeout(arrival - env.now)
            else:
                arrival = env.now
            record = FrameRecord(index, f, arrival, env.now, deadline_ps=deadline_ps)
            fast = self.fast
            replay = fast.frame_begin(self) if fast is not None else None
            if replay is not None:
                # this frame starts from the state the one before started from: it is that one
                # again (memsim.engine.fastpath)
                yield env.timeout(fast.replay(self, replay, f))
            else:
                for i, layer in enumerate(layers):
                    rest = fast.layer_begin(self, i) if fast is not None else None
                    if rest is not None:
                        # the frame before was in this state before its layer i: the rest of
                        # this frame is the rest of that one (memsim.engine.framereplay)
                        yield env.timeout(fast.replay_rest(self, rest, i, f))
                        break
                    yield env.process(self.layer(index, f, layer, cores, line_offset))
                if fast is not None:
                    fast.frame_end(self)
            record.end_ps = env.now
            self.frames.append(record)
            if self.on_frame is not None:
                self.on_frame()
        done.succeed()

    # -- layers --------------------------------------------------------------------------
    def layer(self, stream: int, frame: int, plan: LayerPlan, cores: list[int], line_offset: int):
        """Process: all tiles of one layer across ``cores``, then a barrier."""
        env = self.env
        stats = LayerStats(stream, frame, plan.name, plan.op, macs=plan.macs, start_ps=env.now,
                           utilisation=plan.utilisation)
        if plan.host_in_bytes:
            yield from self._host_copy(stats, plan.host_in_bytes, write=False)
        if plan.fixed_ps:
            # the runtime's per-op cost: the cores wait (a stall charged to "runtime")
            yield env.timeout(plan.fixed_ps)
            stats.stall_ps_by_resource["runtime"] = (stats.stall_ps_by_resource.get("runtime", 0)
                                                     + plan.fixed_ps)
        dealer = _Dealer(iter(plan.tiles()), len(cores))
        states = [_CoreState(self.depth + 1, k, c, dealer.hand(k),
                             self.shared_cores.get(c, 1) > 1) for k, c in enumerate(cores)]
        ctl = self.fast.layer(self, plan, stats, states) if self.fast is not None else None
        procs = [env.process(self._core(state, plan, stats, line_offset, ctl))
                 for state in states]
        yield env.all_of(procs)
        if ctl is not None:
            ctl.close()
        if plan.host_out_bytes:
            yield from self._host_copy(stats, plan.host_out_bytes, write=True)
        stats.end_ps = env.now
        self.layers.append(stats)

    def _host_copy(self, stats: LayerStats, nbytes: int, write: bool):
        """Process: one DMA of ``nbytes`` between host memory and the on-chip backing level
        (DRAM latency, then DRAM link and the level's port shared with everything else);
        the layer waits for it, and the wait counts as a DRAM stall."""
        env, system = self.env, self.system
        start = env.now
        yield env.timeout(int(system.hw.memory.dram.latency_ps))
        yield env.all_of([system.dram.transfer(float(nbytes)),
                          system.ports[system.backing][0].transfer(float(nbytes))])
        stats.stall_ps_by_resource["dram"] = (stats.stall_ps_by_resource.get("dram", 0)
                                              + env.now - start)
        stats.bytes_by_level[system.backing] = (stats.bytes_by_level.get(system.backing, 0.0)
                                                + nbytes)
        if write:
            stats.dram_write_bytes += nbytes
        else:
            stats.dram_read_bytes += nbytes

    def _core(self, state: _CoreState, plan: LayerPlan, stats: LayerStats, line_offset: int,
              ctl=None):
        """Process: one core's share of a layer, an in-order fetcher feeding the compute unit.

        The fetcher moves one tile at a time (a core's load/DMA unit works in order) into one of
        ``depth + 1`` buffers; the compute unit takes the tiles in order and frees a buffer when
        a tile is done. Hand-over uses plain events (no Store/Container) to keep events per tile low.
        ``ctl`` (the fast path's layer controller, or None) is told when the layer's first core
        starts a tile (a checkpoint: ``memsim.engine.fastpath``).
        """
        env = self.env
        env.process(self._fetcher(state, plan, stats, line_offset, ctl))
        while True:
            state.waited_from = env.now
            if not state.ready:
                state.compute_wait = Event(env)
                yield state.compute_wait
            item = state.ready.popleft()
            if item is None:
                return
            tile, cost, _key = item
            if env.now > state.waited_from:
                key = cost.bottleneck()
                stats.stall_ps_by_resource[key] = (stats.stall_ps_by_resource.get(key, 0)
                                                   + env.now - state.waited_from)
            if ctl is not None and state.k == 0:
                ctl.arm()
            yield from self._compute(state, tile, plan, stats)
            state.free += 1
            state.wake_fetcher()

    def _fetcher(self, state: _CoreState, plan, stats, line_offset, ctl):
        """Issue fetches in order whenever a buffer is free; hand tiles over in order when done."""
        env, system = self.env, self.system
        core, work = state.core, state.work
        onchip = None
        if plan.onchip_lines is not None:
            onchip = tuple((lo + line_offset, hi + line_offset) for lo, hi in plan.onchip_lines)
        while True:
            if state.free == 0:
                state.fetch_wait = Event(env)
                yield state.fetch_wait
            state.free -= 1
            tile = next(work, None)
            if tile is None:
                state.exhausted = True
                state.pending.append([None, None, None, None, None])
                state.flush()
                return
            lines = tile.lines if not line_offset else tile.lines + np.uint64(line_offset)
            tracked = ctl is not None and ctl.active
            if tracked:
                system.key_parts = []
            done, cost, chain = system.fetch(core, lines, tile.writes, plan.target,
                                             float(tile.inner_bytes), bool(tile.dma), tile.mlp,
                                             onchip, state.prev, segments=tile.segments)
            key = None
            if tracked:
                key = ctl.fetched(state.k, tile, system.key_parts)
                system.key_parts = None
            state.prev = chain
            self._account_memory(stats, cost, int(tile.lines.size))
            state.pending.append([tile, cost, done, chain, key])
            done.callbacks.append(state.on_done)

    def _compute(self, state: _CoreState, tile, plan, stats):
        env, core = self.env, state.core
        cycles = float(tile.compute_cycles) + plan.extra_cycles_per_tile
        duration = max(0, int(round(cycles * self.ps_per_cycle)))
        if state.shared:
            with self.system.cores[core].request() as req:
                yield req
                start = env.now
                yield env.timeout(duration)
        else:
            state.compute_start = env.now
            if duration:
                timer = Timeout(env, duration)
                timer.memsim_owner = state  # read by the fast path's state signature
                state.computing = True
                yield timer
                state.computing = False
            start = state.compute_start
        span = stats.compute_span.setdefault(core, [start, env.now])
        span[1] = env.now
        stats.compute_ps_by_core[core] = stats.compute_ps_by_core.get(core, 0) + env.now - start
        stats.compute_cycles += cycles
        stats.tiles += 1
        self.events_tiles += 1

    @staticmethod
    def _account_memory(stats: LayerStats, cost, n_lines: int) -> None:
        for name, nbytes in cost.bytes_by_level.items():
            stats.bytes_by_level[name] = stats.bytes_by_level.get(name, 0.0) + nbytes
        for name, hits in cost.hits_by_level.items():
            stats.hits_by_level[name] = stats.hits_by_level.get(name, 0) + hits
        stats.dram_read_bytes += cost.dram_read_bytes
        stats.dram_write_bytes += cost.dram_write_bytes
        stats.lines += n_lines
