"""CPU time of one sweep point in one process (load-independent sweep speed figure).

The engine run of one ``stackdist`` point of configs/sweeps/mobilenet-v2-memory.yaml with
replayed cache counts (memoised preparation and counts, as a sweep worker has them after the
first point of a group), timed with ``time.process_time``: best and median of ``--repeat``.
Wall-clock rates of benchmarks/sweep.py swing with the machine's load; CPU time per point
does much less.

``--sweep``: also the CPU time of the whole 512-point sweep run inline in this process (no
worker processes: expansion, eight preparations, the cache passes, every point, compaction).

Usage: python benchmarks/point_cpu.py [--repeat N] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "configs" / "scenarios" / "front-camera-pi5.yaml"
POINT = ["streams.0.cores=[0]", "streams.0.frames=1", "streams.0.jitter=0 ms",
         "hardware.memory.levels.L2.size=256 KiB", "hardware.memory.levels.L3.size=2 MiB",
         "strategies.compression.weights.format=quant", "strategies.compression.weights.bits=8",
         "strategies.unroll.spatial={K: 16}"]


def main() -> int:
    from memsim.config import load_scenario
    from memsim.sweep import worker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    scenario = load_scenario(BASE, overrides=POINT)
    wanted = worker._llc_wanted([scenario])
    _, method = worker.simulate_point(scenario, True, wanted, tables=False)  # memos warm
    times = []
    for _ in range(args.repeat):
        start = time.process_time()
        _, method = worker.simulate_point(scenario, True, wanted, tables=False)
        times.append(time.process_time() - start)
    out = {"method": method, "best_s": round(min(times), 4),
           "median_s": round(statistics.median(times), 4), "repeat": args.repeat}
    if args.sweep:
        out["sweep_cpu_s"] = round(_sweep_cpu(), 2)
    print(json.dumps(out))
    return 0


def _sweep_cpu() -> float:
    import shutil
    import tempfile

    from memsim.sweep.executors import InlineExecutor
    from memsim.sweep.runner import run_sweep

    out = Path(tempfile.mkdtemp(prefix="memsim-cpu-"))
    try:
        start = time.process_time()
        summary = run_sweep(ROOT / "configs" / "sweeps" / "mobilenet-v2-memory.yaml", out,
                            executor=InlineExecutor(), progress=False)
        assert summary["done"] == 512, summary
        return time.process_time() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
