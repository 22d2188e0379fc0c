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
from numba import njit

FETCH, DIRTY = 1, 2  # reference kinds (bit flags): fetch on miss / makes the line dirty
_INF = np.int64(1 << 40)
POLICIES = {"lru": 0, "fifo": 1, "plru": 3}  # the deterministic policies the upper pass supports
_LRU, _FIFO, _PLRU = 0, 1, 3
# counter columns of the cache kernel's [L+1, 6] arrays (memsim.cache.COUNTER_NAMES order)
C_LOADS, C_STORES, C_HITS, C_MISSES, C_EVICT, C_WB = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6
# geometry columns of the upper pass's own state
G_SETS, G_WAYS, G_MASK, G_SLOT, G_SETBASE, G_POLICY = 0, 1, 2, 3, 4, 5


# Replacement primitives with the cache kernel's semantics (docs/model.md "Cache semantics"):
# LRU stamps a way on every access and fill; FIFO stamps on fill only; the victim is the first
# invalid way, else the oldest stamp (LRU/FIFO; invalid ways keep stamp 0) or the way the
# tree-PLRU bits point at (heap-numbered nodes, each bit on the path points away from the last
# accessed way). Equality with the kernel is checked by tests/test_sweep_stackdist.py.

@njit(cache=True, inline="always")
def _set_of(geo, c, x):
    mask = geo[c, G_MASK]
    if mask >= 0:
        return x & mask
    return x % geo[c, G_SETS]


@njit(cache=True, inline="always")
def _touch(geo, meta, plru, clock, c, setg, base, w, on_fill):
    pol = geo[c, G_POLICY]
    if pol == _LRU or (pol == _FIFO and on_fill):
        clock[c] += 1
        meta[base + w] = clock[c]
    elif pol == _PLRU:
        ways = geo[c, G_WAYS]
        bits = plru[setg]
        node = w + ways
        while node > 1:
            parent = node >> 1
            if node & 1:
                bits &= ~(np.int64(1) << parent)
            else:
                bits |= np.int64(1) << parent
            node = parent
        plru[setg] = bits


@njit(cache=True, inline="always")
def _victim(geo, tags, meta, plru, c, setg, base):
    ways = geo[c, G_WAYS]
    pol = geo[c, G_POLICY]
    if pol <= _FIFO:
        best = 0
        stamp = meta[base]
        for w in range(1, ways):
            if meta[base + w] < stamp:
                stamp = meta[base + w]
                best = w
        return best
    for w in range(ways):
        if tags[base + w] < 0:
            return w
    bits = plru[setg]
    node = 1
    while node < ways:
        node = 2 * node + ((bits >> node) & 1)
    return node - ways


@njit(cache=True, inline="always")
def _fill(geo, tags, meta, dirty, plru, clock, c, x, d):
    """Install ``x`` (dirty flag ``d``) in level ``c``; returns (victim line or -1, its dirt)."""
    ways = geo[c, G_WAYS]
    s = _set_of(geo, c, x)
    setg = geo[c, G_SETBASE] + s
    base = geo[c, G_SLOT] + s * ways
    w = _victim(geo, tags, meta, plru, c, setg, base)
    old = tags[base + w]
    od = dirty[base + w]
    tags[base + w] = x
    dirty[base + w] = d
    _touch(geo, meta, plru, clock, c, setg, base, w, True)
    return old, od


@njit(cache=True)
def _upper(chain, nup, lines, writes, has_w, out, refs, kinds, nref,
           geo, tags, meta, dirty, plru, clock):
    """Run one tile through the ``nup`` upper levels (default mode semantics of
    ``kernel.access_batch``); append the LLC references; returns the new ``nref``."""
    for i in range(lines.shape[0]):
        x = lines[i]
        is_w = has_w and writes[i] != 0
        if nup == 0:
            refs[nref] = x
            kinds[nref] = FETCH | (DIRTY if is_w else 0)
            nref += 1
            continue
        c = chain[0]
        ways = geo[c, G_WAYS]
        s = _set_of(geo, c, x)
        base = geo[c, G_SLOT] + s * ways
        if is_w:
            out[0, C_STORES] += 1
        else:
            out[0, C_LOADS] += 1
        h = -1
        for w in range(ways):
            if tags[base + w] == x:
                h = w
                break
        if h >= 0:
            if is_w:
                dirty[base + h] = 1
            out[0, C_HITS] += 1
            _touch(geo, meta, plru, clock, c, geo[c, G_SETBASE] + s, base, h, False)
            continue
        out[0, C_MISSES] += 1
        d = nup
        for lv in range(1, nup):
            c = chain[lv]
            ways = geo[c, G_WAYS]
            s = _set_of(geo, c, x)
            base = geo[c, G_SLOT] + s * ways
            out[lv, C_LOADS] += 1
            h = -1
            for w in range(ways):
                if tags[base + w] == x:
                    h = w
                    break
            if h >= 0:
                d = lv
                out[lv, C_HITS] += 1
                _touch(geo, meta, plru, clock, c, geo[c, G_SETBASE] + s, base, h, False)
                break
            out[lv, C_MISSES] += 1
        if d == nup:
            refs[nref] = x
            kinds[nref] = FETCH
            nref += 1
        for lv in range(d - 1, -1, -1):
            old, od = _fill(geo, tags, meta, dirty, plru, clock, chain[lv], x,
                              1 if (is_w and lv == 0) else 0)
            if old >= 0:
                out[lv, C_EVICT] += 1
            if old >= 0 and od != 0:
                out[lv, C_WB] += 1
                y = old
                lw = lv + 1
                while True:  # the write-back walks down until a level keeps it
                    if lw == nup:
                        refs[nref] = y
                        kinds[nref] = DIRTY
                        nref += 1
                        break
                    c = chain[lw]
                    ways = geo[c, G_WAYS]
                    s = _set_of(geo, c, y)
                    base = geo[c, G_SLOT] + s * ways
                    out[lw, C_STORES] += 1
                    h = -1
                    for w in range(ways):
                        if tags[base + w] == y:
                            h = w
                            break
                    if h >= 0:
                        dirty[base + h] = 1
                        out[lw, C_HITS] += 1
                        _touch(geo, meta, plru, clock, c, geo[c, G_SETBASE] + s, base, h,
                                 False)
                        break
                    out[lw, C_MISSES] += 1
                    old2, od2 = _fill(geo, tags, meta, dirty, plru, clock, c, y, 1)
                    if old2 >= 0:
                        out[lw, C_EVICT] += 1
                    if old2 >= 0 and od2 != 0:
                        out[lw, C_WB] += 1
                        y = old2
                        lw += 1
                        continue
                    break
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
    (``CacheLevelSpec`` list above the LLC, policies lru/fifo/plru; may be empty)."""
    from memsim.cache import Hierarchy

    nup = len(upper_specs)
    geo, slot, setbase = [], 0, 0
    for spec in upper_specs:
        if spec.policy not in POLICIES:
            raise ValueError(f"upper pass: policy {spec.policy!r} not supported")
        mask = spec.sets - 1 if spec.sets & (spec.sets - 1) == 0 else -1
        geo.append([spec.sets, spec.ways, mask, slot, setbase, POLICIES[spec.policy]])
        slot += spec.sets * spec.ways
        setbase += spec.sets
    geo = np.array(geo if geo else [[1, 1, 0, 0, 0, 0]], np.int64)
    slot, setbase = max(slot, 1), max(setbase, 1)
    state = (geo, np.full(slot, -1, np.int64), np.zeros(slot, np.int64), np.zeros(slot, np.uint8),
             np.zeros(setbase, np.int64), np.zeros(len(geo), np.int64))
    chain = np.arange(max(nup, 1), dtype=np.int64)
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
        n = _upper(chain, nup, arr, wr, has_w, out, refs, kinds, 0, *state)
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
