"""`memsim replay` end to end against pycachesim 0.3.1 on the same trace and hierarchy.

    python benchmarks/replay.py [--repeats 5] [--n 120] [--tile 24]

Trace: a tiled double GEMM C += A·B (N=120, 24³ tiles, loop order ii jj kk i j k; loads of
A[i,k] and B[k,j] per MAC, a store of C[i,j] after each k tile), 8 B accesses at byte addresses:
3,528,000 accesses, written once as an ``.npz`` (``addr``, ``write``, ``size``). Hierarchy: L1
32 KiB 8-way, L2 1 MiB 16-way, L3 8 MiB 16-way, 64 B lines, LRU, write-back/write-allocate
(``--compat pycachesim`` semantics, so every counter can be compared with pycachesim's).

Three figures per tool, each the best (and median) of ``--repeats`` interleaved runs:
- *replay*: from the trace arrays in memory to the counters. memsim: the ``seconds`` that
  ``memsim replay`` reports (span preparation + cache kernel). pycachesim: its ``loadstore``
  call alone (the numpy → Python list conversion it needs is reported separately, as ``conv``).
- *end to end in process*: memsim ``load_trace`` + ``replay``; pycachesim ``np.load`` + list
  conversion + ``loadstore``.
- *whole process* (``/usr/bin/time``-style wall time of a fresh interpreter): ``memsim replay
  TRACE --hardware HW --compat pycachesim --json`` (the ``memsim`` script beside this Python,
  so run this with a non-editable install's Python for the users' figure) against a script
  that loads the same ``.npz`` and runs pycachesim. Start-up (imports; numba's one-time
  initialisation when it loads the first cached kernel) dominates this figure for memsim.
Counters are checked equal on every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache import LEVELS, LINE, pycachesim_simulator  # noqa: E402  (the same hierarchy)
HW_YAML = """name: replay-bench
compute: {{cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {{fp32: 1}}}}
memory:
  levels:
{levels}
  dram: {{name: dram, bandwidth: 10 GB/s, latency: 100 ns, channels: 1}}
"""
LEVEL_YAML = ("    - {{name: {name}, kind: cache, size: {kib} KiB, line: 64 B, ways: {ways}, "
              "policy: lru, latency: 4 cycles, bandwidth: 32 B/cycle, scope: {scope}}}")
PYC_SCRIPT = """import sys, json, numpy as np
sys.path.insert(0, {bench!r})
from replay import pycachesim_replay
z = np.load(sys.argv[1])
print(json.dumps(pycachesim_replay(z["addr"], z["write"])[2]))
"""


def matmul_trace(n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte addresses (uint64) and write flags of the tiled GEMM described above."""
    nb, e = n // t, 8
    a0, b0, c0 = 0, n * n * e, 2 * n * n * e
    ii, jj, kk, i, j, k = np.meshgrid(*[np.arange(nb)] * 3, *[np.arange(t)] * 3,
                                      indexing="ij", sparse=True)
    row, col, red = ii * t + i, jj * t + j, kk * t + k
    a = np.broadcast_to(a0 + (row * n + red) * e, (nb,) * 3 + (t,) * 3)
    b = np.broadcast_to(b0 + (red * n + col) * e, (nb,) * 3 + (t,) * 3)
    c = np.broadcast_to(c0 + (row * n + col) * e, (nb,) * 3 + (t, t, 1))[..., 0]
    loads = np.stack([a, b], axis=-1).reshape(nb, nb, nb, t, t, 2 * t)
    seq = np.concatenate([loads, c[..., None]], axis=-1).reshape(-1).astype(np.uint64)
    w = np.zeros(2 * t + 1, bool)
    w[-1] = True
    return seq, np.tile(w, seq.size // w.size)


def pycachesim_replay(addr: np.ndarray, write: np.ndarray) -> tuple[float, float, list]:
    """(list conversion s, simulation s, per-level [loads, stores, hits, misses]) in pycachesim."""
    cs = pycachesim_simulator(len(LEVELS))
    t0 = time.perf_counter()
    lst = addr.tolist()
    # program order kept: each run of loads followed by its run of stores
    starts = np.flatnonzero(np.r_[True, (~write[1:]) & write[:-1]])
    ends = np.r_[starts[1:], addr.size]
    pairs = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        nw = int(np.count_nonzero(write[a:b]))
        pairs.append((lst[a:b - nw], lst[b - nw:b]))
    t1 = time.perf_counter()
    cs.loadstore(pairs, length=8)
    t2 = time.perf_counter()
    stats = [[s["LOAD_count"], s["STORE_count"], s["HIT_count"], s["MISS_count"]]
             for s in list(cs.stats())[:len(LEVELS)]]
    return t1 - t0, t2 - t1, stats


def memsim_replay(path: Path, hw) -> tuple[float, float, list]:
    """(load s, reported replay s, per-level [loads, stores, hits, misses]) in memsim."""
    from memsim.cache import Hierarchy
    from memsim.cache.replay import replay
    from memsim.cache.trace import load_trace

    t0 = time.perf_counter()
    trace = load_trace(path)
    t1 = time.perf_counter()
    res = replay(trace, Hierarchy.from_hardware(hw, cores=1, compat="pycachesim"))
    stats = [[r["loads"], r["stores"], r["hits"], r["misses"]] for r in res["levels"]]
    return t1 - t0, res["seconds"], stats


def wall(cmd: list[str]) -> tuple[float, str]:
    """Wall seconds of a fresh process and its stdout."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, out


def fmt(xs: list[float]) -> str:
    return f"{min(xs) * 1e3:8.1f} ({statistics.median(xs) * 1e3:7.1f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--tile", type=int, default=24)
    args = ap.parse_args()
    from memsim.config import load_hardware

    addr, write = matmul_trace(args.n, args.tile)
    with tempfile.TemporaryDirectory() as tmp:
        npz, hw_path, script = Path(tmp, "t.npz"), Path(tmp, "hw.yaml"), Path(tmp, "pyc.py")
        np.savez(npz, addr=addr, write=write, size=np.int64(8))
        lv = "\n".join(LEVEL_YAML.format(name=n, kib=s // 1024, ways=w,
                                         scope="core" if i == 0 else "shared")
                       for i, (n, s, w) in enumerate(LEVELS))
        hw_path.write_text(HW_YAML.format(levels=lv))
        script.write_text(PYC_SCRIPT.format(bench=str(Path(__file__).resolve().parent)))
        hw = load_hardware(hw_path)
        memsim_replay(npz, hw)  # compile or load the numba kernels once
        exe = Path(sys.executable).with_name("memsim")  # the console script users run
        head = [str(exe)] if exe.exists() else [sys.executable, "-m", "memsim"]
        cli = head + ["replay", str(npz), "--hardware", str(hw_path), "--compat", "pycachesim",
                      "--json"]
        wall(cli)
        t = {k: [] for k in ("m_load", "m_rep", "m_e2e", "p_conv", "p_sim", "p_e2e",
                             "m_proc", "p_proc")}
        for _ in range(args.repeats):
            ld, rep, m_stats = memsim_replay(npz, hw)
            t["m_load"].append(ld)
            t["m_rep"].append(rep)
            t["m_e2e"].append(ld + rep)
            t0 = time.perf_counter()
            with np.load(npz) as z:
                a, w = z["addr"], z["write"]
            t_np = time.perf_counter() - t0
            conv, sim, p_stats = pycachesim_replay(a, w)
            t["p_conv"].append(conv)
            t["p_sim"].append(sim)
            t["p_e2e"].append(t_np + conv + sim)
            if m_stats != p_stats:
                raise SystemExit(f"counters differ: memsim {m_stats} pycachesim {p_stats}")
            dt, out = wall(cli)
            t["m_proc"].append(dt)
            cli_stats = [[r["loads"], r["stores"], r["hits"], r["misses"]]
                         for r in json.loads(out)["levels"]]
            dt, out = wall([sys.executable, str(script), str(npz)])
            t["p_proc"].append(dt)
            if cli_stats != json.loads(out):
                raise SystemExit("whole-process counters differ")
    print(f"trace: {addr.size:,} accesses (tiled GEMM N={args.n}, {args.tile}^3 tiles), "
          f"3 levels LRU; ms, best (median) of {args.repeats}; counters equal on every run")
    print(f"{'':28s} {'memsim':>18s} {'pycachesim':>18s} {'ratio':>6s}")
    rows = [("replay (reported / sim)", "m_rep", "p_sim"),
            ("end to end in process", "m_e2e", "p_e2e"),
            ("whole process", "m_proc", "p_proc")]
    for name, m, p in rows:
        print(f"{name:28s} {fmt(t[m])} {fmt(t[p])} {min(t[p]) / min(t[m]):5.2f}x")
    print(f"memsim trace load {fmt(t['m_load'])} ms; pycachesim list conversion "
          f"{fmt(t['p_conv'])} ms")


if __name__ == "__main__":
    main()
