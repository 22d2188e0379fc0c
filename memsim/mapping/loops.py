"""Loop-nest geometry: dim classes, operand footprints of a tile box, and their cache lines.

A *box* is a tile of the iteration space: ``{dim: (start, length)}``. The footprint of an access
over a box is the set of in-range tensor elements its affine index reaches (padding excluded).
Elements are laid out row-major over the tensor shape as the IR gives it, starting at the byte
address the memory plan assigns to the tensor; element ``e`` occupies bytes
``[floor(e·bits/8), floor((e+1)·bits/8 − 1/8)]`` so sub-byte and compressed (fractional bits per
element) tensors map to the right lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from memsim.mapping._kernels import footprint_lines_kernel
from memsim.workloads.ir import Access


@dataclass(frozen=True)
class DimClasses:
    """Dims of an op's loop nest grouped by the operands they index.

    ``group``: index output, weight-like and input operands (depthwise channels, attention
    heads); ``filter``: output and weight-like, not input; ``pixel``: output, not weight-like;
    ``reduction``: absent from the output. Each a tuple in loop-nest order.
    """

    group: tuple[str, ...]
    filter: tuple[str, ...]
    pixel: tuple[str, ...]
    reduction: tuple[str, ...]


def _dims_of(access) -> set[str]:
    return {d for ax in access.index for d in ax.dims}


def weight_like(op) -> tuple[str, ...]:
    """Tensors playing the weight role: the op's weights, or for a weightless (batch) matmul its
    last input (the B of A·B)."""
    if op.weights:
        return tuple(op.weights)
    if op.kind in ("matmul", "batch_matmul") and len(op.inputs) >= 2:
        return (op.inputs[-1],)
    return ()


def classify_dims(op) -> DimClasses:
    """Split ``op.loops.dims`` into :class:`DimClasses` (see there)."""
    nest = op.loops
    wl = set(weight_like(op))
    out_d: set[str] = set()
    w_d: set[str] = set()
    in_d: set[str] = set()
    for a in nest.accesses:
        if "w" in a.mode:
            out_d |= _dims_of(a)
        elif a.tensor in wl:
            w_d |= _dims_of(a)
        else:
            in_d |= _dims_of(a)
    group, filt, pixel, red = [], [], [], []
    for d in nest.dims:
        if d not in out_d:
            red.append(d)
        elif d in w_d and d in in_d:
            group.append(d)
        elif d in w_d:
            filt.append(d)
        else:
            pixel.append(d)
    return DimClasses(tuple(group), tuple(filt), tuple(pixel), tuple(red))


# --------------------------------------------------------------------------- footprints

def _axis_values(terms: tuple, offset: int, box: dict, size: int) -> np.ndarray:
    """Sorted distinct in-range values of one affine axis index over ``box``."""
    if not terms:
        return np.arange(offset, offset + 1, dtype=np.int64) if 0 <= offset < size else \
            np.empty(0, np.int64)
    if len(terms) == 1:
        d, c = terms[0]
        lo, n = box[d]
        if c == 1:
            a, b = max(offset + lo, 0), min(offset + lo + n, size)
            return np.arange(a, b, dtype=np.int64) if b > a else np.empty(0, np.int64)
        v = offset + c * np.arange(lo, lo + n, dtype=np.int64)
        if c < 0:
            v = v[::-1]
        return v[(v >= 0) & (v < size)]
    # contiguous fast path: sorted by |coeff|, each progression's step is covered by the span
    # reached so far (e.g. conv rows P·stride + R with R ≥ stride): a dense range
    ts = sorted(((abs(c), c, box[d]) for d, c in terms), key=lambda x: x[0])
    lo_v, hi_v, dense = offset, offset, True
    for a, c, (lo, n) in ts:
        if n > 1 and a > hi_v - lo_v + 1:
            dense = False
            break
        ends = (c * lo, c * (lo + n - 1))
        lo_v += min(ends)
        hi_v += max(ends)
    if dense:
        a, b = max(lo_v, 0), min(hi_v + 1, size)
        return np.arange(a, b, dtype=np.int64) if b > a else np.empty(0, np.int64)
    vals = np.array([offset], dtype=np.int64)
    for d, c in terms:
        lo, n = box[d]
        vals = (vals[:, None] + c * np.arange(lo, lo + n, dtype=np.int64)[None, :]).ravel()
        vals = np.unique(vals)
    return vals[(vals >= 0) & (vals < size)]


def _components(index) -> list[list[int]]:
    """Axes of one access grouped so that no dim is shared between groups."""
    comps: list[tuple[set, list[int]]] = []
    for i, ax in enumerate(index):
        ds = set(ax.dims)
        merged = [c for c in comps if c[0] & ds]
        for c in merged:
            comps.remove(c)
            ds |= c[0]
        axes = sorted([i] + [j for c in merged for j in c[1]])
        comps.append((ds, axes))
    return [c[1] for c in sorted(comps, key=lambda c: c[1][0])]


def _strides(shape) -> list[int]:
    st, acc = [0] * len(shape), 1
    for i in range(len(shape) - 1, -1, -1):
        st[i] = acc
        acc *= shape[i]
    return st


def footprint_elements(access, shape, box) -> np.ndarray:
    """Sorted distinct row-major element offsets of ``access`` over ``box`` (int64)."""
    shape = tuple(shape)
    if not shape:
        return np.zeros(1, np.int64)
    strides = _strides(shape)
    offs = np.zeros(1, np.int64)
    for axes in _components(access.index):
        if len(axes) == 1:
            ax = access.index[axes[0]]
            v = _axis_values(ax.terms, ax.offset, box, shape[axes[0]]) * strides[axes[0]]
        else:  # axes sharing dims: enumerate their dims jointly
            dims = sorted({d for i in axes for d in access.index[i].dims})
            grids = np.meshgrid(*[np.arange(box[d][0], box[d][0] + box[d][1]) for d in dims],
                                indexing="ij")
            point = dict(zip(dims, (g.ravel() for g in grids)))
            ok = True
            v = 0
            for i in axes:
                ax = access.index[i]
                iv = ax.offset + sum(c * point[d] for d, c in ax.terms)
                ok = ok & (iv >= 0) & (iv < shape[i])
                v = v + iv * strides[i]
            v = np.unique(np.asarray(v, np.int64)[np.asarray(ok)])
        offs = (offs[:, None] + v[None, :]).ravel()
        if offs.size == 0:
            return offs
    if offs.size > 1 and not np.all(offs[1:] > offs[:-1]):
        offs = np.unique(offs)  # only when components interleave (shared dims)
    return offs


def footprint_lines(access, shape, box, base: int, bits: float, line_bytes: int) -> np.ndarray:
    """Sorted distinct line indices (``byte // line_bytes``, ``uint64``) of ``access`` over ``box``.

    ``base`` is the tensor's byte address, ``bits`` its (possibly fractional) bits per element.
    Accesses whose axes share no dim (every zoo op) run in a numba kernel over a plan compiled
    once per access (:func:`access_plan`), with cost per contiguous row, not per element; the
    rest take the numpy path. Both give the same lines.
    """
    plan = access_plan(access, shape)
    if plan is None:
        return _footprint_lines_np(access, shape, box, base, bits, line_bytes)
    names, code = plan
    b = np.array([box[d] for d in names], np.int64) if names else _NO_BOX
    fb = float(bits)
    return footprint_lines_kernel(code, b, int(base), fb, int(fb) if fb.is_integer() else -1,
                                  int(line_bytes))


_NO_BOX = np.empty((0, 2), np.int64)
#: Compiled plans by ``id(access)``: (access, shape, plan); the entry keeps the access alive so
#: its id cannot be reused while cached. Cleared when it grows past the limit.
_PLANS: dict = {}
_PLANS_LIMIT = 8192


def access_plan(access, shape) -> tuple | None:
    """``(dim names, int64 plan)`` for :func:`memsim.mapping._kernels.footprint_lines_kernel`
    (layout there), or None when the access is not compiled (scalar tensor, or axes sharing a
    dim). Cached per access object: an op's invariant, built once, reused for every tile."""
    shape_t = shape if type(shape) is tuple else tuple(shape)
    ent = _PLANS.get(id(access))
    if ent is not None and ent[0] is access and ent[1] == shape_t:
        return ent[2]
    index = access.index
    plan = None
    if shape_t and len(index) == len(shape_t) and \
            all(len(c) == 1 for c in _components(index)):
        names: list[str] = []
        for ax in index:
            for d in ax.dims:
                if d not in names:
                    names.append(d)
        pos = {d: i for i, d in enumerate(names)}
        code = [len(index)]
        for ax, size, st in zip(index, shape_t, _strides(shape_t)):
            code += [ax.offset, size, st, len(ax.terms)]
            for d, c in sorted(ax.terms, key=lambda t: abs(t[1])):
                code += [pos[d], c]
        plan = (tuple(names), np.array(code, np.int64))
    if len(_PLANS) >= _PLANS_LIMIT:
        _PLANS.clear()
    _PLANS[id(access)] = (access, shape_t, plan)
    return plan


def _footprint_lines_np(access, shape, box, base, bits, line_bytes) -> np.ndarray:
    """numpy path of :func:`footprint_lines` (any access, including axes sharing dims)."""
    shape = tuple(shape)
    index = access.index
    if len(shape) >= 1 and len(index[-1].terms) <= 1 and \
            not (set(index[-1].dims) & {d for ax in index[:-1] for d in ax.dims}):
        last = index[-1]
        lv = _axis_values(last.terms, last.offset, box, shape[-1])
        if lv.size == 0:
            return np.empty(0, np.uint64)
        if lv.size == 1 or (lv[-1] - lv[0] + 1 == lv.size):
            if len(shape) > 1:
                outer = Access(access.tensor, "r", index[:-1])
                rows = footprint_elements(outer, shape[:-1], box) * shape[-1]
            else:
                rows = np.zeros(1, np.int64)
            if rows.size == 0:
                return np.empty(0, np.uint64)
            first_e = rows + lv[0]
            end_e = rows + lv[-1] + 1
            return _runs_to_lines(first_e, end_e, base, bits, line_bytes)
    el = footprint_elements(access, shape, box)
    return _runs_to_lines(el, el + 1, base, bits, line_bytes)


def _byte_of(elem: np.ndarray, bits: float) -> np.ndarray:
    if float(bits).is_integer():
        return (elem * int(bits)) // 8
    return np.floor(elem * (bits / 8.0)).astype(np.int64)


def _runs_to_lines(first_e, end_e, base, bits, line_bytes) -> np.ndarray:
    """Lines covered by element runs ``[first_e, end_e)`` (ascending, non-overlapping)."""
    b0 = base + _byte_of(first_e, bits)
    b1 = base + _byte_of(end_e, bits)  # one past the last byte (ceil for the last element)
    b1 = np.maximum(b1, b0 + 1)
    if not float(bits).is_integer() or int(bits) % 8:
        # the last element may end part-way through a byte: include that byte
        b1 = np.maximum(b1, base + np.ceil(end_e * (bits / 8.0)).astype(np.int64))
    l0 = b0 // line_bytes
    l1 = (b1 - 1) // line_bytes
    counts = l1 - l0 + 1
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.uint64)
    if counts.size == total:  # one line per run
        lines = l0
    else:
        starts = np.repeat(l0 - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        lines = starts + np.arange(total, dtype=np.int64)
    if lines.size > 1:
        if np.all(lines[1:] >= lines[:-1]):
            keep = np.empty(lines.size, bool)
            keep[0] = True
            np.not_equal(lines[1:], lines[:-1], out=keep[1:])
            lines = lines[keep]
        else:
            lines = np.unique(lines)
    return lines.astype(np.uint64)


# --------------------------------------------------------------------------- analytic sizes

@lru_cache(maxsize=65536)
def _axis_count(terms: tuple, offset: int, ranges: tuple, size: int) -> int:
    box = {d: r for d, r in zip([t[0] for t in terms], ranges)}
    return int(_axis_values(terms, offset, box, size).size)


def axis_tile_sum(ax, size: int, dims: dict, tile: dict) -> int:
    """Σ over all tiles of the dims in ``ax`` of the in-range values ``ax`` reaches.

    Closed form per axis (no line layout): the exact element count the tile stream fetches along
    this axis when every tile of these dims is visited once.
    """
    if not ax.terms:
        return 1 if 0 <= ax.offset < size else 0
    if len(ax.terms) == 1 and ax.terms[0][1] == 1:
        d = ax.terms[0][0]
        D, t = dims[d], tile[d]
        # tiles [k·t, min(D,(k+1)·t)) shifted by offset, clipped to [0, size)
        total = 0
        for k in range(-(-D // t)):
            a, b = ax.offset + k * t, ax.offset + min(D, (k + 1) * t)
            total += max(0, min(b, size) - max(a, 0))
        return total
    per_dim = []
    for d, _ in ax.terms:
        D, t = dims[d], tile[d]
        per_dim.append([(k * t, min(t, D - k * t)) for k in range(-(-D // t))])
    total = 0
    for combo in _product(per_dim):
        total += _axis_count(ax.terms, ax.offset, tuple(combo), size)
    return total


def _product(lists):
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head,) + rest


def access_tile_sum(access, shape, dims: dict, tile: dict) -> int:
    """Σ over the distinct tiles of the access's dims of its footprint size (elements).

    Product of per-axis sums when axes share no dim (footprint is a Cartesian product);
    otherwise the shared component is enumerated jointly.
    """
    total = 1
    for axes in _components(access.index):
        if len(axes) == 1:
            total *= axis_tile_sum(access.index[axes[0]], shape[axes[0]], dims, tile)
        else:
            ds = sorted({d for i in axes for d in access.index[i].dims})
            sub = Access(access.tensor, "r", tuple(access.index[i] for i in axes))
            sub_shape = tuple(shape[i] for i in axes)
            s = 0
            for combo in _product([[(k * tile[d], min(tile[d], dims[d] - k * tile[d]))
                                    for k in range(-(-dims[d] // tile[d]))] for d in ds]):
                s += footprint_elements(sub, sub_shape, dict(zip(ds, combo))).size
            total *= s
    return total


def approx_footprint(access, shape, tile: dict) -> int:
    """Fast upper estimate of one full tile's footprint (elements): per axis the index span
    ``Σ|c|·(t−1)+1`` clipped to the axis size (used inside the tile search)."""
    shape_t = shape if type(shape) is tuple else tuple(shape)
    ent = _SPANS.get(id(access))
    if ent is None or ent[0] is not access or ent[1] != shape_t:
        if len(_SPANS) >= _PLANS_LIMIT:
            _SPANS.clear()
        ent = _SPANS[id(access)] = (access, shape_t, tuple(
            (size, tuple((d, abs(c)) for d, c in ax.terms))
            for ax, size in zip(access.index, shape_t)))
    n = 1
    for size, terms in ent[2]:
        span = 1
        for d, a in terms:
            span += a * (tile[d] - 1)
        n *= size if size < span else span  # min(span, size)
    return n


#: Per-access (size, ((dim, |coeff|), ...)) per axis for :func:`approx_footprint`, by id (the
#: entry keeps the access alive, as :data:`_PLANS`).
_SPANS: dict = {}


def tensor_bits(tensor, tensor_bytes=None) -> float:
    """Bits per element: from the dtype, or ``8·tensor_bytes(tensor)/numel`` when a size hook
    (compression) is given."""
    if tensor_bytes is None or tensor.numel == 0:
        return float(tensor.bits)
    nbytes = tensor_bytes(tensor)
    if nbytes is None:
        return float(tensor.bits)
    return 8.0 * nbytes / tensor.numel


def box_size(box: dict) -> int:
    """Iteration points in a box."""
    return math.prod(n for _, n in box.values())
