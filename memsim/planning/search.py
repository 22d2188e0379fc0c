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
  each unplaced buffer needs ``eff(b) + size(b) <= C``; stronger, per section, for every
  threshold t: ``t + (bytes of its unplaced buffers with release >= t) <= C`` (one-machine
  release-date bound, ``_release_bound``), where a floating buffer's release is raised to the
  lowest top any unplaced neighbour can give it.
* **Dominance.** A floating buffer (``minoff < F``) that fits wholly under the floor
  (``minoff + size <= F``) prunes the node: nothing placed later can use that gap, so lowering
  the buffer into it gives a valid plan with a smaller offset sum; an optimum of least offset
  sum is therefore never pruned.
* **Decomposition.** Time-disjoint groups are solved independently: at the root as separate
  searches (``solve``), inside the tree as components that each restart on their own Luby
  schedule with the next priority variant when they outgrow their node budget.

The search is an explicit-stack DFS in numba whose whole state lives in arrays, so it runs in
chunks of nodes and the Python driver checks the wall clock between chunks (numba cannot).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

FOUND, EXHAUSTED, BUDGET = 1, 0, 2
WASTE = -2
RELEASE_BOUND = True  # per-section release-date bound (see _release_bound)


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

    def __init__(self, sizes, lo, hi, m, ptr, adj, rank, capacity, variants=None,
                 comp_unit: int = 0):
        n = sizes.shape[0]
        self.capacity = int(capacity)
        self.sizes, self.lo, self.hi, self.ptr, self.adj = sizes, lo, hi, ptr, adj
        ranks = [np.asarray(rank, dtype=np.int64)] + [np.asarray(r, dtype=np.int64)
                                                       for r in (variants or [])]
        # row v: candidates by priority of variant v (row 0 = ``rank``) and the inverse
        self.order = np.stack([np.argsort(r, kind="mergesort") for r in ranks]).astype(np.int64)
        self.rank = np.empty_like(self.order)  # position in that order (ties broken by it)
        for v in range(len(ranks)):
            self.rank[v, self.order[v]] = np.arange(n)
        self.offset = np.full(n, -1, dtype=np.int64)
        self.minoff = np.zeros(n, dtype=np.int64)
        usum = np.zeros(m + 1, dtype=np.int64)
        np.add.at(usum, lo, sizes)
        np.subtract.at(usum, hi, sizes)
        self.usum = np.cumsum(usum)[:m].copy()
        self.top = np.zeros(m, dtype=np.int64)
        depth_cap = 3 * n + 64
        self.lv = np.zeros((depth_cap, 22), dtype=np.int64)  # per level bookkeeping, see _run
        self.cand = np.empty(n * 4 + 4 * m + 64, dtype=np.int64)    # grows on demand
        self.undo = np.empty(int(hi.sum() - lo.sum()) + int(ptr[-1]) * 2 + n + 64, dtype=np.int64)
        # scalars: depth, cand_top, undo_top, F, last_off, last_idx, placed, fresh, nodes
        self.unb = np.diff(ptr).astype(np.int64)  # unplaced neighbours per buffer
        self.fl = np.zeros(m, dtype=np.int64)
        self.cross = np.zeros(m, dtype=np.int64)
        self.eff = np.zeros(n, dtype=np.int64)
        self.acc = np.zeros(m, dtype=np.int64)
        self.byeff = np.zeros(n, dtype=np.int64)
        self.erd = RELEASE_BOUND
        self.dom = True
        self.sc = np.array([0, 0, 0, 0, -1, -1, 0, 1, 0, 0, m, -1, -1, 0, comp_unit],
                           dtype=np.int64)

    def run(self, max_nodes: int) -> int:
        """Advance the search by at most ``max_nodes`` nodes; FOUND, EXHAUSTED or BUDGET."""
        while True:
            status = _run(self.sizes, self.lo, self.hi, self.ptr, self.adj, self.order, self.rank,
                          self.capacity, self.offset, self.minoff, self.usum, self.top, self.lv,
                          self.cand, self.undo, self.sc, self.unb, self.fl, self.cross, self.eff,
                          self.acc, self.byeff, self.erd, self.dom,
                          max_nodes)
            if status != -1:
                return int(status)
            self.cand = np.concatenate([self.cand, np.empty_like(self.cand)])  # grow and resume


@njit(cache=True)
def _release_bound(sizes, lo, hi, ptr, adj, offset, minoff, F, wlo, whi, C, eff, acc, byeff):
    """Single-machine bound per section: the unplaced buffers of a section are disjoint in
    address and each starts at or above its release ``eff(b)``, so for every threshold t,
    t + (bytes of the section's unplaced buffers with eff >= t) <= C (Jackson's earliest
    release date rule makes this exact for one section). ``eff(b) = max(minoff(b), F)``; a
    floating buffer (minoff < F, with unplaced neighbours) can only come to rest on top of an
    unplaced neighbour n, so its release is at least min over those n of eff(n) + size(n).
    Returns False when some section cannot hold its unplaced buffers below C."""
    n = sizes.shape[0]
    k = 0
    for b in range(n):
        if offset[b] < 0:
            e = minoff[b]
            if lo[b] >= wlo and hi[b] <= whi and F > e:
                e = F
            eff[b] = e
            byeff[k] = b
            k += 1
    for q in range(k):
        b = byeff[q]
        if minoff[b] < F and lo[b] >= wlo and hi[b] <= whi:
            lift = np.int64(1) << 62
            for r in range(ptr[b], ptr[b + 1]):
                j = adj[r]
                if offset[j] < 0:
                    e = minoff[j]
                    if F > e:
                        e = F
                    if e + sizes[j] < lift:
                        lift = e + sizes[j]
            if lift < (np.int64(1) << 62) and lift > eff[b]:
                eff[b] = lift
                if lift + sizes[b] > C:
                    return False
    sub = byeff[:k]
    keys = eff[sub]
    perm = np.argsort(-keys, kind="mergesort")
    for s in range(acc.shape[0]):
        acc[s] = 0
    for q in range(k):
        b = sub[perm[q]]
        e = eff[b]
        for s in range(lo[b], hi[b]):
            acc[s] += sizes[b]
            if e + acc[s] > C:
                return False
    return True


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
def _luby(i):
    """``luby(i)`` for numba."""
    while True:
        k = 1
        while (np.int64(1) << k) - 1 < i:
            k += 1
        if (np.int64(1) << k) - 1 == i:
            return np.int64(1) << (k - 1)
        i = i - (np.int64(1) << (k - 1)) + 1


@njit(cache=True)
def _restore(d, sc, lv):
    """Restore the scalars saved when level d applied its child."""
    sc[3] = lv[d, 6]
    sc[4] = lv[d, 7]
    sc[5] = lv[d, 8]
    sc[9] = lv[d, 10]
    sc[10] = lv[d, 11]
    sc[11] = lv[d, 12]
    sc[12] = lv[d, 20]
    sc[13] = lv[d, 21]


@njit(cache=True)
def _pop_above(X, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb, sc, lv):
    """Pop every level above X, undoing the children they applied."""
    while sc[0] - 1 > X:
        d2 = sc[0] - 1
        a2 = lv[d2, 3]
        if a2 >= 0:
            sc[2] = _unplace(a2, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                             sc[2])
            sc[6] -= 1
        if a2 != -1:
            _restore(d2, sc, lv)
        sc[0] = d2
        sc[1] = lv[d2, 0]


@njit(cache=True)
def _run(sizes, lo, hi, ptr, adj, order, rank, C, offset, minoff, usum, top, lv, cand, undo, sc,
         unb, fl, cross, eff, acc, byeff, erd, dom, max_nodes):
    # sc: 0 depth, 1 cand_top, 2 undo_top, 3 F, 4 last_off, 5 last_idx, 6 placed, 7 fresh,
    #     8 nodes, 9 window lo, 10 window hi (sections of the component being solved),
    #     11 innermost split level (-1 none), 12 level that entered the current component
    #     (-1 none), 13 priority variant in use, 14 node unit of component restarts (0: off)
    # lv[k]: 0 cand_start, 1 cand_end, 2 pos, 3 applied (-1 none, else the child taken),
    #        4 offset for the children, 5 o2 (floor after a waste), 6-8 saved F/last_off/last_idx,
    #        9 type, 10-12 saved window lo/hi and split level, 13 split level X (CONT/DONE),
    #        14 component index (CONT), 15 floor at the split (SPLIT), 16 number of components,
    #        17 node count at component entry, 18 its node budget, 19 restarts so far,
    #        20-21 saved entry level and variant
    nvar = order.shape[0]
    n = sizes.shape[0]
    m = usum.shape[0]
    depth_cap = lv.shape[0]
    big = np.int64(1) << 62
    budget = 0
    while budget < max_nodes:
        if sc[7] == 1 and sc[12] >= 0:
            # component restarts: a component whose search outgrew its node budget is
            # re-entered with the next priority variant (outermost overrun first)
            R = -1
            E = sc[12]
            while E >= 0:
                if sc[8] - lv[E, 17] > lv[E, 18]:
                    R = E
                E = lv[E, 20]
            if R >= 0:
                _pop_above(R, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                           sc, lv)
                _restore(R, sc, lv)
                lv[R, 3] = -1
                lv[R, 2] -= 1  # take the same (only) child again
                lv[R, 19] += 1
                sc[7] = 0
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
                    if inwin and dom and minoff[b] + sizes[b] <= F and unb[b] > 0:
                        # dominated: b fits wholly in the gap under the floor, which nothing
                        # later can use, so lowering b there gives a plan no worse
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
            if ok and erd:
                ok = _release_bound(sizes, lo, hi, ptr, adj, offset, minoff, F, wlo, whi, C,
                                    eff, acc, byeff)
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
                            b = order[sc[13], q]
                            if offset[b] >= 0 or lo[b] < wlo or hi[b] > whi:
                                continue
                            e = minoff[b]
                            if e < F:
                                continue  # floating: only a later buffer under it can place it
                            if e == ostar:
                                if not (tie and rank[sc[13], b] < rank[sc[13], sc[5]]):
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
                lv[d, 19] = 0
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
            _restore(d, sc, lv)
            lv[d, 3] = -1
        p = lv[d, 2]
        if p >= lv[d, 1]:
            if typ == CONT or typ == DONE:
                # what follows a finished component does not depend on how it was solved:
                # fail the whole split (pop down to its level, undoing every placement)
                X = lv[d, 13]
                _pop_above(X, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                           sc, lv)
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
        lv[d, 20] = sc[12]
        lv[d, 21] = sc[13]
        if typ == SPLIT or typ == CONT:
            if typ == SPLIT:
                sc[9] = cand[lv[d, 0]]
                sc[10] = cand[lv[d, 0] + 1]
                sc[11] = d
            else:
                X = lv[d, 13]
                j = lv[d, 14]
                lv[d, 20] = lv[X, 20]  # budgets chain to the split's enclosing component
                sc[9] = cand[lv[X, 0] + 2 * j]
                sc[10] = cand[lv[X, 0] + 2 * j + 1]
                sc[3] = lv[X, 15]
            sc[4] = -1
            sc[5] = -1
            if sc[14] > 0:  # enter the component: restart number r uses variant r
                sc[12] = d
                sc[13] = lv[d, 19] % nvar
                lv[d, 17] = sc[8]
                lv[d, 18] = sc[14] * _luby(lv[d, 19] + 1)
        elif typ == DONE:
            X = lv[d, 13]
            sc[9] = lv[X, 10]
            sc[10] = lv[X, 11]
            sc[11] = lv[X, 12]
            sc[12] = lv[X, 20]
            sc[13] = lv[X, 21]
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
    peak sections leave no slack, so placing them first finds dead ends early; area (size times
    lifetime) alone, and lifetime-area-peak, are the two other strong orders on MiniMalloc's A-K."""
    m = int(hi.max()) if hi.size else 0
    usum = np.cumsum(np.bincount(lo, weights=sizes, minlength=m + 1)
                     - np.bincount(hi, weights=sizes, minlength=m + 1))[:m]
    peak = np.array([usum[a:b].max() for a, b in zip(lo, hi)], dtype=np.float64)
    length = (hi - lo).astype(np.float64)
    size = sizes.astype(np.float64)
    area = size * length
    return [(peak, length, size), (area,), (length, area, peak), (peak, size), (length, size),
            (size, length), (-lo.astype(np.float64), size)]


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


def components(starts, ends) -> list[np.ndarray]:
    """Index arrays of the time-disjoint groups of intervals ``[start, end)`` (connected
    components of the interval graph), in time order: a new group starts wherever no interval
    crosses the point."""
    order = np.argsort(starts, kind="mergesort")
    reach = np.maximum.accumulate(ends[order])
    cut = np.flatnonzero(starts[order][1:] >= reach[:-1]) + 1
    return [np.sort(g) for g in np.split(order, cut)]


def solve(sizes, starts, ends, capacity: int, deadline: float, seed: int = 0,
          unit_nodes: int = 20000, comp_unit: int = 2000, max_work: float | None = None,
          lanes: int | None = None) -> tuple[int, np.ndarray | None]:
    """Search for offsets of all buffers within ``capacity`` until ``deadline``
    (``time.perf_counter`` value) or until ``max_work`` (node visits times the per-node cost
    ``n + m + total lifetime in sections``, see ``node_cost``) is spent.

    Time-disjoint groups of buffers are independent, so each is solved on its own (a restart
    never throws away a group already solved). A group is searched by a portfolio of *lanes*,
    one per candidate priority (``priorities``), advanced in turn by slices of nodes; DFS run
    lengths are heavy-tailed, so each lane restarts on a Luby schedule of ``unit_nodes``-node
    runs (its priority first, then seeded perturbations of it), and inside a run a component
    split off by dynamic decomposition restarts on its own Luby schedule of ``comp_unit`` nodes
    with the next priority variant. Returns ``(status, offsets)``: FOUND with offsets,
    EXHAUSTED (proved impossible: a run finished its tree) or BUDGET (clock or work ran out)
    with None. Zero-size buffers get offset 0. Deterministic for a given seed unless the clock
    stops it.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    pos = np.flatnonzero(sizes > 0)
    out = np.zeros(sizes.size, dtype=np.int64)
    if pos.size == 0:
        return FOUND, out
    work = [0.0, float("inf") if max_work is None else float(max_work)]  # spent, limit
    for gi, g in enumerate(components(starts[pos], ends[pos])):
        g = pos[g]
        status, offs = _solve_group(sizes[g], starts[g], ends[g], capacity, deadline, seed, gi,
                                    unit_nodes, comp_unit, work, lanes)
        if status != FOUND:
            return status, None
        out[g] = offs
    return FOUND, out


def node_cost(lo, hi, m) -> int:
    """Work units charged per search node: ``n + m + sum(hi - lo)`` (what one node's
    evaluation scans), so work budgets mean about the same time on every instance."""
    return int(lo.size + m + int((hi - lo).sum()))


#: The lanes of the portfolio: indices into ``priorities`` whose orders (and seeded
#: perturbations of them) a lane cycles through. Lane 0 mixes every order; lanes 1 and 2 stay
#: near one order each (area; lifetime-area-peak), which solve I and J, and G and K, soonest.
LANES = ((0, 1, 2, 3, 4, 5, 6), (1,), (2,))


def _solve_group(s, a, b, capacity, deadline, seed, gi, unit_nodes, comp_unit, work, lanes,
                 nvariants=16, slice_nodes=5000):
    """The lane portfolio of restarting B&B runs on one time-connected group (sizes > 0);
    ``work`` is ``[spent, limit]``, updated in place. Lane p's restart k uses the k-th of its
    ``nvariants`` priorities (its orders, then seeded perturbations of them; fresh
    perturbations after those), and its components restart through the same list."""
    lo, hi, m = sections(a, b)
    ptr, adj = _adjacency(lo, hi)
    cost = node_cost(lo, hi, m)
    keys = priorities(s, lo, hi)
    lane_keys = [[keys[q] for q in lane] for lane in (LANES if lanes is None else lanes)]
    lane_rng = [np.random.default_rng([seed, gi, p]) for p in range(len(lane_keys))]
    lane_ranks = []
    for p, ks in enumerate(lane_keys):
        ranks = [rank_from_keys(k) for k in ks]
        while len(ranks) < nvariants:
            ranks.append(rank_from_keys(ks[len(ranks) % len(ks)], lane_rng[p], 0.3))
        lane_ranks.append(ranks)
    nl = len(lane_keys)
    lane_attempt = [0] * nl
    lane_state: list[SearchState | None] = [None] * nl
    lane_left = [0] * nl  # nodes left in the lane's current run
    while True:
        for p in range(nl):
            if lane_state[p] is None or lane_left[p] <= 0:
                k = lane_attempt[p]
                ranks = lane_ranks[p]
                if k < len(ranks):
                    rank = ranks[k]
                else:
                    rank = rank_from_keys(lane_keys[p][k % len(lane_keys[p])], lane_rng[p], 0.3)
                variants = [ranks[(k + q) % len(ranks)] for q in range(1, len(ranks))]
                lane_state[p] = SearchState(s, lo, hi, m, ptr, adj, rank, capacity, variants,
                                            comp_unit)
                lane_left[p] = unit_nodes * luby(k + 1)
                lane_attempt[p] = k + 1
            state = lane_state[p]
            step = min(slice_nodes, lane_left[p])
            before = int(state.sc[8])
            status = state.run(step)
            lane_left[p] -= step
            work[0] += (int(state.sc[8]) - before) * cost
            if status == FOUND:
                return FOUND, state.offset.copy()
            if status == EXHAUSTED:
                return EXHAUSTED, None
            if work[0] >= work[1] or time.perf_counter() >= deadline:
                return BUDGET, None


def sections(starts, ends):
    """Section index ranges ``(lo, hi, m)`` of intervals over their distinct end points."""
    points = np.unique(np.concatenate([starts, ends]))
    return (np.searchsorted(points, starts).astype(np.int64),
            np.searchsorted(points, ends).astype(np.int64), points.size - 1)
