"""Map each op onto the hardware: target level, tile sizes, loop order, unrolling, tile stream.

See docs/model.md "Mapping and compute" for the assumptions. Entry points: :func:`map_graph`,
:func:`map_op`; results are :class:`LayerMapping` objects whose :meth:`LayerMapping.tiles` yields
:class:`Tile` objects lazily (one op's tiles at a time, never a whole network's trace).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterator

import numpy as np

from memsim.errors import InfeasibleError
from memsim.mapping.compute import (
    compute_cycles_simd,
    gemm_shape_of,
    lane_utilisation,
    systolic_cycles,
    systolic_utilisation,
)
from memsim.mapping.loops import classify_dims, footprint_lines, tensor_bits, weight_like
from memsim.mapping.tiling import (
    Operand,
    analytic_traffic,
    best_mapping,
    fetch_multiplier,
    n_tiles_of,
    working_set_bytes,
)

#: Op kinds the systolic array runs (the rest go to the vector unit beside it).
SYSTOLIC_KINDS = ("conv2d", "matmul", "batch_matmul")
#: Per-op line cache limit for re-fetched footprints (bytes of uint64 line arrays).
_LINE_CACHE_BYTES = 64 << 20


@dataclass
class Tile:
    """One tile step of an op on one core.

    ``lines``: line indices (byte address // line size) moved between the target level and the
    rest of the hierarchy, in access order (input reads, weight reads, partial-sum reads, output
    writes); ``writes``: True where the line is written; ``macs`` and ``compute_cycles`` (one
    core); ``inner_bytes``: analytic bytes between the target level and the core (every operand
    element of the tile moved once); ``dma``: the target is a scratchpad (bulk transfer before
    compute).
    """

    macs: float
    compute_cycles: float
    lines: np.ndarray
    writes: np.ndarray
    inner_bytes: int
    dma: bool
    index: int = 0


@dataclass
class LayerMapping:
    """How one op runs: see docs/architecture.md (memsim.mapping)."""

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
    _outer_levels: tuple = ()
    _compute: Callable | None = None

    @property
    def dims(self) -> dict:
        """Loop dims of the op."""
        return dict(self.op.loops.dims)

    @cached_property
    def traffic(self) -> list:
        """Exact analytic per-operand traffic at the target level (:class:`OperandTraffic`)."""
        return analytic_traffic(self.operands, self.dims, self.tile, self.order, exact=True)

    @cached_property
    def analytic_bytes(self) -> dict:
        """Analytic bytes moved between each level and the next one out (``"dram"``: the
        outermost on-chip level's traffic to DRAM). The target level uses this mapping; each
        outer level the best tiling that fits it (compulsory when the op fits)."""
        out = {}
        key = self.target_level or "dram"
        out[key] = sum(t.bytes for t in self.traffic)
        prev = out[key]
        last = key
        cls = classify_dims(self.op)
        for name, cap in self._outer_levels:
            df, order, tile, _ = best_mapping(self.operands, self.dims, cls, (self.dataflow,),
                                              cap, 1, self.unroll)
            b = sum(t.bytes for t in analytic_traffic(self.operands, self.dims, tile, order))
            prev = min(prev, b)
            out[name] = prev
            last = name
        out["dram"] = out[last]
        return out

    @property
    def compulsory_bytes(self) -> int:
        """Bytes of every operand's footprint once (reads) plus outputs written once."""
        one = {d: n for d, n in self.dims.items()}
        return sum(t.bytes for t in analytic_traffic(self.operands, self.dims, one, self.order))

    def tiles(self) -> Iterator[Tile]:
        """The tile stream in loop order (lazy)."""
        dims = self.dims
        nt = n_tiles_of(dims, self.tile)
        order = [d for d in self.order]
        rel = [tuple(d for d in order if d in o.dims) for o in self.operands]
        last_key = [None] * len(self.operands)
        seen_out = [set() for _ in self.operands]
        cache: dict = {}
        inner_cache: dict = {}
        cached = [0]
        iters = self.op.loops.iterations
        lb = self.line_bytes
        inputs = [i for i, o in enumerate(self.operands) if o.role == "input"]
        weights = [i for i, o in enumerate(self.operands) if o.role == "weight"]
        outputs = [i for i, o in enumerate(self.operands) if o.role == "output"]
        for n, ks in enumerate(itertools.product(*[range(nt[d]) for d in order])):
            kd = dict(zip(order, ks))
            box = {d: (kd[d] * self.tile[d], min(self.tile[d], dims[d] - kd[d] * self.tile[d]))
                   for d in order}
            parts, wparts = [], []
            for group in (inputs, weights):
                for i in group:
                    key = tuple(kd[d] for d in rel[i])
                    if key == last_key[i]:
                        continue
                    last_key[i] = key
                    parts.append(self._lines(i, key, box, cache, cached))
                    wparts.append(False)
            out_reads, out_writes = [], []
            for i in outputs:
                key = tuple(kd[d] for d in rel[i])
                if key == last_key[i]:
                    continue
                last_key[i] = key
                lines = self._lines(i, key, box, cache, cached)
                if key in seen_out[i] or self.operands[i].access.mode == "rw":
                    out_reads.append(lines)
                seen_out[i].add(key)
                out_writes.append(lines)
            parts += out_reads
            wparts += [False] * len(out_reads)
            parts += out_writes
            wparts += [True] * len(out_writes)
            if parts:
                lines = np.concatenate(parts)
                writes = np.repeat(np.array(wparts, bool), [p.size for p in parts])
            else:
                lines, writes = np.empty(0, np.uint64), np.empty(0, bool)
            points = math.prod(b[1] for b in box.values())
            macs = self.macs * points / iters if iters else 0.0
            ext = tuple(box[d][1] for d in order)
            inner = inner_cache.get(ext)
            if inner is None:
                inner = inner_cache[ext] = working_set_bytes(self.operands, dict(zip(order, ext)))
            yield Tile(macs=macs, compute_cycles=self._compute(box, points), lines=lines,
                       writes=writes, inner_bytes=inner, dma=self.dma, index=n)

    def _lines(self, i, key, box, cache, cached):
        ck = (i, key)
        hit = cache.get(ck)
        if hit is not None:
            return hit
        o = self.operands[i]
        lines = footprint_lines(o.access, o.shape, box, o.base, o.bits, self.line_bytes)
        if cached[0] + lines.nbytes <= _LINE_CACHE_BYTES:
            cache[ck] = lines
            cached[0] += lines.nbytes
        return lines


# --------------------------------------------------------------------------- helpers

def _get(obj, path, default):
    for p in path.split("."):
        if obj is None:
            return default
        obj = getattr(obj, p, None)
    return default if obj is None else obj


def op_dtype(graph, op) -> str:
    """The dtype an op computes in: its first input's (else its output's)."""
    for t in op.inputs + op.outputs:
        return graph.tensors[t].dtype
    return "int8"


def lane_dim(op, cls) -> str | None:
    """Default SIMD lane dim: the output-channel loop (first filter dim > 1, else group dim > 1),
    else the dim of the output's last (contiguous) axis."""
    dims = op.loops.dims
    for d in cls.filter + cls.group:
        if dims[d] > 1:
            return d
    for a in op.loops.accesses:
        if "w" in a.mode and a.index and a.index[-1].dims:
            return a.index[-1].dims[-1]
    return next(iter(dims), None)


def operands_of(graph, op, address, tensor_bytes=None) -> tuple:
    """One :class:`Operand` per access, with base address and bits per element."""
    wl = set(weight_like(op))
    ops = []
    for a in op.loops.accesses:
        t = graph.tensors[a.tensor]
        role = "output" if "w" in a.mode else ("weight" if a.tensor in wl else "input")
        ops.append(Operand(a.tensor, a, t.shape, tensor_bits(t, tensor_bytes), role,
                           int(address(a.tensor))))
    return tuple(ops)


def _target(hw, cores):
    """(name, per-core capacity bytes, is scratchpad): the innermost scratchpad if any, else the
    innermost level. Shared levels are divided among the cores."""
    levels = list(hw.memory.levels)
    pads = [lv for lv in levels if lv.kind == "scratchpad"]
    lv = pads[0] if pads else levels[0]
    cap = lv.size_bytes if lv.scope == "core" else lv.size_bytes // max(1, cores)
    return lv, cap


def map_op(graph, op, hw, address, strategies=None, tensor_bytes=None, cores=None
           ) -> LayerMapping:
    """Map one op (with loops) onto ``hw``; ``address(tensor) -> byte address``."""
    cores = cores or hw.compute.cores
    cls = classify_dims(op)
    dims = dict(op.loops.dims)
    dtype = op_dtype(graph, op)
    comp = hw.compute
    systolic = comp.kind == "systolic" and op.kind in SYSTOLIC_KINDS and op.macs > 0
    if comp.kind == "systolic":
        lanes = comp.systolic.cols  # vector unit beside the array: one lane per column (assumed)
    else:
        if dtype not in comp.macs_per_cycle:
            raise InfeasibleError(f"op {op.name}: no MAC rate for dtype {dtype!r} (has "
                                  f"{', '.join(sorted(comp.macs_per_cycle))})",
                                  field="compute.macs_per_cycle")
        lanes = comp.macs_per_cycle[dtype]
    spatial = _get(strategies, "unroll.spatial", None)
    if isinstance(spatial, dict) and not systolic:
        unroll = {d: int(u) for d, u in spatial.items() if d in dims}
    else:
        ld = lane_dim(op, cls)
        unroll = {ld: lanes} if (ld and not systolic) else {}
    temporal = int(_get(strategies, "unroll.temporal", 1))
    forced = _get(strategies, "reuse.dataflow", "auto")
    if forced != "auto":
        dataflows = (forced,)
    elif comp.kind == "systolic":
        dataflows = (comp.systolic.dataflow,)
    else:
        dataflows = ("ws", "os", "is")
    depth = int(_get(strategies, "prefetch.depth", 1))
    level, cap = _target(hw, cores)
    usable = cap // 2 if depth >= 1 else cap  # double buffering halves the room per tile
    operands = operands_of(graph, op, address, tensor_bytes)
    df, order, tile, _ = best_mapping(operands, dims, cls, dataflows, usable, cores, unroll)
    outer = []
    seen = False
    for lv in hw.memory.levels:
        if lv.name == level.name:
            seen = True
            continue
        if seen:
            c = lv.size_bytes if lv.scope == "core" else lv.size_bytes // max(1, cores)
            outer.append((lv.name, c // 2 if depth >= 1 else c))

    iters = op.loops.iterations
    work = op.macs if op.macs > 0 else op.ops
    if systolic:
        rows, cols = comp.systolic.rows, comp.systolic.cols
        sdf = forced if forced != "auto" else comp.systolic.dataflow
        shape = gemm_shape_of(op)
        layer_cycles = float(systolic_cycles(shape, rows, cols, sdf))
        util = systolic_utilisation(shape, rows, cols, sdf)

        def compute(box, points):
            # the array streams the whole layer; tiles share its cycles by their work
            return layer_cycles * points / iters if iters else 0.0
    else:
        overhead = comp.loop_overhead_cycles
        util = lane_utilisation(dims, unroll, lanes) if unroll else 1.0 / lanes
        per_point = work / iters if iters else 0.0

        def compute(box, points):
            ext = {d: b[1] for d, b in box.items()}
            u = lane_utilisation(ext, unroll, lanes) if unroll else 1.0 / lanes
            return compute_cycles_simd(per_point * points, lanes, u, overhead, temporal)

        layer_cycles = compute_cycles_simd(work, lanes, util, overhead, temporal)
    nt = n_tiles_of(dims, tile)
    return LayerMapping(
        op=op, target_level=level.name, dataflow=df, tile=tile, order=order,
        n_tiles=math.prod(nt.values()), utilisation=util, macs=op.macs,
        compute_cycles=layer_cycles, operands=operands, line_bytes=hw.memory.line_bytes,
        dma=level.kind == "scratchpad", unroll=unroll, _outer_levels=tuple(outer),
        _compute=compute)


def map_graph(graph, hw, plan, strategies=None, tensor_bytes=None) -> list[LayerMapping]:
    """One :class:`LayerMapping` per op with loops, in execution order.

    ``plan`` is anything with ``address(tensor_name) -> int`` (a ``MemoryPlan``, or
    :class:`memsim.mapping.addresses.SimpleAddressMap`). ``tensor_bytes`` overrides tensor sizes
    (compression); defaults to ``plan.tensor_bytes`` when the plan carries one.
    """
    tb = tensor_bytes if tensor_bytes is not None else getattr(plan, "tensor_bytes", None)
    if tb is not None and not callable(tb):
        tb = None
    return [map_op(graph, op, hw, plan.address, strategies, tb)
            for op in graph.ops if op.loops is not None]


def fetch_counts(mapping: LayerMapping) -> dict:
    """Per operand tensor: how often each distinct tile footprint is fetched (the multiplier)."""
    nt = n_tiles_of(mapping.dims, mapping.tile)
    return {o.tensor: fetch_multiplier(o.dims, mapping.order, nt) for o in mapping.operands}
