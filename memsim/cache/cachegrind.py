"""cachegrind-rule kernel (valgrind cg_sim.c semantics): spans of one or two lines counted once,
no dirty state; same state array and set primitives as ``memsim.cache.kernel``."""

from __future__ import annotations


from memsim.cache.kernel import (C_EVICT, C_HITS, C_LOADS, C_MISSES, C_STORES, H_POL, H_WAYS,
                                 HC, XH, _fill_touch, _hit_touch, _lookup, _set_word, _victim)
from memsim.jit import njit


@njit(cache=True, inline="always")
def _cg_ref(st, out, lv, c, x):
    """Reference line ``x`` in instance ``c`` (no dirty state); True on a miss."""
    hd = XH + c * HC
    ways = st[hd + H_WAYS]
    pol = st[hd + H_POL]
    sw = _set_word(st, hd, x)
    h = _lookup(st, sw, ways, x)
    if h >= 0:
        _hit_touch(st, hd, pol, sw, ways, h)
        return False
    v = _victim(st, hd, pol, sw, ways)
    if st[sw + 1 + v] >= 0:
        out[lv, C_EVICT] += 1
    st[sw + 1 + v] = x << 1
    _fill_touch(st, hd, pol, sw, ways, v)
    return True


@njit(cache=True)
def cg_access(dchain, ichain, first, nlines, kinds, out, st):
    """cachegrind rules (valgrind cg_sim.c semantics, per the oracle notes).

    Access ``i`` covers lines ``first[i] .. first[i]+nlines[i]-1`` (1 or 2 lines) and counts
    once: a miss at a level if any covered line misses there (every line is referenced).
    ``kinds``: 0 data read (lackey L and M), 1 data write, 2 instruction fetch (``ichain``).
    On a miss the next level is referenced with the same span; writes behave like reads and
    nothing is ever dirty. ``out[kind, level, counter]``; the last level row is memory.
    """
    nlev = dchain.shape[0]
    for i in range(first.shape[0]):
        k = kinds[i]
        chain = ichain if k == 2 else dchain
        x = first[i]
        m = nlines[i]
        col = C_STORES if k == 1 else C_LOADS
        missed_all = True
        for lv in range(nlev):
            c = chain[lv]
            out[k, lv, col] += 1
            miss = _cg_ref(st, out[k], lv, c, x)
            for j in range(1, m):
                if _cg_ref(st, out[k], lv, c, x + j):
                    miss = True
            if miss:
                out[k, lv, C_MISSES] += 1
            else:
                out[k, lv, C_HITS] += 1
                missed_all = False
                break
        if missed_all:
            out[k, nlev, C_LOADS] += 1
