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
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from memsim.errors import InfeasibleError
from memsim.workloads.ir import dtype_bits
from memsim.mapping.compute import (
    compute_cycles_simd,
    gemm_shape_of,
    lane_utilisation,
    systolic_cycles,
    systolic_utilisation,
)
from memsim.mapping.loops import classify_dims, footprint_lines, tensor_bits, weight_like
from memsim.mapping.loops import approx_footprint
from memsim.mapping.tiling import (
    Operand,
    analytic_traffic,
    best_mapping,
    extent_classes,
    fetch_multiplier,
    n_tiles_of,
    working_set_bytes,
)

if TYPE_CHECKING:
    from memsim.strategies.segments import MemorySegments

#: Above this many lanes a "SIMD" unit is a GPU SM (tensor cores work on matrix blocks, not one
#: loop): the default spatial unroll is then ``auto`` instead of all lanes over output channels.
WIDE_SIMD_LANES = 64
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
    compute); ``segments``: how runs of ``lines`` travel below the caches (compression ``at:
    dram``, streaming stores; see :mod:`memsim.strategies.segments`), None when every line is
    an ordinary one.
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
    _lanes: int = 1
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
        from memsim.strategies.segments import MemorySegments, Run, merge_runs

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
        skip = self.skip_operands
        costs = self.operand_costs or tuple((1.0, None, 0.0) for _ in self.operands)
        tagged = self.streaming_stores or any(c[0] != 1.0 or c[1] for c in costs) or \
            self.write_ratio != 1.0 or self.write_bps
        inputs = [i for i, o in enumerate(self.operands) if o.role == "input" and i not in skip]
        weights = [i for i, o in enumerate(self.operands) if o.role == "weight" and i not in skip]
        outputs = [i for i, o in enumerate(self.operands) if o.role == "output" and i not in skip]
        for n, ks in enumerate(itertools.product(*[range(nt[d]) for d in order])):
            kd = dict(zip(order, ks))
            box = {d: (kd[d] * self.tile[d], min(self.tile[d], dims[d] - kd[d] * self.tile[d]))
                   for d in order}
            parts = []  # (lines, is_write, operand index)
            for group in (inputs, weights):
                for i in group:
                    key = tuple(kd[d] for d in rel[i])
                    if key == last_key[i]:
                        continue
                    last_key[i] = key
                    parts.append((self._lines(i, key, box, cache, cached), False, i))
            out_reads, out_writes = [], []
            for i in outputs:
                key = tuple(kd[d] for d in rel[i])
                if key == last_key[i]:
                    continue
                last_key[i] = key
                lines = self._lines(i, key, box, cache, cached)
                if key in seen_out[i] or self.operands[i].access.mode == "rw":
                    out_reads.append((lines, False, i))
                seen_out[i].add(key)
                out_writes.append((lines, True, i))
            parts += out_reads + out_writes
            if parts:
                lines = np.concatenate([p[0] for p in parts])
                writes = np.repeat(np.array([p[1] for p in parts], bool),
                                   [p[0].size for p in parts])
            else:
                lines, writes = np.empty(0, np.uint64), np.empty(0, bool)
            segments = None
            if tagged and parts:
                runs = merge_runs(Run(p[0].size, costs[p[2]][0], costs[p[2]][1],
                                      bool(self.streaming_stores and p[1])) for p in parts)
                segments = MemorySegments(runs, self.write_ratio, self.write_bps)
                if segments.plain():
                    segments = None
            points = math.prod(b[1] for b in box.values())
            macs = self.macs * points / iters if iters else 0.0
            ext = tuple(box[d][1] for d in order)
            inner = inner_cache.get(ext)
            if inner is None:
                inner = inner_cache[ext] = self._inner(dict(zip(order, ext)), box, points)
            yield Tile(macs=macs, compute_cycles=self._compute(box, points) + inner[1],
                       lines=lines, writes=writes, inner_bytes=inner[0], dma=self.dma, index=n,
                       mlp=self.mlp, segments=segments)

    def _inner(self, ext: dict, box: dict, points: int) -> tuple[int, float]:
        """(inner bytes incl. spill traffic, decompression cycles) of a tile of extents ``ext``."""
        from memsim.strategies.unroll import spill_bytes, unrolled_iterations

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
        lanes = self._lanes
        unroll = getattr(self, "_lane_unroll", self.unroll)
        if unroll:
            return lanes, lane_utilisation(ext, unroll, lanes)
        return lanes, 1.0 / lanes

    @property
    def decompress_cycles(self) -> float:
        """In-register decompression cycles of the whole layer on one core (``at: core``)."""
        if not any(c[2] > 0 for c in self.operand_costs):
            return 0.0
        return sum(self._inner(ext, {d: (0, e) for d, e in ext.items()}, 0)[1] * count
                   for ext, count in extent_classes(self.dims, self.tile))

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
    """The dtype an op computes in: its first input's (else its output's); an embedding (or any
    op whose first input is an index tensor of int32/int64) computes in its output's dtype."""
    names = list(op.inputs) + list(op.outputs)
    if op.kind == "embedding" or (op.inputs and op.outputs and
                                  graph.tensors[op.inputs[0]].dtype in ("int32", "int64")):
        names = list(op.outputs) + names
    for t in names:
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


def operands_of(graph, op, address, tensor_bytes=None, line_bytes: int = 1) -> tuple:
    """One :class:`Operand` per access, with base address, bits per element and line size."""
    wl = set(weight_like(op))
    ops = []
    for a in op.loops.accesses:
        t = graph.tensors[a.tensor]
        role = "output" if "w" in a.mode else ("weight" if a.tensor in wl else "input")
        ops.append(Operand(a.tensor, a, t.shape, tensor_bits(t, tensor_bytes), role,
                           int(address(a.tensor)), line_bytes))
    return tuple(ops)


def _target(hw, cores):
    """(name, per-core capacity bytes, is scratchpad): the innermost scratchpad if any, else the
    innermost level. Shared levels are divided among the cores."""
    levels = list(hw.memory.levels)
    pads = [lv for lv in levels if lv.kind == "scratchpad"]
    lv = pads[0] if pads else levels[0]
    cap = lv.size_bytes if lv.scope == "core" else lv.size_bytes // max(1, cores)
    return lv, cap


def _operand_costs(graph, operands, strategies, clock_hz, lanes, sparse_hw) -> tuple:
    """Per operand: (DRAM bytes per plain byte, decompressor bytes/s, cycles/element at core)."""
    from memsim.strategies.compression import (decompress_cycles_per_element, decompressor_bytes_per_cycle,
                                               dram_ratio)

    out = []
    for o in operands:
        t = graph.tensors[o.tensor]
        bpc = decompressor_bytes_per_cycle(strategies, t)
        out.append((dram_ratio(strategies, t), bpc * clock_hz if bpc else None,
                    decompress_cycles_per_element(strategies, t, lanes, sparse_hw)))
    return tuple(out)


def _zero_skip(graph, op, strategies, hw) -> float:
    """Fraction of MACs zero-skipping hardware (``compute.sparse``) executes: the product of the
    densities of the op's sparse operands (Ampere 2:4 sparse tensor cores run 2:4 weights at half
    the MACs, NVIDIA A100 whitepaper 2020). 1.0 on dense hardware or without sparse operands."""
    from memsim.strategies.compression import density_of

    if not getattr(hw.compute, "sparse", False) or op.macs <= 0 or strategies is None:
        return 1.0
    return math.prod(density_of(strategies, graph.tensors[t]) for t in (*op.inputs, *op.weights))


def map_op(graph, op, hw, address, strategies=None, tensor_bytes=None, cores=None
           ) -> LayerMapping:
    """Map one op (with loops) onto ``hw``; ``address(tensor) -> byte address``.

    Strategies applied here (docs/strategies.md): spatial unroll (explicit, default lanes on the
    output-channel loop, or ``auto``), temporal unroll (loop overhead, ``mlp``, register
    spills), dataflow, compression costs per operand (``at: dram`` ratios and decompressor,
    ``at: core`` expansion cycles), zero-skipping and streaming stores.
    """
    from memsim.strategies.unroll import (auto_array, auto_spatial, loads_per_iteration,
                                          memory_parallelism, spilled_registers)

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
    ld = lane_dim(op, cls)
    if isinstance(spatial, dict) and not systolic:
        unroll = {d: int(u) for d, u in spatial.items() if d in dims}
    elif (spatial == "auto" or (spatial is None and lanes > WIDE_SIMD_LANES)) and not systolic:
        unroll = auto_spatial(dims, lanes, prefer=ld)
    else:
        unroll = {ld: lanes} if (ld and not systolic) else {}
    temporal_cfg = _get(strategies, "unroll.temporal", None)
    temporal = int(temporal_cfg or 1)
    temporal_set = temporal_cfg is not None
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
    operands = operands_of(graph, op, address, tensor_bytes, hw.memory.line_bytes)
    df, order, tile, _ = best_mapping(operands, dims, cls, dataflows, usable, cores, unroll)
    if unroll and not systolic and any(tile[d] < u and tile[d] < dims[d] for d, u in unroll.items()):
        # No tile that holds the unroll fits the target level (e.g. 1024 GPU lanes over one
        # dim): spread the lanes over the tile's own extents instead.
        unroll = auto_spatial({d: tile[d] for d in dims}, lanes, prefer=ld)
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
    skip = _zero_skip(graph, op, strategies, hw)
    mlp, spill = None, (0, 0, 1)
    if systolic:
        rows, cols = comp.systolic.rows, comp.systolic.cols
        sdf = forced if forced != "auto" else comp.systolic.dataflow
        shape = gemm_shape_of(op)
        if spatial == "auto":
            rows, cols = auto_array(shape, rows, cols, sdf)
            unroll = {"rows": rows, "cols": cols}
        layer_cycles = float(systolic_cycles(shape, rows, cols, sdf)) * skip
        util = systolic_utilisation(shape, rows, cols, sdf)

        def compute(box, points):
            # the array streams the whole layer; tiles share its cycles by their work
            return layer_cycles * points / iters if iters else 0.0
        lane_unroll = {}
    else:
        overhead = comp.loop_overhead_cycles
        util = lane_utilisation(dims, unroll, lanes) if unroll else 1.0 / lanes
        per_point = work * skip / iters if iters else 0.0

        def compute(box, points):
            ext = {d: b[1] for d, b in box.items()}
            u = lane_utilisation(ext, unroll, lanes) if unroll else 1.0 / lanes
            return compute_cycles_simd(per_point * points, lanes, u, overhead, temporal)

        layer_cycles = compute_cycles_simd(work * skip, lanes, util, overhead, temporal)
        lane_unroll = unroll
        if comp.kind == "simd":
            loads = loads_per_iteration(operands)
            if temporal_set:
                mlp = memory_parallelism(loads, temporal)
            reg_bytes = comp.register_bytes or max(1, -(-lanes * dtype_bits(dtype) // 8))
            spill = (spilled_registers(loads, temporal, comp.registers), int(reg_bytes), temporal)
    costs = _operand_costs(graph, operands, strategies, comp.clock_hz, lanes, comp.sparse)
    write_ratio, write_bps = 1.0, None
    for o, c in zip(operands, costs):
        if o.role == "output":
            write_ratio, write_bps = c[0], c[1]
    nt = n_tiles_of(dims, tile)
    m = LayerMapping(
        op=op, target_level=level.name, dataflow=df, tile=tile, order=order,
        n_tiles=math.prod(nt.values()), utilisation=util, macs=op.macs,
        compute_cycles=layer_cycles, operands=operands, line_bytes=hw.memory.line_bytes,
        dma=level.kind == "scratchpad", unroll=unroll, _outer_levels=tuple(outer),
        _compute=compute, _lanes=lanes, operand_costs=costs,
        streaming_stores=bool(_get(strategies, "cache.streaming_stores", False)), mlp=mlp,
        spill=spill, zero_skip=skip, write_ratio=write_ratio, write_bps=write_bps)
    m._lane_unroll = lane_unroll
    m.compute_cycles = layer_cycles + m.decompress_cycles
    return m


def map_graph(graph, hw, plan, strategies=None, tensor_bytes=None) -> list[LayerMapping]:
    """One :class:`LayerMapping` per op with loops, in execution order.

    ``plan`` is anything with ``address(tensor_name) -> int`` (a ``MemoryPlan``, or
    :class:`memsim.mapping.addresses.SimpleAddressMap`). ``tensor_bytes`` overrides tensor sizes
    (compression); defaults to ``plan.tensor_bytes`` when the plan carries one. With
    ``strategies.reuse.fusion`` producer→consumer pairs are fused where the fused working set
    fits (memsim.strategies.fusion); each consumer's ``fusion`` attribute reports the decision.
    """
    tb = tensor_bytes if tensor_bytes is not None else getattr(plan, "tensor_bytes", None)
    if tb is not None and not callable(tb):
        tb = None
    mappings = [map_op(graph, op, hw, plan.address, strategies, tb)
                for op in graph.ops if op.loops is not None]
    if _get(strategies, "reuse.fusion", False):
        from memsim.strategies.fusion import apply_fusion

        apply_fusion(graph, hw, mappings, strategies)
    return mappings


def fetch_counts(mapping: LayerMapping) -> dict:
    """Per operand tensor: how often each distinct tile footprint is fetched (the multiplier)."""
    nt = n_tiles_of(mapping.dims, mapping.tile)
    return {o.tensor: fetch_multiplier(o.dims, mapping.order, nt) for o in mapping.operands}
