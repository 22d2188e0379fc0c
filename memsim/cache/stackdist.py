"""One-pass LRU stack (reuse) distances and hit curves.

The reuse distance of an access is the number of *distinct* lines touched since the previous
access to the same line (cold accesses: infinite). A fully-associative LRU cache of ``C`` lines
hits exactly the accesses with distance < C (Mattson et al., "Evaluation techniques for storage
hierarchies", IBM Systems Journal 1970), so one pass gives the hit count for every capacity.
Distances are counted with a Fenwick tree over last-use positions (Bennett & Kruskal 1975):
O(n log n). For a set-associative LRU cache with ``S`` sets (set = line % S), distances counted
within each set give the hits of every associativity at once.
"""

from __future__ import annotations

import numpy as np

from memsim.jit import njit


@njit(cache=True, inline="always")
def _fenwick_pass(ids, nuniq, dist, hist, maxd):
    """One pass over dense ids in ``[0, nuniq)``: the reuse distance of each access goes to
    ``dist[t]`` (-1 = cold) when ``dist`` is non-empty, and to ``hist[min(d, maxd)]`` when
    ``hist`` is (cold accesses are not counted).

    The Fenwick tree holds a 1 at the tree position of each line's last use. Positions are
    handed out in time order; when they run out the live marks are renumbered 0..live-1 in
    order, so the tree stays ~2× the footprint (cache-resident) instead of the trace length.
    int32 state halves its footprint.
    """
    n = ids.shape[0]
    cap = 2 * nuniq + 64
    tree = np.zeros(cap + 1, dtype=np.int32)
    owner = np.full(cap, -1, dtype=np.int32)
    last = np.full(nuniq, -1, dtype=np.int32)
    keep_d = dist.shape[0] > 0
    keep_h = hist.shape[0] > 0
    live = 0
    nxt = 0
    for t in range(n):
        if nxt == cap:  # renumber live marks, rebuild the tree with ones at 0..live-1
            k = 0
            for q in range(cap):
                o = owner[q]
                if o >= 0 and last[o] == q:
                    owner[k] = o
                    last[o] = k
                    k += 1
            owner[k:] = -1
            tree[:] = 0
            tree[1:k + 1] = 1
            for i in range(1, cap + 1):  # O(cap) Fenwick build
                j = i + (i & (-i))
                if j <= cap:
                    tree[j] += tree[i]
            nxt = k
        x = ids[t]
        p = np.int64(last[x])
        if p < 0:
            d = -1
        else:
            s = 0
            i = p + 1
            while i > 0:
                s += tree[i]
                i -= i & (-i)
            d = live - s  # marks after p: distinct lines since the last use
            i = p + 1
            while i <= cap:
                tree[i] -= 1
                i += i & (-i)
            live -= 1
            if keep_h:
                hist[min(d, maxd)] += 1
        if keep_d:
            dist[t] = d
        i = nxt + 1
        while i <= cap:
            tree[i] += 1
            i += i & (-i)
        owner[nxt] = x
        last[x] = nxt
        nxt += 1
        live += 1


@njit(cache=True)
def _distances(ids, nuniq):
    """Reuse distance per access of dense ids in ``[0, nuniq)`` (``-1`` = cold)."""
    dist = np.empty(ids.shape[0], dtype=np.int64)
    _fenwick_pass(ids, nuniq, dist, np.zeros(0, np.int64), 0)
    return dist


@njit(cache=True)
def _histogram(ids, nuniq, maxd):
    """``hist[d]`` = accesses with reuse distance ``d`` for d < maxd; ``hist[maxd]`` counts the
    warm accesses with larger distances."""
    hist = np.zeros(maxd + 1, dtype=np.int64)
    _fenwick_pass(ids, nuniq, np.zeros(0, np.int64), hist, maxd)
    return hist


@njit(cache=True)
def _renumber(arr, lo, span):
    """Dense int32 ids in order of first appearance for values in ``[lo, lo+span)``."""
    idmap = np.full(span, -1, dtype=np.int32)
    ids = np.empty(arr.shape[0], dtype=np.int32)
    k = 0
    for i in range(arr.shape[0]):
        v = arr[i] - lo
        d = idmap[v]
        if d < 0:
            d = k
            idmap[v] = k
            k += 1
        ids[i] = d
    return ids, k


@njit(cache=True)
def _group_by_set(arr, sets):
    """``arr`` reordered so each set's accesses (``line % sets``) are contiguous, in trace
    order within a set (stable counting sort, O(n + sets))."""
    n = arr.shape[0]
    start = np.zeros(sets + 1, dtype=np.int64)
    for i in range(n):
        start[arr[i] % sets + 1] += 1
    for s in range(sets):
        start[s + 1] += start[s]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        s = arr[i] % sets
        out[start[s]] = arr[i]
        start[s] += 1
    return out


def _as_int64(lines) -> np.ndarray:
    arr = np.asarray(lines).reshape(-1)
    if arr.dtype == np.uint64:
        return arr.view(np.int64)
    return np.ascontiguousarray(arr.astype(np.int64, copy=False))


def _dense(lines) -> tuple[np.ndarray, int]:
    """Dense ids (int32, first appearance order) of ``lines`` and how many distinct there are:
    a lookup table over the value range when it is compact, else a sort."""
    arr = _as_int64(lines)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int32), 0
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi - lo < max(4 * arr.size, 1 << 20):
        return _renumber(arr, lo, hi - lo + 1)
    uniq, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int32).reshape(-1), int(uniq.size)


def reuse_distances(lines) -> np.ndarray:
    """LRU stack distance per access of ``lines`` (int64; ``-1`` for a first access)."""
    ids, nuniq = _dense(lines)
    return _distances(ids, nuniq)


def _hits_below(lines, limits: np.ndarray) -> np.ndarray:
    """Number of accesses of ``lines`` with reuse distance < each limit (cold never count)."""
    ids, nuniq = _dense(lines)
    maxd = int(min(limits.max(initial=0), nuniq))
    hist = _histogram(ids, nuniq, maxd)
    cum = np.concatenate([[0], np.cumsum(hist[:maxd])])  # cum[k] = count of d < k
    return cum[np.minimum(limits, maxd)].astype(np.int64)


def hit_curve(lines, capacities) -> np.ndarray:
    """Hits of a fully-associative LRU cache for each capacity in ``capacities`` (in lines),
    starting empty, over the line trace ``lines``. Reads and writes alike (in default mode a
    store refreshes recency, so hits do not depend on the access kind)."""
    caps = np.asarray(capacities, dtype=np.int64).reshape(-1)
    if caps.size and caps.min() < 0:
        raise ValueError("capacities must be ≥ 0 lines")
    return _hits_below(lines, caps)


def set_hit_curve(lines, sets: int, max_ways: int) -> np.ndarray:
    """Hits of an LRU cache with ``sets`` sets (set = line % sets) for every associativity
    1..``max_ways``: element ``w-1`` is the hit count with ``w`` ways."""
    if sets < 1 or max_ways < 1:
        raise ValueError("sets and max_ways must be ≥ 1")
    arr = _as_int64(lines)
    # each set's accesses stay in trace order; a line's earlier use is always in its own run
    grouped = _group_by_set(arr, sets) if sets > 1 else arr
    return _hits_below(grouped, np.arange(1, max_ways + 1, dtype=np.int64))
