"""numba kernels for set-associative cache hierarchies (state lives in numpy arrays).

Every cache *instance* (one per core for a private level, one for a shared level) is a row of
``geo``; all instances share flat state arrays indexed by slot (``slot_base + set*ways + way``):
``tags`` (line index, -1 = invalid), ``meta`` (recency/insertion stamp), ``dirty``; ``plru`` holds
one tree-bit word per set and ``rng`` one xorshift64 state per instance. A core's path through
the hierarchy is a row of ``chain`` (instance index per level, innermost first).

Semantics (see docs/model.md "Cache semantics"):

* ``MODE_DEFAULT``: true LRU (store hits refresh recency), write-back, write-allocate; a miss
  fetches the line from the next level and fills every level it passed (non-inclusive, no
  back-invalidation); a dirty victim is written to the next level; a write-back that misses
  there allocates the line dirty *without* fetching it (a whole line is written).
* ``MODE_PYCACHESIM``: pycachesim 0.3.1's counters: store hits are neither counted as hits nor
  refresh recency; a store miss counts a load and a miss (the write-allocate load); a write-back
  that misses the next level is write-allocated there with a fetch from below; only dirty
  victims count as evictions. (Source: /work/shared/notes/cache-oracles.md, checked by tests.)
* cachegrind rules live in ``cg_access`` (spans of one or two lines, no dirty state).
"""

from __future__ import annotations

import numpy as np
from numba import njit

POL_LRU, POL_FIFO, POL_RANDOM, POL_PLRU = 0, 1, 2, 3
POLICIES = {"lru": POL_LRU, "fifo": POL_FIFO, "random": POL_RANDOM, "plru": POL_PLRU}
MODE_DEFAULT, MODE_PYCACHESIM = 0, 1

# geo columns
G_SETS, G_WAYS, G_MASK, G_SLOT, G_SETBASE, G_POLICY = 0, 1, 2, 3, 4, 5
GEO_COLS = 6
# counter columns (rows: levels innermost first, last row memory)
C_LOADS, C_STORES, C_HITS, C_MISSES, C_EVICT, C_WB = 0, 1, 2, 3, 4, 5
N_COUNTERS = 6
# work-stack ops
OP_ACCESS, OP_FILL = 0, 1
F_WRITE, F_WB = 1, 2


@njit(cache=True, inline="always")
def _set_of(geo, c, x):
    mask = geo[c, G_MASK]
    if mask >= 0:
        return x & mask
    return x % geo[c, G_SETS]  # pycachesim indexes sets by line % sets (any set count)


@njit(cache=True, inline="always")
def _touch(geo, meta, plru, clock, c, setg, base, w, on_fill):
    """Update replacement state for an access to way ``w`` (a fill when ``on_fill``)."""
    pol = geo[c, G_POLICY]
    if pol == POL_LRU or (pol == POL_FIFO and on_fill):
        clock[c] += 1
        meta[base + w] = clock[c]
    elif pol == POL_PLRU:
        # tree-PLRU: heap-numbered nodes 1..ways-1; each bit on the path points away from w
        ways = geo[c, G_WAYS]
        bits = plru[setg]
        node = w + ways
        while node > 1:
            parent = node >> 1
            if node & 1:
                bits &= ~(np.int64(1) << parent)
            else:
                bits |= np.int64(1) << parent
            node = parent
        plru[setg] = bits


@njit(cache=True, inline="always")
def _victim(geo, tags, meta, plru, rng, c, setg, base):
    """Way to replace: the first invalid way, else by policy."""
    ways = geo[c, G_WAYS]
    pol = geo[c, G_POLICY]
    if pol <= POL_FIFO:
        # LRU/FIFO: oldest stamp. Invalid ways keep stamp 0 and valid ones have stamps ≥ 1, so
        # the first invalid way wins without a separate scan.
        best = 0
        stamp = meta[base]
        for w in range(1, ways):
            if meta[base + w] < stamp:
                stamp = meta[base + w]
                best = w
        return best
    for w in range(ways):
        if tags[base + w] < 0:
            return w
    if pol == POL_PLRU:
        bits = plru[setg]
        node = 1
        while node < ways:
            node = 2 * node + ((bits >> node) & 1)
        return node - ways
    # random: xorshift64 (Marsaglia 2003, shifts 13/7/17), state per instance, seeded by Hierarchy
    x = rng[c]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    rng[c] = x
    return np.int64(x % np.uint64(ways))


@njit(cache=True)
def _run_stack(mode, chain, nlev, out, stack, sp, geo, tags, meta, dirty, plru, clock, rng):
    """Drain the work stack: ACCESS(level, line, flags) and FILL(level, line, dirty) frames."""
    while sp > 0:
        sp -= 1
        op = stack[sp, 0]
        lv = stack[sp, 1]
        x = stack[sp, 2]
        f = stack[sp, 3]
        if lv == nlev:  # memory
            if f & F_WRITE:
                out[nlev, C_STORES] += 1
            else:
                out[nlev, C_LOADS] += 1
            continue
        c = chain[lv]
        ways = geo[c, G_WAYS]
        s = _set_of(geo, c, x)
        setg = geo[c, G_SETBASE] + s
        base = geo[c, G_SLOT] + s * ways
        if op == OP_ACCESS:
            is_w = (f & F_WRITE) != 0
            if is_w:
                out[lv, C_STORES] += 1
            else:
                out[lv, C_LOADS] += 1
            hit = -1
            for w in range(ways):
                if tags[base + w] == x:
                    hit = w
                    break
            if hit >= 0:
                if is_w:
                    dirty[base + hit] = 1
                    if mode == MODE_PYCACHESIM:
                        continue  # pycachesim: store hit is not a hit and keeps recency
                out[lv, C_HITS] += 1
                _touch(geo, meta, plru, clock, c, setg, base, hit, False)
                continue
            out[lv, C_MISSES] += 1
            if is_w and mode == MODE_PYCACHESIM:
                out[lv, C_LOADS] += 1  # the write-allocate load
            stack[sp, 0] = OP_FILL
            stack[sp, 1] = lv
            stack[sp, 2] = x
            stack[sp, 3] = 1 if is_w else 0
            sp += 1
            if not (mode == MODE_DEFAULT and (f & F_WB)):
                stack[sp, 0] = OP_ACCESS
                stack[sp, 1] = lv + 1
                stack[sp, 2] = x
                stack[sp, 3] = 0
                sp += 1
        else:
            w = _victim(geo, tags, meta, plru, rng, c, setg, base)
            old = tags[base + w]
            wb = old >= 0 and dirty[base + w] != 0
            if old >= 0 and (mode == MODE_DEFAULT or wb):
                out[lv, C_EVICT] += 1
            tags[base + w] = x
            dirty[base + w] = f
            _touch(geo, meta, plru, clock, c, setg, base, w, True)
            if wb:
                out[lv, C_WB] += 1
                stack[sp, 0] = OP_ACCESS
                stack[sp, 1] = lv + 1
                stack[sp, 2] = old
                stack[sp, 3] = F_WRITE | F_WB
                sp += 1
    return sp


@njit(cache=True, inline="always")
def _plru_touched(bits, ways, w):
    """Tree bits after an access to way ``w`` (scalar helper: no array arguments, so no
    reference counting in the hot loop)."""
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


@njit(cache=True, inline="always")
def _xorshift(x):
    # xorshift64 (Marsaglia 2003, shifts 13/7/17)
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    return x


@njit(cache=True)
def access_batch(mode, chain, lines, writes, counted, out, stats, stack,
                 geo, tags, meta, dirty, plru, clock, rng):
    """Issue ``lines`` (int64 line indices, in order) through ``chain``; add counts to ``out``.

    ``writes`` (uint8, or empty = all loads) marks stores. ``counted`` (uint8, or empty = all)
    marks the lines that start a new access: only those count in level 0's loads/stores
    (pycachesim counts calls, not lines, at the first level). ``out`` must be zero on entry;
    it is added to ``stats`` at the end.

    Same semantics as ``_run_stack``, but the common path (lookups down to the serving level,
    fills back up) is written out inline with level 0's geometry and counters in registers:
    numba reference-counts arrays passed to helper functions, which costs more than the cache
    lookup itself. Dirty write-backs (rarer) go through the work stack.
    """
    nlev = chain.shape[0]
    n = lines.shape[0]
    has_w = writes.shape[0] > 0
    has_c = counted.shape[0] > 0
    pyc = mode == MODE_PYCACHESIM
    c0 = chain[0]
    ways0 = geo[c0, G_WAYS]
    sets0 = geo[c0, G_SETS]
    mask0 = geo[c0, G_MASK]
    slot0 = geo[c0, G_SLOT]
    setb0 = geo[c0, G_SETBASE]
    pol0 = geo[c0, G_POLICY]
    clock0 = clock[c0]
    rng0 = rng[c0]
    loads0 = stores0 = hits0 = misses0 = evict0 = wb0 = mem_loads = mem_stores = 0
    for i in range(n):
        x = lines[i]
        is_w = has_w and writes[i] != 0
        if is_w:
            stores0 += 1
        else:
            loads0 += 1
        if has_c and counted[i] == 0:
            if is_w:
                stores0 -= 1
            else:
                loads0 -= 1
        s0 = (x & mask0) if mask0 >= 0 else x % sets0  # pycachesim: line % sets
        base0 = slot0 + s0 * ways0
        hit = -1
        for w in range(ways0):
            if tags[base0 + w] == x:
                hit = w
                break
        if hit >= 0:
            if is_w:
                dirty[base0 + hit] = 1
                if pyc:
                    continue  # pycachesim: a store hit is not a hit and keeps recency
            hits0 += 1
            if pol0 == POL_LRU:
                clock0 += 1
                meta[base0 + hit] = clock0
            elif pol0 == POL_PLRU:
                plru[setb0 + s0] = _plru_touched(plru[setb0 + s0], ways0, hit)
            continue
        misses0 += 1
        if is_w and pyc:
            loads0 += 1  # pycachesim's write-allocate load
        # walk down: deeper levels see a load of the line
        d = nlev
        for lv in range(1, nlev):
            c = chain[lv]
            ways = geo[c, G_WAYS]
            mask = geo[c, G_MASK]
            s = (x & mask) if mask >= 0 else x % geo[c, G_SETS]
            base = geo[c, G_SLOT] + s * ways
            out[lv, C_LOADS] += 1
            h = -1
            for w in range(ways):
                if tags[base + w] == x:
                    h = w
                    break
            if h >= 0:
                d = lv
                out[lv, C_HITS] += 1
                pol = geo[c, G_POLICY]
                if pol == POL_LRU:
                    clock[c] += 1
                    meta[base + h] = clock[c]
                elif pol == POL_PLRU:
                    sg = geo[c, G_SETBASE] + s
                    plru[sg] = _plru_touched(plru[sg], ways, h)
                break
            out[lv, C_MISSES] += 1
        if d == nlev:
            mem_loads += 1
        # fill back up every level passed; dirty victims are written to the next level
        for lv in range(d - 1, -1, -1):
            if lv == 0:
                c, ways, s, base, pol = c0, ways0, s0, base0, pol0
            else:
                c = chain[lv]
                ways = geo[c, G_WAYS]
                mask = geo[c, G_MASK]
                s = (x & mask) if mask >= 0 else x % geo[c, G_SETS]
                base = geo[c, G_SLOT] + s * ways
                pol = geo[c, G_POLICY]
            # victim: LRU/FIFO oldest stamp (invalid ways have stamp 0, valid ones ≥ 1)
            v = -1
            if pol <= POL_FIFO:
                v = 0
                stamp = meta[base]
                for w in range(1, ways):
                    if meta[base + w] < stamp:
                        stamp = meta[base + w]
                        v = w
            else:
                for w in range(ways):
                    if tags[base + w] < 0:
                        v = w
                        break
                if v < 0:
                    if pol == POL_PLRU:
                        v = _plru_pick(plru[geo[c, G_SETBASE] + s], ways)
                    else:
                        r = _xorshift(rng0 if lv == 0 else rng[c])
                        if lv == 0:
                            rng0 = r
                        else:
                            rng[c] = r
                        v = np.int64(r % np.uint64(ways))
            old = tags[base + v]
            wb = old >= 0 and dirty[base + v] != 0
            tags[base + v] = x
            dirty[base + v] = 1 if (is_w and lv == 0) else 0
            if pol <= POL_FIFO:
                if lv == 0:
                    clock0 += 1
                    meta[base + v] = clock0
                else:
                    clock[c] += 1
                    meta[base + v] = clock[c]
            elif pol == POL_PLRU:
                sg = geo[c, G_SETBASE] + s
                plru[sg] = _plru_touched(plru[sg], ways, v)
            if old >= 0 and (not pyc or wb):
                if lv == 0:
                    evict0 += 1
                else:
                    out[lv, C_EVICT] += 1
            if wb:
                if lv == 0:
                    wb0 += 1
                else:
                    out[lv, C_WB] += 1
                nx = lv + 1
                if nx == nlev:
                    mem_stores += 1
                    continue
                # the write-back hitting the next level is handled inline; a miss there (rare:
                # allocation, maybe further write-backs) goes through the work stack
                c2 = chain[nx]
                ways2 = geo[c2, G_WAYS]
                mask2 = geo[c2, G_MASK]
                s2 = (old & mask2) if mask2 >= 0 else old % geo[c2, G_SETS]
                base2 = geo[c2, G_SLOT] + s2 * ways2
                h2 = -1
                for w in range(ways2):
                    if tags[base2 + w] == old:
                        h2 = w
                        break
                if h2 >= 0:
                    out[nx, C_STORES] += 1
                    dirty[base2 + h2] = 1
                    if not pyc:
                        out[nx, C_HITS] += 1
                        pol2 = geo[c2, G_POLICY]
                        if pol2 == POL_LRU:
                            clock[c2] += 1
                            meta[base2 + h2] = clock[c2]
                        elif pol2 == POL_PLRU:
                            sg = geo[c2, G_SETBASE] + s2
                            plru[sg] = _plru_touched(plru[sg], ways2, h2)
                    continue
                stack[0, 0] = OP_ACCESS
                stack[0, 1] = lv + 1
                stack[0, 2] = old
                stack[0, 3] = F_WRITE | F_WB
                clock[c0] = clock0  # the stack never touches level 0, but keep state exact
                rng[c0] = rng0
                _run_stack(mode, chain, nlev, out, stack, 1, geo, tags, meta, dirty, plru,
                           clock, rng)
    clock[c0] = clock0
    rng[c0] = rng0
    out[0, C_LOADS] += loads0
    out[0, C_STORES] += stores0
    out[0, C_HITS] += hits0
    out[0, C_MISSES] += misses0
    out[0, C_EVICT] += evict0
    out[0, C_WB] += wb0
    out[nlev, C_LOADS] += mem_loads
    out[nlev, C_STORES] += mem_stores
    stats += out  # cumulative counters (``out`` starts at zero for each batch)


@njit(cache=True)
def flush_instances(mode, insts, levels, chains, out, stack,
                    geo, tags, meta, dirty, plru, clock, rng):
    """Write back every dirty line of instances ``insts`` (at ``levels``, in that order).

    Each dirty line becomes a store at the next level of the owning chain (``chains[k]``), in
    set then way order; lines stay valid and become clean.
    """
    nlev = chains.shape[1]
    for k in range(insts.shape[0]):
        c = insts[k]
        lv = levels[k]
        chain = chains[k]
        sets = geo[c, G_SETS]
        ways = geo[c, G_WAYS]
        slot = geo[c, G_SLOT]
        for s in range(sets):
            for w in range(ways):
                j = slot + s * ways + w
                if tags[j] >= 0 and dirty[j] != 0:
                    dirty[j] = 0
                    out[lv, C_WB] += 1
                    if mode == MODE_PYCACHESIM:
                        out[lv, C_EVICT] += 1  # pycachesim counts forced write-backs as evictions
                    stack[0, 0] = OP_ACCESS
                    stack[0, 1] = lv + 1
                    stack[0, 2] = tags[j]
                    stack[0, 3] = F_WRITE | F_WB
                    _run_stack(mode, chain, nlev, out, stack, 1,
                               geo, tags, meta, dirty, plru, clock, rng)


@njit(cache=True, inline="always")
def _cg_ref(geo, tags, meta, plru, clock, rng, out, lv, c, x):
    """Reference line ``x`` in instance ``c`` (no dirty state); True on a miss."""
    ways = geo[c, G_WAYS]
    s = _set_of(geo, c, x)
    setg = geo[c, G_SETBASE] + s
    base = geo[c, G_SLOT] + s * ways
    for w in range(ways):
        if tags[base + w] == x:
            _touch(geo, meta, plru, clock, c, setg, base, w, False)
            return False
    w = _victim(geo, tags, meta, plru, rng, c, setg, base)
    if tags[base + w] >= 0:
        out[lv, C_EVICT] += 1
    tags[base + w] = x
    _touch(geo, meta, plru, clock, c, setg, base, w, True)
    return True


@njit(cache=True)
def cg_access(dchain, ichain, first, nlines, kinds, out,
              geo, tags, meta, plru, clock, rng):
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
            miss = _cg_ref(geo, tags, meta, plru, clock, rng, out[k], lv, c, x)
            for j in range(1, m):
                if _cg_ref(geo, tags, meta, plru, clock, rng, out[k], lv, c, x + j):
                    miss = True
            if miss:
                out[k, lv, C_MISSES] += 1
            else:
                out[k, lv, C_HITS] += 1
                missed_all = False
                break
        if missed_all:
            out[k, nlev, C_LOADS] += 1
