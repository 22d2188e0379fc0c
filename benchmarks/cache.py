"""Cache-kernel throughput vs pycachesim 0.3.1 on the same traces, in the same run.

    python benchmarks/cache.py [--scale 1.0]

Traces (line indices of 64 B lines, ≥ 10 M accesses at scale 1):
  stream  — 8 B elements read sequentially (7 of 8 accesses hit the line just fetched), every
            fourth element also written;
  strided — a 4160 B stride (row of a 520-double matrix) walked repeatedly: one line per access;
  matmul  — tiled double GEMM C += A·B, N=192, 32³ tiles, loop order ii jj kk i j k, loads of
            A[i,k] and B[k,j] per MAC and a store of C[i,j] after each k tile.
Hierarchies: 1 level (L1 32 KiB 8-way) and 3 levels (+ L2 1 MiB 16-way, L3 8 MiB 16-way), LRU.
memsim runs in default and pycachesim-compat modes (the latter is checked counter-for-counter
against pycachesim here). pycachesim needs Python lists: its rate is given without and with the
numpy → list conversion (done in 1 M-access chunks). Every rate is the best of ``--repeats``
interleaved runs (the median follows in brackets; the machine is shared), and the ratio divides
memsim's best by pycachesim's best. Then: per-call cost with engine-sized tiles, and the
stack-distance hit curves (``hit_curve``, ``set_hit_curve``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from memsim.cache import CacheLevelSpec, Hierarchy

LINE = 64
LEVELS = [("L1", 32768, 8), ("L2", 1 << 20, 16), ("L3", 8 << 20, 16)]


def traces(scale: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    n = int(12_000_000 * scale)
    stream_addr = np.arange(n, dtype=np.int64) * 8
    stream = (stream_addr // LINE, (np.arange(n) % 4) == 3)
    walk = np.arange(2048, dtype=np.int64) * 4160
    reps = -(-n // walk.size)
    strided_addr = (np.tile(walk, reps)[:n] + np.repeat(np.arange(reps) * 8, walk.size)[:n])
    strided = (strided_addr // LINE, np.zeros(n, bool))
    return {"stream": stream, "strided": strided, "matmul": matmul(192, 32)}


def matmul(n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    nb = n // t
    a_base, b_base, c_base = 0, n * n * 8, 2 * n * n * 8
    ii, jj, kk, i, j, k = np.meshgrid(*[np.arange(nb)] * 3, *[np.arange(t)] * 3,
                                      indexing="ij", sparse=True)
    row, col, red = ii * t + i, jj * t + j, kk * t + k
    a = np.broadcast_to(a_base + (row * n + red) * 8, (nb,) * 3 + (t,) * 3)
    b = np.broadcast_to(b_base + (red * n + col) * 8, (nb,) * 3 + (t,) * 3)
    c = np.broadcast_to(c_base + (row * n + col) * 8, (nb,) * 3 + (t, t, 1))[..., 0]
    # per (ii,jj,kk,i,j): 2t loads (A,B interleaved) then one store of C
    loads = np.stack([a, b], axis=-1).reshape(nb, nb, nb, t, t, 2 * t)
    seq = np.concatenate([loads, c[..., None]], axis=-1).reshape(-1)
    w = np.zeros((2 * t + 1,), bool)
    w[-1] = True
    writes = np.tile(w, seq.size // w.size)
    return seq // LINE, writes


def hierarchy(nlev: int, compat: str) -> Hierarchy:
    return Hierarchy([CacheLevelSpec(name, size // (LINE * ways), ways, LINE, "lru", i > 0)
                      for i, (name, size, ways) in enumerate(LEVELS[:nlev])], compat=compat)


def run_memsim(lines, writes, nlev, compat, chunk=1 << 20):
    h = hierarchy(nlev, compat)
    h.access(0, lines[:10], writes[:10])  # warm the JIT (compiled once, cache=True)
    h.reset()
    t0 = time.perf_counter()
    for s in range(0, lines.size, chunk):
        h.access(0, lines[s:s + chunk], writes[s:s + chunk])
    dt = time.perf_counter() - t0
    return dt, h.stats()


def pycachesim_simulator(nlev: int):
    """pycachesim's ``CacheSimulator`` for the first ``nlev`` of ``LEVELS`` (LRU, 64 B lines,
    write-back/write-allocate to main memory)."""
    from cachesim import Cache, CacheSimulator, MainMemory  # AGPL: benchmark oracle only

    caches, nxt = [], None
    for name, size, ways in reversed(LEVELS[:nlev]):
        c = Cache(name, size // (LINE * ways), ways, LINE, "LRU", store_to=nxt, load_from=nxt)
        caches.insert(0, c)
        nxt = c
    mem = MainMemory()
    mem.load_to(caches[-1])
    mem.store_from(caches[-1])
    return CacheSimulator(caches[0], mem)


def run_pycachesim(lines, writes, nlev, chunk=1 << 20):
    cs = pycachesim_simulator(nlev)
    conv = sim = 0.0
    for s in range(0, lines.size, chunk):
        ln, wr = lines[s:s + chunk], writes[s:s + chunk]
        t0 = time.perf_counter()
        addr = (ln * LINE).tolist()
        if wr.any():
            # segments: a run of loads followed by a run of stores (keeps the program order)
            starts = np.flatnonzero(np.r_[True, (~wr[1:]) & wr[:-1]])
            ends = np.r_[starts[1:], ln.size]
            pairs = []
            for a, b in zip(starts.tolist(), ends.tolist()):
                nw = int(np.count_nonzero(wr[a:b]))
                pairs.append((addr[a:b - nw], addr[b - nw:b]))
        else:
            pairs = None
        t1 = time.perf_counter()
        if pairs is None:
            cs.load(addr, length=1)
        else:
            cs.loadstore(pairs, length=1)
        t2 = time.perf_counter()
        conv += t1 - t0
        sim += t2 - t1
    stats = [[s["LOAD_count"], s["STORE_count"], s.get("HIT_count", 0), s.get("MISS_count", 0),
              s.get("EVICT_count", 0)] for s in cs.stats()]
    return sim, conv, stats


def _rate(n: int, times: list[float]) -> str:
    """``best (median)`` in M accesses/s."""
    return f"{n / min(times) / 1e6:.1f} ({n / float(np.median(times)) / 1e6:.1f})"


def run_stackdist(repeats: int) -> None:
    """Hit-curve throughput: 5 M random accesses over footprints of 1 Ki and 64 Ki lines."""
    from memsim.cache import hit_curve, set_hit_curve

    rng = np.random.default_rng(0)
    n = 5_000_000
    caps = np.arange(0, 1 << 17, 512)
    for fp in (1 << 10, 1 << 16):
        lines = rng.integers(0, fp, n) * 7 + 1000
        hit_curve(lines[:100], caps)  # warm the JIT
        set_hit_curve(lines[:100], 64, 16)
        for name, fn in (("hit_curve", lambda: hit_curve(lines, caps)),
                         ("set_hit_curve 64 sets × 1..16 ways",
                          lambda: set_hit_curve(lines, 64, 16))):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            print(f"{name} (footprint {fp} lines): {_rate(n, times)} M accesses/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="trace length factor (1 → ≥10 M)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure (best and median)")
    args = ap.parse_args()
    reps = max(1, args.repeats)
    print(f"{'trace':8} {'lv':>2} {'accesses':>11} {'memsim':>14} {'memsim-pyc':>14} "
          f"{'pycachesim':>14} {'pyc+conv':>14} {'ratio':>6}   (M accesses/s, best (median); "
          "ratio = best memsim default / best pycachesim)")
    for name, (lines, writes) in traces(args.scale).items():
        for nlev in (1, 3):
            n = lines.size
            t_def, t_cmp, t_pyc, t_all = [], [], [], []
            for _ in range(reps):  # interleaved, so load changes hit every contender alike
                t_def.append(run_memsim(lines, writes, nlev, "default")[0])
                dt, st = run_memsim(lines, writes, nlev, "pycachesim")
                t_cmp.append(dt)
                sim, conv, ref = run_pycachesim(lines, writes, nlev)
                t_pyc.append(sim)
                t_all.append(sim + conv)
            mine = [list(map(int, r[:5])) for r in st[:-1]] + [[int(st[-1, 0]), int(st[-1, 1])]]
            ref = [r[:5] for r in ref[:-1]] + [ref[-1][:2]]
            same = "counters equal" if mine == ref else f"COUNTERS DIFFER {mine} vs {ref}"
            print(f"{name:8} {nlev:>2} {n:>11,} {_rate(n, t_def):>14} {_rate(n, t_cmp):>14} "
                  f"{_rate(n, t_pyc):>14} {_rate(n, t_all):>14} "
                  f"{min(t_pyc) / min(t_def):>5.1f}x   {same}", flush=True)
    # per-call cost as the engine sees it: many small tiles
    lines, writes = traces(0.25)["matmul"]
    for tile in (256, 4096):
        times = []
        m = lines.size // tile * tile
        for _ in range(reps):
            h = hierarchy(3, "default")
            h.access(0, lines[:10], writes[:10])
            h.reset()
            t0 = time.perf_counter()
            for s in range(0, m, tile):
                h.access(0, lines[s:s + tile], writes[s:s + tile])
            times.append(time.perf_counter() - t0)
        print(f"matmul 3 levels in tiles of {tile} lines: {_rate(m, times)} M accesses/s, "
              f"{min(times) / (m // tile) * 1e6:.2f} µs per call (best)", flush=True)
    run_stackdist(reps)


if __name__ == "__main__":
    main()
