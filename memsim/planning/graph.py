"""Memory plans for workload graphs: tensor lifetimes, in-place reuse, and the address map.

Lifetimes follow execution order (step ``i`` = the ``i``-th op):

- an activation is live from the step of the op that produces it to the step of its last
  consumer, inclusive: on ``[producer, last_consumer + 1)``; so an op's inputs and outputs are
  live together while it runs (TFLite's arena planner and ExecuTorch's memory planning use this
  convention);
- graph inputs are live from step 0, graph outputs until the end;
- a view (``alias_of``) shares its base tensor's buffer and extends its lifetime;
- in place (``Op.inplace_ok``): an op may write its output over its first input when that input
  dies at this op, has the same size, and is not a graph input; the two become one buffer;
- weights and states (KV caches) are not planned: they live in their own regions after the
  activation arena (4 KiB aligned), weights first, each tensor aligned to ``alignment``.

With these rules, mobilenet_v2 int8 224×224 (batch norm folded) plans to 1,505,280 B at
alignment 1 (the expand output 112·112·96 and the depthwise output 56·56·96 live together),
ExecuTorch's figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from memsim.planning.buffers import Buffer, Plan
from memsim.planning.planner import DEFAULT_TIME_LIMIT_S, plan_buffers
from memsim.planning.spill import plan_within, spill_traffic

REGION_ALIGNMENT = 4096
ACTIVATION_KINDS = ("input", "activation", "output")


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _root(tensors, name: str) -> str:
    """The tensor that owns the storage of ``name`` (following ``alias_of`` chains)."""
    seen = set()
    while tensors[name].alias_of is not None and name not in seen:
        seen.add(name)
        name = tensors[name].alias_of
    return name


@dataclass
class GraphBuffers:
    """Activation buffers of a graph and which tensors live in each."""

    buffers: list[Buffer]
    members: dict[str, str]  # tensor name -> buffer id
    n_steps: int


def activation_buffers(graph, tensor_bytes: Callable | None = None, inplace: bool = True) -> GraphBuffers:
    """Buffers (``id``, ``size``, ``[start, end)``) for the activations of ``graph``."""
    tensors, ops = graph.tensors, graph.ops
    n = len(ops)
    size_of = tensor_bytes or (lambda t: t.nbytes)
    # a view of a weight or state lives in that region, never in the arena
    owner = {name: _root(tensors, name) for name, t in tensors.items()
             if t.kind in ACTIVATION_KINDS and tensors[_root(tensors, name)].kind in ACTIVATION_KINDS}
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    for name in graph.inputs:
        if name in owner:
            start[owner[name]] = 0
    for step, op in enumerate(ops):
        for name in (*op.inputs, *op.outputs):
            if name not in owner:
                continue
            root = owner[name]
            start[root] = min(start.get(root, step), step)
            end[root] = max(end.get(root, step + 1), step + 1)
    for name in graph.outputs:
        if name in owner:
            end[owner[name]] = n
    merged = {root: root for root in start}

    def find(x):
        while merged[x] != x:
            merged[x] = merged[merged[x]]
            x = merged[x]
        return x

    if inplace:
        for step, op in enumerate(ops):
            if not getattr(op, "inplace_ok", False) or not op.inputs or not op.outputs:
                continue
            src, dst = op.inputs[0], op.outputs[0]
            if src not in owner or dst not in owner or tensors[src].kind == "input":
                continue
            a, b = find(owner[src]), find(owner[dst])
            if a == b or end.get(a) != step + 1 or start.get(b) != step:
                continue
            if size_of(tensors[owner[src]]) != size_of(tensors[owner[dst]]):
                continue
            merged[b] = a
            end[a] = max(end[a], end[b])
    roots = sorted({find(r) for r in start}, key=lambda r: (start[r], r))
    buffers = [Buffer(id=r, size=int(size_of(tensors[r])), start=start[r], end=max(end[r], start[r] + 1))
               for r in roots]
    members = {name: find(root) for name, root in owner.items() if root in merged}
    return GraphBuffers(buffers=buffers, members=members, n_steps=n)


@dataclass
class MemoryPlan:
    """Where every tensor of a graph lives: the activation arena at 0, then weights, then states.

    ``plan`` is the activation plan (``Plan``); ``address(name)`` the byte address of any
    tensor; ``arena_bytes``/``lower_bound_bytes``/``naive_bytes`` describe the activations;
    ``live_bytes_per_step`` is the planned arena high-water mark of the buffers live at each
    step; ``lower_bound_per_step`` the bytes live at each step.
    """

    plan: Plan
    addresses: dict[str, int]
    regions: dict[str, tuple[int, int]]
    live_bytes_per_step: list[int]
    lower_bound_per_step: list[int]
    tensor_bytes: Callable | None = None
    buffers: list[Buffer] = field(default_factory=list)
    #: planned within a capacity (``plan_graph(capacity=...)``): the on-chip part of the
    #: activation region is ``[0, onchip_bytes)``, the ``spilled`` buffers (ids) live above it,
    #: in DRAM, costing ``spill_traffic_bytes`` of extra DRAM traffic per run; None: no limit
    onchip_bytes: int | None = None
    spilled: tuple = ()
    spill_traffic_bytes: int = 0

    @property
    def arena_bytes(self) -> int:
        """Activation arena size (bytes)."""
        return self.plan.arena_bytes

    @property
    def lower_bound_bytes(self) -> int:
        """Largest total of simultaneously live activation bytes."""
        return self.plan.lower_bound_bytes

    naive_total: int | None = None

    @property
    def naive_bytes(self) -> int:
        """Activation bytes without any reuse: every non-view tensor its own aligned buffer, no
        in-place (``plan.naive_bytes`` is the sum over the planned, in-place-merged buffers)."""
        return self.plan.naive_bytes if self.naive_total is None else self.naive_total

    def address(self, name: str) -> int:
        """Byte address of tensor ``name``."""
        return self.addresses[name]

    def region(self, kind: str) -> tuple[int, int]:
        """``(start, end)`` byte range of a region: ``activation``, ``weight`` or ``state``."""
        return self.regions[kind]

    def region_bytes(self, kind: str) -> int:
        """Size of a region in bytes."""
        lo, hi = self.regions[kind]
        return hi - lo


def plan_graph(graph, algorithm: str = "greedy-by-size", alignment: int = 64,
               time_limit_s: float = DEFAULT_TIME_LIMIT_S, tensor_bytes: Callable | None = None,
               inplace: bool = True, seed: int = 0, capacity: int | None = None,
               spill: str = "least-traffic") -> MemoryPlan:
    """Plan the activations of ``graph`` and lay out weights and states after them.

    ``none`` means no reuse at all: one buffer per tensor and no in-place either. With a
    ``capacity`` (bytes of on-chip memory) that the arena exceeds, buffers spill (``spill``:
    ``least-traffic`` or ``largest-first``, see ``planning.spill``) until the rest plans within
    it; the spilled ones are planned among themselves above the on-chip part (4 KiB aligned)."""
    inplace = inplace and algorithm != "none"
    gb = activation_buffers(graph, tensor_bytes, inplace)
    plan = plan_buffers(gb.buffers, algorithm, time_limit_s=time_limit_s, alignment=alignment,
                        seed=seed, capacity=capacity)
    within = None
    if capacity is not None and plan.arena_bytes > capacity:
        cost = spill_traffic(graph, gb.members, gb.buffers)
        within = plan_within(gb.buffers, cost, capacity, spill, algorithm, alignment,
                             time_limit_s, seed)
        plan = _with_spills(gb.buffers, within, alignment, plan)
    size_of = tensor_bytes or (lambda t: t.nbytes)
    addresses = {name: plan.offsets[buf] for name, buf in gb.members.items()}
    regions = {"activation": (0, plan.arena_bytes)}
    cursor = _align(plan.arena_bytes, REGION_ALIGNMENT)
    for kind in ("weight", "state"):
        begin = cursor
        for name, tensor in graph.tensors.items():
            if tensor.kind == kind and tensor.alias_of is None:
                addresses[name] = cursor
                cursor = _align(cursor + int(size_of(tensor)), max(1, alignment))
        regions[kind] = (begin, cursor)
        cursor = _align(cursor, REGION_ALIGNMENT)
    for name, tensor in graph.tensors.items():
        if name not in addresses and tensor.alias_of is not None:
            addresses[name] = addresses[_root(graph.tensors, name)]
    high, live = _profiles(gb, plan)
    naive = plan.naive_bytes
    if inplace:
        align = max(1, alignment)
        naive = sum(_align(b.size, align)
                    for b in activation_buffers(graph, tensor_bytes, inplace=False).buffers)
    extra = {} if within is None else {"onchip_bytes": within.plan.arena_bytes,
                                       "spilled": within.spilled,
                                       "spill_traffic_bytes": within.traffic_bytes}
    return MemoryPlan(plan=plan, addresses=addresses, regions=regions, live_bytes_per_step=high,
                      lower_bound_per_step=live, tensor_bytes=tensor_bytes, buffers=gb.buffers,
                      naive_total=naive, **extra)


def _with_spills(buffers, within, alignment: int, full: Plan) -> Plan:
    """One plan of all buffers: the kept ones where ``within`` put them, the spilled ones
    planned among themselves (greedy by size) from the first 4 KiB boundary above it."""
    ids = set(within.spilled)
    spilled = [b for b in buffers if b.id in ids]
    upper = plan_buffers(spilled, "greedy-by-size", alignment=alignment)
    base = _align(within.plan.arena_bytes, REGION_ALIGNMENT) if spilled else 0
    offsets = dict(within.plan.offsets)
    offsets.update({k: base + v for k, v in upper.offsets.items()})
    stats = dict(within.plan.stats, spill={"capacity": within.capacity,
                                           "spilled": [str(i) for i in within.spilled],
                                           "traffic_bytes": within.traffic_bytes})
    return Plan(offsets=offsets, arena_bytes=base + upper.arena_bytes if spilled
                else within.plan.arena_bytes, lower_bound_bytes=full.lower_bound_bytes,
                naive_bytes=full.naive_bytes, algorithm=full.algorithm,
                seconds=full.seconds + within.plan.seconds, alignment=alignment, stats=stats)


def _profiles(gb: GraphBuffers, plan: Plan) -> tuple[list[int], list[int]]:
    """Per step: arena high-water mark of live buffers, and total live bytes."""
    n = max(gb.n_steps, 1)
    high = np.zeros(n, dtype=np.int64)
    live = np.zeros(n, dtype=np.int64)
    align = max(1, plan.alignment)
    for b in gb.buffers:
        size = _align(b.size, align)
        top = plan.offsets[b.id] + size
        lo, hi = b.start, min(b.end, n)
        high[lo:hi] = np.maximum(high[lo:hi], top)
        live[lo:hi] += size
    return high.tolist(), live.tolist()
