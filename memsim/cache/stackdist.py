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
from numba import njit


@njit(cache=True)
def _distances(ids, nuniq):
    """Reuse distance per access of dense ids in ``[0, nuniq)`` (``-1`` = cold).

    The Fenwick tree holds a 1 at the tree position of each line's last use. Positions are
    handed out in time order; when they run out the live marks are renumbered 0..live-1 in
    order, so the tree stays ~2× the footprint (cache-resident) instead of the trace length.
    """
    n = ids.shape[0]
    cap = 2 * nuniq + 64
    tree = np.zeros(cap + 1, dtype=np.int64)
    owner = np.full(cap, -1, dtype=np.int64)
    last = np.full(nuniq, -1, dtype=np.int64)
    dist = np.empty(n, dtype=np.int64)
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
        p = last[x]
        if p < 0:
            dist[t] = -1
        else:
            s = 0
            i = p + 1
            while i > 0:
                s += tree[i]
                i -= i & (-i)
            dist[t] = live - s  # marks after p: distinct lines since the last use
            i = p + 1
            while i <= cap:
                tree[i] -= 1
                i += i & (-i)
            live -= 1
        i = nxt + 1
        while i <= cap:
            tree[i] += 1
            i += i & (-i)
        owner[nxt] = x
        last[x] = nxt
        nxt += 1
        live += 1
    return dist


def _dense(lines) -> tuple[np.ndarray, int]:
    arr = np.asarray(lines).reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi - lo < max(4 * arr.size, 1 << 20):
        return (arr - lo).astype(np.int64), hi - lo + 1  # compact range: no sort needed
    uniq, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int64).reshape(-1), int(uniq.size)


def reuse_distances(lines) -> np.ndarray:
    """LRU stack distance per access of ``lines`` (int64; ``-1`` for a first access)."""
    ids, nuniq = _dense(lines)
    return _distances(ids, nuniq)


def _curve(dist: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Number of distances < each limit (cold accesses, -1, never count)."""
    hist = np.bincount(dist[dist >= 0])
    cum = np.concatenate([[0], np.cumsum(hist)])  # cum[k] = count of d < k
    return cum[np.minimum(limits, hist.size)].astype(np.int64)


def hit_curve(lines, capacities) -> np.ndarray:
    """Hits of a fully-associative LRU cache for each capacity in ``capacities`` (in lines),
    starting empty, over the line trace ``lines``. Reads and writes alike (in default mode a
    store refreshes recency, so hits do not depend on the access kind)."""
    caps = np.asarray(capacities, dtype=np.int64).reshape(-1)
    if caps.size and caps.min() < 0:
        raise ValueError("capacities must be ≥ 0 lines")
    return _curve(reuse_distances(lines), caps)


def set_hit_curve(lines, sets: int, max_ways: int) -> np.ndarray:
    """Hits of an LRU cache with ``sets`` sets (set = line % sets) for every associativity
    1..``max_ways``: element ``w-1`` is the hit count with ``w`` ways."""
    if sets < 1 or max_ways < 1:
        raise ValueError("sets and max_ways must be ≥ 1")
    arr = np.asarray(lines).reshape(-1)
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)
    arr = arr.astype(np.int64, copy=False)
    order = np.argsort(arr % sets, kind="stable")  # each set's accesses stay in trace order
    dist = reuse_distances(arr[order])  # a line's earlier use is always in its own set's run
    return _curve(dist, np.arange(1, max_ways + 1, dtype=np.int64))
