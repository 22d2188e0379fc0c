"""Fixed costs and parallel-execution losses of a runtime (pure closed forms).

* ``barrier_s(threads, step_s)``: a tree (combining) barrier of ``N`` threads takes
  ``ceil(log2 N)`` synchronisation steps (Mellor-Crummey & Scott, ACM TOCS 1991); one thread
  needs none.
* ``layer_fixed_s``: per executed op, the runtime's dispatch/launch/setup cost plus, on more than
  one thread, the barrier that ends the layer's parallel region.
* ``wave_efficiency``: a GPU runs a layer as thread blocks, at most one wave of blocks per SM at
  a time; with ``B`` blocks on ``S`` SMs the last wave is partly empty, so the layer takes
  ``ceil(B/S)`` block times instead of ``B/S`` (NVIDIA, "Matrix Multiplication Background
  User's Guide", wave quantization). Small layers (``B < S``) leave SMs idle.
* Threads on a CPU are a split of each layer over ``N`` cores; the engine deals the layer's tiles
  round-robin to them (so small layers with few tiles leave threads idle: load imbalance) and
  shares caches, links and DRAM between them (contention); this module adds only the barrier.
"""

from __future__ import annotations

import math


def barrier_s(threads: int, step_s: float) -> float:
    """Seconds of one barrier over ``threads`` threads: ``step_s·ceil(log2 threads)``."""
    if threads <= 1 or step_s <= 0:
        return 0.0
    return step_s * math.ceil(math.log2(threads))


def layer_fixed_s(op_overhead_s: float, threads: int, step_s: float) -> float:
    """Fixed seconds of one executed op: dispatch/launch overhead plus the closing barrier."""
    return op_overhead_s + barrier_s(threads, step_s)


def gpu_blocks(npx: int, nf: int, groups: int, block: tuple[int, int]) -> int:
    """Thread blocks of a layer seen as ``groups`` GEMMs of ``npx × nf`` outputs, tiled ``block``."""
    bm, bn = block
    return max(1, groups * math.ceil(npx / bm) * math.ceil(nf / bn))


def wave_efficiency(blocks: int, sms: int) -> float:
    """``blocks / (ceil(blocks/sms)·sms)``: the busy fraction of the SMs over the layer."""
    if blocks <= 0 or sms <= 0:
        return 1.0
    return blocks / (math.ceil(blocks / sms) * sms)
