"""Sweep throughput: points per minute of configs/sweeps/mobilenet-v2-memory.yaml (512 points).

Measures (each into a fresh directory, so nothing is skipped):
  1. 2 local worker processes with reuse (memoised graphs/plans/mappings, replayed cache counts,
     stack distances) — the target is ≥ 500 points/min on 2 cores;
  2. 2 local worker processes without reuse (every point through ``memsim.simulate``), on a
     subset (``--baseline-points``) because it is slow;
  3. a Dask LocalCluster on 127.0.0.1 with 1 and with 2 workers, with reuse.

Usage: python benchmarks/sweep.py [--points N] [--baseline-points N] [--skip-dask]
Prints one line per configuration and a JSON object at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "configs" / "sweeps" / "mobilenet-v2-memory.yaml"


def _subset(n: int | None):
    from memsim.sweep.spec import load_sweep

    sweep = load_sweep(SPEC)
    if n is None:
        return sweep
    # keep whole groups: trim the outermost grid axes until at most n points remain
    grid = dict(sweep.grid)
    keys = list(grid)
    i = 0
    while sweep.points > n and i < len(keys):
        key = keys[i]
        if len(grid[key]) > 1:
            grid[key] = grid[key][:max(1, len(grid[key]) // 2)]
            sweep = sweep.model_copy(update={"grid": grid})
        else:
            i += 1
    return sweep


def measure(label: str, sweep, **kwargs) -> dict:
    from memsim.sweep.runner import run_sweep

    out = Path(tempfile.mkdtemp(prefix="memsim-bench-"))
    try:
        start = time.perf_counter()
        summary = run_sweep(sweep, out, progress=False, **kwargs)
        seconds = time.perf_counter() - start
    finally:
        import pandas as pd

        table = pd.read_parquet(out / "results.parquet") if (out / "results.parquet").exists() \
            else None
        shutil.rmtree(out, ignore_errors=True)
    methods = table["method"].value_counts().to_dict() if table is not None else {}
    rate = summary["done"] / seconds * 60
    row = {"config": label, "points": summary["points"], "done": summary["done"],
           "failed": summary["failed"], "seconds": round(seconds, 2),
           "points_per_min": round(rate, 1), "methods": methods}
    print(f"{label:<38} {summary['done']:>4} points in {seconds:7.1f} s = {rate:7.1f} points/min "
          f"(failed {summary['failed']}; {methods})", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=None, help="subset size (default all 512)")
    parser.add_argument("--baseline-points", type=int, default=64)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    sweep = _subset(args.points)
    rows = [measure("local, 2 workers, reuse", sweep, workers=2)]
    rows.append(measure("local, 2 workers, no reuse", _subset(args.baseline_points),
                        workers=2, reuse=False))
    if not args.skip_dask:
        rows.append(measure("dask LocalCluster, 1 worker, reuse", sweep, dask_local=1))
        rows.append(measure("dask LocalCluster, 2 workers, reuse", sweep, dask_local=2))
    print(json.dumps({"benchmark": "sweep", "spec": str(SPEC), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
