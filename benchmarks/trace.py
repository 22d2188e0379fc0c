"""Tile-stream generation speed: tiles/s and lines/s for resnet50 and mobilenet_v2.

Usage: python benchmarks/trace.py [--repeat N] [CPU.yaml] [NPU.yaml]
Defaults: configs/hardware/raspberry-pi-5.yaml and configs/hardware/coral-edge-tpu.yaml when
present. First prints the one-time cost of loading the compiled numba footprint kernel (per
process, from numba's on-disk cache; compiling on the very first run takes longer). Then one
line per (network, hardware): mapping time, then the generation time of every tile's line array
over N repeats (best and median; the machine is shared, so take the best as the figure), tiles,
lines and rates at the best time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from memsim.config import load_hardware
from memsim.mapping import SimpleAddressMap, map_graph
from memsim.workloads import load_network

ROOT = Path(__file__).resolve().parents[1]


def load_kernels() -> float:
    """Seconds to load (or compile) the numba footprint kernel: paid once per process."""
    import numpy as np

    from memsim.mapping._kernels import footprint_lines_kernel

    t0 = time.perf_counter()
    footprint_lines_kernel(np.array([1, 0, 8, 1, 1, 0, 1], np.int64),
                           np.array([[0, 8]], np.int64), 0, 8.0, 8, 64)
    return time.perf_counter() - t0


def bench(network: str, hw_path: Path, repeat: int = 1) -> dict:
    hw = load_hardware(hw_path)
    graph = load_network(network, batch=1, dtype="int8").fold_batchnorm()
    amap = SimpleAddressMap(graph)
    t0 = time.perf_counter()
    maps = map_graph(graph, hw, amap)
    map_s = time.perf_counter() - t0
    gen = []
    for _ in range(repeat):
        tiles = lines = 0
        t1 = time.perf_counter()
        for m in maps:
            for t in m.tiles():
                tiles += 1
                lines += t.lines.size
        gen.append(time.perf_counter() - t1)
    return {"network": network, "hardware": hw.name, "map_s": map_s, "gen_s": min(gen),
            "gen_median_s": statistics.median(gen), "tiles": tiles, "lines": lines}


def main(argv: list[str]) -> None:
    repeat = 1
    if argv[:1] == ["--repeat"]:
        repeat, argv = int(argv[1]), argv[2:]
    cands = [Path(a) for a in argv] or [ROOT / "configs/hardware/raspberry-pi-5.yaml",
                                        ROOT / "configs/hardware/coral-edge-tpu.yaml"]
    print(f"numba kernel load {load_kernels():.2f} s (once per process)")
    for hw in cands:
        if not hw.exists():
            print(f"skip {hw}: not found")
            continue
        for net in ("resnet50", "mobilenet_v2"):
            r = bench(net, hw, repeat)
            gen = r["gen_s"]
            print(f"{r['network']:13s} {r['hardware']:24s} map {r['map_s']:6.2f} s  "
                  f"tiles {gen:6.2f} s (median {r['gen_median_s']:5.2f} s of {repeat})  "
                  f"{r['tiles']:8,d} tiles ({r['tiles'] / gen:9,.0f}/s)  {r['lines']:11,d} lines "
                  f"({r['lines'] / gen / 1e6:6.1f} M/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
