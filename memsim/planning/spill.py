"""Planning under a capacity: which activation buffers spill to DRAM when the arena does not fit.

Every buffer either stays in the on-chip arena (``[0, capacity)``) or *spills*: it lives in
DRAM for its whole lifetime, so its producer writes it there once and every op that reads it
reads it from there once. Its extra DRAM traffic is therefore ``size x (writes + reads)``
(``spill_traffic``), the cost TFLM-class deployments pay for a tensor placed in external RAM
(e.g. TFLite Micro's non-persistent arena in PSRAM on an ESP32-S3). The buffers that stay must
plan within the capacity.

Two choosers, both followed by the same planner:

- ``least-traffic``: a weighted covering. Every step whose live bytes exceed the capacity needs
  that excess spilled from its live buffers; buffers are picked greedily by cost per byte of
  excess they remove (Chvatal's greedy for weighted set cover, 1979), then spills that are no
  longer needed are dropped again, most expensive first (reverse delete);
- ``largest-first``: the largest buffers first (ties: earliest, then id), the usual manual
  remedy and the baseline.

Then the remaining buffers are planned (``best`` aiming at the capacity); while the arena still
exceeds it (fragmentation above the live-bytes bound), the cheapest buffer per byte that reaches
above the capacity spills as well.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from memsim.planning.buffers import Buffer, Plan, as_arrays, sections, section_totals
from memsim.planning.planner import DEFAULT_TIME_LIMIT_S, align_up, plan_buffers

CHOOSERS = ("least-traffic", "largest-first")


class SpillPlan(NamedTuple):
    """The outcome of planning within ``capacity`` bytes: the on-chip ``plan`` of the kept
    buffers (``plan.arena_bytes <= capacity``), the ``spilled`` buffer ids, and the extra DRAM
    bytes per run of the graph their traffic costs (``traffic_bytes``)."""

    plan: Plan
    spilled: tuple
    traffic_bytes: int
    capacity: int


def spill_traffic(graph, members: dict, buffers: Sequence[Buffer]) -> dict:
    """Extra DRAM bytes per buffer if it spills: its size times the ops that write it plus the
    ops that read it (each op counted once per buffer), less one copy for a graph input or
    output: kept on chip it is copied in from (out to) the host memory once per run anyway
    (``engine.residency.host_io``), spilled it is read (written) there directly."""
    writes: dict = {}
    reads: dict = {}
    for op in graph.ops:
        for name in dict.fromkeys(op.inputs):
            if name in members:
                reads[members[name]] = reads.get(members[name], 0) + 1
        for name in dict.fromkeys(op.outputs):
            if name in members:
                writes[members[name]] = writes.get(members[name], 0) + 1
    io = {members[t] for t in (*graph.inputs, *graph.outputs) if t in members}
    return {b.id: int(b.size) * max(0, writes.get(b.id, 0) + reads.get(b.id, 0) - (b.id in io))
            for b in buffers}


def choose_spills(buffers: Sequence[Buffer], cost: dict, capacity: int,
                  chooser: str = "least-traffic", alignment: int = 1) -> set:
    """Buffer ids to spill so that no step has more than ``capacity`` live bytes (sizes rounded
    up to ``alignment``): for ``largest-first`` the largest buffers live at an over-full step,
    for ``least-traffic`` a set of small total ``cost`` (greedy plus reverse delete; not proved
    optimal)."""
    if chooser not in CHOOSERS:
        raise ValueError(f"unknown spill chooser {chooser!r}; expected one of {', '.join(CHOOSERS)}")
    if not buffers:
        return set()
    sizes, starts, ends = as_arrays(buffers)
    sizes = align_up(sizes, alignment)
    lo, hi, m = sections(starts, ends)
    excess = np.maximum(section_totals(sizes, lo, hi, m) - capacity, 0)
    spilled: list[int] = []
    order = sorted(range(len(buffers)), key=lambda i: (-sizes[i], starts[i], str(buffers[i].id)))
    while excess.max(initial=0) > 0:
        if chooser == "largest-first":
            pick = next(i for i in order if i not in spilled and excess[lo[i]:hi[i]].max() > 0)
        else:
            pick = _cheapest_cover(sizes, lo, hi, excess, [cost[b.id] for b in buffers], spilled)
        spilled.append(pick)
        excess[lo[pick]:hi[pick]] = np.maximum(excess[lo[pick]:hi[pick]] - sizes[pick], 0)
    if chooser == "least-traffic":
        spilled = _reverse_delete(sizes, lo, hi, m, capacity, spilled,
                                  [cost[b.id] for b in buffers])
    return {buffers[i].id for i in spilled}


def _cheapest_cover(sizes, lo, hi, excess, cost, spilled) -> int:
    """The unspilled buffer of least cost per byte of excess it removes (ties: lower index)."""
    best, ratio = -1, float("inf")
    taken = set(spilled)
    for i in range(sizes.size):
        if i in taken:
            continue
        gain = int(np.minimum(excess[lo[i]:hi[i]], sizes[i]).sum())
        if gain > 0 and cost[i] / gain < ratio:
            best, ratio = i, cost[i] / gain
    return best


def _reverse_delete(sizes, lo, hi, m, capacity, spilled, cost) -> list[int]:
    """Drop spills, most expensive first, as long as every step stays within ``capacity``."""
    keep = np.ones(sizes.size, dtype=bool)
    keep[spilled] = False
    for i in sorted(spilled, key=lambda i: (-cost[i], i)):
        keep[i] = True
        live = section_totals(sizes[keep], lo[keep], hi[keep], m)
        if live.max(initial=0) > capacity:
            keep[i] = False
    return [i for i in spilled if not keep[i]]


def plan_within(buffers: Sequence[Buffer], cost: dict, capacity: int,
                chooser: str = "least-traffic", algorithm: str = "best", alignment: int = 1,
                time_limit_s: float = DEFAULT_TIME_LIMIT_S, seed: int = 0) -> SpillPlan:
    """Spill what ``chooser`` picks, plan the rest with ``algorithm`` within ``capacity``, and
    spill more (cheapest per byte among the buffers reaching above the capacity) until the
    arena fits. The plan covers the kept buffers only."""
    spilled = choose_spills(buffers, cost, capacity, chooser, alignment)
    while True:
        kept = [b for b in buffers if b.id not in spilled]
        plan = plan_buffers(kept, algorithm, time_limit_s=time_limit_s, alignment=alignment,
                            seed=seed, capacity=capacity)
        if plan.arena_bytes <= capacity:
            break
        ends = np.array([plan.offsets[b.id] for b in kept]) + align_up(
            np.array([b.size for b in kept]), max(1, alignment))
        over = [b for b, end in zip(kept, ends.tolist()) if end > capacity]
        spilled.add(min(over, key=lambda b: (cost[b.id] / max(b.size, 1), str(b.id))).id)
    ids = tuple(b.id for b in buffers if b.id in spilled)
    return SpillPlan(plan, ids, int(sum(cost[i] for i in ids)), int(capacity))
