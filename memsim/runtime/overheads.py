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
* ``best_block``: GPU runtimes pick, per layer, the thread-block tile among several (TensorRT's
  tactic selection, cuBLAS/CUTLASS tile configurations): the one with the best product of wave
  efficiency and tile efficiency, where a ``bm×bn`` tile streams ``bm+bn`` operand elements
  per ``bm·bn`` MACs and so needs ``bm·bn/(bm+bn) ≥ I*`` to keep the tensor cores fed from the
  SM's shared memory/L1 (``I*`` = MACs per cycle / elements per cycle of the SM's L1 port: a
  roofline of the block, Williams, Waterman & Patterson, CACM 2009).
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


#: Thread-block tiles a GPU runtime chooses from (CUTLASS's default GEMM tile shapes).
GPU_BLOCKS = ((256, 128), (128, 128), (128, 64), (64, 64), (64, 32), (32, 32))


def tile_efficiency(block: tuple[int, int], needed_intensity: float) -> float:
    """``min(1, (bm·bn/(bm+bn)) / I*)``: the fraction of peak a block's operand feed allows."""
    bm, bn = block
    if needed_intensity <= 0:
        return 1.0
    return min(1.0, bm * bn / (bm + bn) / needed_intensity)


def best_block(npx: int, nf: int, groups: int, sms: int, needed_intensity: float,
               blocks=GPU_BLOCKS) -> tuple[tuple[int, int], float]:
    """(tile, efficiency) maximising ``wave_efficiency · tile_efficiency`` over ``blocks``."""
    best, eff = blocks[0], -1.0
    for b in blocks:
        e = wave_efficiency(gpu_blocks(npx, nf, groups, b), sms) * tile_efficiency(b, needed_intensity)
        if e > eff:
            best, eff = b, e
    return best, eff


def _ceil_to(x: int, q: int) -> int:
    return (x + q - 1) // q * q


def ncnn_tile_m(m: int, threads: int) -> int:
    """Output channels per parallel work item of ncnn's packed GEMM on aarch64.

    ``convolution_im2col_gemm_get_optimal_tile_mnk`` (Tencent/ncnn
    src/layer/arm/convolution_im2col_gemm.h, and its Winograd twin in
    convolution_3x3_winograd.h, at commit cc37c10997e8, 2023-06): ``nn_M = ceil(M/32)``,
    ``TILE_M = ceil8(ceil(M/nn_M))``, times the threads, re-split over ``ceil(M/TILE_M)``,
    then on more than one thread cut to ``ceil8(max(1, TILE_M // threads))`` — C integer
    arithmetic, ``ceil8`` rounding up to the 8-row micro-kernel.
    """
    m = max(1, int(m))
    nn = (m + 31) // 32
    tile = max(8, _ceil_to(-(-m // nn), 8))
    tile *= max(1, threads)
    nn = -(-m // tile)
    tile = min(tile, _ceil_to(-(-m // nn), 8))
    if threads > 1:
        tile = min(tile, _ceil_to(max(1, tile // threads), 8))
    return tile


def parallel_items(kernel: str, channels: int, groups: int, threads: int, pack: int) -> int:
    """Work items of one layer's ``#pragma omp parallel for`` in ncnn (the loop that carries
    the MACs): GEMM-class kernels (gemm, im2col, Winograd) split the output channels ``M`` in
    ``ncnn_tile_m`` blocks (``convolution_im2col_gemm``, ``conv3x3s1_winograd*``: the loop
    ``for ppj < nn_M``), once per group; depthwise kernels split the channels in SIMD packs of
    ``pack`` (``convolutiondepthwise_3x3_pack4.h``: ``for g < group`` over pack4/pack8 blobs)."""
    if kernel == "depthwise":
        return max(1, -(-max(1, groups) // max(1, pack)))
    return max(1, groups) * max(1, -(-max(1, channels) // ncnn_tile_m(channels, threads)))


def split_efficiency(items: int, threads: int) -> float:
    """Busy fraction of ``threads`` over a static split of ``items`` equal work items:
    ``items / (ceil(items/threads)·threads)`` (OpenMP ``schedule(static)``, ncnn's default)."""
    return wave_efficiency(items, threads)
