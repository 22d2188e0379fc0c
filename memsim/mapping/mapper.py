"""Map each op onto the hardware: target level, tile sizes, loop order, unrolling, compute model.

See docs/model.md "Mapping and compute" for the assumptions. Entry points: :func:`map_graph`,
:func:`map_op`; results are :class:`LayerMapping` objects whose :meth:`LayerMapping.tiles` yields
:class:`Tile` objects lazily (one op's tiles at a time, never a whole network's trace). The
mapper reads the hardware only through :class:`memsim.mapping.target.MappingInputs` and the
strategies as the typed fields of ``memsim.config.Strategies``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from memsim.config import Strategies
from memsim.errors import InfeasibleError
from memsim.mapping.compute import (
    compute_cycles_simd,
    gemm_shape_of,
    lane_utilisation,
    systolic_cycles,
    systolic_utilisation,
)
from memsim.mapping.fusion import apply_fusion
from memsim.mapping.layer import LayerMapping, Tile
from memsim.mapping.loops import classify_dims, tensor_bits, weight_like
from memsim.mapping.target import MappingInputs, level_capacity, tile_capacity
from memsim.mapping.tiling import Operand, analytic_traffic, best_mapping, fetch_multiplier, n_tiles_of
from memsim.mapping.unroll import (auto_array, auto_spatial, loads_per_iteration, memory_parallelism,
                                   spilled_registers)
from memsim.strategies.compression import (decompress_cycles_per_element, decompressor_bytes_per_cycle,
                                           density_of, dram_ratio)
from memsim.workloads.ir import dtype_bits

__all__ = ["LayerMapping", "Tile", "analytic_bytes", "fetch_counts", "lane_dim", "map_graph",
           "map_op", "op_dtype", "operands_of"]

#: Above this many lanes a "SIMD" unit is a GPU SM (tensor cores work on matrix blocks, not one
#: loop): the default spatial unroll is then ``auto`` instead of all lanes over output channels.
WIDE_SIMD_LANES = 64
#: Op kinds the systolic array runs (the rest go to the vector unit beside it).
SYSTOLIC_KINDS = ("conv2d", "matmul", "batch_matmul")
#: Strategies of a mapping made without any (every default).
DEFAULT_STRATEGIES = Strategies()


# --------------------------------------------------------------------------- helpers

def op_dtype(graph, op) -> str:
    """The dtype an op computes in: ``op.attrs["compute_dtype"]`` when the runtime set it (an
    int8 convolution reading a floating-point blob: ``runtime.precision``), else its first
    input's (else its output's); an embedding (or any op whose first input is an index tensor
    of int32/int64) computes in its output's dtype."""
    if "compute_dtype" in op.attrs:
        return op.attrs["compute_dtype"]
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


def _operand_costs(graph, operands, strategies, clock_hz, lanes, sparse_hw) -> tuple:
    """Per operand: (DRAM bytes per plain byte, decompressor bytes/s, cycles/element at core)."""
    out = []
    for o in operands:
        t = graph.tensors[o.tensor]
        bpc = decompressor_bytes_per_cycle(strategies, t)
        out.append((dram_ratio(strategies, t), bpc * clock_hz if bpc else None,
                    decompress_cycles_per_element(strategies, t, lanes, sparse_hw)))
    return tuple(out)


def _zero_skip(graph, op, strategies, comp) -> float:
    """Fraction of MACs zero-skipping hardware (``compute.sparse``) executes: the product of the
    densities of the op's sparse operands (Ampere 2:4 sparse tensor cores run 2:4 weights at half
    the MACs, NVIDIA A100 whitepaper 2020). 1.0 on dense hardware or without sparse operands."""
    if not comp.sparse or op.macs <= 0:
        return 1.0
    return math.prod(density_of(strategies, graph.tensors[t]) for t in (*op.inputs, *op.weights))


def _lanes(op, comp, dtype: str) -> int:
    """SIMD lanes for ``dtype`` (on a systolic unit: the vector unit beside the array, one lane
    per column — assumed)."""
    if comp.kind == "systolic":
        return comp.systolic.cols
    if dtype not in comp.macs_per_cycle:
        raise InfeasibleError(f"op {op.name}: no MAC rate for dtype {dtype!r} (has "
                              f"{', '.join(sorted(comp.macs_per_cycle))})",
                              field="compute.macs_per_cycle")
    return comp.macs_per_cycle[dtype]


def _spatial_unroll(spatial, dims: dict, lanes: int, ld, systolic: bool) -> dict:
    """The configured spatial unroll of a SIMD op: explicit factors, ``auto`` (also the default
    on wide units), else all lanes over the lane dim; none on the systolic array."""
    if systolic:
        return {}
    if isinstance(spatial, dict):
        return {d: int(u) for d, u in spatial.items() if d in dims}
    if spatial == "auto" or (spatial is None and lanes > WIDE_SIMD_LANES):
        return auto_spatial(dims, lanes, prefer=ld)
    return {ld: lanes} if ld else {}


def _dataflows(forced: str, comp) -> tuple:
    if forced != "auto":
        return (forced,)
    if comp.kind == "systolic":
        return (comp.systolic.dataflow,)
    return ("ws", "os", "is")


def _systolic_model(op, comp, strategies, skip: float) -> dict:
    """Compute model on the array: the array streams the whole layer and tiles share its cycles
    by their work (``auto`` spatial: the PE factorisation with the fewest cycles)."""
    rows, cols = comp.systolic.rows, comp.systolic.cols
    forced = strategies.reuse.dataflow
    sdf = forced if forced != "auto" else comp.systolic.dataflow
    shape = gemm_shape_of(op)
    unroll = {}
    if strategies.unroll.spatial == "auto":
        rows, cols = auto_array(shape, rows, cols, sdf)
        unroll = {"rows": rows, "cols": cols}
    layer_cycles = float(systolic_cycles(shape, rows, cols, sdf)) * skip
    iters = op.loops.iterations

    def tile_cycles(box, points):
        return layer_cycles * points / iters if iters else 0.0

    return {"cycles": layer_cycles, "utilisation": systolic_utilisation(shape, rows, cols, sdf),
            "tile_cycles": tile_cycles, "unroll": unroll, "lane_unroll": {}, "mlp": None,
            "spill": (0, 0, 1)}


def _simd_model(op, comp, strategies, operands, unroll: dict, lanes: int, dtype: str,
                skip: float) -> dict:
    """Compute model on SIMD lanes: lane utilisation of the unroll, loop overhead per temporal
    unroll U, and (SIMD cores) the memory-level parallelism and register spills of U."""
    temporal_cfg = strategies.unroll.temporal
    temporal = int(temporal_cfg or 1)
    overhead = comp.loop_overhead_cycles
    iters = op.loops.iterations
    work = op.macs if op.macs > 0 else op.ops
    util = lane_utilisation(op.loops.dims, unroll, lanes) if unroll else 1.0 / lanes
    per_point = work * skip / iters if iters else 0.0

    def tile_cycles(box, points):
        ext = {d: b[1] for d, b in box.items()}
        u = lane_utilisation(ext, unroll, lanes) if unroll else 1.0 / lanes
        return compute_cycles_simd(per_point * points, lanes, u, overhead, temporal)

    mlp, spill = None, (0, 0, 1)
    if comp.kind == "simd":
        loads = loads_per_iteration(operands)
        if temporal_cfg is not None:
            mlp = memory_parallelism(loads, temporal)
        reg_bytes = comp.register_bytes or max(1, -(-lanes * dtype_bits(dtype) // 8))
        spill = (spilled_registers(loads, temporal, comp.registers), int(reg_bytes), temporal)
    return {"cycles": compute_cycles_simd(work * skip, lanes, util, overhead, temporal),
            "utilisation": util, "tile_cycles": tile_cycles, "unroll": unroll,
            "lane_unroll": unroll, "mlp": mlp, "spill": spill}


def map_op(graph, op, hw, address, strategies=None, tensor_bytes=None, cores=None
           ) -> LayerMapping:
    """Map one op (with loops) onto ``hw`` (a ``Hardware`` or its :class:`MappingInputs`);
    ``address(tensor) -> byte address``; ``strategies`` None: every default.

    Strategies applied here (docs/strategies.md): spatial unroll (explicit, default lanes on the
    output-channel loop, or ``auto``), temporal unroll (loop overhead, ``mlp``, register
    spills), dataflow, compression costs per operand (``at: dram`` ratios and decompressor,
    ``at: core`` expansion cycles), zero-skipping and streaming stores.
    """
    view = hw if isinstance(hw, MappingInputs) else MappingInputs.of(hw)
    strategies = strategies if strategies is not None else DEFAULT_STRATEGIES
    comp = view.compute
    cores = cores or comp.cores
    cls = classify_dims(op)
    dims = dict(op.loops.dims)
    dtype = op_dtype(graph, op)
    systolic = comp.kind == "systolic" and op.kind in SYSTOLIC_KINDS and op.macs > 0
    lanes = _lanes(op, comp, dtype)
    ld = lane_dim(op, cls)
    unroll = _spatial_unroll(strategies.unroll.spatial, dims, lanes, ld, systolic)
    usable = view.usable_bytes(cores, strategies.prefetch.depth)
    operands = operands_of(graph, op, address, tensor_bytes, view.line_bytes)
    # a GPU SM (more lanes than WIDE_SIMD_LANES) splits small layers below the unroll so that
    # every SM gets a tile (tiling.search_tile)
    df, order, tile, _ = best_mapping(operands, dims, cls, _dataflows(strategies.reuse.dataflow, comp),
                                      usable, cores, unroll,
                                      split_below_unroll=not systolic and lanes > WIDE_SIMD_LANES)
    if unroll and not systolic and any(tile[d] < u and tile[d] < dims[d] for d, u in unroll.items()):
        # No tile that holds the unroll fits the target level (e.g. 1024 GPU lanes over one
        # dim): spread the lanes over the tile's own extents instead.
        unroll = auto_spatial({d: tile[d] for d in dims}, lanes, prefer=ld)
    skip = _zero_skip(graph, op, strategies, comp)
    model = _systolic_model(op, comp, strategies, skip) if systolic else \
        _simd_model(op, comp, strategies, operands, unroll, lanes, dtype, skip)
    costs = _operand_costs(graph, operands, strategies, comp.clock_hz, lanes, comp.sparse)
    write_ratio, write_bps = 1.0, None
    for o, c in zip(operands, costs):
        if o.role == "output":
            write_ratio, write_bps = c[0], c[1]
    m = LayerMapping(
        op=op, target_level=view.target.name, dataflow=df, tile=tile, order=order,
        n_tiles=math.prod(n_tiles_of(dims, tile).values()), utilisation=model["utilisation"],
        macs=op.macs, compute_cycles=model["cycles"], operands=operands,
        line_bytes=view.line_bytes, dma=view.target.dma, unroll=model["unroll"],
        lane_unroll=model["lane_unroll"],
        tile_cycles=model["tile_cycles"], lanes=lanes, operand_costs=costs,
        streaming_stores=bool(strategies.cache.streaming_stores), mlp=model["mlp"],
        spill=model["spill"], zero_skip=skip, write_ratio=write_ratio, write_bps=write_bps)
    return replace(m, compute_cycles=model["cycles"] + m.decompress_cycles)


def map_graph(graph, hw, plan, strategies=None, tensor_bytes=None) -> list[LayerMapping]:
    """One :class:`LayerMapping` per op with loops, in execution order.

    ``plan`` is anything with ``address(tensor_name) -> int`` (a ``MemoryPlan``, or
    :class:`memsim.mapping.addresses.SimpleAddressMap`). ``tensor_bytes`` overrides tensor sizes
    (compression); defaults to ``plan.tensor_bytes`` when the plan carries one. With
    ``strategies.reuse.fusion`` producer→consumer pairs are fused where the fused working set
    fits (:mod:`memsim.mapping.fusion`); each consumer's ``fusion`` field reports the decision.
    """
    view = hw if isinstance(hw, MappingInputs) else MappingInputs.of(hw)
    strategies = strategies if strategies is not None else DEFAULT_STRATEGIES
    tb = tensor_bytes if tensor_bytes is not None else getattr(plan, "tensor_bytes", None)
    if tb is not None and not callable(tb):
        tb = None
    mappings = [map_op(graph, op, view, plan.address, strategies, tb)
                for op in graph.ops if op.loops is not None]
    if strategies.reuse.fusion:
        mappings, _ = apply_fusion(graph, view, mappings, strategies)
    return mappings


def analytic_bytes(mapping: LayerMapping, hw, strategies=None, cores=None) -> dict:
    """Analytic bytes moved between each level and the next one out (``"dram"``: the
    outermost on-chip level's traffic to DRAM). The target level uses ``mapping``; each level
    outside it the best tiling that fits it (compulsory when the op fits), at the same per-tile
    capacity rule. Reads every level's size, so it takes the whole ``Hardware``."""
    strategies = strategies if strategies is not None else DEFAULT_STRATEGIES
    cores = cores or hw.compute.cores
    depth = strategies.prefetch.depth
    key = mapping.target_level or "dram"
    out = {key: sum(t.bytes for t in mapping.traffic)}
    prev, last = out[key], key
    cls = classify_dims(mapping.op)
    names = [lv.name for lv in hw.memory.levels]
    start = names.index(mapping.target_level) + 1 if mapping.target_level in names else len(names)
    for lv in hw.memory.levels[start:]:
        cap = tile_capacity(level_capacity(lv.size_bytes, lv.scope, cores), depth)
        _, order, tile, _ = best_mapping(mapping.operands, mapping.dims, cls, (mapping.dataflow,),
                                         cap, 1, mapping.unroll)
        b = sum(t.bytes for t in analytic_traffic(mapping.operands, mapping.dims, tile, order))
        prev = min(prev, b)
        out[lv.name] = prev
        last = lv.name
    out["dram"] = out[last]
    return out


def fetch_counts(mapping: LayerMapping) -> dict:
    """Per operand tensor: how often each distinct tile footprint is fetched (the multiplier)."""
    nt = n_tiles_of(mapping.dims, mapping.tile)
    return {o.tensor: fetch_multiplier(o.dims, mapping.order, nt) for o in mapping.operands}
