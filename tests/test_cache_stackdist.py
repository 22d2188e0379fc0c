"""Stack distance: one-pass hit curves equal direct simulation for every capacity tried."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.cache import CacheLevelSpec, Hierarchy, hit_curve, reuse_distances, set_hit_curve


def simulate_hits(lines, writes, sets, ways):
    h = Hierarchy([CacheLevelSpec("L", sets, ways, 64, "lru")])
    return int(h.access(0, np.asarray(lines, dtype=np.int64), writes)[0, 2])


def test_reuse_distances_by_hand():
    # a b c a b b d a : a→2 (b,c), b→2 (c,a), b→0, a→2 (b,d)
    d = reuse_distances([1, 2, 3, 1, 2, 2, 4, 1])
    assert d.tolist() == [-1, -1, -1, 2, 2, 0, -1, 2]


@settings(max_examples=80, deadline=None)
@given(lines=st.lists(st.integers(0, 60), max_size=400), seed=st.integers(0, 3))
def test_fully_associative_curve_equals_simulation(lines, seed):
    writes = np.random.default_rng(seed).random(len(lines)) < 0.3
    caps = [1, 2, 3, 5, 8, 13, 32, 64]
    curve = hit_curve(lines, caps)
    assert curve.tolist() == [simulate_hits(lines, writes, 1, c) for c in caps]


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.integers(0, 200), max_size=400), sets=st.sampled_from([1, 2, 3, 4, 8]),
       max_ways=st.integers(1, 8))
def test_set_curve_equals_simulation(lines, sets, max_ways):
    curve = set_hit_curve(np.asarray(lines, dtype=np.uint64), sets, max_ways)
    assert len(curve) == max_ways
    assert curve.tolist() == [simulate_hits(lines, None, sets, w) for w in range(1, max_ways + 1)]


def test_large_trace_every_capacity():
    rng = np.random.default_rng(4)
    # mixture of a hot set, a loop and random far lines: a non-trivial curve
    lines = np.concatenate([rng.integers(0, 50, 20000), np.tile(np.arange(1000, 1300), 30),
                            rng.integers(0, 5000, 20000)])
    rng.shuffle(lines[:30000])
    caps = np.arange(0, 400, 7)
    curve = hit_curve(lines, caps)
    assert (np.diff(curve) >= 0).all()  # LRU inclusion property: hits grow with capacity
    for c in caps[1::6]:
        assert curve[list(caps).index(c)] == simulate_hits(lines, None, 1, int(c))
    sc = set_hit_curve(lines, 16, 12)
    for w in (1, 4, 12):
        assert sc[w - 1] == simulate_hits(lines, None, 16, w)
