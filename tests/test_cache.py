"""Cache kernel, default semantics: hand-checked cases and a pure-Python reference."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.cache import CacheLevelSpec, Hierarchy
from memsim.errors import InputError

LOADS, STORES, HITS, MISSES, EVICT, WB = range(6)


# --------------------------------------------------------------------------- reference model
class RefCache:
    """Tiny pure-Python set-associative cache. LRU/FIFO keep an ordered list per set (last =
    most recent / newest); PLRU keeps positional ways and a tree-bit dict per set."""

    def __init__(self, sets, ways, policy):
        self.nsets, self.ways, self.policy = sets, ways, policy
        self.sets = [[] for _ in range(sets)]  # LRU/FIFO: [tag, dirty] entries in order
        self.slots = [[None] * ways for _ in range(sets)]  # PLRU: [tag, dirty] or None
        self.bits = [dict() for _ in range(sets)]

    def _plru_touch(self, s, w):
        node = w + self.ways
        while node > 1:
            parent = node // 2
            self.bits[s][parent] = 0 if node % 2 else 1  # point away from the accessed child
            node = parent

    def lookup(self, x, write, refresh):
        s = x % self.nsets
        if self.policy == "plru":
            for w, e in enumerate(self.slots[s]):
                if e is not None and e[0] == x:
                    e[1] |= write
                    if refresh:
                        self._plru_touch(s, w)
                    return True
            return False
        for e in self.sets[s]:
            if e[0] == x:
                e[1] |= write
                if refresh and self.policy == "lru":
                    self.sets[s].remove(e)
                    self.sets[s].append(e)
                return True
        return False

    def fill(self, x, dirty):
        """Install x; return the evicted [tag, dirty] or None."""
        s = x % self.nsets
        if self.policy == "plru":
            slots = self.slots[s]
            if None in slots:
                w = slots.index(None)
            else:
                node = 1
                while node < self.ways:
                    node = 2 * node + self.bits[s].get(node, 0)
                w = node - self.ways
            old = slots[w]
            slots[w] = [x, dirty]
            self._plru_touch(s, w)
            return old
        lst = self.sets[s]
        old = lst.pop(0) if len(lst) == self.ways else None
        lst.append([x, dirty])
        return old


class RefHierarchy:
    """DESIGN §9 default semantics written the obvious recursive way."""

    def __init__(self, specs, cores=1):
        self.specs = specs
        self.inst = {}
        for lv, (sets, ways, policy, shared) in enumerate(specs):
            for core in range(cores):
                key = (lv, -1 if shared else core)
                self.inst.setdefault(key, RefCache(sets, ways, policy))
        self.counts = np.zeros((len(specs) + 1, 6), dtype=np.int64)

    def cache(self, lv, core):
        return self.inst.get((lv, -1)) or self.inst[(lv, core)]

    def access(self, core, lv, x, write, wb=False):
        c = self.counts
        if lv == len(self.specs):
            c[lv, STORES if write else LOADS] += 1
            return
        c[lv, STORES if write else LOADS] += 1
        cache = self.cache(lv, core)
        if cache.lookup(x, write, refresh=True):
            c[lv, HITS] += 1
            return
        c[lv, MISSES] += 1
        if not wb:  # a whole-line write-back allocates without fetching
            self.access(core, lv + 1, x, False)
        old = cache.fill(x, int(write))
        if old is not None:
            c[lv, EVICT] += 1
            if old[1]:
                c[lv, WB] += 1
                self.access(core, lv + 1, old[0], True, wb=True)


def make(specs, cores=1, seed=0):
    return Hierarchy([CacheLevelSpec(f"L{i + 1}", s, w, 64, p, sh)
                      for i, (s, w, p, sh) in enumerate(specs)], cores=cores, seed=seed)


# --------------------------------------------------------------------------- hand-checked cases
def test_lru_store_hit_refreshes_recency():
    h = make([(1, 2, "lru", False)])
    h.access(0, [0, 1])
    h.access(0, [0], [True])  # store hit: refreshes 0, so 1 is LRU
    h.access(0, [2])
    assert sorted(h._tags.tolist()) == [0, 2]


def test_counts_for_one_batch_and_memory_row():
    h = make([(1, 2, "lru", False)])
    out = h.access(0, np.array([0, 1, 0, 2, 3], dtype=np.uint64),
                   np.array([True, False, False, False, False]))
    # 0 miss (dirty), 1 miss, 0 hit, 2 miss evicts 1 (clean), 3 miss evicts 0 (dirty)
    assert out[0].tolist() == [4, 1, 1, 4, 2, 1]
    assert out[1].tolist() == [4, 1, 0, 0, 0, 0]  # 4 line reads, 1 line write-back
    assert h.stats().tolist() == out.tolist()


def test_dirty_eviction_chain_writes_next_level_without_fetch():
    h = make([(1, 1, "lru", False), (1, 1, "lru", False)])
    h.access(0, [5], [True])
    out = h.access(0, [6])
    # L1: 6 misses; L2 (holding clean 5) misses, evicts 5, fills 6; then L1 evicts dirty 5 →
    # L2 store of 5 misses, allocates without fetching (1 memory read only), evicting clean 6.
    assert out[0].tolist() == [1, 0, 0, 1, 1, 1]
    assert out[1].tolist() == [1, 1, 0, 2, 2, 0]
    assert out[2].tolist() == [1, 0, 0, 0, 0, 0]


def test_flush_writes_dirty_lines_once_and_keeps_them():
    h = make([(2, 2, "lru", False), (4, 2, "lru", True)], cores=2)
    h.access(0, [0, 1, 2], [True, True, False])
    h.access(1, [3], [True])
    first = h.flush()
    assert first[0, WB] == 3
    assert first[1, WB] == 3 and first[2, STORES] == 3
    again = h.flush()
    assert not again.any()
    out = h.access(0, [0, 1, 2])
    assert out[0, HITS] == 3


def test_private_levels_are_per_core_and_shared_level_is_shared():
    h = make([(4, 2, "lru", False), (16, 4, "lru", True)], cores=2)
    a = h.access(0, np.arange(8))
    b = h.access(1, np.arange(8))
    assert a[0, MISSES] == 8 and a[1, MISSES] == 8
    assert b[0, MISSES] == 8 and b[1, HITS] == 8  # core 1 misses privately, hits in shared L2
    c = h.access(0, np.arange(8))
    assert c[0, HITS] == 8


def test_private_behind_shared_is_rejected():
    with pytest.raises(InputError, match="private level"):
        make([(4, 2, "lru", True), (16, 4, "lru", False)])


def test_fifo_ignores_hits():
    h = make([(1, 2, "fifo", False)])
    h.access(0, [0, 1, 0, 2])  # FIFO evicts 0 (oldest) despite the hit
    assert sorted(h._tags.tolist()) == [1, 2]


def test_plru_tree_victim():
    h = make([(1, 4, "plru", False)])
    h.access(0, [0, 1, 2, 3, 0, 2])  # bits after: root → right half? no: 2 used last → left
    out = h.access(0, [4])
    assert out[0, EVICT] == 1
    # after touching ways 0..3 then 0 and 2: the tree points to the half not holding 2, and
    # within that half away from 0: way 1
    assert h._tags.tolist() == [0, 4, 2, 3]


def test_random_policy_is_seeded_and_deterministic():
    rng = np.random.default_rng(3)
    lines = rng.integers(0, 64, 4000)
    runs = []
    for seed in (7, 7, 8):
        h = make([(4, 4, "random", False)], seed=seed)
        runs.append(h.access(0, lines).tolist())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    total = runs[0][0]
    assert total[LOADS] == 4000 and total[HITS] + total[MISSES] == 4000


def test_non_power_of_two_sets_use_modulo():
    h = make([(3, 1, "lru", False)])
    out = h.access(0, [0, 1, 2, 3])
    assert out[0, EVICT] == 1  # 3 % 3 == 0 replaces line 0
    assert h.access(0, [1, 2])[0, HITS] == 2


def test_from_hardware_skips_scratchpads_and_maps_scope():
    lv = SimpleNamespace
    hw = SimpleNamespace(
        compute=SimpleNamespace(cores=2),
        memory=SimpleNamespace(levels=(
            lv(name="SPM", kind="scratchpad", size_bytes=65536, line_bytes=None, ways=None,
               policy=None, scope="core"),
            lv(name="L1", kind="cache", size_bytes=32768, line_bytes=64, ways=8, policy="plru",
               scope="core"),
            lv(name="L2", kind="cache", size_bytes=1 << 20, line_bytes=64, ways=16,
               policy="lru", scope="shared"))))
    h = Hierarchy.from_hardware(hw)
    assert h.names == ["L1", "L2"] and h.cores == 2
    assert h.levels[0] == CacheLevelSpec("L1", 64, 8, 64, "plru", False)
    assert h.levels[1] == CacheLevelSpec("L2", 1024, 16, 64, "lru", True)
    assert h._chain[0, 1] == h._chain[1, 1] and h._chain[0, 0] != h._chain[1, 0]


def test_bad_specs_raise_input_error():
    with pytest.raises(InputError, match="power-of-two"):
        make([(4, 3, "plru", False)])
    with pytest.raises(InputError, match="policy"):
        make([(4, 2, "mru", False)])
    with pytest.raises(InputError, match="line size"):
        Hierarchy([CacheLevelSpec("a", 4, 2, 64), CacheLevelSpec("b", 4, 2, 128)])


# --------------------------------------------------------------------------- property tests
level_st = st.tuples(st.sampled_from([1, 2, 3, 4, 8]), st.sampled_from([1, 2, 4, 8]),
                     st.sampled_from(["lru", "fifo", "plru"]))


@settings(max_examples=60, deadline=None)
@given(levels=st.lists(level_st, min_size=1, max_size=3),
       n_shared=st.integers(0, 3), cores=st.integers(1, 3),
       trace=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40), st.booleans()),
                      max_size=300),
       split=st.integers(1, 50))
def test_default_mode_equals_reference(levels, n_shared, cores, trace, split):
    specs = [(s, w, p, i >= len(levels) - n_shared) for i, (s, w, p) in enumerate(levels)]
    h = make(specs, cores=cores)
    ref = RefHierarchy(specs, cores=cores)
    total = np.zeros_like(ref.counts)
    # batches of consecutive same-core accesses, at most `split` long
    i = 0
    while i < len(trace):
        core = trace[i][0] % cores
        j = i
        while j < len(trace) and trace[j][0] % cores == core and j - i < split:
            j += 1
        lines = np.array([t[1] for t in trace[i:j]], dtype=np.uint64)
        writes = np.array([t[2] for t in trace[i:j]], dtype=bool)
        total += h.access(core, lines, writes)
        for t in trace[i:j]:
            ref.access(core, 0, t[1], t[2])
        i = j
    assert total.tolist() == ref.counts.tolist()
    assert h.stats().tolist() == ref.counts.tolist()
    # every level: accesses = hits + misses
    lv = total[:-1]
    assert (lv[:, LOADS] + lv[:, STORES] == lv[:, HITS] + lv[:, MISSES]).all()


def test_large_batch_matches_reference_lru_three_levels():
    rng = np.random.default_rng(0)
    lines = np.concatenate([rng.integers(0, 3000, 20000), np.arange(5000) % 700])
    writes = rng.random(lines.size) < 0.25
    specs = [(8, 4, "lru", False), (32, 8, "lru", False), (64, 16, "lru", True)]
    h = make(specs)
    ref = RefHierarchy(specs)
    for x, w in zip(lines.tolist(), writes.tolist()):
        ref.access(0, 0, x, w)
    assert h.access(0, lines, writes).tolist() == ref.counts.tolist()
