"""numba kernels for set-associative cache hierarchies (all state in one int64 array).

State layout (``st``, built by ``Hierarchy``): a global header (``X_*``), one header row of
``HC`` columns per cache *instance* (one per core for a private level, one for a shared level;
``H_*`` columns: geometry, policy, clock, random state), the chain table (instance per core and
level, innermost first), the cumulative counters, the write-back work stack, then the sets.
Each set is contiguous: ``[word, tag_0 .. tag_{W-1}]`` (+ ``stamp_0 .. stamp_{W-1}`` where
stamps are used). A tag holds ``line << 1 | dirty`` (-1 = invalid), so one load answers "which
line, is it dirty". Replacement state, chosen per instance by ``state_layout``:

* LRU with ≤ 8 ways: an order matrix in the set word (byte j, bit i: way j more recent than
  way i); a hit sets row j and clears column j, the victim is the all-zero row (SWAR, O(1)).
* LRU with 9–16 ways and FIFO with ≤ 16 ways: the recency / insertion order of the ways as
  4-bit nibbles, most recent in nibble 0; the victim is nibble ``W-1`` (O(1)); unused nibbles
  hold 15.
* tree-PLRU: the tree bits (heap-numbered nodes 1..W-1); random: nothing (xorshift state per
  instance in its header).
* LRU/FIFO with more ways: per-way stamps from a per-instance clock (victim: oldest).

Every reset state orders way 0 least recent, then way 1, …, so empty ways fill lowest index
first, as the stamp form does. Lookups compare 4, 8 or 16 tags with one vector compare.

Semantics (see docs/model.md "Cache semantics"):

* ``MODE_DEFAULT``: true LRU (store hits refresh recency), write-back, write-allocate; a miss
  fetches the line from the next level and fills every level it passed (non-inclusive, no
  back-invalidation); a dirty victim is written to the next level; a write-back that misses
  there allocates the line dirty *without* fetching it (a whole line is written).
* ``MODE_PYCACHESIM``: pycachesim 0.3.1's counters: store hits are neither counted as hits nor
  refresh recency; a store miss counts a load and a miss (the write-allocate load); a write-back
  that misses the next level is write-allocated there with a fetch from below; only dirty
  victims count as evictions. (Source: pycachesim 0.3.1's ``cachesim/cache.py`` and
  ``backend.c``, read and measured; checked by ``tests/test_cache_pycachesim.py``.)
* cachegrind rules live in ``memsim.cache.cachegrind`` (spans of one or two lines, no dirty
  state).

Lines must lie in ``[0, 2**62)`` (64-bit byte addresses always do).
"""

from __future__ import annotations

import numpy as np

from memsim.jit import njit, numba_globals

POL_LRU, POL_FIFO, POL_RANDOM, POL_PLRU = 0, 1, 2, 3
POLICIES = {"lru": POL_LRU, "fifo": POL_FIFO, "random": POL_RANDOM, "plru": POL_PLRU}
# internal policy codes (``POL_LRU``/``POL_FIFO`` then mean the per-way-stamp and order-word
# forms): LRU with ≤ MAT_MAX_WAYS ways keeps an order matrix in the set word, LRU with
# ≤ PERM_MAX_WAYS an order word; FIFO with more than PERM_MAX_WAYS ways keeps stamps
POL_FIFO_STAMP, POL_LRU_MAT, POL_LRU_PERM = 4, 5, 6
PERM_MAX_WAYS = 16
MAT_MAX_WAYS = 8
MODE_DEFAULT, MODE_PYCACHESIM = 0, 1

# global header of the state array
X_NLEV, X_CHAIN, X_STATS, X_STACK = 0, 1, 2, 3
XH = 8
# per-instance header columns
H_SETS, H_WAYS, H_MASK, H_BASE, H_STRIDE, H_POL, H_LMASK, H_CLOCK, H_RNG = range(9)
HC = 9
# counter columns (rows: levels innermost first, last row memory)
C_LOADS, C_STORES, C_HITS, C_MISSES, C_EVICT, C_WB = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6
# work-stack ops (frames of 4 int64: op, level, line, flags)
OP_ACCESS, OP_FILL = 0, 1
F_WRITE, F_WB = 1, 2
# per-line flags of access_batch's ``writes``
W_STORE, W_UNCOUNTED = 1, 2

def perm_reset_word(ways: int) -> int:
    """Initial order word (nibbles) for ``ways`` ≤ 16 (int64 value): way 0 least recent."""
    word = 0
    for k in range(16):
        word |= ((ways - 1 - k) if k < ways else 15) << (4 * k)
    return word - (1 << 64) if word >= 1 << 63 else word


def mat_reset_word(ways: int) -> int:
    """Initial LRU order matrix for ``ways`` ≤ 8 (int64 value): byte ``j`` (row j) has bit
    ``i`` set when way j is more recent than way i; reset order: way 0 least recent. Rows of
    unused ways keep their diagonal bit, so they are never all zero (never the victim)."""
    word = 0
    for j in range(8):
        word |= (((1 << j) - 1) if j < ways else (1 << j)) << (8 * j)
    return word - (1 << 64) if word >= 1 << 63 else word


def state_layout(nlev: int, cores: int, specs) -> dict:
    """Offsets of the state array for instances ``specs`` ([(sets, ways, policy name)]);
    ``chains`` of shape ``(cores, nlev)`` is filled in by the caller."""
    ninst = len(specs)
    chain0 = XH + ninst * HC
    stats0 = chain0 + cores * nlev
    stack0 = stats0 + (nlev + 1) * N_COUNTERS
    pos = stack0 + 4 * (4 * nlev + 8)
    rows = []
    for sets, ways, policy in specs:
        pol = POLICIES[policy]
        if pol == POL_FIFO and ways > PERM_MAX_WAYS:
            pol = POL_FIFO_STAMP
        elif pol == POL_LRU and ways <= MAT_MAX_WAYS:
            pol = POL_LRU_MAT
        elif pol == POL_LRU and ways <= PERM_MAX_WAYS:
            pol = POL_LRU_PERM
        stride = 2 * ways + 1 if pol in (POL_LRU, POL_FIFO_STAMP) else ways + 1
        mask = sets - 1 if sets & (sets - 1) == 0 else -1
        lmask = ((1 << (4 * (ways - 1))) - 1 if pol in (POL_FIFO, POL_LRU_PERM)
                 else (1 << ways) - 1 if pol == POL_LRU_MAT else 0)
        rows.append((sets, ways, mask, pos, stride, pol, lmask))
        pos += sets * stride
    return {"chain0": chain0, "stats0": stats0, "stack0": stack0, "size": pos, "rows": rows}


# --------------------------------------------------------------------------- set primitives
@njit(cache=True, inline="always")
def _set_word(st, hd, x):
    """Index of the set word of line ``x`` in the instance whose header starts at ``hd``."""
    mask = st[hd + H_MASK]
    s = (x & mask) if mask >= 0 else x % st[hd + H_SETS]  # pycachesim: line % sets
    return st[hd + H_BASE] + s * st[hd + H_STRIDE]


@numba_globals
def _intrinsics() -> dict:
    """The LLVM intrinsics ``_lookup`` and the SWAR helpers call (``memsim.cache._intrinsics``,
    which imports numba): set as globals of this module only when a kernel compiles."""
    from memsim.cache._intrinsics import match_intrinsic, trailing_zeros

    return {"_match4": match_intrinsic(4), "_match8": match_intrinsic(8),
            "_match16": match_intrinsic(16), "trailing_zeros": trailing_zeros}


@njit(cache=True, inline="always")
def _lookup(st, sw, ways, x):
    """Way holding line ``x`` in the set at ``sw``, or -1 (a line is in at most one way)."""
    if ways == 8 or ways == 16 or ways == 4:
        m = _match8(st, sw + 1, x) if ways == 8 else (
            _match16(st, sw + 1, x) if ways == 16 else _match4(st, sw + 1, x))
        if m == 0:
            return -1
        return np.int64(trailing_zeros(m))
    b = np.uint64(sw + 1)  # unsigned index: numba skips its negative-index wraparound
    for w in range(ways):
        if (st[b + np.uint64(w)] >> 1) == x:
            return w
    return -1


@njit(cache=True, inline="always")
def _oldest(st, sb, ways):
    """Way with the smallest stamp among ``st[sb:sb+ways]`` (stamps are distinct: invalid
    ways keep ``w - ways`` from the reset, below every clock value, so the lowest invalid way
    comes first). Branch-free min and match; constant trip counts for common ways."""
    b = np.uint64(sb)
    m = st[b]
    v = 0
    if ways == 8:
        for w in range(1, 8):
            m = min(m, st[b + np.uint64(w)])
        for w in range(8):
            v += (st[b + np.uint64(w)] == m) * w
    elif ways == 16:
        for w in range(1, 16):
            m = min(m, st[b + np.uint64(w)])
        for w in range(16):
            v += (st[b + np.uint64(w)] == m) * w
    else:
        for w in range(1, ways):
            m = min(m, st[b + np.uint64(w)])
        for w in range(ways):
            v += (st[b + np.uint64(w)] == m) * w
    return v


@njit(cache=True, inline="always")
def _plru_touched(bits, ways, w):
    """Tree bits after an access to way ``w``: each bit on the path points away from it."""
    node = w + ways
    while node > 1:
        parent = node >> 1
        if node & 1:
            bits &= ~(np.int64(1) << parent)
        else:
            bits |= np.int64(1) << parent
        node = parent
    return bits


@njit(cache=True, inline="always")
def _plru_pick(bits, ways):
    node = 1
    while node < ways:
        node = 2 * node + ((bits >> node) & 1)
    return node - ways


_B01 = 0x0101010101010101
_B80 = 0x8080808080808080 - (1 << 64)  # as int64


@njit(cache=True, inline="always")
def _mat_touched(word, rowmask, w):
    """Order matrix after an access to way ``w``: w is more recent than every other way (row w
    all ones) and no way is more recent than w (column w clear)."""
    return (word | (rowmask << (8 * w))) & ~(_B01 << w)


@njit(cache=True, inline="always")
def _mat_oldest(word):
    """The way whose row is all zero (more recent than none): the lowest flagged byte of the
    SWAR zero-byte test is exact."""
    return np.int64(trailing_zeros((word - _B01) & ~word & _B80)) >> 3


_N1 = 0x1111111111111111
_N8 = 0x8888888888888888 - (1 << 64)  # as int64


@njit(cache=True, inline="always")
def _to_front(word, low, w):
    """Order word with way ``w`` (in the nibble just above the bit mask ``low``) moved to
    nibble 0 (most recent); the nibbles below it move up by one."""
    return (word & ~((low << 4) | 15)) | ((word & low) << 4) | w


@njit(cache=True, inline="always")
def _perm_touched(word, w):
    """Order word after an access to way ``w``: find w's nibble (SWAR zero-nibble test on
    ``word ^ w…w``; the lowest flag is exact) and move it to the front."""
    t = word ^ (w * _N1)
    p = np.int64(trailing_zeros((t - _N1) & ~t & _N8)) & ~3  # flag bit 4k+3 → 4k
    return _to_front(word, (np.int64(1) << p) - 1, w)


@njit(cache=True, inline="always")
def _hit_touch(st, hd, pol, sw, ways, w):
    """Replacement update for a hit on way ``w`` (FIFO and random: nothing)."""
    if pol == POL_LRU_MAT:
        st[sw] = _mat_touched(st[sw], st[hd + H_LMASK], w)
    elif pol == POL_LRU_PERM:
        st[sw] = _perm_touched(st[sw], w)
    elif pol == POL_LRU:
        clk = st[hd + H_CLOCK] + 1
        st[hd + H_CLOCK] = clk
        st[sw + 1 + ways + w] = clk
    elif pol == POL_PLRU:
        st[sw] = _plru_touched(st[sw], ways, w)


@njit(cache=True, inline="always")
def _fill_touch(st, hd, pol, sw, ways, v):
    """Replacement update after filling way ``v`` (the victim ``_victim`` chose)."""
    if pol == POL_LRU_MAT:
        st[sw] = _mat_touched(st[sw], st[hd + H_LMASK], v)
    elif pol == POL_LRU or pol == POL_FIFO_STAMP:
        clk = st[hd + H_CLOCK] + 1
        st[hd + H_CLOCK] = clk
        st[sw + 1 + ways + v] = clk
    elif pol == POL_FIFO or pol == POL_LRU_PERM:  # v was the oldest, nibble W-1: to nibble 0
        st[sw] = _to_front(st[sw], st[hd + H_LMASK], v)
    elif pol == POL_PLRU:
        st[sw] = _plru_touched(st[sw], ways, v)


@njit(cache=True, inline="always")
def _victim(st, hd, pol, sw, ways):
    """Way to replace: the first invalid way, else by policy."""
    if pol == POL_LRU_MAT:
        return _mat_oldest(st[sw])
    if pol == POL_LRU or pol == POL_FIFO_STAMP:
        return _oldest(st, sw + 1 + ways, ways)
    if pol == POL_FIFO or pol == POL_LRU_PERM:
        return (st[sw] >> (4 * (ways - 1))) & 15
    for w in range(ways):
        if st[sw + 1 + w] < 0:
            return w
    if pol == POL_PLRU:
        return _plru_pick(st[sw], ways)
    # random: xorshift64 (Marsaglia 2003, shifts 13/7/17), state per instance, seeded by Hierarchy
    r = np.uint64(st[hd + H_RNG])
    r ^= r << np.uint64(13)
    r ^= r >> np.uint64(7)
    r ^= r << np.uint64(17)
    st[hd + H_RNG] = np.int64(r)
    return np.int64(r % np.uint64(ways))


# --------------------------------------------------------------------------- work stack
@njit(cache=True)
def _run_stack(mode, st, ch, nlev, out, sp):
    """Drain the work stack: ACCESS(level, line, flags) and FILL(level, line, dirty) frames of
    the chain at ``st[ch:ch+nlev]`` (rare paths: write-backs that miss the next level)."""
    sk = st[X_STACK]
    while sp > 0:
        sp -= 1
        fr = sk + 4 * sp
        op = st[fr]
        lv = st[fr + 1]
        x = st[fr + 2]
        f = st[fr + 3]
        if lv == nlev:  # memory
            if f & F_WRITE:
                out[nlev, C_STORES] += 1
            else:
                out[nlev, C_LOADS] += 1
            continue
        hd = XH + st[ch + lv] * HC
        ways = st[hd + H_WAYS]
        pol = st[hd + H_POL]
        sw = _set_word(st, hd, x)
        if op == OP_ACCESS:
            is_w = (f & F_WRITE) != 0
            if is_w:
                out[lv, C_STORES] += 1
            else:
                out[lv, C_LOADS] += 1
            h = _lookup(st, sw, ways, x)
            if h >= 0:
                if is_w:
                    st[sw + 1 + h] |= 1
                    if mode == MODE_PYCACHESIM:
                        continue  # pycachesim: store hit is not a hit and keeps recency
                out[lv, C_HITS] += 1
                _hit_touch(st, hd, pol, sw, ways, h)
                continue
            out[lv, C_MISSES] += 1
            if is_w and mode == MODE_PYCACHESIM:
                out[lv, C_LOADS] += 1  # the write-allocate load
            st[fr] = OP_FILL
            st[fr + 1] = lv
            st[fr + 2] = x
            st[fr + 3] = 1 if is_w else 0
            sp += 1
            if not (mode == MODE_DEFAULT and (f & F_WB)):
                fr = sk + 4 * sp
                st[fr] = OP_ACCESS
                st[fr + 1] = lv + 1
                st[fr + 2] = x
                st[fr + 3] = 0
                sp += 1
        else:
            v = _victim(st, hd, pol, sw, ways)
            old = st[sw + 1 + v]
            st[sw + 1 + v] = (x << 1) | f
            _fill_touch(st, hd, pol, sw, ways, v)
            if old >= 0:
                wb = (old & 1) != 0
                if mode == MODE_DEFAULT or wb:
                    out[lv, C_EVICT] += 1
                if wb:
                    out[lv, C_WB] += 1
                    fr = sk + 4 * sp
                    st[fr] = OP_ACCESS
                    st[fr + 1] = lv + 1
                    st[fr + 2] = old >> 1
                    st[fr + 3] = F_WRITE | F_WB
                    sp += 1
    return sp


# --------------------------------------------------------------------------- batches
def _make_batch(P0, W0, NL):
    """The batch kernel compiled for level 0's policy ``P0`` (internal code; -1 = read from
    the state), ways ``W0`` (0 = from the state) and ``NL`` levels (0 = from the state):
    constants fold the policy dispatch, the lookup width and the level loops out of the hot
    loop (≈ 1.3–1.5× on one level). Each variant is cached on disk by numba (closure constants
    are part of its cache key) but costs a few seconds to compile the first time.

    ``batch`` is one long function on purpose: level 0's geometry and its six counters live in
    local variables (registers) for the whole batch, and the miss path updates several of them
    at once. Measured (``benchmarks/kernel_ab.py`` against commit ee7d4d6, which splits it into
    ``inline="always"`` helpers returning the counters as tuples): the split runs miss-heavy
    traces 1.5-2.8x slower — 3 levels, 256-line calls, two interleaved runs on a shared
    machine: strided 23-27 vs 9.5-10.3 M accesses/s, stream 54-68 vs 37-41 — and hit-heavy
    ones within noise. The rare paths are out of line
    (``_run_stack``, the ``_*_touch`` helpers)."""

    @njit(cache=True)
    def batch(mode, core, lines, writes, out, st):
        """Issue ``lines`` (int64 line indices, in order) from ``core``; adds the ``[L+1, 6]``
        counts of this batch to ``out`` (zero on entry) and to the cumulative counters in ``st``
        (an array returned from a cached closure loses its dtype, hence ``out``).

        ``writes`` (uint8 per line, or empty = all loads): bit 0 (``W_STORE``) marks a store, bit 1
        (``W_UNCOUNTED``) a line that continues the previous access: it is not counted in level 0's
        loads/stores (pycachesim counts calls, not lines, at the first level).

        The common path (lookups down to the serving level, fills back up, a write-back that hits
        the next level) is inline with level 0's geometry and counters in registers; write-backs
        that miss the next level go through the work stack (``_run_stack``). A line equal to the
        previous one at level 0 is a hit on the most recently touched way: replacement state is
        already up to date, so only the counters (and the dirty bit) change.
        """
        nlev = NL if NL > 0 else st[X_NLEV]
        ch = st[X_CHAIN] + core * nlev
        n = lines.shape[0]
        has_w = writes.shape[0] > 0
        pyc = mode == MODE_PYCACHESIM
        h0 = XH + st[ch] * HC
        ways0 = W0 if W0 > 0 else st[h0 + H_WAYS]
        sets0 = st[h0 + H_SETS]
        mask0 = st[h0 + H_MASK]
        base0 = st[h0 + H_BASE]
        stride0 = st[h0 + H_STRIDE]
        pol0 = P0 if P0 >= 0 else st[h0 + H_POL]
        rmask0 = st[h0 + H_LMASK]
        nw = unc_r = unc_w = wl0 = hits0 = misses0 = evict0 = wb0 = mem_loads = mem_stores = 0
        last_x = -1  # line of the most recent level-0 touch (resident, most recent in its set)
        last_t = 0  # its tag's index
        clock0 = st[h0 + H_CLOCK]  # level 0's LRU clock lives in a register during the batch
        for i in range(n):
            x = lines[i]
            f = np.int64(writes[i]) if has_w else 0
            wbit = f & W_STORE
            nw += wbit
            if f > W_STORE:
                if wbit:
                    unc_w += 1
                else:
                    unc_r += 1
            if x == last_x:
                if wbit:
                    st[last_t] |= 1
                    if pyc:
                        continue
                hits0 += 1
                continue
            sw0 = base0 + ((x & mask0) if mask0 >= 0 else x % sets0) * stride0
            h = _lookup(st, sw0, ways0, x)
            if h >= 0:
                if wbit:
                    st[sw0 + 1 + h] |= 1
                    if pyc:
                        continue  # pycachesim: a store hit is not a hit and keeps recency
                hits0 += 1
                if pol0 == POL_LRU_MAT:
                    st[sw0] = _mat_touched(st[sw0], rmask0, h)
                elif pol0 == POL_LRU_PERM:
                    st[sw0] = _perm_touched(st[sw0], h)
                elif pol0 == POL_LRU:
                    clock0 += 1
                    st[sw0 + 1 + ways0 + h] = clock0
                elif pol0 == POL_PLRU:
                    st[sw0] = _plru_touched(st[sw0], ways0, h)
                last_x = x
                last_t = sw0 + 1 + h
                continue
            misses0 += 1
            if wbit and pyc:
                wl0 += 1  # pycachesim's write-allocate load
            # walk down: deeper levels see a load of the line
            d = nlev
            for lv in range(1, nlev):
                hd = XH + st[ch + lv] * HC
                ways = st[hd + H_WAYS]
                sw = _set_word(st, hd, x)
                out[lv, C_LOADS] += 1
                hh = _lookup(st, sw, ways, x)
                if hh >= 0:
                    d = lv
                    out[lv, C_HITS] += 1
                    _hit_touch(st, hd, st[hd + H_POL], sw, ways, hh)
                    break
                out[lv, C_MISSES] += 1
            if d == nlev:
                mem_loads += 1
            # fill back up every level passed; dirty victims are written to the next level
            ti = 0
            for lv in range(d - 1, -1, -1):
                if lv == 0:
                    hd, ways, pol, sw, tag = h0, ways0, pol0, sw0, (x << 1) | wbit
                else:
                    hd = XH + st[ch + lv] * HC
                    ways = st[hd + H_WAYS]
                    pol = st[hd + H_POL]
                    sw = _set_word(st, hd, x)
                    tag = x << 1
                v = _victim(st, hd, pol, sw, ways)
                ti = sw + 1 + v
                old = st[ti]
                st[ti] = tag
                if lv == 0 and pol == POL_LRU:
                    clock0 += 1
                    st[ti + ways] = clock0
                else:
                    _fill_touch(st, hd, pol, sw, ways, v)
                if old < 0:
                    continue
                dirty = (old & 1) != 0
                if lv == 0:
                    if dirty or not pyc:
                        evict0 += 1
                    if dirty:
                        wb0 += 1
                else:
                    if dirty or not pyc:
                        out[lv, C_EVICT] += 1
                    if dirty:
                        out[lv, C_WB] += 1
                if not dirty:
                    continue
                nx = lv + 1
                if nx == nlev:
                    mem_stores += 1
                    continue
                # the write-back hitting the next level is handled inline; a miss there (rare:
                # allocation, maybe further write-backs) goes through the work stack
                ol = old >> 1
                hd2 = XH + st[ch + nx] * HC
                ways2 = st[hd2 + H_WAYS]
                sw2 = _set_word(st, hd2, ol)
                h2 = _lookup(st, sw2, ways2, ol)
                if h2 >= 0:
                    out[nx, C_STORES] += 1
                    st[sw2 + 1 + h2] |= 1
                    if not pyc:
                        out[nx, C_HITS] += 1
                        _hit_touch(st, hd2, st[hd2 + H_POL], sw2, ways2, h2)
                    continue
                sk = st[X_STACK]
                st[sk] = OP_ACCESS
                st[sk + 1] = nx
                st[sk + 2] = ol
                st[sk + 3] = F_WRITE | F_WB
                _run_stack(mode, st, ch, nlev, out, 1)  # never touches level 0
            last_x = x
            last_t = ti
        if pol0 == POL_LRU:
            st[h0 + H_CLOCK] = clock0
        out[0, C_LOADS] += n - nw - unc_r + wl0
        out[0, C_STORES] += nw - unc_w
        out[0, C_HITS] += hits0
        out[0, C_MISSES] += misses0
        out[0, C_EVICT] += evict0
        out[0, C_WB] += wb0
        out[nlev, C_LOADS] += mem_loads
        out[nlev, C_STORES] += mem_stores
        s0 = st[X_STATS]
        for r in range(nlev + 1):  # cumulative counters
            for k in range(N_COUNTERS):
                st[s0 + r * N_COUNTERS + k] += out[r, k]

    return batch


_BATCH_KERNELS: dict = {}
# specialised variants: the common LRU geometries (compiling every combination of policy, ways
# and depth would cost minutes on a cold cache); everything else runs the generic kernel
_SPECIAL = {POL_LRU_MAT: (8,), POL_LRU_PERM: (16,)}
_SPECIAL_LEVELS = (1, 2, 3)


def batch_kernel(pol0: int, ways0: int, nlev: int):
    """The batch kernel for a hierarchy whose level 0 has internal policy ``pol0`` and
    ``ways0`` ways, with ``nlev`` levels: ``kernel(mode, core, lines, writes, out, st)``."""
    if ways0 in _SPECIAL.get(pol0, ()) and nlev in _SPECIAL_LEVELS:
        key = (int(pol0), int(ways0), int(nlev))
    else:
        key = (-1, 0, 0)
    fn = _BATCH_KERNELS.get(key)
    if fn is None:
        fn = _BATCH_KERNELS[key] = _make_batch(*key)
    return fn


@njit(cache=True)
def flush_instances(mode, insts, levels, cores, out, st):
    """Write back every dirty line of instances ``insts`` (at ``levels``, in that order).

    Each dirty line becomes a store at the next level of the chain of ``cores[k]``, in set then
    way order; lines stay valid and become clean.
    """
    nlev = st[X_NLEV]
    sk = st[X_STACK]
    for k in range(insts.shape[0]):
        hd = XH + insts[k] * HC
        lv = levels[k]
        ch = st[X_CHAIN] + cores[k] * nlev
        sets = st[hd + H_SETS]
        ways = st[hd + H_WAYS]
        for s in range(sets):
            sw = st[hd + H_BASE] + s * st[hd + H_STRIDE]
            for w in range(ways):
                t = st[sw + 1 + w]
                if t >= 0 and (t & 1) != 0:
                    st[sw + 1 + w] = t ^ 1
                    out[lv, C_WB] += 1
                    if mode == MODE_PYCACHESIM:
                        out[lv, C_EVICT] += 1  # pycachesim counts forced write-backs as evictions
                    st[sk] = OP_ACCESS
                    st[sk + 1] = lv + 1
                    st[sk + 2] = t >> 1
                    st[sk + 3] = F_WRITE | F_WB
                    _run_stack(mode, st, ch, nlev, out, 1)
