"""``apply(mappings, graph, hardware, settings) -> mappings``: the runtime stage.

Between mapping and engine: for each mapped layer the runtime decides what is executed — the
convolution algorithm (its true multiplies and extra buffer traffic), whether the op is fused
into its producer (then it disappears: its tensor never makes the extra round trip), the kernel
class's achievable efficiency, GPU wave quantisation, tensor-core eligibility, and depthwise
packing on systolic NPUs — and the fixed time it costs (dispatch/launch/setup plus the thread
barrier). The result is a list of :class:`RuntimeLayer` objects that behave as the mappings
they wrap, with scaled tile compute cycles, the extra bytes on each tile's inner traffic and a
``fixed_ps`` the engine waits before the layer's tiles. A profile that changes nothing
(``generic``) returns the mappings themselves, so numbers stay bit-identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from memsim.mapping.compute import GemmShape, gemm_shape_of, systolic_cycles
from memsim.mapping.layer import Tile
from memsim.runtime.algorithms import Algorithm, choose_conv, conv_shape_of
from memsim.runtime.blocked import blocked_eligible, blocked_layers
from memsim.runtime.overheads import (best_block, layer_fixed_s, parallel_items,
                                      split_efficiency, wave_efficiency)
from memsim.runtime.precision import has_dot_product, retype_graph
from memsim.runtime.profiles import ACTIVATIONS, RuntimeProfile, get_profile
from memsim.workloads.ir import dtype_bits

MAC_KINDS = ("conv2d", "matmul", "batch_matmul")


@dataclass(frozen=True)
class RuntimeSettings:
    """The execution context of one stream: runtime name, unit, threads and calibrated
    parameter overrides (``RuntimeProfile.with_params`` keys)."""

    runtime: str = "generic"
    unit: str = "cpu"
    threads: int = 1
    params: dict = field(default_factory=dict)

    def profile(self) -> RuntimeProfile:
        """The runtime's profile for this unit with the calibrated overrides applied."""
        prof = get_profile(self.runtime, self.unit)
        return prof.with_params(self.params) if self.params else prof


@dataclass(frozen=True)
class Decision:
    """What the runtime does with one layer (reported by ``memsim run``'s layer table)."""

    algorithm: str
    kernel: str
    compute_scale: float
    fixed_s: float
    extra_bytes: int = 0
    alg: Algorithm | None = None
    blocked: bool = False  # run as the runtime's own blocked GEMM (memsim.runtime.blocked)


class RuntimeLayer:
    """A ``LayerMapping`` as the runtime executes it (every other attribute is the mapping's)."""

    def __init__(self, mapping, decision: Decision):
        self._mapping = mapping
        self.decision = decision
        self.fixed_ps = int(round(decision.fixed_s * 1e12))
        self.compute_cycles = mapping.compute_cycles * decision.compute_scale
        #: tile-memo key: the wrapped mapping (kept alive by whoever holds the prepared
        #: streams) and what the runtime does to it; the wrapper's own id may be reused
        self.memo_key = (id(mapping), decision)

    def __getattr__(self, name):
        return getattr(self._mapping, name)

    def tiles(self):
        """The mapping's tiles with compute cycles scaled and extra bytes spread by MACs."""
        scale = self.decision.compute_scale
        extra = self.decision.extra_bytes
        total = float(self._mapping.macs) or 1.0
        for t in self._mapping.tiles():
            add = int(round(extra * t.macs / total)) if extra else 0
            # Tile(...) directly: dataclasses.replace costs several µs per tile
            yield Tile(t.macs, t.compute_cycles * scale, t.lines, t.writes, t.inner_bytes + add,
                       t.dma, t.index, t.mlp, t.segments, t.core)


def settings_for(stream, hardware, runtime: str | None, unit: str | None) -> RuntimeSettings:
    """Settings of ``stream`` on ``hardware``: the scenario's runtime, else the preset's (its
    unit's), else ``generic``; threads from the stream (``threads``, else its ``cores``, else
    every core); calibrated parameters when the preset was calibrated for this runtime."""
    unit = unit or hardware.unit_kind
    name = runtime or hardware.runtime or "generic"
    threads = getattr(stream, "threads", None) or (len(stream.cores) if stream.cores else
                                                   hardware.compute.cores)
    cal = getattr(hardware, "calibration", None)
    params = (dict(cal.params) if cal is not None and cal.runtime == name and cal.unit == unit
              else {})
    return RuntimeSettings(name, unit, int(threads), params)


def graph_pass(scenario, index: int, graph):
    """Stream ``index``'s ``graph`` with the tensor widths its runtime stores
    (``precision.retype_graph``), before the memory plan; ``graph`` itself when unchanged."""
    hw = scenario.hardware
    settings = settings_for(scenario.streams[index], hw, scenario.runtime, scenario.unit)
    return retype_graph(graph, settings.profile(), hw)


def runtime_pass(scenario, index: int, prepared):
    """The runtime stage as a prepare pass (``memsim.prepare.StreamPass``): stream ``index``
    of ``scenario`` as its runtime executes it; ``prepared`` itself when the runtime changes
    nothing (``generic``), so those numbers stay bit-identical."""
    hw = scenario.hardware
    settings = settings_for(scenario.streams[index], hw, scenario.runtime, scenario.unit)
    mappings = list(prepared.mappings)
    out = apply(mappings, prepared.graph, hw, settings)
    return prepared if out is mappings else prepared.with_mappings(out)


def apply(mappings: list, graph, hardware, settings: RuntimeSettings) -> list:
    """The runtime's view of ``mappings`` (see the module docstring)."""
    prof = settings.profile()
    if prof.is_identity:
        return mappings
    fused = fused_ops(graph, prof)
    merged = merged_launches(graph, prof)
    out = []
    for m in mappings:
        if m.op.name in fused:
            continue
        d = decide(m, graph, hardware, prof, settings.threads)
        if m.op.name in merged:
            d = replace(d, fixed_s=0.0)
        out.append(RuntimeLayer(m, d))
    if prof.blocked_gemm or prof.border_copy:
        out = blocked_layers(out, mappings, hardware, settings.threads, prof.border_copy,
                             prof.int8_passes)
    return out


def fused_ops(graph, prof: RuntimeProfile) -> set[str]:
    """Names of elementwise ops the runtime folds into their producer's epilogue.

    An activation (or, with ``fuse_add``, an add) is fused when one of its inputs is written by
    a conv/GEMM (or by an op already fused into one) and read by nothing else.
    """
    if not prof.fuse:
        return set()
    heads: set[str] = {op.name for op in graph.ops if op.kind in MAC_KINDS}
    fused: set[str] = set()
    for op in graph.ops:
        if op.kind != "elementwise":
            continue
        kind = op.attrs.get("op")
        if not (kind in ACTIVATIONS or (prof.fuse_add and kind == "add")):
            continue
        for t in op.inputs:
            prod = graph.producer(t)
            if prod is not None and prod.name in heads and len(graph.consumers(t)) == 1:
                fused.add(op.name)
                heads.add(op.name)
                break
    return fused


def merged_launches(graph, prof: RuntimeProfile) -> set[str]:
    """Names of ops that run inside another op's kernel (``prof.fuse_attention``): no launch
    of their own, their work and traffic stay.

    Fused attention: a softmax whose input is written by a batch matmul and read only by it, and
    the batch matmul that is the softmax's only reader (scores·softmax·context, one kernel).
    One QKV GEMM: of the matmuls reading the same input with weights of the same shape, all but
    the first in graph order.
    """
    if not prof.fuse_attention:
        return set()
    merged: set[str] = set()
    first_by_input: dict[tuple, str] = {}
    for op in graph.ops:
        if op.kind == "softmax" and op.inputs:
            prod = graph.producer(op.inputs[0])
            readers = graph.consumers(op.outputs[0]) if op.outputs else []
            if (prod is not None and prod.kind == "batch_matmul"
                    and len(graph.consumers(op.inputs[0])) == 1 and len(readers) == 1
                    and readers[0].kind == "batch_matmul"):
                merged.update({op.name, readers[0].name})
        elif op.kind == "matmul" and op.inputs and op.weights:
            key = (op.inputs[0], tuple(graph.tensors[w].shape for w in op.weights))
            if key in first_by_input:
                merged.add(op.name)
            else:
                first_by_input[key] = op.name
    return merged


def algorithm_of(op, prof: RuntimeProfile, bits: int = 32, dot: bool = False) -> Algorithm:
    """The algorithm ``prof`` runs for ``op`` computing on ``bits``-bit elements (conv choice;
    GEMM for matmuls; else elementwise); ``dot``: the cores have int8 dot-product
    instructions (``precision.has_dot_product``)."""
    shape = conv_shape_of(op)
    if shape is not None:
        rule = prof.conv_rule
        if bits == 8 and rule == "ncnn":
            rule += "-int8-dot" if dot else "-int8"
        return choose_conv(shape, prof.winograd_tiles, prof.winograd_min_channels, prof.im2col,
                           rule)
    if op.kind in ("matmul", "batch_matmul"):
        return Algorithm("gemm", "gemm", int(op.macs))
    return Algorithm(op.kind, "elementwise", int(op.macs))


def decide(m, graph, hardware, prof: RuntimeProfile, threads: int) -> Decision:
    """The :class:`Decision` for one mapped layer."""
    op = m.op
    bits = _compute_bits(graph, op, 8)
    alg = algorithm_of(op, prof, bits, has_dot_product(hardware))
    scale = 1.0 / prof.efficiency.get(alg.kernel, 1.0)
    if op.macs > 0 and alg.kernel != "elementwise":
        scale *= alg.total_macs / op.macs
    comp = hardware.compute
    if comp.kind == "systolic" and prof.depthwise_packed and alg.kernel == "depthwise":
        scale *= _packed_depthwise_ratio(m, comp)
    if comp.kind == "simd" and prof.unit == "gpu":
        scale *= _gpu_factor(m, hardware, prof, _element_bytes(graph, op))
    if comp.kind == "simd" and prof.register_block and comp.loop_overhead_cycles:
        scale *= register_block_ratio(comp.loop_overhead_cycles, _temporal(m), prof.register_block)
    if threads > 1 and prof.allcore_clock_fraction != 1.0:
        scale /= prof.allcore_clock_fraction
    blocked = bool(prof.blocked_gemm) and blocked_eligible(m, graph, alg)
    if threads > 1 and prof.parallel_split == "ncnn" and not blocked:
        # (a blocked layer's tiles carry the runtime's own split: memsim.runtime.blocked)
        scale *= split_ratio(m, graph, hardware, alg.kernel, threads)
    # written once, read once (a blocked layer simulates its buffers line by line instead)
    extra = 0 if blocked else int(math.ceil(2 * alg.extra_elements * bits / 8))
    launches = prof.winograd_dispatches if alg.kernel == "winograd" else 1
    fixed = layer_fixed_s(prof.op_overhead_s * launches, threads, prof.barrier_s)
    return Decision(alg.name, alg.kernel, scale, fixed, extra, alg, blocked)


def split_ratio(m, graph, hardware, kernel: str, threads: int) -> float:
    """The engine's busy fraction of ``threads`` dealing the mapper's tiles over the runtime's
    busy fraction over its own work items (``overheads.parallel_items``): compute scales by it,
    so the layer's compute phase lasts as the runtime's static split makes it. 1.0 for ops
    without a MAC loop nest."""
    op = m.op
    if op.kind not in MAC_KINDS or op.loops is None or op.macs <= 0:
        return 1.0
    shape = gemm_shape_of(op)
    bits = _compute_bits(graph, op, 32)
    reg = hardware.compute.register_bytes or 16
    pack = max(1, min(8, reg * 8 // max(1, bits)))  # ncnn elempack: 4 fp32, 8 fp16/int8 (NEON)
    items = parallel_items(kernel, shape.nf, shape.groups, threads, pack)
    return wave_efficiency(m.n_tiles, threads) / split_efficiency(items, threads)


def needed_intensity(hardware, lanes: int, element_bytes: float) -> float:
    """MACs per operand element an SM needs to stay compute-bound: its MACs per cycle over the
    elements per cycle its innermost level's port delivers (0 when unknown)."""
    level = hardware.memory.levels[0]
    per_cycle = level.bandwidth_bytes_per_s / hardware.compute.clock_hz
    if not lanes or per_cycle <= 0 or element_bytes <= 0:
        return 0.0
    return lanes / (per_cycle / element_bytes)


def register_block_ratio(loop_overhead: float, temporal: int, block: int) -> float:
    """``(1 + lo/block) / (1 + lo/temporal)``: SIMD cycles per vector MAC of a kernel paying
    loop control once per ``block`` MACs over the mapper's once per ``temporal`` (DESIGN §4's
    ``iters + loop_overhead·iters/temporal``)."""
    return (1 + loop_overhead / block) / (1 + loop_overhead / max(1, temporal))


def _temporal(m) -> int:
    spill = getattr(m, "spill", None)
    return int(spill[2]) if spill else 1


def _packed_depthwise_ratio(m, comp) -> float:
    """Cycles with channels across the columns over cycles one channel at a time."""
    shape = gemm_shape_of(m.op)
    rows, cols, df = comp.systolic.rows, comp.systolic.cols, comp.systolic.dataflow
    one_by_one = systolic_cycles(shape, rows, cols, df)
    packed = systolic_cycles(GemmShape(shape.npx, shape.win, shape.nf * shape.groups), rows,
                             cols, df)
    return packed / one_by_one if one_by_one else 1.0


def _compute_bits(graph, op, default: int) -> int:
    """Bits of the elements a MAC op computes on: the runtime's ``compute_dtype`` (an int8
    conv dequantizing to a floating-point blob, ``precision``), else its output's."""
    if "compute_dtype" in op.attrs:
        return dtype_bits(op.attrs["compute_dtype"])
    return dtype_bits(graph.tensors[op.outputs[0]].dtype) if op.outputs else default


def _element_bytes(graph, op) -> float:
    names = list(op.inputs) or list(op.outputs)
    return dtype_bits(graph.tensors[names[0]].dtype) / 8 if names else 1.0


def _gpu_factor(m, hardware, prof: RuntimeProfile, element_bytes: float) -> float:
    """Wave quantisation over the SMs and, without tensor cores, the vector-core rate."""
    comp = hardware.compute
    factor = 1.0
    if prof.gpu_block is not None and m.op.loops is not None and m.op.macs > 0:
        # the engine already spreads the mapper's tiles over the SMs (its own quantisation):
        # replace that by the thread-block one
        shape = gemm_shape_of(m.op)
        _, eff = best_block(shape.npx, shape.nf, shape.groups, comp.cores,
                            needed_intensity(hardware, m.lanes, element_bytes))
        factor *= wave_efficiency(m.n_tiles, comp.cores) / eff
    if not prof.tensor_cores:
        vector = comp.macs_per_cycle.get("fp32")
        lanes = m.lanes
        if vector and lanes and lanes > vector:
            factor *= lanes / vector
    return factor
