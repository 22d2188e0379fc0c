"""``best``: branch and bound toward the lower bound, seeded by the greedy plans.

The decision problem "do all buffers fit below capacity C?" is searched depth first, after the
ideas of MiniMalloc (Moffitt, "MiniMalloc: A Lightweight Memory Allocator for Hardware-Accelerated
Machine Learning", ASPLOS 2023), re-derived here from the paper's description:

* **Canonical solutions.** Any valid plan can be pushed down until every buffer rests at offset 0
  or on top of a buffer it overlaps in time. Sorting such a plan by offset, each buffer sits at
  its *minimum offset* given the buffers before it. So we place buffers in non-decreasing offset
  order, each at its minimum offset; buffers placed at the same offset are placed in index order
  (they cannot overlap in time, so their order is immaterial).
* **Branching at the lowest point.** Let ``F`` be the current floor (offset of the last placement)
  and ``eff(b) = max(minoff(b), F)``. At a node the next buffer either goes at ``o* = min eff``
  (one child per buffer with ``eff == o*``) or no buffer goes there: the floor rises to the next
  ``eff`` value (one "waste" child). Every canonical plan is reachable, so the search is complete.
* **Section inference.** Time is cut into sections between interval end points. In section s all
  unplaced buffers live there must stack disjointly above ``max(F, top_s)`` (``top_s``: the top of
  the placed buffers in s), so ``remaining_s + max(F, top_s) <= C`` or the node is pruned; and
  each unplaced buffer needs ``eff(b) + size(b) <= C``.

The search is an explicit-stack DFS in numba whose whole state lives in arrays, so it runs in
chunks of nodes and the Python driver checks the wall clock between chunks (numba cannot).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

FOUND, EXHAUSTED, BUDGET = 1, 0, 2
WASTE = -2


@njit(cache=True)
def _adjacency(lo, hi):
    """CSR lists of buffers overlapping in time (section ranges [lo, hi))."""
    n = lo.shape[0]
    order = np.argsort(lo, kind="mergesort")
    counts = np.zeros(n, dtype=np.int64)
    for a in range(n):
        i = order[a]
        for c in range(a + 1, n):
            j = order[c]
            if lo[j] >= hi[i]:
                break
            counts[i] += 1
            counts[j] += 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        ptr[i + 1] = ptr[i] + counts[i]
    fill = ptr[:-1].copy()
    adj = np.empty(ptr[n], dtype=np.int64)
    for a in range(n):
        i = order[a]
        for c in range(a + 1, n):
            j = order[c]
            if lo[j] >= hi[i]:
                break
            adj[fill[i]] = j
            fill[i] += 1
            adj[fill[j]] = i
            fill[j] += 1
    return ptr, adj


class SearchState:
    """All arrays of one resumable B&B run for capacity ``capacity`` and priority ``rank``."""

    def __init__(self, sizes, lo, hi, m, ptr, adj, rank, capacity):
        n = sizes.shape[0]
        self.capacity = int(capacity)
        self.sizes, self.lo, self.hi, self.ptr, self.adj = sizes, lo, hi, ptr, adj
        self.order = np.argsort(rank, kind="mergesort").astype(np.int64)  # candidates by priority
        self.rank = np.empty(n, dtype=np.int64)  # position in that order (ties broken by it)
        self.rank[self.order] = np.arange(n)
        self.offset = np.full(n, -1, dtype=np.int64)
        self.minoff = np.zeros(n, dtype=np.int64)
        usum = np.zeros(m + 1, dtype=np.int64)
        np.add.at(usum, lo, sizes)
        np.subtract.at(usum, hi, sizes)
        self.usum = np.cumsum(usum)[:m].copy()
        self.top = np.zeros(m, dtype=np.int64)
        depth_cap = 3 * n + 64
        self.lv = np.zeros((depth_cap, 17), dtype=np.int64)  # per level bookkeeping, see _run
        self.cand = np.empty(n * 4 + 4 * m + 64, dtype=np.int64)    # grows on demand
        self.undo = np.empty(int(hi.sum() - lo.sum()) + int(ptr[-1]) * 2 + n + 64, dtype=np.int64)
        # scalars: depth, cand_top, undo_top, F, last_off, last_idx, placed, fresh, nodes
        self.unb = np.diff(ptr).astype(np.int64)  # unplaced neighbours per buffer
        self.fl = np.zeros(m, dtype=np.int64)
        self.cross = np.zeros(m, dtype=np.int64)
        self.sc = np.array([0, 0, 0, 0, -1, -1, 0, 1, 0, 0, m, -1], dtype=np.int64)

    def run(self, max_nodes: int) -> int:
        """Advance the search by at most ``max_nodes`` nodes; FOUND, EXHAUSTED or BUDGET."""
        while True:
            status = _run(self.sizes, self.lo, self.hi, self.ptr, self.adj, self.order, self.rank,
                          self.capacity, self.offset, self.minoff, self.usum, self.top, self.lv,
                          self.cand, self.undo, self.sc, self.unb, self.fl, self.cross, max_nodes)
            if status != -1:
                return int(status)
            self.cand = np.concatenate([self.cand, np.empty_like(self.cand)])  # grow and resume


BRANCH, FREE, SPLIT, CONT, DONE = 0, 1, 2, 3, 4
SPECIAL = -3


@njit(cache=True)
def _place(c, o, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb, u):
    """Put buffer c at offset o; push undo records from index u; return the new undo top."""
    t = o + sizes[c]
    for s in range(lo[c], hi[c]):
        undo[u] = top[s]
        u += 1
        top[s] = t
        usum[s] -= sizes[c]
    nn = 0
    for q in range(ptr[c], ptr[c + 1]):
        j = adj[q]
        unb[j] -= 1
        if offset[j] < 0 and minoff[j] < t:
            undo[u] = j
            undo[u + 1] = minoff[j]
            u += 2
            minoff[j] = t
            nn += 1
    undo[u] = nn
    offset[c] = o
    return u + 1


@njit(cache=True)
def _unplace(c, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb, u):
    """Reverse ``_place`` of buffer c whose records end at undo index u; return the new top."""
    nn = undo[u - 1]
    u -= 1
    for r in range(nn):
        u -= 2
        minoff[undo[u]] = undo[u + 1]
    for q in range(ptr[c], ptr[c + 1]):
        unb[adj[q]] += 1
    for r in range(hi[c] - lo[c]):
        u -= 1
        s = hi[c] - 1 - r
        top[s] = undo[u]
        usum[s] += sizes[c]
    offset[c] = -1
    return u


@njit(cache=True)
def _run(sizes, lo, hi, ptr, adj, order, rank, C, offset, minoff, usum, top, lv, cand, undo, sc,
         unb, fl, cross, max_nodes):
    # sc: 0 depth, 1 cand_top, 2 undo_top, 3 F, 4 last_off, 5 last_idx, 6 placed, 7 fresh,
    #     8 nodes, 9 window lo, 10 window hi (sections of the component being solved),
    #     11 innermost split level (-1 none)
    # lv[k]: 0 cand_start, 1 cand_end, 2 pos, 3 applied (-1 none, else the child taken),
    #        4 offset for the children, 5 o2 (floor after a waste), 6-8 saved F/last_off/last_idx,
    #        9 type, 10-12 saved window lo/hi and split level, 13 split level X (CONT/DONE),
    #        14 component index (CONT), 15 floor at the split (SPLIT), 16 number of components
    n = sizes.shape[0]
    m = usum.shape[0]
    depth_cap = lv.shape[0]
    big = np.int64(1) << 62
    budget = 0
    while budget < max_nodes:
        if sc[7] == 1:  # evaluate the fresh node
            sc[7] = 0
            budget += 1
            sc[8] += 1
            F = sc[3]
            wlo = sc[9]
            whi = sc[10]
            ok = True
            ostar = big
            free = -1
            left = 0
            for s in range(m):
                fl[s] = big
                cross[s] = 0
            for b in range(n):
                if offset[b] < 0:
                    inwin = lo[b] >= wlo and hi[b] <= whi
                    e = minoff[b]
                    if inwin and F > e:
                        e = F
                    if e + sizes[b] > C:
                        ok = False
                        break
                    for s in range(lo[b], hi[b]):
                        if e < fl[s]:
                            fl[s] = e
                    if inwin:
                        left += 1
                        if unb[b] == 0 and free < 0:
                            free = b
                        if minoff[b] >= F and e < ostar:
                            ostar = e
                        for s in range(lo[b], hi[b] - 1):
                            cross[s] = 1
            if ok:
                # section inference: the unplaced buffers of a section stack above its floor
                for s in range(m):
                    if usum[s] > 0 and usum[s] + fl[s] > C:
                        ok = False
                        break
            if ok and sc[0] + 1 >= depth_cap:
                ok = False  # depth cap (never reached in practice): prune, stays sound
            if ok:
                start = sc[1]
                if start + n + 2 * m + 4 > cand.shape[0]:
                    sc[7] = 1  # re-evaluate after the caller grows the candidate buffer
                    sc[8] -= 1
                    return -1
                d = sc[0]
                k = start
                o2 = -1
                typ = BRANCH
                if left == 0:
                    X = sc[11]
                    if X < 0:
                        return 1  # FOUND: every buffer placed below C
                    j = -1
                    # the next component of split X not yet started
                    typ = DONE
                    for q in range(lv[X, 16]):
                        if cand[lv[X, 0] + 2 * q] == wlo:
                            j = q + 1
                    if j < lv[X, 16]:
                        typ = CONT
                    lv[d, 13] = X
                    lv[d, 14] = j
                    cand[k] = SPECIAL
                    k += 1
                elif free >= 0:
                    typ = FREE
                    cand[k] = free
                    k += 1
                    lv[d, 4] = minoff[free]
                else:
                    # components of the window: runs of sections joined by an unplaced buffer
                    ncomp = 0
                    s = wlo
                    while s < whi:
                        if usum[s] == 0:
                            s += 1
                            continue
                        e0 = s
                        while s < whi - 1 and cross[s] == 1:
                            s += 1
                        cand[k + 2 * ncomp] = e0
                        cand[k + 2 * ncomp + 1] = s + 1
                        ncomp += 1
                        s += 1
                    if ncomp >= 2:
                        typ = SPLIT
                        # least slack first: a failing component is found before the others
                        for q in range(ncomp):
                            sl = big
                            for s2 in range(cand[k + 2 * q], cand[k + 2 * q + 1]):
                                v = C - usum[s2] - fl[s2]
                                if usum[s2] > 0 and v < sl:
                                    sl = v
                            fl[q] = sl  # scratch: fl is rebuilt at every node
                        for q in range(1, ncomp):
                            r = q
                            while r > 0 and fl[r - 1] > fl[r]:
                                fl[r - 1], fl[r] = fl[r], fl[r - 1]
                                x0 = cand[k + 2 * r - 2]
                                x1 = cand[k + 2 * r - 1]
                                cand[k + 2 * r - 2] = cand[k + 2 * r]
                                cand[k + 2 * r - 1] = cand[k + 2 * r + 1]
                                cand[k + 2 * r] = x0
                                cand[k + 2 * r + 1] = x1
                                r -= 1
                        lv[d, 16] = ncomp
                        lv[d, 15] = F
                        k += 2 * ncomp
                        cand[k] = SPECIAL
                        k += 1
                    else:
                        tie = sc[4] == ostar
                        for q in range(n):
                            b = order[q]
                            if offset[b] >= 0 or lo[b] < wlo or hi[b] > whi:
                                continue
                            e = minoff[b]
                            if e < F:
                                continue  # floating: only a later buffer under it can place it
                            if e == ostar:
                                if not (tie and rank[b] < rank[sc[5]]):
                                    cand[k] = b
                                    k += 1
                            elif o2 < 0 or e < o2:
                                o2 = e
                        if o2 >= 0:
                            cand[k] = WASTE
                            k += 1
                        lv[d, 4] = ostar
                lv[d, 9] = typ
                lv[d, 0] = start
                lv[d, 1] = k
                lv[d, 2] = k - 1 if (typ == SPLIT or typ == CONT or typ == DONE) else start
                lv[d, 3] = -1
                lv[d, 5] = o2
                sc[1] = k
                sc[0] = d + 1
        # advance the deepest level to its next child
        if sc[0] == 0:
            return 0  # EXHAUSTED: no plan fits below C
        d = sc[0] - 1
        a = lv[d, 3]
        typ = lv[d, 9]
        if a != -1:  # undo the previous child of this level
            if a >= 0:
                sc[2] = _unplace(a, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo,
                                 unb, sc[2])
                sc[6] -= 1
            sc[3] = lv[d, 6]
            sc[4] = lv[d, 7]
            sc[5] = lv[d, 8]
            sc[9] = lv[d, 10]
            sc[10] = lv[d, 11]
            sc[11] = lv[d, 12]
            lv[d, 3] = -1
        p = lv[d, 2]
        if p >= lv[d, 1]:
            if typ == CONT or typ == DONE:
                # what follows a finished component does not depend on how it was solved:
                # fail the whole split (pop down to its level, undoing every placement)
                X = lv[d, 13]
                while sc[0] - 1 > X:
                    d2 = sc[0] - 1
                    a2 = lv[d2, 3]
                    if a2 >= 0:
                        sc[2] = _unplace(a2, sizes, lo, hi, ptr, adj, offset, minoff, usum,
                                         top, undo, unb, sc[2])
                        sc[6] -= 1
                    if a2 != -1:
                        sc[3] = lv[d2, 6]
                        sc[4] = lv[d2, 7]
                        sc[5] = lv[d2, 8]
                        sc[9] = lv[d2, 10]
                        sc[10] = lv[d2, 11]
                        sc[11] = lv[d2, 12]
                    sc[0] = d2
                    sc[1] = lv[d2, 0]
                lv[X, 2] = lv[X, 1]  # the split level has no other child: it pops next
                continue
            sc[0] = d  # pop
            sc[1] = lv[d, 0]
            continue
        lv[d, 2] = p + 1
        c = cand[p]
        lv[d, 3] = c
        lv[d, 6] = sc[3]
        lv[d, 7] = sc[4]
        lv[d, 8] = sc[5]
        lv[d, 10] = sc[9]
        lv[d, 11] = sc[10]
        lv[d, 12] = sc[11]
        if typ == SPLIT:
            sc[9] = cand[lv[d, 0]]
            sc[10] = cand[lv[d, 0] + 1]
            sc[11] = d
            sc[4] = -1
            sc[5] = -1
        elif typ == CONT:
            X = lv[d, 13]
            j = lv[d, 14]
            sc[9] = cand[lv[X, 0] + 2 * j]
            sc[10] = cand[lv[X, 0] + 2 * j + 1]
            sc[3] = lv[X, 15]
            sc[4] = -1
            sc[5] = -1
        elif typ == DONE:
            X = lv[d, 13]
            sc[9] = lv[X, 10]
            sc[10] = lv[X, 11]
            sc[11] = lv[X, 12]
            sc[3] = lv[X, 6]
            sc[4] = -1
            sc[5] = -1
        elif c == WASTE:
            sc[3] = lv[d, 5]
            sc[5] = -1
        else:
            o = lv[d, 4]
            sc[2] = _place(c, o, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                           sc[2])
            sc[6] += 1
            if typ == BRANCH:
                sc[3] = o
                sc[4] = o
                sc[5] = c
        sc[7] = 1
    return 2  # BUDGET


def luby(i: int) -> int:
    """The i-th term (i >= 1) of the Luby restart sequence 1,1,2,1,1,2,4,... (Luby, Sinclair &
    Zuckerman 1993: optimal universal restart schedule for Las Vegas algorithms)."""
    k = 1
    while (1 << k) - 1 < i:
        k += 1
    if (1 << k) - 1 == i:
        return 1 << (k - 1)
    return luby(i - (1 << (k - 1)) + 1)


def priorities(sizes, lo, hi):
    """Candidate priority keys tried in turn (each a tuple of keys, larger first): the busiest
    section a buffer crosses, then lifetime, then size; and simpler variants. Buffers of the
    peak sections leave no slack, so placing them first finds dead ends early."""
    m = int(hi.max()) if hi.size else 0
    usum = np.cumsum(np.bincount(lo, weights=sizes, minlength=m + 1)
                     - np.bincount(hi, weights=sizes, minlength=m + 1))[:m]
    peak = np.array([usum[a:b].max() for a, b in zip(lo, hi)], dtype=np.float64)
    length = (hi - lo).astype(np.float64)
    size = sizes.astype(np.float64)
    return [(peak, length, size), (length, size), (peak, size), (size, length),
            (size * length,), (-lo.astype(np.float64), size)]


def rank_from_keys(keys, rng: np.random.Generator | None = None, noise: float = 0.0):
    """Rank (0 = tried first) from a tuple of keys, larger first, ties by index; optional
    multiplicative noise from the seeded ``rng`` on every key."""
    n = keys[0].size
    if rng is not None and noise > 0:
        keys = tuple(k * (1.0 + noise * rng.random(n)) for k in keys)
    order = np.lexsort((np.arange(n),) + tuple(-k for k in reversed(keys)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def priority(sizes, lo, hi, rng: np.random.Generator | None = None, noise: float = 0.0):
    """The default candidate rank (first of ``priorities``), optionally perturbed."""
    return rank_from_keys(priorities(sizes, lo, hi)[0], rng, noise)


def solve(sizes, starts, ends, capacity: int, deadline: float, seed: int = 0,
          unit_nodes: int = 20000) -> tuple[int, np.ndarray | None]:
    """Search for offsets of all buffers within ``capacity`` until ``deadline``
    (``time.perf_counter`` value). DFS run lengths are heavy-tailed, so the search restarts on
    a Luby schedule of ``unit_nodes`` node budgets, cycling through the ``priorities`` and then
    seeded random perturbations of them. Returns ``(status, offsets)``: FOUND with offsets,
    EXHAUSTED (proved impossible: a restart finished its tree) or BUDGET (time ran out) with
    None. Zero-size buffers get offset 0. Deterministic for a given seed up to where the clock
    stops it.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    pos = np.flatnonzero(sizes > 0)
    out = np.zeros(sizes.size, dtype=np.int64)
    if pos.size == 0:
        return FOUND, out
    s, a, b = sizes[pos], starts[pos], ends[pos]
    lo, hi, m = sections(a, b)
    ptr, adj = _adjacency(lo, hi)
    bases = priorities(s, lo, hi)
    rng = np.random.default_rng(seed)
    attempt = 0
    while True:
        keys = bases[attempt % len(bases)]
        rank = rank_from_keys(keys, rng if attempt >= len(bases) else None, 0.3)
        state = SearchState(s, lo, hi, m, ptr, adj, rank, capacity)
        budget = unit_nodes * luby(attempt + 1)
        done = 0
        while done < budget:
            status = state.run(min(unit_nodes, budget - done))
            done += unit_nodes
            if status == FOUND:
                out[pos] = state.offset
                return FOUND, out
            if status == EXHAUSTED:
                return EXHAUSTED, None
            if time.perf_counter() >= deadline:
                return BUDGET, None
        attempt += 1


def sections(starts, ends):
    """Section index ranges ``(lo, hi, m)`` of intervals over their distinct end points."""
    points = np.unique(np.concatenate([starts, ends]))
    return (np.searchsorted(points, starts).astype(np.int64),
            np.searchsorted(points, ends).astype(np.int64), points.size - 1)
