"""The numba branch-and-bound kernel behind ``best``: does everything fit below capacity C?

The decision problem is searched depth first, after the ideas of MiniMalloc (Moffitt,
"MiniMalloc: A Lightweight Memory Allocator for Hardware-Accelerated Machine Learning",
ASPLOS 2023), re-derived from the paper's description:

* **Canonical solutions.** Any valid plan can be pushed down until every buffer rests at offset 0
  or on top of a buffer it overlaps in time. Sorting such a plan by offset, each buffer sits at
  its *minimum offset* given the buffers before it. So we place buffers in non-decreasing offset
  order, each at its minimum offset; buffers placed at the same offset are placed in priority
  order (they cannot overlap in time, so their order is immaterial).
* **Branching at the lowest point.** Let ``F`` be the current floor (offset of the last placement)
  and ``eff(b) = max(minoff(b), F)``. At a node the next buffer either goes at ``o* = min eff``
  (one child per buffer with ``eff == o*``, in priority order) or no buffer goes there: the floor
  rises to the next ``eff`` value (one "waste" child). Every canonical plan is reachable, so the
  search is complete.
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
* **Zero-slack sections.** Where a section has no slack at the lowest point, one of its
  buffers must sit exactly there: such a node branches only on those covers (``_infer``);
  with the exact-cover check every level's tight sections must be coverable, and a flat well
  above the lowest point may be branched on first.
* **Failed states.** A node searched to the end without a plan is remembered by a hash of its
  state and prunes later nodes in the same state, in every lane (``_memo``).
* **Dynamic decomposition.** When no unplaced buffer joins two runs of sections, the runs are
  independent components, solved one after the other; a failed component fails them all. Each
  component is re-ranked on entry by its own remaining section totals (as MiniMalloc re-sorts
  every sub-problem), and can restart on its own Luby schedule with the next priority variant
  when it outgrows its node budget.

The search is an explicit-stack DFS whose whole state lives in arrays, so it runs in chunks of
nodes and the Python driver (``search``) checks the wall clock between chunks (numba cannot).
"""

from __future__ import annotations

import numpy as np

from memsim.jit import njit
from memsim.planning._infer import _cover_levels, _release_bound, _tight_section
from memsim.planning._memo import _flip, _tt_has, _tt_put, new_table
from memsim.planning.buffers import section_totals

FOUND, EXHAUSTED, BUDGET = 1, 0, 2
INCOMPLETE = 3  # the tree is done but the depth cap pruned part of it: no proof
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
    """All arrays of one resumable B&B run for capacity ``capacity``.

    ``kval`` (float64, one row per key code ``KEY_*``, row ``KEY_T`` unused) holds the static
    priority keys and ``specs`` (int64, one row per key spec, ``-1`` padded) the key codes of
    each spec, most significant first. Variant ``v`` ranks by spec ``v % len(specs)``, with
    every key perturbed by the factor ``1 + noise * u`` (``u`` hashed from ``salt``, ``v`` and
    the buffer) once ``v >= len(specs)``. The root ranks by ``variant``; a component split off
    inside the tree is re-ranked on entry with its current section totals (key ``T``) and, when
    ``comp_unit > 0``, re-entered with the next variant whenever it outgrows its Luby budget.
    ``tight`` (0 off, 1 fewest covers, 2 leftmost) enables the zero-slack branching of
    ``_infer._tight_section``; 3-6 the exact-cover check of ``_infer._cover_levels`` (3, 4 at
    the lowest point; 5, 6 at any flat well). ``table`` is the table of failed states
    (``_memo``), shared by the lanes of one search; a fresh one when None.
    """

    def __init__(self, sizes, lo, hi, m, ptr, adj, capacity, kval, specs, variant: int = 0,
                 comp_unit: int = 0, noise: float = 0.0, salt: int = 0, tight: int = 0,
                 table: np.ndarray | None = None):
        n = sizes.shape[0]
        self.capacity = int(capacity)
        self.sizes, self.lo, self.hi, self.ptr, self.adj = sizes, lo, hi, ptr, adj
        self.kval = np.ascontiguousarray(kval, dtype=np.float64)
        self.specs = np.ascontiguousarray(specs, dtype=np.int64)
        self.noise = float(noise)
        # row r: candidates by priority at component nesting depth r, and the inverse
        self.order = np.zeros((n + 2, n), dtype=np.int64)
        self.rank = np.zeros((n + 2, n), dtype=np.int64)
        self.offset = np.full(n, -1, dtype=np.int64)
        self.minoff = np.zeros(n, dtype=np.int64)
        self.usum = section_totals(sizes, lo, hi, m)  # unplaced bytes per section
        self.top = np.zeros(m, dtype=np.int64)
        depth_cap = 3 * n + 64
        self.lv = np.zeros((depth_cap, 24), dtype=np.int64)  # per level bookkeeping, see _run
        self.cand = np.empty(n * 4 + 4 * m + 64, dtype=np.int64)    # grows on demand
        self.undo = np.empty(int(hi.sum() - lo.sum()) + int(ptr[-1]) * 2 + n + 64, dtype=np.int64)
        self.unb = np.diff(ptr).astype(np.int64)  # unplaced neighbours per buffer
        self.fl = np.zeros(m, dtype=np.int64)
        self.cross = np.zeros(m, dtype=np.int64)
        self.eff = np.zeros(n, dtype=np.int64)
        self.acc = np.zeros(m, dtype=np.int64)
        self.byeff = np.zeros(n, dtype=np.int64)
        self.keytmp = np.zeros(n, dtype=np.float64)
        self.cov = np.zeros(2 * m + 3 + n, dtype=np.int64)  # scratch of _cover_levels
        self.hs = np.zeros(2, dtype=np.uint64)  # Zobrist hashes of the state, see _memo
        self.tt = new_table() if table is None else table  # failed states, see _memo
        self.erd = RELEASE_BOUND
        self.dom = True
        self.tight = int(tight)
        # scalars, see _run
        self.sc = np.array([0, 0, 0, 0, -1, -1, 0, 1, 0, 0, m, -1, -1, 0, comp_unit, variant,
                            salt, 0], dtype=np.int64)
        _rank_row(0, variant, self.order, self.rank, lo, hi, self.usum, self.kval, self.specs,
                  self.noise, salt, self.keytmp)

    def run(self, max_nodes: int) -> int:
        """Advance the search by at most ``max_nodes`` nodes; FOUND, EXHAUSTED or BUDGET."""
        while True:
            status = _run(self.sizes, self.lo, self.hi, self.ptr, self.adj, self.order, self.rank,
                          self.capacity, self.offset, self.minoff, self.usum, self.top, self.lv,
                          self.cand, self.undo, self.sc, self.unb, self.fl, self.cross, self.eff,
                          self.acc, self.byeff, self.erd, self.dom, self.tight, self.kval,
                          self.specs, self.noise, self.keytmp, self.cov, self.hs, self.tt, max_nodes)
            if status != -1:
                return int(status)
            self.cand = np.concatenate([self.cand, np.empty_like(self.cand)])  # grow and resume


BRANCH, FREE, SPLIT, CONT, DONE, FORCED = 0, 1, 2, 3, 4, 5


#: Priority key codes (rows of ``kval``); larger values are tried first. ``T`` is dynamic: the
#: largest total of unplaced bytes in a section the buffer crosses, recomputed for every
#: component; the others are static.
KEY_T, KEY_W, KEY_A, KEY_Z, KEY_L, KEY_Q, KEY_S = 0, 1, 2, 3, 4, 5, 6


@njit(cache=True)
def _u01(salt, v, q, b):
    """A uniform [0, 1) number hashed from its arguments (splitmix64 finaliser, Steele et al.
    2014), so perturbed priorities are reproducible without any global random state."""
    x = np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(v) * np.uint64(0xBF58476D1CE4E5B9)
    x += np.uint64(q) * np.uint64(0x94D049BB133111EB) + np.uint64(b) + np.uint64(1)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return np.float64(x >> np.uint64(11)) / 9007199254740992.0


@njit(cache=True)
def _rank_row(row, v, order, rank, lo, hi, usum, kval, specs, noise, salt, tmp):
    """Fill ``order[row]`` (buffers by priority, ties by index) and its inverse ``rank[row]``
    for variant ``v``: spec ``v % len(specs)``, keys perturbed when ``v >= len(specs)``.
    Lexicographic order by stable sorts from the least significant key up."""
    n = order.shape[1]
    nspec = specs.shape[0]
    spec = v % nspec
    noisy = v >= nspec and noise > 0.0
    perm = np.arange(n)
    for q in range(specs.shape[1] - 1, -1, -1):
        c = specs[spec, q]
        if c < 0:
            continue
        for b in range(n):
            if c == KEY_T:
                val = 0.0
                for s in range(lo[b], hi[b]):
                    if usum[s] > val:
                        val = usum[s]
            else:
                val = kval[c, b]
            if noisy:
                val *= 1.0 + noise * _u01(salt, v, q, b)
            tmp[b] = -val
        perm = perm[np.argsort(tmp[perm], kind="mergesort")]
    for q in range(n):
        order[row, q] = perm[q]
        rank[row, perm[q]] = q
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
    sc[15] = lv[d, 22]


@njit(cache=True)
def _pop_above(X, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb, sc, lv, hs):
    """Pop every level above X, undoing the children they applied."""
    while sc[0] - 1 > X:
        d2 = sc[0] - 1
        a2 = lv[d2, 3]
        if a2 >= 0:
            o2 = offset[a2]
            sc[2] = _unplace(a2, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                             sc[2])
            _flip(hs, a2, o2, sizes, lo, hi, top)
            sc[6] -= 1
        if a2 != -1:
            _restore(d2, sc, lv)
        sc[0] = d2
        sc[1] = lv[d2, 0]


@njit(cache=True)
def _run(sizes, lo, hi, ptr, adj, order, rank, C, offset, minoff, usum, top, lv, cand, undo, sc,
         unb, fl, cross, eff, acc, byeff, erd, dom, tight, kval, specs, noise, keytmp, cov,
         hs, tt, max_nodes):
    # sc: 0 depth, 1 cand_top, 2 undo_top, 3 F, 4 last_off, 5 last_idx, 6 placed, 7 fresh,
    #     8 nodes, 9 window lo, 10 window hi (sections of the component being solved),
    #     11 innermost split level (-1 none), 12 level that entered the current component
    #     (-1 none), 13 rank row in use (component nesting depth), 14 node unit of
    #     component restarts (0: off), 15 priority variant in use, 16 noise salt, 17 set
    #     once the depth cap pruned a node (an exhausted tree is then INCOMPLETE)
    # lv[k]: 0 cand_start, 1 cand_end, 2 pos, 3 applied (-1 none, else the child taken),
    #        4 offset for the children, 5 o2 (floor after a waste), 6-8 saved F/last_off/last_idx,
    #        9 type, 10-12 saved window lo/hi and split level, 13 split level X (CONT/DONE),
    #        14 component index (CONT), 15 floor at the split (SPLIT), 16 number of components,
    #        17 node count at component entry, 18 its node budget, 19 restarts so far,
    #        20-22 saved entry level, rank row and variant
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
                           sc, lv, hs)
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
            # a state with no tie order pending can be looked up in the failed-state table
            memo = left > 0 and not (sc[5] >= 0 and sc[4] == ostar)
            if ok and memo and _tt_has(tt, hs, F, wlo, whi):
                ok = False
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
                ok = False  # depth cap (never reached in practice): prune, and remember
                sc[17] = 1  # that an exhausted tree is then no proof
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
                        # a section with no slack at its level must be covered there: branch on
                        # its covers only (-2: it has none, the node has no child)
                        fs = -1
                        if tight >= 3:
                            fs = _cover_levels(sizes, lo, hi, offset, minoff, F, wlo, whi, C,
                                               ostar, usum, fl, tight, eff, byeff, acc, cov)
                        elif tight > 0:
                            fs = _tight_section(sizes, lo, hi, offset, minoff, F, wlo, whi, C,
                                                ostar, usum, fl, acc, tight)
                        lev = ostar  # the offset of the children
                        if fs >= 0:
                            typ = FORCED
                            if tight >= 3:
                                lev = cov[2 * m + 2 + n]
                        tie = sc[4] == ostar
                        for q in range(n if fs != -2 else 0):
                            b = order[sc[13], q]
                            if offset[b] >= 0 or lo[b] < wlo or hi[b] > whi:
                                continue
                            e = minoff[b]
                            if e < F:
                                continue  # floating: only a later buffer under it can place it
                            if fs >= 0:
                                if e == lev:
                                    if lo[b] <= fs and fs < hi[b] and (
                                            tight < 3 or cov[2 * m + 2 + b] == 1):
                                        cand[k] = b
                                        k += 1
                            elif e == ostar:
                                if not (tie and rank[sc[13], b] < rank[sc[13], sc[5]]):
                                    cand[k] = b
                                    k += 1
                            elif o2 < 0 or e < o2:
                                o2 = e
                        if o2 >= 0 and fs == -1:
                            cand[k] = WASTE
                            k += 1
                        lv[d, 4] = lev
                lv[d, 9] = typ
                lv[d, 0] = start
                lv[d, 1] = k
                lv[d, 2] = k - 1 if (typ == SPLIT or typ == CONT or typ == DONE) else start
                lv[d, 3] = -1
                lv[d, 5] = ostar if typ == FORCED else o2  # the floor after the child
                lv[d, 19] = 0
                lv[d, 23] = 1 if memo else 0
                sc[1] = k
                sc[0] = d + 1
        # advance the deepest level to its next child
        if sc[0] == 0:
            return EXHAUSTED if sc[17] == 0 else INCOMPLETE  # no plan fits below C
        d = sc[0] - 1
        a = lv[d, 3]
        typ = lv[d, 9]
        if a != -1:  # undo the previous child of this level
            if a >= 0:
                oa = offset[a]
                sc[2] = _unplace(a, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo,
                                 unb, sc[2])
                _flip(hs, a, oa, sizes, lo, hi, top)
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
                           sc, lv, hs)
                lv[X, 2] = lv[X, 1]  # the split level has no other child: it pops next
                continue
            if lv[d, 23] == 1 and sc[17] == 0:
                _tt_put(tt, hs, sc[3], sc[9], sc[10])  # searched to the end: no plan here
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
        lv[d, 22] = sc[15]
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
                sc[13] = lv[X, 21]  # components of one split share its nesting depth
                sc[15] = lv[X, 22]
            sc[4] = -1
            sc[5] = -1
            if sc[14] > 0:  # enter the component: restart number r uses variant v + r
                sc[12] = d
                sc[15] += lv[d, 19]
                lv[d, 17] = sc[8]
                lv[d, 18] = sc[14] * _luby(lv[d, 19] + 1)
            # re-rank the component by its own section totals (MiniMalloc re-sorts each
            # sub-problem of its dynamic decomposition the same way)
            sc[13] += 1
            _rank_row(sc[13], sc[15], order, rank, lo, hi, usum, kval, specs, noise, sc[16],
                      keytmp)
        elif typ == DONE:  # back to the context the split was made in
            _restore(lv[d, 13], sc, lv)
            sc[4] = -1
            sc[5] = -1
        elif c == WASTE:
            sc[3] = lv[d, 5]
            sc[5] = -1
        else:
            o = lv[d, 4]
            _flip(hs, c, o, sizes, lo, hi, top)
            sc[2] = _place(c, o, sizes, lo, hi, ptr, adj, offset, minoff, usum, top, undo, unb,
                           sc[2])
            sc[6] += 1
            if typ == BRANCH:
                sc[3] = o
                sc[4] = o
                sc[5] = c
            elif typ == FORCED:  # no tie order: the next buffer at o may rank lower
                sc[3] = lv[d, 5]  # the lowest point: a flat well above it leaves it lower
                sc[4] = -1
                sc[5] = -1
        sc[7] = 1
    return 2  # BUDGET
