"""Build time of every zoo network (median of 5 builds) and ONNX round-trip time.

Run: ``python benchmarks/workloads.py``. Target (issue 3): every build < 0.5 s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from memsim.workloads import build, list_networks, load_network
from memsim.workloads.importers.onnx_export import export_onnx


def main() -> None:
    print(f"{'network':18s} {'ops':>5s} {'params':>15s} {'GMACs':>9s} {'build_s':>9s} {'onnx_rt_s':>9s}")
    with tempfile.TemporaryDirectory() as d:
        for row in list_networks():
            name = row["name"]
            times = []
            for _ in range(5):
                t = time.perf_counter()
                g = build(name)
                times.append(time.perf_counter() - t)
            p = Path(d) / f"{name}.onnx"
            t = time.perf_counter()
            export_onnx(g, p)
            load_network(p)
            rt = time.perf_counter() - t
            print(f"{name:18s} {len(g.ops):5d} {g.params:15,d} {g.macs / 1e9:9.3f} "
                  f"{statistics.median(times):9.4f} {rt:9.3f}")


if __name__ == "__main__":
    main()
