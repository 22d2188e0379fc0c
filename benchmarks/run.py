"""Whole-run speed: wall time, simulated events and cache lines per network on the Pi 5 preset.

Usage: python benchmarks/run.py [network ...]   (default: resnet18 resnet50 mobilenet_v2)

Each network runs one frame, int8, batch 1, greedy-by-size plan, prefetch depth 1, through the
full pipeline (graph, plan, mapping, line-accurate 3-level caches, simpy). "cold" is the time to
the end of the first frame, including building the graph, the plan and the tiles; "+1 frame" is
the mean time of each further frame in the same run (tiles memoised). Numba's on-disk cache is warmed first so JIT
compilation is not counted. Run single-threaded (`taskset -c 0` where available).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = """name: bench-{net}
hardware: {hw}
streams:
  - {{network: {net}, dtype: int8, frames: {frames}}}
strategies: {{reuse: {{planner: greedy-by-size}}, prefetch: {{depth: 1}}}}
seed: 0
"""


def run(net: str, frames: int, hw: Path):
    """Simulate ``frames`` frames; return (seconds to each finished frame, result)."""
    import memsim

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(SCENARIO.format(net=net, hw=hw, frames=frames))
        marks = []
        t0 = time.perf_counter()
        result = memsim.simulate(path, progress=lambda done, _t: marks.append(time.perf_counter() - t0))
        return marks, result


def main(argv: list[str]) -> None:
    nets = argv or ["resnet18", "resnet50", "mobilenet_v2"]
    hw = ROOT / "configs" / "hardware" / "raspberry-pi-5.yaml"
    run("person_detect", 1, hw)  # warm numba's cache and imports
    print(f"{'network':14s} {'cold 1 frame s':>15s} {'+1 frame s':>11s} {'tiles':>8s} "
          f"{'lines':>11s} {'sim latency ms':>15s}")
    for net in nets:
        marks, result = run(net, 3, hw)
        first = result.layers[result.layers["frame"] == 0]
        warm = (marks[-1] - marks[0]) / (len(marks) - 1)
        print(f"{net:14s} {marks[0]:15.2f} {warm:11.2f} {int(first['tiles'].sum()):8d} "
              f"{int(first['lines'].sum()):11d} {result.summary['latency_s'] * 1e3:15.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
