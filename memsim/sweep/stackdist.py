"""Last-level-cache variants from one pass: per-tile counts for every associativity at once.

For a fixed access order (see ``memsim.sweep.replay``) the levels above the last-level cache
(LLC) do not depend on the LLC's geometry: the hierarchy is non-inclusive without
back-invalidation, so nothing the LLC does reaches back up. Their behaviour, and the stream of
references they send to the LLC, is computed once (``upper_pass``, with the cache kernel's own
fill/victim/touch primitives, so replacement matches it exactly). The LLC stream holds two kinds
of reference, in the kernel's order: *fetches* (a miss from above; an LLC miss reads the line
from DRAM and fills it clean) and *write-backs* (a dirty victim from above; a miss allocates the
line dirty without reading DRAM).

For an LRU LLC with ``S`` sets, one pass of Mattson's stack algorithm per set (Mattson et al.,
IBM Systems Journal 1970) gives every associativity ``W ≤ Wmax`` at once: a reference found at
stack depth ``d`` hits exactly the caches with ``W > d``; on a miss the ``W``-way cache evicts
the line at depth ``W`` (its LRU line) when the set holds ``W`` lines. Dirtiness per ``W``: a
line is dirty in the ``W``-way cache iff a write-back reached it and none of its later
references missed there, i.e. iff ``g < W`` where ``g`` is the smallest, over its write-back
references, of the largest distance of the references since (``-1`` right after a write-back).
So write-backs to DRAM come out exactly too, attributed to the reference (hence tile) that
caused them.
"""

from __future__ import annotations

import numpy as np

from memsim.cache import Hierarchy
from memsim.cache.kernel import (C_EVICT, C_HITS, C_LOADS, C_MISSES, C_STORES, C_WB, H_POL,
                                 H_WAYS, HC, N_COUNTERS, X_CHAIN, XH, _fill_touch, _hit_touch,
                                 _lookup, _set_word, _victim)
from memsim.jit import njit

FETCH, DIRTY = 1, 2  # reference kinds (bit flags): fetch on miss / makes the line dirty
_INF = np.int64(1 << 40)
POLICIES = ("lru", "fifo", "plru")  # the deterministic policies the upper pass supports


# The upper levels run on the cache kernel's own state array (built by ``Hierarchy``) with the
# kernel's own set primitives: lookup, the replacement update on a hit and on a fill, and the
# victim choice. Only the walk is written here, because it ends at the LLC instead of memory:
# the LLC's references are recorded in the kernel's order (docs/model.md "Cache semantics").
# Equality with the kernel is checked by tests/test_sweep_stackdist.py.

@njit(cache=True, inline="always")
def _hit(st, lv, x, store):
    """Look ``x`` up at upper level ``lv`` (core 0's chain); on a hit mark it dirty for a store,
    update replacement state and return True."""
    hd = XH + st[st[X_CHAIN] + lv] * HC
    ways = st[hd + H_WAYS]
    sw = _set_word(st, hd, x)
    h = _lookup(st, sw, ways, x)
    if h < 0:
        return False
    if store:
        st[sw + 1 + h] |= 1
    _hit_touch(st, hd, st[hd + H_POL], sw, ways, h)
    return True


@njit(cache=True, inline="always")
def _fill(st, lv, x, dirty):
    """Install ``x`` (dirty flag ``dirty``) at upper level ``lv``; returns the victim's tag
    (``line << 1 | dirty``, -1 when the way was invalid)."""
    hd = XH + st[st[X_CHAIN] + lv] * HC
    ways = st[hd + H_WAYS]
    pol = st[hd + H_POL]
    sw = _set_word(st, hd, x)
    v = _victim(st, hd, pol, sw, ways)
    old = st[sw + 1 + v]
    st[sw + 1 + v] = (x << 1) | dirty
    _fill_touch(st, hd, pol, sw, ways, v)
    return old


@njit(cache=True)
def _upper(st, nup, lines, writes, has_w, out, refs, kinds, nref):
    """Run one tile through the ``nup`` upper levels (``MODE_DEFAULT`` semantics of the kernel's
    batch access); append the LLC references; returns the new ``nref``."""
    for i in range(lines.shape[0]):
        x = lines[i]
        is_w = has_w and writes[i] != 0
        if nup == 0:
            refs[nref] = x
            kinds[nref] = FETCH | (DIRTY if is_w else 0)
            nref += 1
            continue
        if is_w:
            out[0, C_STORES] += 1
        else:
            out[0, C_LOADS] += 1
        if _hit(st, 0, x, is_w):
            out[0, C_HITS] += 1
            continue
        out[0, C_MISSES] += 1
        d = nup
        for lv in range(1, nup):  # deeper levels see a load of the line
            out[lv, C_LOADS] += 1
            if _hit(st, lv, x, False):
                d = lv
                out[lv, C_HITS] += 1
                break
            out[lv, C_MISSES] += 1
        if d == nup:
            refs[nref] = x
            kinds[nref] = FETCH
            nref += 1
        for lv in range(d - 1, -1, -1):  # fill back up; dirty victims go one level down
            old = _fill(st, lv, x, 1 if (is_w and lv == 0) else 0)
            if old < 0:
                continue
            out[lv, C_EVICT] += 1
            if (old & 1) == 0:
                continue
            out[lv, C_WB] += 1
            y = old >> 1
            lw = lv + 1
            while True:  # the write-back walks down until a level keeps it
                if lw == nup:
                    refs[nref] = y
                    kinds[nref] = DIRTY
                    nref += 1
                    break
                out[lw, C_STORES] += 1
                if _hit(st, lw, y, True):
                    out[lw, C_HITS] += 1
                    break
                out[lw, C_MISSES] += 1
                old2 = _fill(st, lw, y, 1)  # allocated dirty, without a fetch
                if old2 < 0:
                    break
                out[lw, C_EVICT] += 1
                if (old2 & 1) == 0:
                    break
                out[lw, C_WB] += 1
                y = old2 >> 1
                lw += 1
    return nref


class UpperPass:
    """The levels above the LLC run once over a tile sequence: per tile, their ``[nup, 6]``
    counts and the LLC references (``refs`` line, ``kinds`` FETCH/DIRTY, ``tile`` index)."""

    def __init__(self, upper_counts, refs, kinds, tile, sizes):
        self.upper_counts = upper_counts
        self.refs = refs
        self.kinds = kinds
        self.tile = tile
        self.sizes = sizes

    @property
    def tiles(self) -> int:
        """Number of tiles (engine ``access`` calls)."""
        return len(self.sizes)


def upper_pass(upper_specs, tiles) -> UpperPass:
    """Run ``tiles`` (iterable of ``(lines, writes)``) through the levels ``upper_specs``
    (``CacheLevelSpec`` list above the LLC, policies lru/fifo/plru; may be empty) on a kernel
    state array (``Hierarchy`` of those levels, one core)."""
    nup = len(upper_specs)
    for spec in upper_specs:
        if spec.policy not in POLICIES:
            raise ValueError(f"upper pass: policy {spec.policy!r} not supported")
    st = Hierarchy(list(upper_specs), cores=1)._st if nup else np.zeros(XH, np.int64)
    counts, refs_all, kinds_all, tile_all, sizes = [], [], [], [], []
    for t, (lines, writes) in enumerate(tiles):
        arr = np.asarray(lines)
        arr = arr.view(np.int64) if arr.dtype == np.uint64 else arr.astype(np.int64)
        arr = np.ascontiguousarray(arr).reshape(-1)
        has_w = writes is not None and len(writes) > 0
        wr = (np.ascontiguousarray(np.asarray(writes).view(np.uint8)
                                   if np.asarray(writes).dtype == np.bool_
                                   else np.asarray(writes, dtype=np.uint8))
              if has_w else np.zeros(0, np.uint8))
        out = np.zeros((max(nup, 1), N_COUNTERS), np.int64)
        refs = np.empty(arr.shape[0] * (nup + 1), np.int64)
        kinds = np.empty(arr.shape[0] * (nup + 1), np.uint8)
        n = _upper(st, nup, arr, wr, has_w, out, refs, kinds, 0)
        counts.append(out[:nup].copy())
        refs_all.append(refs[:n])
        kinds_all.append(kinds[:n])
        tile_all.append(np.full(n, t, np.int64))
        sizes.append(arr.shape[0])
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
    return UpperPass(counts, cat(refs_all, np.int64), cat(kinds_all, np.uint8),
                     cat(tile_all, np.int64), np.asarray(sizes, np.int64))


@njit(cache=True)
def _mattson(refs, kinds, tile, ntiles, sets, want, wmax, llc, mem):
    """Per-tile LLC counts ``llc[t, k, 6]`` and memory ``mem[t, k, 2]`` (loads, stores) for an
    LRU cache of ``sets`` sets and ``want[k]`` ways, all in one pass."""
    stack = np.full((sets, wmax), -1, np.int64)
    gval = np.zeros((sets, wmax), np.int64)
    size = np.zeros(sets, np.int64)
    mask = sets - 1 if sets & (sets - 1) == 0 else -1
    nk = want.shape[0]
    for i in range(refs.shape[0]):
        x = refs[i]
        kd = kinds[i]
        t = tile[i]
        s = (x & mask) if mask >= 0 else x % sets
        n = size[s]
        p = -1
        for j in range(n):
            if stack[s, j] == x:
                p = j
                break
        d = p if p >= 0 else _INF  # stack distance (distinct lines more recent)
        is_store = (kd & DIRTY) != 0
        for k in range(nk):
            w = want[k]
            if is_store:
                llc[t, k, C_STORES] += 1
            else:
                llc[t, k, C_LOADS] += 1
            if d < w:
                llc[t, k, C_HITS] += 1
                continue
            llc[t, k, C_MISSES] += 1
            if kd & FETCH:
                mem[t, k, 0] += 1
            if n >= w:  # set full in the w-way cache: its LRU line (depth w-1) leaves
                llc[t, k, C_EVICT] += 1
                if gval[s, w - 1] < w:
                    llc[t, k, C_WB] += 1
                    mem[t, k, 1] += 1
        # new dirtiness measure of x, then move x to the top of its set's stack
        if is_store:
            g = -1
        elif p >= 0:
            g = max(gval[s, p], d)
        else:
            g = _INF
        top = p if p >= 0 else min(n, wmax - 1)
        for j in range(top, 0, -1):
            stack[s, j] = stack[s, j - 1]
            gval[s, j] = gval[s, j - 1]
        stack[s, 0] = x
        gval[s, 0] = g
        if p < 0 and n < wmax:
            size[s] = n + 1


def llc_counts(upper: UpperPass, sets: int, ways_list) -> dict:
    """``{ways: list of [L+1, 6] per-tile count arrays}`` for an LRU LLC of ``sets`` sets and
    each associativity in ``ways_list``, on top of ``upper``."""
    want = np.asarray(sorted(set(int(w) for w in ways_list)), np.int64)
    nt = upper.tiles
    llc = np.zeros((nt, want.size, N_COUNTERS), np.int64)
    mem = np.zeros((nt, want.size, 2), np.int64)
    _mattson(upper.refs, upper.kinds, upper.tile, nt, int(sets), want, int(want.max()), llc, mem)
    nup = upper.upper_counts[0].shape[0] if nt else 0
    result = {}
    for k, w in enumerate(want):
        arrays = []
        for t in range(nt):
            a = np.zeros((nup + 2, N_COUNTERS), np.int64)
            a[:nup] = upper.upper_counts[t]
            a[nup] = llc[t, k]
            a[nup + 1, C_LOADS] = mem[t, k, 0]
            a[nup + 1, C_STORES] = mem[t, k, 1]
            arrays.append(a)
        result[int(w)] = arrays
    return result
