"""Stack-distance LLC counts equal the cache kernel exactly, per tile, for every associativity."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.cache import CacheLevelSpec, Hierarchy
from memsim.sweep.stackdist import llc_counts, upper_pass


def _tiles(rng, n_tiles, span, write_frac):
    tiles = []
    for _ in range(n_tiles):
        n = int(rng.integers(0, 60))
        base = int(rng.integers(0, span))
        lines = (base + rng.integers(0, span // 2 + 1, n)).astype(np.uint64)
        writes = rng.random(n) < write_frac
        tiles.append((lines, writes))
    return tiles


def _kernel(specs, tiles):
    h = Hierarchy(specs, cores=1)
    return [h.access(0, lines, writes) for lines, writes in tiles]


def _check(upper, llc_sets, llc_ways_list, tiles, shared):
    up = upper_pass(upper, tiles)
    got = llc_counts(up, llc_sets, llc_ways_list)
    for ways in llc_ways_list:
        specs = list(upper) + [CacheLevelSpec("LLC", llc_sets, ways, 64, "lru", shared)]
        want = _kernel(specs, tiles)
        assert len(got[ways]) == len(want)
        for t, (a, b) in enumerate(zip(got[ways], want)):
            np.testing.assert_array_equal(a, b, err_msg=f"tile {t}, {ways} ways")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), nup=st.integers(0, 2),
       pol=st.sampled_from(["lru", "fifo", "plru"]), sets=st.sampled_from([1, 2, 4, 3]),
       write_frac=st.sampled_from([0.0, 0.3, 0.8]))
def test_llc_counts_equal_kernel(seed, nup, pol, sets, write_frac):
    rng = np.random.default_rng(seed)
    upper = []
    if nup >= 1:
        upper.append(CacheLevelSpec("L1", 2, 2, 64, pol, False))
    if nup >= 2:
        upper.append(CacheLevelSpec("L2", 4, 2, 64, "lru", False))
    tiles = _tiles(rng, 8, 96, write_frac)
    _check(upper, sets, [1, 2, 3, 4, 8], tiles, shared=bool(seed & 1))


def test_llc_counts_realistic_shape():
    """A 3-level hierarchy with 64-set L1, 256-set L2 and a 512-set LLC swept over 4..16 ways."""
    rng = np.random.default_rng(7)
    upper = [CacheLevelSpec("L1", 64, 4, 64, "plru", False),
             CacheLevelSpec("L2", 256, 8, 64, "lru", False)]
    tiles = []
    for t in range(40):  # a streaming pattern with reuse and write-backs
        start = (t * 3000) % 60000
        lines = np.arange(start, start + 4000, dtype=np.uint64)
        lines = np.concatenate([lines, rng.integers(0, 60000, 1000).astype(np.uint64)])
        tiles.append((lines, rng.random(lines.size) < 0.25))
    _check(upper, 512, [4, 8, 12, 16], tiles, shared=True)
