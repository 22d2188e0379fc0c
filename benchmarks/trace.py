"""Tile-stream generation speed: tiles/s and lines/s for resnet50 and mobilenet_v2.

Usage: python benchmarks/trace.py [CPU.yaml] [NPU.yaml]
Defaults: configs/hardware/raspberry-pi-5.yaml and configs/hardware/coral-edge-tpu.yaml when
present. Prints one line per (network, hardware): mapping time, generation time, tiles, lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from memsim.config import load_hardware
from memsim.mapping import SimpleAddressMap, map_graph
from memsim.workloads import load_network

ROOT = Path(__file__).resolve().parents[1]


def bench(network: str, hw_path: Path) -> dict:
    hw = load_hardware(hw_path)
    graph = load_network(network, batch=1, dtype="int8").fold_batchnorm()
    amap = SimpleAddressMap(graph)
    t0 = time.perf_counter()
    maps = map_graph(graph, hw, amap)
    t1 = time.perf_counter()
    tiles = lines = 0
    for m in maps:
        for t in m.tiles():
            tiles += 1
            lines += t.lines.size
    t2 = time.perf_counter()
    return {"network": network, "hardware": hw.name, "map_s": t1 - t0, "gen_s": t2 - t1,
            "tiles": tiles, "lines": lines}


def main(argv: list[str]) -> None:
    cands = [Path(a) for a in argv] or [ROOT / "configs/hardware/raspberry-pi-5.yaml",
                                        ROOT / "configs/hardware/coral-edge-tpu.yaml"]
    for hw in cands:
        if not hw.exists():
            print(f"skip {hw}: not found")
            continue
        for net in ("resnet50", "mobilenet_v2"):
            r = bench(net, hw)
            total = r["map_s"] + r["gen_s"]
            print(f"{r['network']:13s} {r['hardware']:24s} map {r['map_s']:6.2f} s  "
                  f"tiles {r['gen_s']:6.2f} s  total {total:6.2f} s  {r['tiles']:8,d} tiles "
                  f"({r['tiles'] / total:9,.0f}/s)  {r['lines']:11,d} lines "
                  f"({r['lines'] / total / 1e6:6.1f} M/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
