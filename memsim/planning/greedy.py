"""Greedy offset planners: ``none``, ``greedy-by-size`` and ``greedy-by-breadth``.

Both greedy planners follow Pisarchyk & Lee, "Efficient Memory Management for Deep Neural Net
Inference" (arXiv:2001.03288, 2020), section "offset calculation": buffers are visited in a fixed
order and each one is put into the *smallest* gap between already-placed buffers that overlap it
in time and that is large enough (best fit); when no gap fits it goes on top of the highest of
them. Greedy by size visits buffers by non-increasing size (also what TFLite's arena planner
does: `ArenaPlanner` sorts by size, ties by first use); greedy by breadth visits the steps by
non-increasing breadth (total live bytes at that step) and, within a step, its not yet placed
buffers by non-increasing size.

All functions take int64 arrays ``sizes, starts, ends`` (live on ``[start, end)``) and return an
int64 array of offsets. Sizes are assumed already rounded to the alignment.
"""

from __future__ import annotations

import numpy as np

from memsim.jit import njit
from memsim.planning.buffers import section_totals, sections


@njit(cache=True)
def _best_fit_in_order(order, sizes, starts, ends):
    n = sizes.shape[0]
    offsets = np.full(n, -1, dtype=np.int64)
    placed = np.empty(n, dtype=np.int64)
    n_placed = 0
    cand_off = np.empty(n, dtype=np.int64)
    cand_end = np.empty(n, dtype=np.int64)
    for idx in range(order.shape[0]):
        b = order[idx]
        size = sizes[b]
        k = 0
        for j in range(n_placed):
            p = placed[j]
            if starts[p] < ends[b] and starts[b] < ends[p] and sizes[p] > 0:
                cand_off[k] = offsets[p]
                cand_end[k] = offsets[p] + sizes[p]
                k += 1
        perm = np.argsort(cand_off[:k], kind="mergesort")
        prev_end = 0
        best_off = -1
        best_gap = np.int64(-1)
        for q in range(k):
            o = cand_off[perm[q]]
            gap = o - prev_end
            if gap >= size and (best_off < 0 or gap < best_gap):
                best_off = prev_end
                best_gap = gap
            e = cand_end[perm[q]]
            if e > prev_end:
                prev_end = e
        if best_off < 0:
            best_off = prev_end
        offsets[b] = best_off
        placed[n_placed] = b
        n_placed += 1
    return offsets


def order_by_size(sizes, starts, ends) -> np.ndarray:
    """Visit order of greedy by size: size descending, then first use, then index (stable)."""
    return np.lexsort((np.arange(sizes.size), starts, -sizes)).astype(np.int64)


def greedy_by_size(sizes, starts, ends) -> np.ndarray:
    """Best-fit offsets visiting buffers by non-increasing size (Pisarchyk & Lee 2020, §4.3)."""
    return _greedy(order_by_size, sizes, starts, ends)


def _greedy(order_fn, sizes, starts, ends) -> np.ndarray:
    """Best-fit offsets visiting buffers in ``order_fn(sizes, starts, ends)`` order."""
    sizes, starts, ends = (np.asarray(a, dtype=np.int64) for a in (sizes, starts, ends))
    if sizes.size == 0:
        return np.zeros(0, dtype=np.int64)
    return _best_fit_in_order(order_fn(sizes, starts, ends), sizes, starts, ends)


def order_by_breadth(sizes, starts, ends) -> np.ndarray:
    """Visit order of greedy by breadth: steps (sections between event points) by non-increasing
    breadth; inside a step its buffers not yet visited by non-increasing size."""
    lo, hi, m = sections(starts, ends)
    m = max(m, 1)
    breadth = section_totals(sizes, lo, hi, m)
    step_order = np.lexsort((np.arange(m), -breadth))
    by_size = order_by_size(sizes, starts, ends)
    # group buffers by the steps they cover: a buffer covers sections [lo, hi)
    rank_of_step = np.empty(m, dtype=np.int64)
    rank_of_step[step_order] = np.arange(m)
    # the first visited step of each buffer is the min rank over its sections
    first = np.empty(sizes.size, dtype=np.int64)
    for b in range(sizes.size):  # one numpy min per buffer, not per byte
        first[b] = rank_of_step[lo[b]:hi[b]].min() if hi[b] > lo[b] else m
    size_rank = np.empty(sizes.size, dtype=np.int64)
    size_rank[by_size] = np.arange(sizes.size)
    return np.lexsort((size_rank, first)).astype(np.int64)


def greedy_by_breadth(sizes, starts, ends) -> np.ndarray:
    """Best-fit offsets visiting steps by breadth (Pisarchyk & Lee 2020, §4.4)."""
    return _greedy(order_by_breadth, sizes, starts, ends)


def no_reuse(sizes, starts, ends) -> np.ndarray:
    """``none``: every buffer its own address range, in input order (arena = naive)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes.size else sizes
