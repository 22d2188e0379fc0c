"""Which layers to split into row bands so the activations fit a capacity (``workloads.split``).

A split segment costs, per run of the graph (``SplitCost``, exact from the receptive fields):

- ``extra_macs``: the halo rows every band recomputes (``sum over ops of MACs / P x (rows
  computed over all bands - P)``);
- ``extra_weight_bytes``: the weights of the segment read once more per extra band (each band
  runs every op; they stream from the backing store, flash or DRAM);
- ``extra_input_bytes``: the halo rows of the segment's inputs read again (on chip).

Its peak is the largest total of live (aligned) bytes over the segment's band steps: the
tensors live across the segment untouched, plus the segment's own buffers in the rewritten
schedule (its inputs until their last band, its output from the first band on, the band
tensors within their band). It is computed on the segment alone, so a candidate costs
milliseconds.

````choose_split`` is a greedy cover of the over-full steps: while some step's live bytes exceed
the capacity, among the segments containing the first such step (passing over the steps no
segment can fix) (both ends within
``MAX_REACH`` ops of it) that fit with the fewest bands that make them fit (a bisection over
the band count, at most ``MAX_BANDS``; a segment whose inputs and output alone exceed the
capacity is skipped), it takes the one of least ``cost`` per over-full step it covers, and splits it.
Not proved optimal; the cost weighs MACs and bytes by ``SplitCosts`` (seconds each, from the
hardware).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from memsim.planning.graph import activation_buffers
from memsim.planning.planner import align_up
from memsim.workloads import Graph
from memsim.workloads.split import (ROW_AXIS, Segment, band_rows, needed_rows, segment_error,
                                    split_graph, splittable)

#: ops on either side of the first over-full step a segment may reach (keeps the search linear)
MAX_REACH = 40
#: bands per segment at most (MCUNetV2 runs its first stage in 2x2 to 4x4 patches)
MAX_BANDS = 64
#: greedy rounds (segments) at most
MAX_SEGMENTS = 16


class SplitCosts(NamedTuple):
    """Seconds one MAC and one backing-store byte take (``1 / peak MAC rate``, ``1 / DRAM
    bandwidth`` of the hardware): the common unit split and spill options are compared in."""

    seconds_per_mac: float
    seconds_per_byte: float


class SplitCost(NamedTuple):
    """What a split adds per run: recomputed MACs, weight bytes re-read, halo input bytes."""

    extra_macs: int
    extra_weight_bytes: int
    extra_input_bytes: int

    def seconds(self, costs: SplitCosts) -> float:
        """Estimated extra time: MACs at the peak rate, weight re-reads at the DRAM rate."""
        return (self.extra_macs * costs.seconds_per_mac
                + self.extra_weight_bytes * costs.seconds_per_byte)

    def __add__(self, other):
        return SplitCost(*(a + b for a, b in zip(self, other)))


ZERO = SplitCost(0, 0, 0)


class SplitChoice(NamedTuple):
    """The split graph, its segments (``(first op, last op, bands)`` by name) and their cost."""

    graph: Graph
    segments: tuple
    cost: SplitCost


def split_cost(graph: Graph, seg: Segment, bands_rows=None) -> SplitCost:
    """The exact extra MACs, weight bytes and halo input bytes of splitting ``seg``."""
    ops = graph.ops[seg.first:seg.last + 1]
    rows = bands_rows if bands_rows is not None else band_rows(graph, seg)
    inside = {op.outputs[0] for op in ops}
    macs = weights = halo = 0
    for op in ops:
        t = graph.tensors[op.outputs[0]]
        height = t.shape[ROW_AXIS]
        done = sum(r[op.name][1] - r[op.name][0] for r in rows)
        macs += op.macs // height * (done - height)
        weights += (seg.bands - 1) * op.weight_bytes(graph)
        for x in dict.fromkeys(op.inputs):
            if x in inside:
                continue
            xt = graph.tensors[x]
            h = xt.shape[ROW_AXIS]
            spans = (needed_rows(op, x, r[op.name], h) for r in rows)
            halo += xt.nbytes // h * (sum(hi - lo for lo, hi in spans) - h)
    return SplitCost(int(macs), int(weights), int(halo))


def _aligned(sizes, alignment):
    return align_up(np.asarray(sizes, dtype=np.int64), max(1, alignment))


def live_per_step(graph: Graph, alignment: int = 64, tensor_bytes=None,
                  inplace: bool = True) -> np.ndarray:
    """Live (aligned) activation bytes at every step of ``graph`` (its lower bound profile)."""
    gb = activation_buffers(graph, tensor_bytes, inplace)
    live = np.zeros(max(gb.n_steps, 1) + 1, dtype=np.int64)
    for b, size in zip(gb.buffers, _aligned([b.size for b in gb.buffers], alignment).tolist()):
        live[b.start] += size
        live[min(b.end, gb.n_steps)] -= size
    return np.cumsum(live)[:max(gb.n_steps, 1)]


def _sub_graph(graph: Graph, first: int, last: int) -> Graph:
    """Ops ``first..last`` alone: the tensors they touch, what they read from outside as graph
    inputs (also outputs when read after the segment), the last output as the graph output."""
    ops = graph.ops[first:last + 1]
    names = {o.name for o in ops}
    made = {o.outputs[0] for o in ops}
    ext = [t for o in ops for t in o.inputs if t not in made]
    ext = list(dict.fromkeys(ext))
    later = [t for t in ext if t in graph.outputs
             or any(c.name not in names for c in graph.consumers(t))]
    touched = {t for o in ops for t in (*o.inputs, *o.weights, *o.outputs)}
    tensors = {k: v for k, v in graph.tensors.items() if k in touched}
    return Graph(graph.name, tensors, list(ops), tuple(ext),
                 (*later, ops[-1].outputs[0]))


def _through_bytes(gb, graph: Graph, first: int, last: int, alignment: int) -> int:
    """Aligned bytes of the buffers (``gb``: the graph's ``activation_buffers``) live over all
    of ops ``first..last`` that none of them touches (a residual held around the segment)."""
    touched = {gb.members[t] for o in graph.ops[first:last + 1]
               for t in (*o.inputs, *o.outputs) if t in gb.members}
    keep = [b.size for b in gb.buffers
            if b.start <= first and b.end > last and b.id not in touched]
    return int(_aligned(keep, alignment).sum()) if keep else 0


def segment_peak(graph: Graph, seg: Segment, alignment: int = 64, tensor_bytes=None,
                 inplace: bool = True, through: int | None = None) -> int:
    """Largest live (aligned) bytes over the steps of ``seg`` once split (see module doc)."""
    if through is None:
        through = _through_bytes(activation_buffers(graph, tensor_bytes, inplace), graph,
                                 seg.first, seg.last, alignment)
    sub = _sub_graph(graph, seg.first, seg.last)
    n = seg.last - seg.first
    split = split_graph(sub, [Segment(0, n, seg.bands)], skeleton=True)
    return through + int(live_per_step(split, alignment, tensor_bytes, inplace).max())


def _fewest_bands(graph, first, last, capacity, alignment, tensor_bytes, inplace, through):
    """The fewest bands that bring segment ``first..last`` within ``capacity``, or None: the
    band count doubles from 2 until the segment fits, then bisects (the peak shrinks with the
    band count, down to the floor the halo sets)."""
    height = min(MAX_BANDS, graph.tensors[graph.ops[last].outputs[0]].shape[ROW_AXIS])

    def fits(b):
        return segment_peak(graph, Segment(first, last, b), alignment, tensor_bytes, inplace,
                            through) <= capacity

    lo, hi = 1, 2  # one band is no split
    while hi < height and not fits(hi):
        lo, hi = hi, min(2 * hi, height)
    if height < 2 or (hi == height and not fits(hi)):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _candidates(graph, step, over, capacity, costs, alignment, tensor_bytes, inplace):
    """(score, cost, segment) of every segment containing ``step`` that fits ``capacity``."""
    gb = activation_buffers(graph, tensor_bytes, inplace)
    n = len(graph.ops)
    free = [_free(graph, op) for op in graph.ops]
    reach = _last_reader(graph)
    out = []
    for first in range(step, max(-1, step - MAX_REACH), -1):
        if not free[first]:
            break
        needed = max(reach[first:step], default=-1)  # readers the segment must include
        for last in range(step, min(n, step + MAX_REACH)):
            if not free[last]:
                break
            if last > step:
                needed = max(needed, reach[last - 1])
            if needed > last:
                continue
            through = _through_bytes(gb, graph, first, last, alignment)
            if through + _floor_bytes(graph, first, last, alignment, tensor_bytes) > capacity:
                continue
            bands = _fewest_bands(graph, first, last, capacity, alignment, tensor_bytes,
                                  inplace, through)
            if bands is None:
                continue
            seg = Segment(first, last, bands)
            cost = split_cost(graph, seg)
            covered = int(over[first:last + 1].sum())
            out.append((cost.seconds(costs) / covered, cost, seg))
    return out


def _last_reader(graph) -> list[int]:
    """Per op, the index of the last op reading its first output (``len(ops)`` when a graph
    output or viewed: no segment may end before it is read, ``workloads.split.segment_error``)."""
    index = {op.name: i for i, op in enumerate(graph.ops)}
    viewed = {t.alias_of for t in graph.tensors.values() if t.alias_of is not None}
    out = []
    for i, op in enumerate(graph.ops):
        t = op.outputs[0] if op.outputs else None
        if t is None or t in graph.outputs or t in viewed:
            out.append(len(graph.ops))
        else:
            out.append(max((index[c.name] for c in graph.consumers(t)), default=i))
    return out


def _floor_bytes(graph, first, last, alignment, tensor_bytes) -> int:
    """Bytes live at the last band's first op whatever the band count (>= 2): the first op's
    inputs from outside (every band reads them) and the whole output (written since band 0)."""
    size_of = tensor_bytes or (lambda t: t.nbytes)
    made = {o.outputs[0] for o in graph.ops[first:last + 1]}
    names = [t for t in dict.fromkeys(graph.ops[first].inputs) if t not in made]
    names.append(graph.ops[last].outputs[0])
    return int(_aligned([size_of(graph.tensors[t]) for t in names], alignment).sum())


def _free(graph, op) -> bool:
    """Whether ``op`` may join a new segment: splittable and not a band of an earlier one."""
    return op.attrs.get("split_of") is None and splittable(graph, op)


def choose_split(graph: Graph, capacity: int, costs: SplitCosts, alignment: int = 64,
                 tensor_bytes=None, inplace: bool = True) -> SplitChoice:
    """Split segments of ``graph`` until no step has more than ``capacity`` live bytes, or no
    segment containing an over-full step fits (a step no segment fixes is passed over and stays
    over-full: spill it, or it is infeasible). See the module docstring for the rule."""
    segments, total = [], ZERO
    given_up: set[str] = set()  # ops whose step no segment brings within the capacity
    while len(segments) < MAX_SEGMENTS:
        live = live_per_step(graph, alignment, tensor_bytes, inplace)
        over = live > capacity
        steps = [i for i in np.flatnonzero(over).tolist() if graph.ops[i].name not in given_up]
        if not steps:
            break
        found = _candidates(graph, steps[0], over, capacity, costs, alignment, tensor_bytes,
                            inplace)
        if not found:
            given_up.add(graph.ops[steps[0]].name)
            continue
        _, cost, seg = min(found, key=lambda c: (c[0], c[2].first, c[2].last))
        segments.append((graph.ops[seg.first].name, graph.ops[seg.last].name, seg.bands))
        total = total + cost
        graph = split_graph(graph, [seg])
    graph.attrs["split"] = tuple(segments)
    return SplitChoice(graph, tuple(segments), total)
