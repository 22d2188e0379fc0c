"""Numba kernels for :mod:`memsim.mapping.loops`: the cache lines of one access over one tile box.

An access is compiled once (:func:`memsim.mapping.loops.access_plan`) into a flat ``int64``
*plan*; the box is an ``int64[k, 2]`` array of ``(start, length)`` per dim of the access (dims
numbered in the plan's order). Plan layout::

    [n_axes, then per axis: offset, size, stride, n_terms, (dim, coeff) × n_terms]

with each axis's terms sorted by ``|coeff|`` (stable), the order the dense-range test of
``loops._axis_values`` uses. Only accesses whose axes share no dim are compiled (every zoo
op); the others stay on the numpy path.

Semantics equal ``loops.footprint_lines``: the sorted distinct line indices of the bytes of the
in-range elements the access reaches over the box. The element set is a Cartesian product of
per-axis value sets; when the last axis's values form one dense range the footprint is a set of
row runs ``[first, first + len)``, else single-element runs. A run's bytes are
``[byte(first), max(byte(end), byte(first) + 1, ceil(end·bits/8)))`` (the ceil only for
sub-byte or fractional bits) — the union of its elements' byte ranges, since each element
starts no later than the previous one ends — so runs and elements give the same lines.
"""

from __future__ import annotations

import math

import numpy as np

from memsim.jit import njit


@njit(cache=True)
def _axis_bound(plan, p, box):
    """Upper bound on the number of distinct in-range values of the axis at ``plan[p]``."""
    size = plan[p + 1]
    nt = plan[p + 3]
    if nt == 0:
        return 1
    prod = 1
    for t in range(nt):
        prod *= box[plan[p + 4 + 2 * t], 1]
        if prod >= size:
            return size
    return min(prod, size)


@njit(cache=True)
def _combination_value(plan, box, q, nt, off, idx):
    """Element index of one combination ``idx`` of the access's ``nt`` terms at ``plan[q:]``:
    ``off + sum(coef_t * (box[dim_t, 0] + idx[t]))``."""
    v = off
    for t in range(nt):
        v += plan[q + 2 * t + 1] * (box[plan[q + 2 * t], 0] + idx[t])
    return v


@njit(cache=True)
def _next_combination(plan, box, q, nt, idx):
    """Advance ``idx`` like an odometer over the box extents of the terms (last term fastest);
    wraps to all zeros after the last combination."""
    t = nt - 1
    while t >= 0:
        idx[t] += 1
        if idx[t] < box[plan[q + 2 * t], 1]:
            return
        idx[t] = 0
        t -= 1


@njit(cache=True)
def _axis_fill(plan, p, box, out, start):
    """Write the axis's sorted distinct in-range values to ``out[start:]``; return how many."""
    off = plan[p]
    size = plan[p + 1]
    nt = plan[p + 3]
    q = p + 4
    k = 0
    if nt == 0:
        if 0 <= off < size:
            out[start] = off
            k = 1
        return k
    if nt == 1:
        d = plan[q]
        c = plan[q + 1]
        lo = box[d, 0]
        n = box[d, 1]
        if c == 1:
            a = max(off + lo, 0)
            b = min(off + lo + n, size)
            for v in range(a, b):
                out[start + k] = v
                k += 1
        elif c > 0:
            for i in range(n):
                v = off + c * (lo + i)
                if 0 <= v < size:
                    out[start + k] = v
                    k += 1
        else:
            for i in range(n - 1, -1, -1):
                v = off + c * (lo + i)
                if 0 <= v < size:
                    out[start + k] = v
                    k += 1
        return k
    # several dims: a dense range when, by increasing |coeff|, each step is covered by the span
    # reached so far (conv rows P·stride + R with R ≥ stride)
    lo_v = off
    hi_v = off
    dense = True
    for t in range(nt):
        c = plan[q + 2 * t + 1]
        d = plan[q + 2 * t]
        lo = box[d, 0]
        n = box[d, 1]
        if n > 1 and abs(c) > hi_v - lo_v + 1:
            dense = False
            break
        e0 = c * lo
        e1 = c * (lo + n - 1)
        lo_v += min(e0, e1)
        hi_v += max(e0, e1)
    if dense:
        a = max(lo_v, 0)
        b = min(hi_v + 1, size)
        for v in range(a, b):
            out[start + k] = v
            k += 1
        return k
    # general: mark every combination's value on a bitmap of the clipped index span, then
    # collect the marks in order (sorted, distinct, in range)
    lo_v = off
    hi_v = off
    total = 1
    for t in range(nt):
        c = plan[q + 2 * t + 1]
        d = plan[q + 2 * t]
        e0 = c * box[d, 0]
        e1 = c * (box[d, 0] + box[d, 1] - 1)
        lo_v += min(e0, e1)
        hi_v += max(e0, e1)
        total *= box[d, 1]
    a = max(lo_v, 0)
    b = min(hi_v + 1, size)
    if b <= a:
        return 0
    if b - a > 8 * total + 4096:  # sparse over a wide span: sort the values instead
        vals = np.empty(total, np.int64)
        idx = np.zeros(nt, np.int64)
        for j in range(total):
            vals[j] = _combination_value(plan, box, q, nt, off, idx)
            _next_combination(plan, box, q, nt, idx)
        vals.sort()
        for j in range(total):
            v = vals[j]
            if a <= v < b and (k == 0 or v != out[start + k - 1]):
                out[start + k] = v
                k += 1
        return k
    mark = np.zeros(b - a, np.bool_)
    idx = np.zeros(nt, np.int64)
    for j in range(total):
        v = _combination_value(plan, box, q, nt, off, idx)
        if a <= v < b:
            mark[v - a] = True
        _next_combination(plan, box, q, nt, idx)
    for v in range(b - a):
        if mark[v]:
            out[start + k] = a + v
            k += 1
    return k


@njit(cache=True)
def footprint_lines_kernel(plan, box, base, bits, int_bits, line_bytes):
    """Sorted distinct line indices (``uint64``) of the compiled access ``plan`` over ``box``.

    ``base``: tensor byte address; ``bits``: bits per element; ``int_bits``: ``bits`` as an
    integer when it is whole, else -1 (fractional bits: float64 byte offsets, as numpy);
    ``line_bytes``: line size.
    """
    nax = plan[0]
    # per-axis value sets, packed into one buffer
    starts = np.empty(nax, np.int64)
    counts = np.empty(nax, np.int64)
    strides = np.empty(nax, np.int64)
    p = 1
    cap = 0
    for a in range(nax):
        cap += _axis_bound(plan, p, box)
        p += 4 + 2 * plan[p + 3]
    buf = np.empty(cap, np.int64)
    p = 1
    pos = 0
    for a in range(nax):
        strides[a] = plan[p + 2]
        starts[a] = pos
        counts[a] = _axis_fill(plan, p, box, buf, pos)
        if counts[a] == 0:
            return np.empty(0, np.uint64)
        pos += counts[a]
        p += 4 + 2 * plan[p + 3]
    # runs: from the last axis outwards, a dense axis joins the run while the axes inside it
    # are covered whole (whole rows, planes, ...); the remaining outer axes enumerate runs
    n_outer = nax
    run_len = 1
    run_off = 0
    while n_outer > 0:
        a = n_outer - 1
        if run_len != strides[a]:
            break
        s = starts[a]
        c = counts[a]
        if buf[s + c - 1] - buf[s] + 1 != c:
            break
        run_off = buf[s] * strides[a]
        run_len = c * strides[a]
        n_outer = a
    n_runs = 1
    for a in range(n_outer):
        n_runs *= counts[a]
    whole = int_bits >= 0
    ceil_end = (not whole) or (int_bits % 8 != 0)
    q = bits / 8.0
    per_run = (int(run_len * q) + 2) // line_bytes + 2
    out = np.empty(n_runs * per_run, np.int64)
    k = 0
    last = -1
    monotone = True
    idx = np.zeros(max(n_outer, 1), np.int64)
    cur_f = -1
    cur_e = -1
    for r in range(n_runs + 1):
        if r < n_runs:
            f = run_off
            for a in range(n_outer):
                f += buf[starts[a] + idx[a]] * strides[a]
            a = n_outer - 1
            while a >= 0:
                idx[a] += 1
                if idx[a] < counts[a]:
                    break
                idx[a] = 0
                a -= 1
            if f == cur_e:  # adjacent to the pending run: extend it
                cur_e = f + run_len
                continue
        if cur_f >= 0:  # emit the pending run's lines
            if whole:
                b0 = base + (cur_f * int_bits) // 8
                b1 = base + (cur_e * int_bits) // 8
            else:
                b0 = base + np.int64(math.floor(cur_f * q))
                b1 = base + np.int64(math.floor(cur_e * q))
            if b1 < b0 + 1:
                b1 = b0 + 1
            if ceil_end:
                bc = base + np.int64(math.ceil(cur_e * q))
                if b1 < bc:
                    b1 = bc
            l0 = b0 // line_bytes
            l1 = (b1 - 1) // line_bytes
            if l0 < last:
                monotone = False
            if k + l1 - l0 + 1 > out.size:  # not reached: per_run bounds every run
                grown = np.empty(max(k + l1 - l0 + 1, 2 * out.size), np.int64)
                for i in range(k):
                    grown[i] = out[i]
                out = grown
            for ln in range(l0, l1 + 1):
                if ln != last:
                    out[k] = ln
                    k += 1
                    last = ln
        if r < n_runs:
            cur_f = f
            cur_e = f + run_len
    if not monotone:  # unreachable: byte offsets never decrease along ascending runs
        raise AssertionError("footprint_lines_kernel: line order broken")
    res = np.empty(k, np.uint64)
    for i in range(k):
        res[i] = out[i]
    return res
