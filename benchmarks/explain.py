"""Whole-process time of ``memsim explain`` (issue 17 target: ≤ 20 s on front-camera-pi5).

Usage: ``python benchmarks/explain.py [SCENARIO] [--workers N ...] [--repeat R]``. Runs the
command in a fresh process per repeat (imports and numba's cache load included, as a user pays
them) and prints wall time, CPU time of the process and its workers, and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(scenario: Path, workers: int | None) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of one ``memsim explain --json`` run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "memsim", "explain", str(scenario), "--json"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "configs/scenarios/front-camera-pi5.yaml"))
    ap.add_argument("--workers", type=int, action="append", help="worker counts (default: CPU count)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for workers in args.workers or [None]:
        for _ in range(args.repeat):
            load = os.getloadavg()[0]
            wall, cpu = measure(Path(args.scenario), workers)
            label = "cpu count" if workers is None else str(workers)
            print(f"workers={label:>9}  wall {wall:6.1f} s  cpu {cpu:6.1f} s  load {load:.1f} "
                  f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
