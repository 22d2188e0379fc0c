"""The mapping's contracts with the engine: :class:`LayerMapping` (how one op runs) and
:class:`Tile` (one step of its tile stream). Both are frozen: every field is set at
construction, and a later pass (layer fusion, the runtime model) derives a new record with
``dataclasses.replace`` instead of editing one that others may hold (the sweep memoises
mappings across points).
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterator

import numpy as np

from memsim.mapping.compute import lane_utilisation
from memsim.mapping.loops import approx_footprint, footprint_lines
from memsim.mapping.tiling import analytic_traffic, extent_classes, n_tiles_of, working_set_bytes
from memsim.mapping.unroll import spill_bytes, unrolled_iterations
from memsim.strategies.segments import MemorySegments, Run, merge_runs

#: Per-op line cache limit for re-fetched footprints (bytes of uint64 line arrays).
_LINE_CACHE_BYTES = 64 << 20
#: Per-op limit of shared write-flag arrays (one per distinct sequence of part sizes).
_WRITES_CACHE_ENTRIES = 4096


@dataclass(frozen=True, init=False)
class Tile:
    """One tile step of an op on one core.

    ``lines``: line indices (byte address // line size) moved between the target level and the
    rest of the hierarchy, in access order (input reads, weight reads, partial-sum reads, output
    writes); ``writes``: True where the line is written; ``macs`` and ``compute_cycles`` (one
    core); ``inner_bytes``: analytic bytes between the target level and the core (every operand
    element of the tile moved once); ``dma``: the target is a scratchpad (bulk transfer before
    compute); ``index``: position in the layer's stream; ``mlp``: outstanding misses the unrolled
    body exposes (None: the hardware's own, capped by the MSHRs); ``segments``: how runs of
    ``lines`` travel below the caches (compression ``at: dram``, streaming stores; see
    :mod:`memsim.strategies.segments`), None when every line is an ordinary one; ``core``: the
    position among the stream's cores that runs the tile when a runtime's static schedule says
    so (``memsim.runtime.ncnn_gemm``), None for the engine's round-robin deal.
    """

    macs: float
    compute_cycles: float
    lines: np.ndarray
    writes: np.ndarray
    inner_bytes: int
    dma: bool
    index: int = 0
    mlp: int | None = None
    segments: MemorySegments | None = None
    core: int | None = None

    def __init__(self, macs: float, compute_cycles: float, lines: np.ndarray, writes: np.ndarray,
                 inner_bytes: int, dma: bool, index: int = 0, mlp: int | None = None,
                 segments: MemorySegments | None = None, core: int | None = None):
        # the dataclass's own __init__, with one dict update instead of an object.__setattr__
        # per field (one Tile is made per tile step, and again by dataclasses.replace)
        self.__dict__.update(macs=macs, compute_cycles=compute_cycles, lines=lines,
                             writes=writes, inner_bytes=inner_bytes, dma=dma, index=index,
                             mlp=mlp, segments=segments, core=core)


#: per operand: (DRAM bytes per plain byte, decompressor bytes/s or None, cycles/element at core)
PLAIN_COST = (1.0, None, 0.0)


@dataclass(frozen=True)
class LayerMapping:
    """How one op runs on the hardware (docs/architecture.md, memsim.mapping).

    ``tile_cycles(box, points)`` gives a tile's compute cycles on one core (``box``: per dim
    ``(start, extent)``; ``points``: its iteration count); it may depend on the box's extents
    only, not its position (the tile stream evaluates it once per extent class); ``lanes``
    the SIMD lanes (array columns on a systolic unit) and ``lane_unroll`` the spatial unroll
    over them (empty on the systolic array, where ``unroll`` holds the array shape). ``extra_cycles_per_tile``: compute
    cycles the engine adds to every tile (0 from the mapper; a later pass such as a runtime
    model may set it); ``fixed_ps`` the time waited before the tiles (same).
    """

    op: object
    target_level: str | None
    dataflow: str
    tile: dict
    order: tuple
    n_tiles: int
    utilisation: float
    macs: int
    compute_cycles: float
    operands: tuple
    line_bytes: int
    dma: bool
    unroll: dict = field(default_factory=dict)
    lane_unroll: dict = field(default_factory=dict)
    tile_cycles: Callable | None = None
    lanes: int = 1
    #: per operand: (DRAM bytes per plain byte, decompressor bytes/s or None, cycles/element at core)
    operand_costs: tuple = ()
    streaming_stores: bool = False
    mlp: int | None = None
    spill: tuple = (0, 0, 1)  # (spilled registers per body, register bytes, temporal U)
    zero_skip: float = 1.0  # MAC fraction executed (zero-skipping hardware × density)
    write_ratio: float = 1.0
    write_bps: float | None = None
    skip_operands: frozenset = frozenset()  # operands held on chip by layer fusion
    fusion: dict | None = None  # fusion report when this op consumes a fusable intermediate
    extra_cycles_per_tile: float = 0.0
    #: fixed time the engine waits before the layer's tiles (0 from the mapper; the runtime
    #: stage's dispatch/launch and barrier costs, ``memsim.runtime.RuntimeLayer``)
    fixed_ps: int = 0

    @property
    def memo_key(self):
        """Key of this layer's tiles in the engine's tile memo (the runtime's wrapper keys by
        what it wraps and what it changes)."""
        return id(self)

    @property
    def dims(self) -> dict:
        """Loop dims of the op."""
        return dict(self.op.loops.dims)

    @cached_property
    def traffic(self) -> list:
        """Exact analytic per-operand traffic at the target level (:class:`OperandTraffic`)."""
        return analytic_traffic(self.operands, self.dims, self.tile, self.order, exact=True)

    @property
    def compulsory_bytes(self) -> int:
        """Bytes of every operand's footprint once (reads) plus outputs written once."""
        one = {d: n for d, n in self.dims.items()}
        return sum(t.bytes for t in analytic_traffic(self.operands, self.dims, one, self.order))

    @property
    def decompress_cycles(self) -> float:
        """In-register decompression cycles of the whole layer on one core (``at: core``)."""
        if not any(c[2] > 0 for c in self.operand_costs):
            return 0.0
        return sum(self._inner(ext, {d: (0, e) for d, e in ext.items()}, 0)[1] * count
                   for ext, count in extent_classes(self.dims, self.tile))

    def tiles(self) -> Iterator[Tile]:
        """The tile stream in loop order (lazy)."""
        return _TileStream(self).tiles()

    def _inner(self, ext: dict, box: dict, points: int) -> tuple[int, float]:
        """(inner bytes incl. spill traffic, decompression cycles) of a tile of extents ``ext``."""
        inner = working_set_bytes(self.operands, ext)
        extra = 0.0
        for o, c in zip(self.operands, self.operand_costs):
            if c[2] > 0:
                extra += c[2] * approx_footprint(o.access, o.shape, ext)
        spilled, reg_bytes, temporal = self.spill
        if spilled:
            iters = self.op.loops.iterations
            work = (self.op.macs if self.op.macs > 0 else self.op.ops) * self.zero_skip
            lanes, util = self._lanes_util(box)
            it = unrolled_iterations(work * points / iters if iters else 0.0, lanes, util)
            inner += math.ceil(spill_bytes(it, temporal, spilled, reg_bytes))
        return inner, extra

    def _lanes_util(self, box):
        ext = {d: b[1] for d, b in box.items()}
        if self.lane_unroll:
            return self.lanes, lane_utilisation(ext, self.lane_unroll, self.lanes)
        return self.lanes, 1.0 / self.lanes


class _TileStream:
    """The state of one pass over a mapping's tiles: which operand footprints are current,
    which output tiles were written before, and per-op caches of line arrays and inner costs."""

    def __init__(self, m: LayerMapping):
        self.m = m
        order = list(m.order)
        self.order = order
        self.rel = [tuple(d for d in order if d in o.dims) for o in m.operands]
        self.last_key = [None] * len(m.operands)
        self.seen_out = [set() for _ in m.operands]
        self.cache: dict = {}
        self.inner_cache: dict = {}
        self.cached = 0
        costs = m.operand_costs or tuple(PLAIN_COST for _ in m.operands)
        self.costs = costs
        self.tagged = m.streaming_stores or any(c[0] != 1.0 or c[1] for c in costs) or \
            m.write_ratio != 1.0 or m.write_bps
        skip = m.skip_operands
        self.groups = {role: [i for i, o in enumerate(m.operands) if o.role == role and i not in skip]
                       for role in ("input", "weight", "output")}
        self.reads = self.groups["input"] + self.groups["weight"]
        self.outs = self.groups["output"]
        self.rw = [o.access.mode == "rw" for o in m.operands]
        # operand i's tile key from the tile's loop indices (its dims' indices, in loop order)
        self.keys = [_key_getter([order.index(d) for d in rel]) for rel in self.rel]
        self.writes_cache: dict = {}

    def tiles(self) -> Iterator[Tile]:
        """The tiles in loop order. What repeats across tiles is computed once per layer:
        every dim's (start, extent) per tile index, and per extent class the inner cost and the
        compute cycles (``tile_cycles`` depends on the box's extents only)."""
        m, order = self.m, self.order
        dims, tile = m.dims, m.tile
        nt = n_tiles_of(dims, tile)
        iters = m.op.loops.iterations
        ranges = [range(nt[d]) for d in order]
        spans = [[(k * tile[d], min(tile[d], dims[d] - k * tile[d])) for k in range(nt[d])]
                 for d in order]
        extents = [[b[1] for b in sp] for sp in spans]
        per_ext: dict = {}  # extents -> (points, macs, inner bytes, compute cycles)
        dma, mlp = m.dma, m.mlp
        walk = zip(itertools.count(), itertools.product(*ranges), itertools.product(*spans),
                   itertools.product(*extents))
        for n, ks, boxes, ext in walk:
            box = dict(zip(order, boxes))
            parts = self._parts(ks, box)
            lines, writes = self._concat(parts)
            known = per_ext.get(ext)
            if known is None:
                points = math.prod(ext)
                macs = m.macs * points / iters if iters else 0.0
                inner = self.inner_cache.get(ext)
                if inner is None:
                    inner = self.inner_cache[ext] = m._inner(dict(zip(order, ext)), box, points)
                known = per_ext[ext] = (macs, inner[0], m.tile_cycles(box, points) + inner[1])
            yield Tile(macs=known[0], compute_cycles=known[2], lines=lines, writes=writes,
                       inner_bytes=known[1], dma=dma, index=n, mlp=mlp,
                       segments=self._segments(parts))

    def _parts(self, ks: tuple, box: dict) -> list:
        """``(lines, is_write, operand index)`` of one tile (``ks``: its index per loop of
        ``order``): reads of the inputs and weights whose footprint changed, partial-sum reads
        of outputs seen before, output writes."""
        parts = []
        keys, last = self.keys, self.last_key
        for i in self.reads:
            key = keys[i](ks)
            if key != last[i]:
                last[i] = key
                parts.append((self._lines(i, key, box), False, i))
        out_reads, out_writes = [], []
        for i in self.outs:
            key = keys[i](ks)
            if key == last[i]:
                continue
            last[i] = key
            lines = self._lines(i, key, box)
            seen = self.seen_out[i]
            if key in seen or self.rw[i]:
                out_reads.append((lines, False, i))
            seen.add(key)
            out_writes.append((lines, True, i))
        return parts + out_reads + out_writes

    def _concat(self, parts) -> tuple[np.ndarray, np.ndarray]:
        """The tile's lines and write flags; flag arrays are shared between tiles of the same
        part sizes (nothing writes into a tile's arrays)."""
        if not parts:
            return np.empty(0, np.uint64), np.empty(0, bool)
        lines = np.concatenate([p[0] for p in parts])
        shape = tuple((p[0].size, p[1]) for p in parts)
        writes = self.writes_cache.get(shape)
        if writes is None:
            writes = np.repeat(np.array([p[1] for p in parts], bool), [p[0].size for p in parts])
            if len(self.writes_cache) < _WRITES_CACHE_ENTRIES:
                self.writes_cache[shape] = writes
        return lines, writes

    def _segments(self, parts) -> MemorySegments | None:
        if not (self.tagged and parts):
            return None
        m, costs = self.m, self.costs
        runs = merge_runs(Run(p[0].size, costs[p[2]][0], costs[p[2]][1],
                              bool(m.streaming_stores and p[1])) for p in parts)
        segments = MemorySegments(runs, m.write_ratio, m.write_bps)
        return None if segments.plain() else segments

    def _lines(self, i, key, box):
        ck = (i, key)
        hit = self.cache.get(ck)
        if hit is not None:
            return hit
        m = self.m
        o = m.operands[i]
        lines = footprint_lines(o.access, o.shape, box, o.base, o.bits, m.line_bytes)
        if self.cached + lines.nbytes <= _LINE_CACHE_BYTES:
            self.cache[ck] = lines
            self.cached += lines.nbytes
        return lines



def _key_getter(positions: list):
    """A function of a tile's loop-index tuple returning the indices at ``positions`` (a
    tuple; the empty tuple for an operand that no loop moves)."""
    if not positions:
        return lambda ks: ()
    if len(positions) == 1:
        pos = positions[0]
        return lambda ks: (ks[pos],)
    return operator.itemgetter(*positions)
