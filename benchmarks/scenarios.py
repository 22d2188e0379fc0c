"""Whole-process time of every shipped scenario (issue 15: each ≤ 5 s) and of a Llama-3-8B
decode step at a 4k context on a Jetson AGX Orin (≤ 2 s).

Each case runs ``python -m memsim run SCENARIO --no-save --json`` as its own process under
``/usr/bin/time`` (wall, user CPU and peak RSS of the whole process: imports, preparation,
numba's cached kernels, the simulation, printing), ``--runs K`` times, and reports the medians.
``--per-tile`` adds the same runs with ``memsim run --per-tile`` (the engine without its fast
path, docs/model.md "Event granularity") and the latency of both, which must agree.

Usage: python benchmarks/scenarios.py [--runs K] [--only SUBSTRING] [--per-tile]
Recorded figures: docs/benchmarks.md, "Shipped scenarios whole process".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "configs" / "scenarios"
TIME = "/usr/bin/time"

#: the issue's extra case: one Llama-3-8B decode step at a 4k context (fp16) on AGX Orin
LLAMA8B = """\
name: llama8b-decode-orin
hardware: {hardware}
streams:
  - network: llama-8b
    phase: decode
    context: 4096
    dtype: fp16
    frames: 1
strategies:
  reuse: {{planner: greedy-by-size}}
  prefetch: {{depth: 1}}
seed: 0
"""


def cases(tmp: Path, only: str | None) -> list[tuple[str, Path]]:
    """(name, scenario path) of every shipped scenario and the Llama-3-8B step."""
    out = [(p.stem, p) for p in sorted(SCENARIOS.glob("*.yaml"))]
    llama = tmp / "llama8b-decode-orin.yaml"
    llama.write_text(LLAMA8B.format(
        hardware=ROOT / "configs" / "hardware" / "jetson-agx-orin-64gb.yaml"))
    out.append(("llama8b-decode-orin", llama))
    return [c for c in out if only is None or only in c[0]]


def run_once(path: Path, per_tile: bool) -> dict:
    """One whole process: wall s, user s, peak RSS MiB and the run's latency."""
    cmd = [sys.executable, "-m", "memsim", "run", str(path), "--no-save", "--json"]
    if per_tile:
        cmd.append("--per-tile")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stamp:
        proc = subprocess.run([TIME, "-o", stamp.name, "-f", "%e %U %M", *cmd],
                              capture_output=True, text=True, cwd=ROOT)
        wall, user, rss = stamp.read().split()[-3:]
    if proc.returncode != 0:
        raise RuntimeError(f"{path.name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout)
    return {"wall": float(wall), "user": float(user), "rss": int(rss) / 1024,
            "latency": out.get("latency_s"), "dram": out.get("dram_bytes")}


def measure(path: Path, runs: int, per_tile: bool) -> dict:
    rows = [run_once(path, per_tile) for _ in range(runs)]
    return {"wall": statistics.median(r["wall"] for r in rows),
            "user": statistics.median(r["user"] for r in rows),
            "rss": statistics.median(r["rss"] for r in rows),
            "latency": rows[0]["latency"], "dram": rows[0]["dram"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per case (median)")
    parser.add_argument("--only", help="cases whose name contains this")
    parser.add_argument("--per-tile", action="store_true", help="also time memsim run --per-tile")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        head = f"{'scenario':24} {'wall s':>7} {'user s':>7} {'RSS MiB':>8} {'latency s':>12}"
        if args.per_tile:
            head += f" {'per-tile wall':>13} {'user':>7} {'latency s':>12}"
        print(head)
        for name, path in cases(Path(tmp), args.only):
            fast = measure(path, args.runs, False)
            line = (f"{name:24} {fast['wall']:7.2f} {fast['user']:7.2f} {fast['rss']:8.0f} "
                    f"{fast['latency']:12.6g}")
            if args.per_tile:
                slow = measure(path, args.runs, True)
                line += f" {slow['wall']:13.2f} {slow['user']:7.2f} {slow['latency']:12.6g}"
                if slow["dram"] != fast["dram"]:
                    line += "  DRAM BYTES DIFFER"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
