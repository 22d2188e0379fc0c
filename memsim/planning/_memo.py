"""Memory of the branch and bound (``_bnb``): a transposition table of failed nodes.

What remains to be searched at a node depends only on its *state*: the set of unplaced
buffers, the top of the placed buffers in every section (a buffer's lowest offset is the
highest top over its sections), the floor and the window, and, through the tie rule, the
last placement when it is at the node's lowest point. Every pruning rule is a function of
that state, so two nodes in the same state with no tie order pending root the same subtree
(up to the order children are tried in, which changes no outcome: the search must not lose
one plan P* of least offset sum, and it does not in any order). A node whose subtree was
searched to the end without a plan is remembered by its state; a later node in that state,
in any lane or restart of the same search, is pruned. Stacking two blocks of a tight packing
either way round (swapping sub-rectangles of a planted instance) leaves the same skyline and
the same buffers to place, so the second order costs one look-up instead of a second search.

States are keyed by two independent 64-bit Zobrist hashes (Zobrist 1970) of the placed
buffers and the (section, top) pairs, updated as buffers are placed and removed, mixed with
the floor and window: a false match needs both to collide.
"""

from __future__ import annotations

import numpy as np

from memsim.jit import njit

TT_BITS = 20  # 2**20 entries of two uint64 keys: 16 MiB per searched group


def new_table(bits: int = TT_BITS) -> np.ndarray:
    """An empty transposition table (``bits`` = 0: a single slot, effectively off)."""
    return np.zeros((1 << bits, 2), dtype=np.uint64)


@njit(cache=True)
def _mix(x):
    """splitmix64 finaliser (Steele, Lea & Flood 2014) of a uint64."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(cache=True)
def _flip(hs, c, o, sizes, lo, hi, top):
    """Toggle buffer c placed at offset o in the hashes ``hs``: its own term and, for each of
    its sections, the (section, top) terms of the top without it and with it (``top`` must
    be the array without c: call before placing c and after removing it, the same XOR)."""
    x = np.uint64(c) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    hs[0] ^= _mix(x)
    hs[1] ^= _mix(x ^ np.uint64(0xD1B54A32D192ED03))
    t = np.uint64(o + sizes[c])
    for s in range(lo[c], hi[c]):
        y = np.uint64(s) * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9)
        a = _mix(y + np.uint64(top[s]))
        b = _mix(y + t)
        hs[0] ^= a ^ b
        hs[1] ^= _mix(a ^ np.uint64(0x27D4EB2F165667C5)) ^ _mix(b ^ np.uint64(0x27D4EB2F165667C5))


@njit(cache=True)
def _keys(hs, F, wlo, whi):
    """The two table keys of the state (hashes, floor, window); the first is never 0 (0
    marks an empty slot)."""
    w = _mix(np.uint64(F) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(wlo) * np.uint64(65599)
             + np.uint64(whi) + np.uint64(7))
    return (_mix(hs[0] ^ w) | np.uint64(1)), _mix(hs[1] + w)


@njit(cache=True)
def _tt_has(tt, hs, F, wlo, whi):
    """True when the state was recorded as failed."""
    k1, k2 = _keys(hs, F, wlo, whi)
    i = np.int64(k1 & np.uint64(tt.shape[0] - 1))
    return tt[i, 0] == k1 and tt[i, 1] == k2


@njit(cache=True)
def _tt_put(tt, hs, F, wlo, whi):
    """Record the state as failed (overwriting whatever shared its slot)."""
    k1, k2 = _keys(hs, F, wlo, whi)
    i = np.int64(k1 & np.uint64(tt.shape[0] - 1))
    tt[i, 0] = k1
    tt[i, 1] = k2
