"""Inference rules of the branch and bound (``_bnb``): bounds that prune a node and the
zero-slack rule that narrows its branching."""

from __future__ import annotations

import numpy as np
from numba import njit


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
