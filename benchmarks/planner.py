"""Planner benchmark: arena / lower bound / naive and seconds per algorithm, for every MiniMalloc
instance in ../shared/data/minimalloc and every zoo network (int8, batch 1, batch norm folded).

    python benchmarks/planner.py [--time-limit 60] [--instances-only | --networks-only |
                                  --planted-only]

Planted instances (``memsim.planning.planted``: 1 MiB x 4n steps cut into n buffers, guillotine
and pinwheel cuts, seeds 0-2, 50-500 buffers, alignments 1 and 64): ``best`` with the time limit
(30 s in the issue), whether it reaches the planted optimum, the ratio, the seconds (wall)
and the CPU seconds of this process (the machine may be shared).

``best`` on the instances aims at their 1 MiB capacity first (``capacity=1048576``); "best s" is
the whole run (it stops early only at the lower bound), "fit s" when the arena first fitted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from memsim.planning import plan_buffers, plan_graph, read_instances, validate
from memsim.planning.buffers import Buffer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "minimalloc"  # ../shared beside the repo
ALGS = ("none", "greedy-by-size", "greedy-by-breadth", "best")
MIB = 1_048_576


def instances(limit: float) -> None:
    print("| instance | n | lower bound | naive | greedy-by-size | greedy-by-breadth | best | "
          "best / LB | best / greedy | best s | fit s | fits 1 MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(DATA.glob("*.csv")):
        bufs = read_instances(path)
        cap = int(path.name.split(".")[1]) if path.name.count(".") == 2 else None
        res = {}
        for alg in ALGS:
            t0 = time.perf_counter()
            plan = plan_buffers(bufs, alg, time_limit_s=limit, capacity=cap)
            validate(bufs, plan)
            res[alg] = (plan.arena_bytes, time.perf_counter() - t0, plan)
        lb = res["best"][2].lower_bound_bytes
        greedy = min(res["greedy-by-size"][0], res["greedy-by-breadth"][0])
        best = res["best"][0]
        # seconds until the arena first fitted the capacity ("-" if it never did)
        fit = next((f"{s:.2f}" for s, arena in res["best"][2].stats.get("improvements", [])
                    if cap is not None and arena <= cap), "-")
        print(f"| {path.stem.split('.')[0]} | {len(bufs)} | {lb:,} | {res['none'][0]:,} | "
              f"{res['greedy-by-size'][0]:,} ({res['greedy-by-size'][1]:.3f} s) | "
              f"{res['greedy-by-breadth'][0]:,} | {best:,} | {best / lb:.4f} | "
              f"{best / greedy:.4f} | {res['best'][1]:.2f} | {fit} | "
              f"{'yes' if cap is not None and best <= cap else 'no'} |", flush=True)


def planted(limit: float) -> None:
    from memsim.planning.planted import planted_instance

    print("| kind | n | seed | alignment | optimum | best | best / optimum | best s | cpu s |")
    print("|---|---|---|---|---|---|---|---|---|")
    worst = (0.0, None)
    reached, cpu_total = 0, 0.0
    for granule in (1, 64):
        for kind in ("guillotine", "pinwheel"):
            for n in (50, 100, 200, 300, 500):
                for seed in (0, 1, 2):
                    inst = planted_instance(n, seed, kind, granule=granule, slack=granule > 1)
                    t0, c0 = time.perf_counter(), time.process_time()
                    plan = plan_buffers(inst.buffers, "best", time_limit_s=limit,
                                        alignment=granule)
                    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
                    reached += plan.arena_bytes == inst.capacity
                    cpu_total += cpu
                    validate([Buffer(b.id, -(-b.size // granule) * granule, b.start, b.end)
                              for b in inst.buffers], plan)
                    worst = max(worst, (sec, (kind, n, seed, granule)))
                    print(f"| {kind} | {n} | {seed} | {granule} | {inst.capacity:,} | "
                          f"{plan.arena_bytes:,} | {plan.arena_bytes / inst.capacity:.4f} | "
                          f"{sec:.2f} | {cpu:.2f} |", flush=True)
    print(f"\n{reached} of 60 at the optimum; worst case: {worst[0]:.2f} s on {worst[1]}; "
          f"CPU {cpu_total:.1f} s in all")


def networks(limit: float) -> None:
    from memsim.workloads import build, list_networks

    print("| network | alignment | buffers | lower bound | naive | greedy-by-size | "
          "greedy-by-breadth | best | gbs s | best s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for info in list_networks():
        name = info["name"]
        try:
            g = build(name, 1, "int8").fold_batchnorm()
        except Exception as err:  # noqa: BLE001 - a network that needs parameters
            print(f"| {name} | skipped: {type(err).__name__}: {err} |")
            continue
        for alignment in (1, 64):
            res = {}
            for alg in ALGS:
                t0 = time.perf_counter()
                mp = plan_graph(g, alg, alignment=alignment, time_limit_s=limit)
                validate([Buffer(b.id, -(-b.size // alignment) * alignment, b.start, b.end)
                          for b in mp.buffers], mp.plan)
                res[alg] = (mp.arena_bytes, time.perf_counter() - t0, mp)
            mp = res["greedy-by-size"][2]
            print(f"| {name} | {alignment} | {len(mp.buffers)} | {mp.lower_bound_bytes:,} | "
                  f"{mp.naive_bytes:,} | {res['greedy-by-size'][0]:,} | "
                  f"{res['greedy-by-breadth'][0]:,} | {res['best'][0]:,} | "
                  f"{res['greedy-by-size'][1]:.3f} | {res['best'][1]:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per best run")
    ap.add_argument("--instances-only", action="store_true")
    ap.add_argument("--networks-only", action="store_true")
    ap.add_argument("--planted-only", action="store_true")
    args = ap.parse_args()
    if args.planted_only:
        planted(args.time_limit)
        return
    if not args.networks_only:
        instances(args.time_limit)
    if not args.instances_only:
        print()
        networks(min(args.time_limit, 10.0))


if __name__ == "__main__":
    main()
