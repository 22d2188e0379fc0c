"""Row splitting: a run of layers executed band by band (patch-based inference).

A *segment* is a contiguous run of ops ``[first, last]`` in execution order whose every op
writes one NCHW tensor and indexes its activation inputs' rows (axis 2) by an affine function of
its output-row loop dim. Split into ``bands`` bands, the last op's output rows are cut into
equal bands (``floor(b * H / bands)`` boundaries) and each band is computed depth-first: every op
of the segment runs once per band, on the rows of its output that band needs. Intermediate
tensors then exist only band-sized (``name#bK``, a tensor of the band's rows), so the large
activations inside the segment never live whole — MCUNetV2's patch-based inference (Lin et al.,
NeurIPS 2021, arXiv 2110.15352, §3.1) and the row tiling of TFLM/CMSIS-NN deployments.

Rows an op needs of an input follow from its access: an input row index ``s*p + sum(c*d) + o``
(stride ``s`` on the output-row dim ``p``; the kernel-row dims ``d`` with coefficients ``c``,
i.e. dilation; ``o`` the negative top padding) reads, for output rows ``[a, b)``, the rows
``[s*a + o + min, s*(b-1) + o + max + 1)`` clipped to the tensor: the receptive field. A tensor
read by several ops of the segment keeps, per band, the hull of their needs. Adjacent bands'
needs overlap by the halo, which is recomputed: a sub-op over ``r`` output rows does ``r / P`` of
its op's MACs (and elementary ops) exactly, since every op's work is linear in its output rows.

The sub-ops are ordinary ops with loop nests (the output-row dim shrunk to the band's rows, the
row offsets shifted), so mapping and the engine charge their MACs and every access as for any
layer; weights are re-read by every band. The last op of every band writes its rows of the one
full output tensor (``Op.attrs["partial_write"]``: several ops write parts of it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from memsim.workloads.ir import Access, Affine, Graph, LoopNest, Op, Tensor

ROW_AXIS = 2  # NCHW: H


@dataclass(frozen=True)
class Segment:
    """Ops ``first..last`` (indices into ``graph.ops``, inclusive) split into ``bands`` bands."""

    first: int
    last: int
    bands: int


def row_dim(op: Op) -> str | None:
    """The loop dim indexing the rows of ``op``'s one written 4-D tensor (coefficient 1, offset
    0), or None when the op cannot be split by rows."""
    if op.loops is None or len(op.outputs) != 1:
        return None
    written = [a for a in op.loops.accesses if "w" in a.mode]
    if len(written) != 1 or written[0].tensor != op.outputs[0] or len(written[0].index) != 4:
        return None
    ax = written[0].index[ROW_AXIS]
    if len(ax.terms) != 1 or ax.terms[0][1] != 1 or ax.offset != 0:
        return None
    return ax.terms[0][0]


def _input_access(op: Op, tensor: str) -> Access:
    return next(a for a in op.loops.accesses if a.tensor == tensor and "w" not in a.mode)


def needed_rows(op: Op, tensor: str, rows: tuple[int, int], height: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of input ``tensor`` (``height`` rows) that ``op`` reads for its output
    rows ``rows = [a, b)``: the receptive field, clipped; a row index that does not depend on
    the output rows (a broadcast) needs every row."""
    p = row_dim(op)
    ax = _input_access(op, tensor).index[ROW_AXIS]
    if ax.coeff(p) == 0:
        return 0, height
    a, b = rows
    s = ax.coeff(p)
    lo = s * a + ax.offset + sum(min(0, c * (op.loops.dims[d] - 1)) for d, c in ax.terms if d != p)
    hi = s * (b - 1) + ax.offset + sum(max(0, c * (op.loops.dims[d] - 1))
                                       for d, c in ax.terms if d != p) + 1
    return max(0, lo), min(height, hi)


def splittable(graph: Graph, op: Op) -> bool:
    """Whether ``op`` can run on a band of its output rows: a row dim, 4-D activation inputs
    whose row index grows with it (non-negative coefficients), and work linear in its rows."""
    p = row_dim(op)
    if p is None or op.kind not in ("conv2d", "pool", "elementwise", "concat"):
        return False
    for t in dict.fromkeys(op.inputs):
        if len(graph.tensors[t].shape) != 4:
            return False
        ax = _input_access(op, t).index[ROW_AXIS]
        if any(c < 0 for _, c in ax.terms):
            return False
    rows = op.loops.dims[p]
    return op.macs % rows == 0 and op.ops % rows == 0


def segment_error(graph: Graph, first: int, last: int) -> str | None:
    """Why ops ``first..last`` cannot form a segment, or None: every op splittable, and every
    tensor they write other than the last op's output read only inside the segment."""
    if not 0 <= first <= last < len(graph.ops):
        return f"ops {first}..{last} out of range"
    ops = graph.ops[first:last + 1]
    names = {o.name for o in ops}
    for op in ops:
        if not splittable(graph, op):
            return f"{op.name} ({op.kind}) cannot be split by rows"
    viewed = {o.alias_of for o in graph.tensors.values() if o.alias_of is not None}
    for op in ops[:-1]:
        t = op.outputs[0]
        if t in graph.outputs or any(c.name not in names for c in graph.consumers(t)):
            return f"{t} is read after the segment"
        if t in viewed:
            return f"{t} has views"
    return None


def band_bounds(height: int, bands: int) -> list[tuple[int, int]]:
    """Equal bands of ``height`` rows: ``[floor(b*H/B), floor((b+1)*H/B))``."""
    return [(b * height // bands, (b + 1) * height // bands) for b in range(bands)]


def band_rows(graph: Graph, seg: Segment) -> list[dict[str, tuple[int, int]]]:
    """Per band, the output rows ``[lo, hi)`` each op of the segment computes (by op name),
    derived backwards from the last op's band through every consumer's receptive field."""
    ops = graph.ops[seg.first:seg.last + 1]
    last = ops[-1]
    height = graph.tensors[last.outputs[0]].shape[ROW_AXIS]
    out = []
    for rows in band_bounds(height, seg.bands):
        need = {last.outputs[0]: rows}
        computed = {}
        for op in reversed(ops):
            t = op.outputs[0]
            if t not in need:  # nothing of the band reads it (cannot happen in a valid segment)
                need[t] = (0, 0)
            computed[op.name] = need[t]
            for x in dict.fromkeys(op.inputs):
                h = graph.tensors[x].shape[ROW_AXIS]
                lo, hi = needed_rows(op, x, need[t], h)
                if x in need and need[x][1] > need[x][0]:
                    lo, hi = min(lo, need[x][0]), max(hi, need[x][1])
                need[x] = (lo, hi)
        out.append(computed)
    return out


def _shift(ax: Affine, delta: int) -> Affine:
    return Affine(ax.terms, ax.offset + delta)


def _sub_op(op: Op, band: int, rows: tuple[int, int], origin: dict, names: dict,
            full_output: bool) -> Op:
    """``op`` over its output rows ``rows``: the row dim shrunk, every banded tensor renamed to
    its band tensor and indexed relative to the band's first row (``origin``)."""
    p = row_dim(op)
    a, b = rows
    full = op.loops.dims[p]
    accesses = []
    for acc in op.loops.accesses:
        idx = list(acc.index)
        if acc.tensor in op.inputs or "w" in acc.mode:
            base = 0 if (full_output and "w" in acc.mode) else origin.get(acc.tensor, 0)
            ax = idx[ROW_AXIS]
            idx[ROW_AXIS] = _shift(ax, ax.coeff(p) * a - base)
        accesses.append(Access(names.get(acc.tensor, acc.tensor), acc.mode, tuple(idx)))
    dims = dict(op.loops.dims, **{p: b - a})
    attrs = dict(op.attrs, band=band, rows=(a, b), split_of=op.name)
    if op.ops:
        attrs["ops"] = op.ops // full * (b - a)
    if full_output:
        attrs["partial_write"] = True
    return replace(op, name=f"{op.name}#b{band}",
                   inputs=tuple(names.get(t, t) for t in op.inputs),
                   outputs=tuple(names.get(t, t) for t in op.outputs),
                   macs=op.macs // full * (b - a), loops=LoopNest(dims, tuple(accesses)),
                   attrs=attrs)


def split_graph(graph: Graph, segments: list[Segment], skeleton: bool = False) -> Graph:
    """``graph`` with every segment (disjoint, any order) replaced by its band sub-ops; raises
    ``ValueError`` for an invalid segment or a band count above the output rows. ``skeleton``:
    the sub-ops without loop nests or work (only their tensors, for lifetimes: fast)."""
    segs = sorted(segments, key=lambda s: s.first)
    for s, t in zip(segs, segs[1:]):
        if t.first <= s.last:
            raise ValueError(f"segments {s.first}..{s.last} and {t.first}..{t.last} overlap")
    tensors = dict(graph.tensors)
    new_ops: list[Op] = []
    cursor = 0
    for seg in segs:
        err = segment_error(graph, seg.first, seg.last)
        out_t = graph.ops[seg.last].outputs[0]
        height = graph.tensors[out_t].shape[ROW_AXIS]
        if err is None and not 1 <= seg.bands <= height:
            err = f"{seg.bands} bands for {height} output rows"
        if err is not None:
            raise ValueError(f"cannot split ops {seg.first}..{seg.last}: {err}")
        new_ops.extend(graph.ops[cursor:seg.first])
        new_ops.extend(_segment_ops(graph, seg, tensors, skeleton))
        cursor = seg.last + 1
    new_ops.extend(graph.ops[cursor:])
    g = Graph(graph.name, tensors, new_ops, graph.inputs, graph.outputs, dict(graph.attrs))
    g.attrs["split"] = tuple((s.first, s.last, s.bands) for s in segs)
    return g


def _segment_ops(graph: Graph, seg: Segment, tensors: dict, skeleton: bool) -> list[Op]:
    """The band sub-ops of ``seg`` in execution order (band by band); ``tensors`` gains the
    band tensors and loses the segment's intermediate ones."""
    ops = graph.ops[seg.first:seg.last + 1]
    out = []
    for band, computed in enumerate(band_rows(graph, seg)):
        names, origin = {}, {}
        for op in ops[:-1]:
            t = op.outputs[0]
            lo, hi = computed[op.name]
            src = graph.tensors[t]
            shape = list(src.shape)
            shape[ROW_AXIS] = max(hi - lo, 1)
            names[t] = f"{t}#b{band}"
            origin[t] = lo
            tensors[names[t]] = Tensor(names[t], tuple(shape), src.dtype, "activation")
        for op in ops:
            if skeleton:
                out.append(Op(f"{op.name}#b{band}", op.kind,
                              tuple(names.get(t, t) for t in op.inputs), (),
                              tuple(names.get(t, t) for t in op.outputs),
                              inplace_ok=op.inplace_ok))
            else:
                out.append(_sub_op(op, band, computed[op.name], origin, names, op is ops[-1]))
    for op in ops[:-1]:
        del tensors[op.outputs[0]]
    return out
