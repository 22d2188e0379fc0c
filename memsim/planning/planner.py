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


#: Nominal search speed in work units per second (``search.node_cost`` per node): half of
#: what the shared 2-core machine measured on MiniMalloc's A-K (4-7e8, unloaded); attempt
#: budgets are set in work units so a run that ends before its time limit is deterministic.
WORK_UNITS_PER_S = 2e8


def best_offsets(sizes, starts, ends, time_limit_s: float = DEFAULT_TIME_LIMIT_S, seed: int = 0,
                 capacity: int | None = None) -> tuple[np.ndarray, dict]:
    """The ``best`` search: greedy seeds, then B&B decisions "does everything fit below T?".

    Returns ``(offsets, stats)``; ``stats["improvements"]`` lists ``(seconds, arena)`` each time
    the best arena dropped (the greedy seed first). The result is the smallest arena found,
    never worse than either greedy plan, and the search stops as soon as it equals the lower
    bound (or is proved optimal). Schedule, in rounds: the first target is ``capacity`` if
    given (e.g. the SRAM size) and above the lower bound, else the lower bound; then targets
    bisect between the smallest target not yet given up in this round and the best arena so
    far, in steps of the sizes' gcd (every arena is a multiple of it, so the lower bound rounds
    up to one). An attempt that runs out of work gives its target up for the round; a new round resets
    to the proved lower bound and doubles every budget. Budgets are in work units
    (``WORK_UNITS_PER_S`` times seconds; round 0 gives the first target half of the time limit,
    each bisection step a twentieth; an attempt also stops after 60 % of the time left, a
    safety net that binds only on a machine slower than the nominal rate), so the outcome
    depends on the clock only when the time limit (or that net) cuts it.
    """
    t0 = time.perf_counter()
    deadline = t0 + max(0.0, time_limit_s)
    total = max(0.0, time_limit_s) * WORK_UNITS_PER_S
    lb = lower_bound(sizes, starts, ends)
    seeds = {"greedy-by-size": greedy.greedy_by_size(sizes, starts, ends),
             "greedy-by-breadth": greedy.greedy_by_breadth(sizes, starts, ends)}
    best_name = min(seeds, key=lambda k: arena_of(seeds[k], sizes))
    best = seeds[best_name]
    ub = arena_of(best, sizes)
    stats = {"seed_plan": best_name, "seed_arena": ub, "attempts": [], "proved_optimal": ub == lb,
             "improvements": [(round(time.perf_counter() - t0, 3), int(ub))]}
    # every arena is a sum of sizes, hence a multiple of their gcd g: targets step in units of g
    g = int(np.gcd.reduce(sizes[sizes > 0])) if (sizes > 0).any() else 1
    proven_lo = -(-lb // g) * g
    first = max(proven_lo, capacity // g * g if capacity is not None else proven_lo)
    lo, rnd, attempt, first_done = proven_lo, 0, 0, False
    while ub > proven_lo and time.perf_counter() < deadline:
        if lo >= ub:  # every target of this round given up: next round, doubled budgets
            rnd += 1
            lo, first_done = proven_lo, False
        if not first_done and first < ub:
            target, share = max(first, lo), 0.5
        else:
            target, share = lo + (ub - g - lo) // (2 * g) * g, 0.05
        first_done = True
        now = time.perf_counter()
        # work decides; the clock is a safety net (a machine slower than the nominal rate
        # must still leave time for the bisection fallback)
        status, offs = search.solve(sizes, starts, ends, target, now + 0.6 * (deadline - now),
                                    seed=seed + attempt, max_work=total * share * (1 << rnd))
        stats["attempts"].append({"capacity": int(target),
                                  "status": {1: "found", 0: "infeasible", 2: "gave up"}[status],
                                  "round": rnd, "seconds": round(time.perf_counter() - now, 3)})
        if status == search.FOUND:
            best, ub = offs, arena_of(offs, sizes)
            stats["improvements"].append((round(time.perf_counter() - t0, 3), int(ub)))
        else:  # infeasible (a proof) or out of budget (give up on it this round): go above it
            lo = target + g
            if status == search.EXHAUSTED:
                proven_lo = max(proven_lo, target + g)
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
