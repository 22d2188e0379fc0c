"""SHA-256 of every engine result table: shipped scenarios, sweep points and small sweeps.

A refactor that must not change a number (issue 18) records these before and requires them
identical after: ``python benchmarks/result_hashes.py --save before.json`` on the old tree,
``python benchmarks/result_hashes.py --compare before.json`` on the new one (exit 1 on any
difference). Each case hashes the ``summary`` (canonical JSON, floats by ``repr``) and the
``layers``, ``frames``, ``timeline`` and ``memory`` tables (column names, dtypes and
``pandas.util.hash_pandas_object`` of the rows).

Cases:
  * every ``configs/scenarios/*.yaml`` through ``memsim.simulate`` — with fewer frames where a
    scenario is slow (``FRAMES``; bert-i7 takes ≈ 20 s and llm-decode ≈ 37 s per frame);
  * the sweep worker's four methods (``full``, ``prepared``, ``replay``, ``stackdist``) on the
    tests' DS-CNN board and on MobileNetV2 points of ``configs/sweeps/mobilenet-v2-memory.yaml``,
    with full tables;
  * the first points of every ``configs/sweeps/*.yaml`` through ``evaluate_batch`` (the rows a
    sweep stores, without the wall-clock ``seconds``).

Usage: python benchmarks/result_hashes.py [--save FILE] [--compare FILE] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

#: frames per shipped scenario (None: the file's own count)
FRAMES = {"bert-i7": 1, "llm-decode-agx-orin": 1, "front-camera-pi5": 4,
          "resnet50-orin-nano": 2, "two-cameras-display": 3}
#: points per shipped sweep evaluated through evaluate_batch
SWEEP_POINTS = 6
TABLES = ("layers", "frames", "timeline", "memory")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _canon(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))


def _floats(obj):
    """``obj`` with floats as ``repr`` strings, so the JSON holds every bit."""
    if isinstance(obj, dict):
        return {str(k): _floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_floats(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return repr(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def table_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table: columns, dtypes and every row."""
    h = hashlib.sha256()
    h.update(_canon([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    h.update(str(len(frame)).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def result_hashes(result) -> dict:
    """Hash of the summary and of each table of one ``Result``."""
    out = {"summary": hashlib.sha256(_canon(_floats(result.summary)).encode()).hexdigest()}
    for name in TABLES:
        out[name] = table_hash(getattr(result, name))
    return out


def scenario_cases() -> dict:
    import memsim
    from memsim.config import load_scenario

    cases = {}
    for path in sorted((ROOT / "configs" / "scenarios").glob("*.yaml")):
        frames = FRAMES.get(path.stem)
        overrides = [f"streams.{i}.frames={frames}" for i in range(_streams(path))] \
            if frames else []
        start = time.perf_counter()
        scenario = load_scenario(path, overrides=overrides)
        cases[f"scenario:{path.stem}"] = result_hashes(memsim.simulate(scenario))
        print(f"  scenario {path.stem:<24} {time.perf_counter() - start:6.1f} s", flush=True)
    return cases


def _streams(path: Path) -> int:
    from memsim.config import load_scenario

    return len(load_scenario(path).streams)


# the tests' DS-CNN board (tests/sweep_helpers.py): every worker method
WORKER_VARIANTS = [
    [],
    ["hardware.memory.levels.L2.size=16 KiB"],
    ["hardware.memory.dram.bandwidth=1 GB/s"],
    ["hardware.memory.levels.L2.policy=fifo"],          # kernel replay
    ["hardware.memory.levels.L1.policy=random"],        # kernel replay, random policy
    ["strategies.prefetch.depth=0"],
]
MOBILENET_VARIANTS = [
    ["streams.0.cores=[0]", "streams.0.frames=1", "streams.0.jitter=0 ms"],
    ["streams.0.cores=[0]", "streams.0.frames=1", "streams.0.jitter=0 ms",
     "hardware.memory.levels.L2.size=128 KiB", "strategies.compression.weights.format=quant",
     "strategies.compression.weights.bits=4"],
]


def worker_cases() -> dict:
    from sweep_helpers import write_base

    from memsim.config import load_scenario
    from memsim.sweep import worker

    cases = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "one").mkdir()
        (Path(tmp) / "two").mkdir()
        single = write_base(Path(tmp) / "one", frames=2)
        multi = write_base(Path(tmp) / "two", frames=2, cores="[0, 1]")
        groups = [("ds-cnn", single, WORKER_VARIANTS),
                  ("ds-cnn-2core", multi, WORKER_VARIANTS[:2]),
                  ("mobilenet", ROOT / "configs" / "scenarios" / "front-camera-pi5.yaml",
                   MOBILENET_VARIANTS)]
        for label, base, variants in groups:
            scenarios = [load_scenario(base, overrides=o) for o in variants]
            wanted = worker._llc_wanted(scenarios)
            for i, scenario in enumerate(scenarios):
                for reuse in (True, False):
                    result, method = worker.simulate_point(scenario, reuse, wanted)
                    cases[f"worker:{label}:{i}:{'reuse' if reuse else 'full'}"] = {
                        "method": method, **result_hashes(result)}
            print(f"  worker {label} done", flush=True)
    return cases


def sweep_cases() -> dict:
    from memsim.sweep import spec, worker

    cases = {}
    for path in sorted((ROOT / "configs" / "sweeps").glob("*.yaml")):
        sweep = spec.load_sweep(path)
        points = spec.expand(sweep)[:SWEEP_POINTS]
        tasks = [(p.id, p.scenario) for p in points if p.scenario is not None]
        rows = worker.evaluate_batch(tasks, {"files": points[0].files if points else {}})
        for row in rows:
            row.pop("seconds", None)
        cases[f"sweep:{path.stem}"] = hashlib.sha256(_canon(_floats(rows)).encode()).hexdigest()
        print(f"  sweep {path.stem:<26} {[r['method'] for r in rows]}", flush=True)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--only", default="", help="run only case groups containing this")
    args = parser.parse_args()
    start = time.perf_counter()
    cases = {}
    for name, fn in (("scenario", scenario_cases), ("worker", worker_cases),
                     ("sweep", sweep_cases)):
        if args.only in name:
            cases.update(fn())
    print(f"{len(cases)} cases in {time.perf_counter() - start:.1f} s")
    if args.save:
        args.save.write_text(json.dumps(cases, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        diff = sorted(k for k in set(before) | set(cases)
                      if k in cases and k in before and before[k] != cases[k])
        missing = sorted(k for k in before if k not in cases and args.only in k.split(":")[0])
        for key in diff:
            print(f"DIFFERENT {key}: {before[key]} != {cases[key]}")
        for key in missing:
            print(f"MISSING {key}")
        same = sum(1 for k in cases if k in before and before[k] == cases[k])
        print(f"{same} identical, {len(diff)} different, {len(missing)} missing")
        return 1 if diff or missing else 0
    if not args.save:
        print(json.dumps(cases, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
