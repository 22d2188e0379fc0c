"""``plan_buffers``: run one named planner over plain buffers and return a validated ``Plan``."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from memsim.planning import greedy, search
from memsim.planning.buffers import Buffer, Plan, as_arrays, lower_bound

ALGORITHMS = ("none", "greedy-by-size", "greedy-by-breadth", "best")
DEFAULT_TIME_LIMIT_S = 10.0


def align_up(sizes: np.ndarray, alignment: int) -> np.ndarray:
    """Round every size up to a multiple of ``alignment`` (>= 1) bytes. Offsets are then
    multiples of the alignment too, because every planner stacks sizes from 0."""
    if alignment <= 1:
        return sizes.copy()
    return (sizes + alignment - 1) // alignment * alignment


def arena_of(offsets, sizes) -> int:
    """``max(offset + size)`` (0 for no buffers)."""
    return int((offsets + sizes).max()) if sizes.size else 0


def best_offsets(sizes, starts, ends, time_limit_s: float = DEFAULT_TIME_LIMIT_S, seed: int = 0,
                 capacity: int | None = None) -> tuple[np.ndarray, dict]:
    """The ``best`` search: greedy seeds, then B&B decisions at shrinking capacities.

    Returns ``(offsets, stats)``. The result is the smallest arena found, never worse than either
    greedy plan, and stops as soon as it equals the lower bound. Schedule: one attempt at the
    lower bound (or at ``capacity`` if given and larger, e.g. a target SRAM size) with half of
    the time, then bisection between the bound and the best arena so far. Each attempt is a
    restarting B&B (``search.solve``) seeded with ``seed + attempt``.
    """
    t0 = time.perf_counter()
    deadline = t0 + max(0.0, time_limit_s)
    lb = lower_bound(sizes, starts, ends)
    seeds = {"greedy-by-size": greedy.greedy_by_size(sizes, starts, ends),
             "greedy-by-breadth": greedy.greedy_by_breadth(sizes, starts, ends)}
    best_name = min(seeds, key=lambda k: arena_of(seeds[k], sizes))
    best = seeds[best_name]
    ub = arena_of(best, sizes)
    stats = {"seed_plan": best_name, "seed_arena": ub, "attempts": [], "proved_optimal": ub == lb}
    lo, proven_lo = lb, lb
    attempt = 0
    while ub > lo and time.perf_counter() < deadline:
        now = time.perf_counter()
        if attempt == 0:
            target = min(max(lb, capacity if capacity is not None else lb), ub - 1)
            budget_end = now + (deadline - now) / 2.0
        else:
            target = lo + (ub - 1 - lo) // 2
            budget_end = now + max((deadline - now) / 3.0, min(deadline - now, 0.5))
        status, offs = search.solve(sizes, starts, ends, target, min(budget_end, deadline),
                                    seed=seed + attempt)
        stats["attempts"].append({"capacity": int(target),
                                  "status": {1: "found", 0: "infeasible", 2: "timeout"}[status],
                                  "seconds": round(time.perf_counter() - now, 3)})
        if status == search.FOUND:
            best, ub = offs, arena_of(offs, sizes)
        else:  # infeasible (a proof) or timed out (give up on this capacity): search above it
            lo = target + 1
            if status == search.EXHAUSTED:
                proven_lo = target + 1
        attempt += 1
    stats["proved_optimal"] = ub <= proven_lo
    stats["proven_lower_bound"] = int(min(proven_lo, ub))
    return best, stats


def plan_arrays(sizes, starts, ends, algorithm: str = "greedy-by-size",
                time_limit_s: float = DEFAULT_TIME_LIMIT_S, seed: int = 0,
                capacity: int | None = None) -> tuple[np.ndarray, dict]:
    """Offsets for int64 arrays (sizes already aligned) by ``algorithm`` (see ``ALGORITHMS``)."""
    if algorithm == "none":
        return greedy.no_reuse(sizes, starts, ends), {}
    if algorithm == "greedy-by-size":
        return greedy.greedy_by_size(sizes, starts, ends), {}
    if algorithm == "greedy-by-breadth":
        return greedy.greedy_by_breadth(sizes, starts, ends), {}
    if algorithm == "best":
        return best_offsets(sizes, starts, ends, time_limit_s, seed, capacity)
    raise ValueError(f"unknown planner {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")


def plan_buffers(buffers: Sequence[Buffer], algorithm: str = "greedy-by-size",
                 time_limit_s: float = DEFAULT_TIME_LIMIT_S, alignment: int = 1,
                 seed: int = 0, capacity: int | None = None) -> Plan:
    """Plan ``buffers`` with ``algorithm`` (``none``, ``greedy-by-size``, ``greedy-by-breadth``,
    ``best``); sizes are rounded up to ``alignment`` bytes (offsets are then aligned) and the
    arena, lower bound and naive sum are over those rounded sizes. ``time_limit_s`` bounds
    ``best`` only; ``capacity`` (bytes, optional) is the first arena ``best`` aims for (e.g. the
    SRAM size) before bisecting down to the lower bound. Deterministic for a given seed unless
    ``best`` is cut short by the clock.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown planner {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    if alignment < 1:
        raise ValueError(f"alignment must be >= 1 (got {alignment})")
    t0 = time.perf_counter()
    sizes, starts, ends = as_arrays(buffers)
    sizes = align_up(sizes, alignment)
    offs, stats = plan_arrays(sizes, starts, ends, algorithm, time_limit_s, seed, capacity)
    plan = Plan(offsets={b.id: int(o) for b, o in zip(buffers, offs)},
                arena_bytes=arena_of(offs, sizes),
                lower_bound_bytes=lower_bound(sizes, starts, ends),
                naive_bytes=int(sizes.sum()), algorithm=algorithm,
                seconds=time.perf_counter() - t0, alignment=alignment, stats=stats)
    return plan
