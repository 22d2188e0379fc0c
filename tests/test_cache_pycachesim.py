"""compat="pycachesim": every counter equals pycachesim 0.3.1 (the test oracle, AGPL: tests only).

Policies compared: LRU and FIFO. Excluded: RR — pycachesim draws victims with the C library's
unseeded ``rand()``, so no other implementation can reproduce its choices; MRU — broken in 0.3.1
(never hits, loses dirty victims; /work/shared/notes/cache-oracles.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from memsim.cache import CacheLevelSpec, Hierarchy

from cachesim import Cache, CacheSimulator, MainMemory  # pycachesim, the [test] extra

LINE = 64


def oracle(levels):
    """pycachesim hierarchy: levels = [(sets, ways, policy)], innermost first."""
    caches, nxt = [], None
    for i, (sets, ways, pol) in reversed(list(enumerate(levels))):
        c = Cache(f"L{i + 1}", sets, ways, LINE, pol, store_to=nxt, load_from=nxt)
        caches.insert(0, c)
        nxt = c
    mem = MainMemory()
    mem.load_to(caches[-1])
    mem.store_from(caches[-1])
    return CacheSimulator(caches[0], mem)


def oracle_counts(levels, addrs, writes, length, flush):
    sim = oracle(levels)
    # one (loads, stores) pair per access keeps the interleaved order
    pairs = [([], [a]) if w else ([a], []) for a, w in zip(addrs.tolist(), writes.tolist())]
    sim.loadstore(pairs, length=length)
    if flush:
        sim.force_write_back()
    rows = []
    for s in sim.stats():
        rows.append([s["LOAD_count"], s["STORE_count"], s.get("HIT_count", 0),
                     s.get("MISS_count", 0), s.get("EVICT_count", 0)])
    return rows


def memsim_counts(levels, addrs, writes, length, flush, batch=1000):
    h = Hierarchy([CacheLevelSpec(f"L{i + 1}", s, w, LINE, p.lower())
                   for i, (s, w, p) in enumerate(levels)], compat="pycachesim")
    first = addrs // LINE
    nl = (addrs + length - 1) // LINE - first + 1
    for i in range(0, len(addrs), batch):
        h.access_spans(0, first[i:i + batch], nl[i:i + batch], writes[i:i + batch])
    if flush:
        h.flush()
    st = h.stats()
    rows = [list(map(int, r[:5])) for r in st[:-1]]
    rows.append([int(st[-1, 0]), int(st[-1, 1]), 0, 0, 0])
    return rows, st


def compare(levels, addrs, writes, length=1, flush=True):
    addrs = np.asarray(addrs, dtype=np.uint64)
    writes = np.asarray(writes, dtype=bool)
    ref = oracle_counts(levels, addrs, writes, length, flush)
    ref[-1][2:] = [0, 0, 0]  # memory has no hits/misses/evictions in our model
    mine, st = memsim_counts(levels, addrs, writes, length, flush)
    assert mine == ref, f"levels={levels}\nmemsim={mine}\npycachesim={ref}"
    return st


GEOMETRIES = [
    [(16, 4, "LRU")],
    [(7, 3, "FIFO")],                               # non-power-of-two sets
    [(8, 2, "LRU"), (32, 4, "LRU")],
    [(4, 4, "FIFO"), (12, 8, "LRU")],
    [(8, 2, "LRU"), (16, 4, "FIFO"), (64, 8, "LRU")],
    [(1, 8, "LRU"), (5, 4, "LRU"), (48, 4, "FIFO")],   # fully associative L1
]


def _geo_id(levels):
    return "-".join(f"{s}x{w}{p}" for s, w, p in levels)


@pytest.mark.parametrize("levels", GEOMETRIES, ids=_geo_id)
@pytest.mark.parametrize("write_frac", [0.0, 0.3])
def test_random_trace(levels, write_frac):
    rng = np.random.default_rng(len(levels) * 10 + int(write_frac * 10))
    n = 6000
    addrs = rng.integers(0, 600, n) * LINE + rng.integers(0, LINE, n)
    compare(levels, addrs, rng.random(n) < write_frac)


@pytest.mark.parametrize("levels", GEOMETRIES[2:], ids=_geo_id)
def test_structured_traces(levels):
    # streaming with 8 B elements, a strided walk, and a naive 24×24 double matmul (C = A·B)
    stream = np.arange(0, 40000, 8)
    strided = np.tile(np.arange(0, 64 * 1024, 320), 4)
    n = 24
    i, j, k = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    a = (i * n + k).ravel() * 8
    b = 8 * n * n + (k * n + j).ravel() * 8
    mm = np.stack([a, b], 1).ravel()
    c = 16 * n * n + (np.arange(n * n) * 8)
    addrs = np.concatenate([stream, strided, mm, c])
    writes = np.concatenate([np.zeros(len(stream) + len(strided) + len(mm), bool),
                             np.ones(len(c), bool)])
    writes[: len(stream)] = np.arange(len(stream)) % 3 == 0
    compare(levels, addrs, writes)


def test_straddling_accesses_count_per_call_at_l1():
    # 8 B accesses at arbitrary byte addresses: some cover two lines
    rng = np.random.default_rng(5)
    addrs = rng.integers(0, 30000, 5000)
    compare([(8, 2, "LRU"), (32, 4, "LRU")], addrs, rng.random(5000) < 0.4, length=8)


def test_store_hit_is_not_a_hit_and_keeps_recency():
    # A, B, store A, load C in a 2-way set: pycachesim evicts A (true LRU would evict B)
    st = compare([(1, 2, "LRU")], [0, 64, 0, 128], [False, False, True, False], flush=False)
    assert st[0, 2] == 0  # no hits at all


def test_without_final_flush_dirty_lines_are_not_counted():
    rng = np.random.default_rng(9)
    addrs = rng.integers(0, 200, 3000) * LINE
    compare([(4, 2, "LRU"), (8, 4, "LRU")], addrs, rng.random(3000) < 0.5, flush=False)
