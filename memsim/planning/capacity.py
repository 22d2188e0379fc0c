"""Planning under a capacity: spill (``planning.spill``) or split (``planning.split``), compared.

``capacity_options`` plans a graph whose activations exceed ``capacity`` bytes of on-chip memory
every way this package knows, each a ``CapacityOption``:

- ``spill least-traffic`` and ``spill largest-first`` (when the backing store is writable):
  the graph unchanged, the spilled tensors' DRAM traffic its cost;
- ``split``: row bands chosen by ``choose_split``, the graph rewritten; its cost is the
  recomputed MACs and the weights re-read. When the planner's arena of the split graph exceeds
  the capacity though its live bytes do not (fragmentation), greedy by breadth and then
  ``best`` (2 s; kept only if it reaches the lower bound: no clock dependence) plan it; failing
  those, the split is chosen again for a capacity lowered by
  the excess (at most ``SPLIT_ROUNDS`` times); what still does not fit spills
  (``split + spill``) when the backing store is writable.

``best_option`` takes the one that fits with the least estimated extra time (``SplitCosts``:
MACs at the peak rate, DRAM bytes at the DRAM bandwidth), ties in the order above.
"""

from __future__ import annotations

from typing import NamedTuple

from memsim.planning.graph import MemoryPlan, plan_graph
from memsim.planning.spill import CHOOSERS
from memsim.planning.split import ZERO, SplitChoice, SplitCosts, choose_split

#: split choices with a capacity lowered by the planner's fragmentation, at most
SPLIT_ROUNDS = 4
#: planners tried on a split graph whose arena the configured one leaves above the capacity
FALLBACK_PLANNERS = ("greedy-by-breadth", "best")
#: time limit of the ``best`` fallback (seconds; it stops as soon as it reaches the bound)
FALLBACK_TIME_S = 2.0
#: what ``reuse.split`` accepts: compare every option (``auto``) or spill only (``off``)
SPLIT_MODES = ("auto", "off")


class CapacityOption(NamedTuple):
    """One way to run a graph within ``capacity``: the (maybe split) ``graph``, its ``plan``,
    the ``split`` choice (None: not split) and whether the on-chip part fits."""

    name: str
    graph: object
    plan: MemoryPlan
    split: SplitChoice | None
    capacity: int

    @property
    def onchip_bytes(self) -> int:
        """Bytes of the arena on chip: below the spilled buffers, or all of it."""
        return self.plan.arena_bytes if self.plan.onchip_bytes is None else self.plan.onchip_bytes

    @property
    def fits(self) -> bool:
        """The on-chip part within the capacity."""
        return self.onchip_bytes <= self.capacity

    @property
    def spill_bytes(self) -> int:
        """Extra DRAM bytes per run of the spilled tensors."""
        return int(self.plan.spill_traffic_bytes)

    @property
    def extra_macs(self) -> int:
        """MACs recomputed per run (the split's halos)."""
        return (self.split.cost if self.split else ZERO).extra_macs

    @property
    def extra_weight_bytes(self) -> int:
        """Weight bytes re-read per run (every band reads the segment's weights)."""
        return (self.split.cost if self.split else ZERO).extra_weight_bytes

    @property
    def extra_input_bytes(self) -> int:
        """Halo rows of the segments' inputs read again per run (on chip)."""
        return (self.split.cost if self.split else ZERO).extra_input_bytes

    def seconds(self, costs: SplitCosts) -> float:
        """Estimated extra time per run: recomputed MACs, spilled and re-read weight bytes."""
        return (self.extra_macs * costs.seconds_per_mac
                + (self.spill_bytes + self.extra_weight_bytes) * costs.seconds_per_byte)

    def record(self, costs: SplitCosts) -> dict:
        """The option as plain data (``memsim plan --json``)."""
        return {"option": self.name, "fits": self.fits, "onchip_bytes": self.onchip_bytes,
                "spilled": len(self.plan.spilled), "spill_traffic_bytes": self.spill_bytes,
                "extra_macs": self.extra_macs, "extra_weight_bytes": self.extra_weight_bytes,
                "extra_input_bytes": self.extra_input_bytes,
                "segments": [list(s) for s in (self.split.segments if self.split else ())],
                "extra_seconds": self.seconds(costs)}


def capacity_options(graph, capacity: int, costs: SplitCosts, spill_ok: bool = True,
                     split: str = "auto", choosers=CHOOSERS, **plan_args) -> list[CapacityOption]:
    """Every option for ``graph`` within ``capacity`` (module docstring): a spill per chooser
    in ``choosers`` when ``spill_ok``, the split unless ``split`` is ``off``; ``plan_args`` go
    to ``plan_graph`` (algorithm, alignment, time limit, size hook, in place, seed)."""
    out = []
    if spill_ok:
        for chooser in choosers:
            mp = plan_graph(graph, capacity=capacity, spill=chooser, **plan_args)
            out.append(CapacityOption(f"spill {chooser}", graph, mp, None, capacity))
    if split == "auto":
        out.append(_split_option(graph, capacity, costs, spill_ok, plan_args))
    return out


def _split_option(graph, capacity, costs, spill_ok, plan_args) -> CapacityOption:
    """The split option: segments chosen for the capacity; when the configured planner's arena
    of the split graph exceeds it though its live bytes do not (fragmentation), the other
    planners (``FALLBACK_PLANNERS``) plan it; if none fits, the split is chosen again for the
    capacity lowered by the excess (at most ``SPLIT_ROUNDS`` choices). What still does not fit
    spills (least traffic) when allowed."""
    target, rounds = capacity, []
    align = plan_args.get("alignment", 64)
    hook, inplace = plan_args.get("tensor_bytes"), plan_args.get("inplace", True)
    for _ in range(SPLIT_ROUNDS):
        choice = choose_split(graph, target, costs, align, hook, inplace)
        if not choice.segments:
            break
        mp = _plan_fitting(choice.graph, capacity, plan_args)
        rounds.append((choice, mp))
        if mp.arena_bytes <= capacity:
            break
        target -= mp.arena_bytes - capacity
    if not rounds:
        mp = plan_graph(graph, **plan_args)
        return CapacityOption("split (no segment fits)", graph, mp, None, capacity)
    choice, mp = min(rounds, key=lambda r: (r[1].arena_bytes > capacity, r[0].cost.seconds(costs),
                                            r[1].arena_bytes))
    if mp.arena_bytes > capacity and spill_ok:
        mp = plan_graph(choice.graph, capacity=capacity, spill="least-traffic", **plan_args)
    return CapacityOption("split + spill" if mp.spilled else "split", choice.graph, mp, choice,
                          capacity)


def _plan_fitting(graph, capacity, plan_args) -> MemoryPlan:
    """The plan of ``graph`` by the configured planner, or by the first of
    ``FALLBACK_PLANNERS`` that fits ``capacity`` when it does not (and the live bytes would);
    ``best`` counts only when it reaches the lower bound, so the result stays deterministic."""
    mp = plan_graph(graph, **plan_args)
    if mp.arena_bytes <= capacity or mp.lower_bound_bytes > capacity:
        return mp
    for algorithm in FALLBACK_PLANNERS:
        if algorithm == plan_args.get("algorithm"):
            continue
        args = dict(plan_args, algorithm=algorithm, capacity=capacity)
        if algorithm == "best":
            args["time_limit_s"] = min(args.get("time_limit_s", FALLBACK_TIME_S), FALLBACK_TIME_S)
        other = plan_graph(graph, **args)
        # best's plan is kept only when it reached the bound: then it stopped before its time
        # limit, so it does not depend on the clock (planning.planner.plan_buffers)
        if other.arena_bytes <= capacity and (algorithm != "best"
                                              or other.arena_bytes == other.lower_bound_bytes):
            return other
    return mp


def best_option(options: list[CapacityOption], costs: SplitCosts) -> CapacityOption | None:
    """The option that fits with the least estimated extra time (ties: the earlier), or None."""
    fitting = [o for o in options if o.fits]
    return min(fitting, key=lambda o: o.seconds(costs)) if fitting else None
