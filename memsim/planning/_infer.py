"""Inference rules of the branch and bound (``_bnb``): bounds that prune a node and the
zero-slack rule that narrows its branching."""

from __future__ import annotations

import numpy as np

from memsim.jit import njit


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


@njit(cache=True)
def _tight_section(sizes, lo, hi, offset, minoff, F, wlo, whi, C, ostar, usum, fl, acc, mode):
    """A section that *must* be covered at the lowest point ``ostar``, or -1 when none must.

    In a section s with no slack at ``ostar`` (``fl[s] == ostar`` and ``usum[s] + ostar ==
    C``) the unplaced buffers fill ``[ostar, C)`` exactly, so in every completion one of them
    sits at ``ostar``; in the canonical order it is then a candidate now (its lowest offset is
    ``ostar`` and cannot change before it is placed). Branching on the candidates covering such
    a section is complete and, with no waste child, much narrower: the "which piece fills this
    cell" branching of perfect rectangle packing (Huang & Korf, "Optimal rectangle packing",
    JAIR 2012), here applied only where the section bound is tight. Of all tight sections the
    one with the fewest candidates is returned (first fail); ``-2`` when a tight section has
    none (the node is infeasible). ``acc`` is scratch (length m)."""
    n = sizes.shape[0]
    any_tight = False
    for s in range(wlo, whi):
        acc[s] = 0
        if usum[s] > 0 and fl[s] == ostar and usum[s] + ostar == C:
            any_tight = True
    if not any_tight:
        return -1
    for b in range(n):
        if offset[b] < 0 and lo[b] >= wlo and hi[b] <= whi and minoff[b] >= F \
                and minoff[b] == ostar:
            for s in range(lo[b], hi[b]):
                acc[s] += 1
    best = -1
    fewest = n + 1
    for s in range(wlo, whi):
        if usum[s] > 0 and fl[s] == ostar and usum[s] + ostar == C:
            if acc[s] == 0:
                return -2
            if acc[s] < fewest and (mode == 1 or best < 0):
                fewest = acc[s]
                best = s
    return best


@njit(cache=True)
def _tight_at(s, h, C, usum, fl):
    """Section s has no slack at height h: its unplaced buffers, all at or above ``fl[s] ==
    h``, total exactly ``C - h``, so they tile ``[h, C)`` and one of them sits at h."""
    return usum[s] > 0 and fl[s] == h and usum[s] + h == C


@njit(cache=True)
def _cover_levels(sizes, lo, hi, offset, minoff, F, wlo, whi, C, ostar, usum, fl, mode, eff,
                  byeff, acc, cov):
    """Zero-slack covers at every level: a section to branch on, -1 or -2.

    Candidates at level h are the unplaced buffers of the window with ``minoff == h >= F``
    (floating buffers only ever come to rest above ``ostar``, and a buffer's lowest offset
    never drops, so every buffer that will sit at h and is already the lowest it can be is
    among them). A section s tight at h (``_tight_at``) has one of its buffers at exactly h
    in every completion, already a candidate (its offset is at least its current ``minoff``
    and at least ``fl[s] == h``); buffers at one height are disjoint in time. So at every
    level the tight sections must be covered by time-disjoint candidates: a 1-D exact-cover
    check, a dynamic programme over the sections of each run of overlapping candidates
    (``R[s]``: sections ``[s, end of run)`` can be covered, ``L[s]``: ``[start of run, s)``
    can). A candidate is *usable* when it lies on a covering chain (``L`` reaches its start
    and ``R`` its end). Each buffer is a candidate at one level only, so all levels together
    cost ``O(n log n + sum(hi - lo))``. Returns -2 when some level cannot be covered (the node
    is infeasible); else a tight section whose usable covers are a complete branching, or -1
    when there is none:

    * modes 3 (fewest usable covers) and 4 (leftmost) pick among the sections tight at
      ``ostar``, the lowest point: every buffer placed later sits at or above it, so one of
      the usable covers sits there (as ``_tight_section``, with fewer children);
    * modes 5 (leftmost) and 6 (fewest) may also pick a section tight at a higher level h
      when every usable cover b of it is *flat*: ``fl == h`` on every section b crosses, so
      no buffer can still go under b and placing b first keeps the plan canonical (b rests
      at its lowest offset). A flat well is searched before the global lowest point, e.g.
      left to right in time for mode 5.

    The chosen level is left in ``cov[2m + 2 + n]``; ``cov[2m + 2 + b] = 1`` marks usable
    covers. ``eff``, ``byeff``, ``acc`` and ``cov`` (length ``2m + 3 + n``) are scratch."""
    n = sizes.shape[0]
    m = usum.shape[0]
    R = cov[:m + 1]
    L = cov[m + 1:2 * m + 2]
    use = cov[2 * m + 2:2 * m + 2 + n]
    k = 0
    for b in range(n):
        use[b] = 0
        if offset[b] < 0 and lo[b] >= wlo and hi[b] <= whi and minoff[b] >= F:
            byeff[k] = b
            k += 1
    for s in range(wlo, whi):
        acc[s] = 0  # 1 once a run of the section's own level contains it
    sub = byeff[:k].copy()
    sub = sub[np.argsort(lo[sub], kind="mergesort")]
    for q in range(k):
        eff[q] = minoff[sub[q]]
    sub = sub[np.argsort(eff[:k], kind="mergesort")]  # by (level, start)
    a = 0
    while a < k:
        h = minoff[sub[a]]
        # a run of overlapping candidates of level h (sub is sorted by lo within a level)
        rs = lo[sub[a]]
        re = hi[sub[a]]
        z = a + 1
        while z < k and minoff[sub[z]] == h and lo[sub[z]] < re:
            if hi[sub[z]] > re:
                re = hi[sub[z]]
            z += 1
        R[re] = 1
        p = z - 1
        for s in range(re - 1, rs - 1, -1):
            if fl[s] == h:
                acc[s] = 1
            r = 0 if _tight_at(s, h, C, usum, fl) else R[s + 1]
            while p >= a and lo[sub[p]] == s:
                if R[hi[sub[p]]] == 1:
                    r = 1
                p -= 1
            R[s] = r
        if R[rs] == 0:
            return -2
        if mode >= 5 or h == ostar:
            for s in range(rs, re + 1):
                L[s] = 0
            L[rs] = 1
            p = a
            for s in range(rs, re):
                while p < z and lo[sub[p]] == s:
                    b = sub[p]
                    if L[s] == 1:
                        L[hi[b]] = 1
                        if R[hi[b]] == 1:
                            use[b] = 1
                    p += 1
                if L[s] == 1 and not _tight_at(s, h, C, usum, fl):
                    L[s + 1] = 1
        a = z
    for s in range(wlo, whi):
        if acc[s] == 0 and usum[s] > 0 and usum[s] + fl[s] == C:
            return -2  # tight at a level no candidate reaches (only floating buffers there)
    return _pick_section(lo, hi, minoff, wlo, whi, C, ostar, usum, fl, mode, use, cov)


@njit(cache=True)
def _pick_section(lo, hi, minoff, wlo, whi, C, ostar, usum, fl, mode, use, cov):
    """The branching section of ``_cover_levels`` (see there), its level in
    ``cov[2m + 2 + n]``; ``cov[:2m + 2]`` is scratch."""
    n = lo.shape[0]
    m = usum.shape[0]
    cnt = cov[:m + 1]
    bad = cov[m + 1:2 * m + 2]
    for s in range(wlo, whi):
        cnt[s] = 0
        bad[s] = 0
    for b in range(n):
        if use[b] == 1:
            h = minoff[b]
            flat = True
            for s in range(lo[b], hi[b]):
                if fl[s] != h:
                    flat = False
            for s in range(lo[b], hi[b]):
                if fl[s] == h:
                    cnt[s] += 1
                    if not flat:
                        bad[s] = 1
    best = -1
    fewest = n + 1
    for s in range(wlo, whi):
        h = fl[s]
        if not _tight_at(s, h, C, usum, fl):
            continue
        if h == ostar or (mode >= 5 and bad[s] == 0):
            if cnt[s] == 0:
                return -2
            if cnt[s] < fewest and (mode == 3 or mode == 6 or best < 0):
                fewest = cnt[s]
                best = s
    if best >= 0:
        cov[2 * m + 2 + n] = fl[best]
    return best
