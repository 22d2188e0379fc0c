"""Layer fusion: a consumer reads its input tile from the producer's on-chip tile.

Tiled depth-first execution of a chain (Alwani et al., "Fused-layer CNN accelerators", MICRO
2016; TVM/TFLite-Micro style operator fusion): for each tile of the consumer, the producer
computes exactly the region of the intermediate that tile needs, keeps it in the target level
and the consumer uses it at once, so the intermediate never travels below the target level.

A pair (producer P, consumer C, intermediate T) is a candidate when P and C are consecutive ops
with loops, T is an activation written by P and read by C and by nothing else, and not a graph
output. It is fused when the fused working set fits the capacity the mapping uses for one tile
(the target level per core, halved with double buffering):

``WS = WS_C(C's tile) + WS_P(P's tile for T's region) − |T's region|``

where T's region is C's tile footprint on T (per axis span ``1 + Σ|c|·(t − 1)``, clipped), P's
tile covers that region on P's output dims and P's reduction dims whole, and ``WS`` of a tile is
the mapping's working set (every operand's full-tile footprint). Fused, the intermediate's lines
leave both tile streams (no write by P, no read by C, no partial sums): exactly T's traffic
below the target level — its DRAM round trip when T did not fit the caches — disappears. Not
fused, nothing changes. The engine still runs the two layers one after the other with the same
compute; the memory plan still reserves T's buffer (a conservative peak-memory figure).
"""

from __future__ import annotations

import math
from dataclasses import replace

from memsim.mapping.loops import approx_footprint
from memsim.mapping.target import MappingInputs
from memsim.mapping.tiling import working_set_bytes


def _region_spans(operand, tile) -> list[int]:
    """Per axis of the operand's tensor: the span a tile reaches (clipped to the axis)."""
    spans = []
    for ax, size in zip(operand.access.index, operand.shape):
        span = 1 + sum(abs(c) * (tile[d] - 1) for d, c in ax.terms)
        spans.append(min(span, size))
    return spans


def producer_tile(prod, tensor: str, spans: list[int]) -> dict:
    """P's tile producing T's region of ``spans``: output dims indexing T directly (one term,
    coefficient 1) cover the region; every other dim stays whole."""
    dims = prod.dims
    tile = dict(dims)
    out = next(o for o in prod.operands if o.tensor == tensor and o.role == "output")
    for ax, span in zip(out.access.index, spans):
        if len(ax.terms) == 1 and ax.terms[0][1] == 1:
            d = ax.terms[0][0]
            tile[d] = max(1, min(dims[d], span))
    return tile


def fused_working_set(prod, cons, tensor: str) -> int:
    """Bytes the fused pair keeps on chip for one consumer tile (see module doc)."""
    t_in = next(o for o in cons.operands if o.tensor == tensor and o.role != "output")
    spans = _region_spans(t_in, cons.tile)
    ptile = producer_tile(prod, tensor, spans)
    region = math.ceil(approx_footprint(t_in.access, t_in.shape, cons.tile) * t_in.bits / 8)
    return working_set_bytes(cons.operands, cons.tile) + \
        working_set_bytes(prod.operands, ptile) - region


def _candidate(graph, prod, cons):
    """(tensor, reason-not-candidate or None) for a consecutive pair."""
    shared = [t for t in prod.op.outputs if t in cons.op.inputs]
    if not shared:
        return None, None
    t = shared[0]
    tensor = graph.tensors[t]
    if t in graph.outputs or tensor.kind not in ("activation",):
        return t, f"{t} is a graph output"
    consumers = [op.name for op in graph.consumers(t)]
    if consumers != [cons.op.name]:
        return t, f"{t} has {len(consumers)} consumers"
    return t, None


def apply_fusion(graph, hw, mappings, strategies, cores=None) -> tuple[list, list[dict]]:
    """Decide fusion for every consecutive pair of ``mappings`` → ``(mappings, report)``.

    ``hw``: a ``Hardware`` or its :class:`MappingInputs`. The returned mappings are new
    records (``mappings`` is not changed) with fused intermediates removed from both tile
    streams (``skip_operands``) and each candidate consumer's ``fusion`` set to its report row.
    The report has one row per candidate pair: ``producer, consumer, tensor, fused,
    working_set_bytes, capacity_bytes, level, intermediate_bytes, reason``.
    """
    view = hw if isinstance(hw, MappingInputs) else MappingInputs.of(hw)
    cores = cores or view.compute.cores
    level, cap = view.target.name, view.usable_bytes(cores, strategies.prefetch.depth)
    out = list(mappings)
    rows = []
    for k in range(len(out) - 1):
        prod, cons = out[k], out[k + 1]
        t, reason = _candidate(graph, prod, cons)
        if t is None:
            continue
        ws = fused_working_set(prod, cons, t) if reason is None else None
        if reason is None and ws > cap:
            reason = f"fused working set {ws} B > {cap} B usable in {level}"
        fused = reason is None
        t_bytes = next((math.ceil(graph.tensors[t].numel * o.bits / 8)
                        for o in cons.operands if o.tensor == t), graph.tensors[t].nbytes)
        row = {"producer": prod.op.name, "consumer": cons.op.name, "tensor": t, "fused": fused,
               "working_set_bytes": ws, "capacity_bytes": cap, "level": level,
               "intermediate_bytes": int(t_bytes), "reason": reason or "fits"}
        if fused:
            out[k] = _skipping(prod, t)
            cons = _skipping(cons, t)
        out[k + 1] = replace(cons, fusion=row)
        rows.append(row)
    return out, rows


def _skipping(mapping, tensor: str):
    """``mapping`` with its operands on ``tensor`` held on chip (left out of the tile stream)."""
    idx = frozenset(i for i, o in enumerate(mapping.operands) if o.tensor == tensor)
    return replace(mapping, skip_operands=frozenset(mapping.skip_operands | idx))


def fusion_report(mappings) -> list[dict]:
    """The fusion rows recorded on ``mappings`` (after :func:`apply_fusion`)."""
    return [m.fusion for m in mappings if m.fusion]
