"""ncnn's blocked GEMM convolutions as the tile stream they execute (CPU, fp32/fp16).

ncnn (Tencent/ncnn ``src/layer/arm/convolution_im2col_gemm.h`` and
``convolution_3x3_winograd.h`` at commit cc37c10997e8, 2023-06 — the code of the Raspberry Pi
4 rows) runs a GEMM-class convolution (1x1, im2col, Winograd F(m,3)) as a GEMM ``M×N×K`` in
``batch`` slices — ``M`` output channels; ``N`` output pixels (im2col, 1x1) or Winograd tiles;
``K = C·R·S`` (im2col) or ``C`` (Winograd, ``batch = α²``) — in two parallel loops:

1. **pack B**: ``#pragma omp parallel for`` over the ``nn_N·nn_K`` blocks of ``B``: each reads
   its rows of the input (im2col, or the Winograd input transform) and writes its packed block
   ``BT(j, k)`` — the whole ``B`` is materialised in a workspace (``TILE_K·TILE_N·batch``
   elements per block). Winograd with fewer blocks than threads transforms each block with all
   threads.
2. **GEMM**: ``#pragma omp parallel for`` over the ``nn_M`` blocks of ``TILE_M`` output
   channels, statically scheduled; each block, for every ``j`` block and every ``k`` block,
   multiplies its packed weights ``AT(i, k)`` (packed — for Winograd transformed, ``α²/9`` the
   raw 3x3 weights — when the model is loaded) with ``BT(j, k)``, and after the last ``k``
   writes its output block (Winograd: through the output transform). So every ``M`` block
   streams the whole ``BT`` once, and ``AT`` is read once per ``j`` block.

The tile sizes come from ``*_get_optimal_tile_mnk`` (:func:`blocking`): they size the blocks
to the per-core L2 share that ``get_cpu_level2_cache_size()`` reports (the L2 divided by the
cores sharing it, ``src/cpu.cpp``). Each tile here is one such step; the engine simulates its
lines through the caches like any other tile and gives it to the core ncnn's static schedule
gives it (GNU OpenMP ``schedule(static)``: contiguous chunks). Assumptions (docs/model.md):
the per-thread accumulator tile ``top_tile`` stays in the core's L2 share (it is sized for it)
and is not simulated; there is no barrier between the two loops in the engine (ncnn has one);
tensors are laid out NCHW (ncnn's packed ``C/pack·H·W·pack`` keeps the same channel blocks
contiguous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memsim.mapping.layer import Tile


def _ceil_to(x: int, q: int) -> int:
    return -(-x // q) * q


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    return int(a / b)


@dataclass(frozen=True)
class Blocking:
    """ncnn's tiling of one GEMM-class layer: ``m×n×k`` in ``batch`` slices, tiles of
    ``tile_m×tile_n×tile_k``."""

    m: int
    n: int
    k: int
    batch: int
    tile_m: int
    tile_n: int
    tile_k: int

    @property
    def nn_m(self) -> int:
        """Output-channel blocks (the GEMM loop's parallel work items)."""
        return -(-self.m // self.tile_m)

    @property
    def nn_n(self) -> int:
        """Column blocks of B."""
        return -(-self.n // self.tile_n)

    @property
    def nn_k(self) -> int:
        """Reduction blocks."""
        return -(-self.k // self.tile_k)

    def m_range(self, i: int) -> tuple[int, int]:
        """Output channels ``[lo, hi)`` of M block ``i``."""
        return i * self.tile_m, min(self.m, (i + 1) * self.tile_m)

    def n_range(self, j: int) -> tuple[int, int]:
        """Columns ``[lo, hi)`` of N block ``j``."""
        return j * self.tile_n, min(self.n, (j + 1) * self.tile_n)

    def k_range(self, k: int) -> tuple[int, int]:
        """Reduction indices ``[lo, hi)`` of K block ``k``."""
        return k * self.tile_k, min(self.k, (k + 1) * self.tile_k)


def blocking(m: int, n: int, k: int, batch: int, l2_bytes: int, elem_bytes: int, threads: int,
             winograd: bool, cores: int) -> Blocking:
    """``convolution_im2col_gemm_get_optimal_tile_mnk`` / ``conv3x3s1_winograd_get_optimal_tile_mnk``
    (aarch64 branches; the fp16 variants count the L2 in 2-byte elements and start the im2col
    ``M`` split at 64 rows instead of 32), C integer arithmetic."""
    l2 = int(l2_bytes // elem_bytes)
    tile_size = _cdiv(l2 - 32, 12)
    tile_k = max(8, tile_size // 8 * 8)
    nn_k = -(-k // tile_k)
    tile_k = min(tile_k, _ceil_to(-(-k // nn_k), 8))
    if winograd:
        tile_m = 8
    else:
        nn_m = -(-m // (64 if elem_bytes == 2 else 32))
        tile_m = max(8, _ceil_to(-(-m // nn_m), 8))
    tile_m *= max(1, min(threads, cores))
    nn_m = -(-m // tile_m)
    tile_m = min(tile_m, _ceil_to(-(-m // nn_m), 8))
    if threads > 1:
        tile_m = min(tile_m, _ceil_to(max(1, tile_m // threads), 8))
    tile_m = max(8, tile_m)
    if tile_k >= k:
        tile_size = _cdiv(l2 - tile_m * tile_k, tile_k)
    else:
        tile_size = _cdiv(l2 - tile_m * tile_k, tile_m + tile_k)
    tile_n = max(4, tile_size // 4 * 4)
    nn_n = -(-n // tile_n)
    tile_n = max(4, min(tile_n, _ceil_to(-(-n // nn_n), 4)))
    return Blocking(m, n, k, batch, tile_m, tile_n, tile_k)


def static_chunks(items: int, threads: int) -> list[tuple[int, int]]:
    """Each thread's work items ``[lo, hi)`` under GNU OpenMP's ``schedule(static)``:
    ``items // threads`` each, the first ``items % threads`` threads one more, in order."""
    q, r = divmod(items, threads)
    out, lo = [], 0
    for t in range(threads):
        hi = lo + q + (1 if t < r else 0)
        out.append((lo, hi))
        lo = hi
    return out


def static_owner(items: int, threads: int) -> list[int]:
    """The thread of each of ``items`` work items (:func:`static_chunks`)."""
    return [t for t, (lo, hi) in enumerate(static_chunks(items, threads)) for _ in range(lo, hi)]


@dataclass(frozen=True)
class ConvGeometry:
    """What the tile stream needs of one conv: input ``C×H×W`` and output ``K×P×Q`` tensors
    (byte bases, element bytes), kernel, stride, padding, and the Winograd output tile ``m``
    (0: im2col/1x1 GEMM)."""

    c: int
    h: int
    w: int
    k: int
    p: int
    q: int
    r: int
    s: int
    stride: int
    pad_top: int
    wino_m: int
    in_base: int
    out_base: int
    in_bytes: float
    out_bytes: float


@dataclass(frozen=True)
class BorderCopy:
    """ncnn's ``make_padding`` before a padded convolution (``src/layer/convolution.cpp``,
    ``convolutiondepthwise_arm.cpp``): ``copy_make_border`` writes the input ``C×H×W`` with its
    border into a workspace blob ``C×(H+pt+pb)×(W+pl+pr)`` that the kernel then reads, split
    over the threads by channels (the padding layer's ``omp parallel for`` over channels).

    The same channel-split pass stands for ncnn's other whole-blob conversions: with
    ``dst_bytes`` (bytes per written element, 0: ``elem_bytes``) and no pads it is an int8
    model's quantize (fp → int8) or requantize/dequantize (int32 → int8/fp) pass; ``read=False``
    writes the destination only (a kernel's int32 output blob, ``runtime.blocked``)."""

    c: int
    h: int
    w: int
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    src_base: int
    dst_base: int
    elem_bytes: float
    dst_bytes: float = 0.0
    read: bool = True

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the bordered blob."""
        pt, pl, pb, pr = self.pads
        return self.h + pt + pb, self.w + pl + pr

    @property
    def out_bytes(self) -> float:
        """Bytes per written element."""
        return self.dst_bytes or self.elem_bytes

    @property
    def nbytes(self) -> int:
        """Bytes of the written blob."""
        hh, ww = self.shape
        return math.ceil(self.c * hh * ww * self.out_bytes)

    def n_tiles(self, threads: int) -> int:
        """Copy tiles on ``threads`` threads (one per thread with channels)."""
        return min(max(1, threads), self.c)

    def tiles(self, threads: int, line_bytes: int, mlp=None):
        """One copy tile per thread (channel chunks, GNU OpenMP static split); no MACs."""
        hh, ww = self.shape
        n = 0
        for core, (c0, c1) in enumerate(static_chunks(self.c, max(1, threads))):
            if c1 == c0:
                continue
            src = (_span(self.src_base, c0 * self.h * self.w, c1 * self.h * self.w,
                         self.elem_bytes, line_bytes) if self.read
                   else np.empty(0, dtype=np.uint64))
            dst = _span(self.dst_base, c0 * hh * ww, c1 * hh * ww, self.out_bytes, line_bytes)
            lines = np.concatenate([src, dst])
            flags = np.zeros(lines.size, dtype=bool)
            flags[src.size:] = True
            inner = math.ceil((c1 - c0) * (self.h * self.w * self.elem_bytes * self.read
                                           + hh * ww * self.out_bytes))
            yield Tile(macs=0.0, compute_cycles=0.0, lines=lines, writes=flags,
                       inner_bytes=inner, dma=False, index=n, mlp=mlp, core=core)
            n += 1


def _extent(r: tuple[int, int]) -> int:
    return r[1] - r[0]


def _span(base: int, first: int, last: int, eb: float, line: int) -> np.ndarray:
    """Lines of elements ``[first, last)`` of a tensor at byte ``base``."""
    lo = int(base + first * eb) // line
    hi = -(-int(math.ceil(base + last * eb)) // line)
    return np.arange(lo, max(lo, hi), dtype=np.uint64)


class NcnnGemmStream:
    """The two loops of ncnn's blocked GEMM for one layer as :class:`Tile` objects.

    ``at_base``/``ws_base``: byte addresses of the layer's packed weights and of the shared
    workspace holding ``BT``; ``cycles_per_mac``: compute cycles per executed MAC on one core
    (the runtime's kernel efficiency and algorithm already in it); ``pack_macs`` and
    ``out_macs``: the Winograd input and output transforms' MACs (0 for im2col).
    ``inner_split``: a pack block with fewer blocks than threads is itself split over all
    threads (ncnn's Winograd transforms and its int8 packing loops); else one thread packs it.
    """

    def __init__(self, geo: ConvGeometry, blk: Blocking, threads: int, line_bytes: int,
                 at_base: int, ws_base: int, elem_bytes: int, cycles_per_mac: float,
                 pack_macs: float = 0.0, out_macs: float = 0.0, mlp=None,
                 inner_split: bool = False):
        self.inner_split = inner_split
        self.geo, self.blk, self.threads = geo, blk, max(1, threads)
        self.line, self.e = line_bytes, elem_bytes
        self.at_base, self.ws_base = at_base, ws_base
        self.cpm, self.pack_macs, self.out_macs, self.mlp = cycles_per_mac, pack_macs, out_macs, mlp

    # -- sizes -----------------------------------------------------------------------------
    @property
    def at_bytes(self) -> int:
        """Bytes of the packed weights (whole blocks, as ncnn allocates them)."""
        b = self.blk
        return b.nn_m * b.nn_k * b.tile_m * b.tile_k * b.batch * self.e

    @property
    def ws_bytes(self) -> int:
        """Bytes of the packed ``BT`` workspace."""
        b = self.blk
        return b.nn_n * b.nn_k * b.tile_n * b.tile_k * b.batch * self.e

    def _rows(self, base: int, chans: tuple[int, int], rows: tuple[int, int], height: int,
              width: int, eb: float) -> np.ndarray:
        """Lines of rows ``rows`` of channels ``chans`` of an NCHW tensor (row runs merged)."""
        r0, r1 = max(0, rows[0]), min(height, rows[1])
        if r1 <= r0 or chans[1] <= chans[0]:
            return np.zeros(0, dtype=np.uint64)
        if r0 == 0 and r1 == height:  # whole channels: one contiguous run
            first = chans[0] * height * width
            return _span(base, first, chans[1] * height * width, eb, self.line)
        c = np.arange(chans[0], chans[1], dtype=np.int64)
        start = base + (c * height + r0) * width * eb
        end = base + (c * height + r1) * width * eb
        lo = (start // self.line).astype(np.int64)
        hi = (-(-np.ceil(end).astype(np.int64) // self.line))
        counts = hi - lo
        idx = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        # runs ascend and touch only at a shared boundary line: drop adjacent repeats
        keep = np.ones(idx.size, dtype=bool)
        keep[1:] = idx[1:] != idx[:-1]
        return idx[keep].astype(np.uint64)

    # -- loop 1: pack / transform B -----------------------------------------------------------
    def _out_rows(self, jb: int) -> tuple[int, int]:
        """Output rows ``[lo, hi)`` that N block ``jb`` covers (Winograd: its rows of tiles)."""
        g = self.geo
        j0, j1 = self.blk.n_range(jb)
        if g.wino_m:
            wt = -(-g.q // g.wino_m)
            return j0 // wt * g.wino_m, -(-j1 // wt) * g.wino_m
        return j0 // g.q, -(-j1 // g.q)

    def _b_block_reads(self, jb: int, kb: int) -> np.ndarray:
        g = self.geo
        k0, k1 = self.blk.k_range(kb)
        o0, o1 = self._out_rows(jb)
        if g.wino_m:  # each m x m output tile reads its (m+2) x (m+2) input tile
            rows, chans = (o0 - g.pad_top, o1 + 2 - g.pad_top), (k0, k1)
        else:
            rs = g.r * g.s
            chans = (k0 // rs, -(-k1 // rs))
            rows = (o0 * g.stride - g.pad_top, (o1 - 1) * g.stride - g.pad_top + g.r)
        return self._rows(g.in_base, chans, rows, g.h, g.w, g.in_bytes)

    def _packed(self, base: int, outer: int, tile: int, extent: int, kb: int) -> np.ndarray:
        """Lines of packed block ``(outer, kb)`` of a buffer at ``base`` laid out as ncnn's
        ``Mat(tile·TILE_K·batch, nn_K, nn_outer)``: whole blocks, the used part ``extent`` rows."""
        b = self.blk
        size = tile * b.tile_k * b.batch * self.e
        used = extent * _extent(b.k_range(kb)) * b.batch
        return _span(base + (outer * b.nn_k + kb) * size, 0, used, self.e, self.line)

    def _bt_lines(self, jb: int, kb: int) -> np.ndarray:
        b = self.blk
        return self._packed(self.ws_base, jb, b.tile_n, _extent(b.n_range(jb)), kb)

    @property
    def _pack_parts(self) -> int:
        """Threads that share each pack block: all of them when the runtime splits a block
        inside (``inner_split``) and there are fewer blocks than threads, else 1."""
        few = self.blk.nn_n * self.blk.nn_k < self.threads
        return self.threads if self.inner_split and self.threads > 1 and few else 1

    def _pack_tiles(self):
        b, parts = self.blk, self._pack_parts
        blocks = [(jb, kb) for jb in range(b.nn_n) for kb in range(b.nn_k)]
        owner = static_owner(len(blocks), self.threads) if parts == 1 else None
        total = float(b.n * b.k)
        for q, (jb, kb) in enumerate(blocks):
            reads, writes = self._b_block_reads(jb, kb), self._bt_lines(jb, kb)
            jj, kk = _extent(b.n_range(jb)), _extent(b.k_range(kb))
            macs = self.pack_macs * jj * kk / total / parts
            if parts == 1:
                yield owner[q], reads, writes, macs, (reads.size + writes.size) * self.line
                continue
            # all threads transform this block: thread p takes the p-th share of its lines
            for p, (r, w) in enumerate(zip(np.array_split(reads, parts),
                                           np.array_split(writes, parts))):
                yield p, r, w, macs, (r.size + w.size) * self.line

    # -- loop 2: GEMM over output-channel blocks --------------------------------------------------
    def _out_lines(self, ib: int, jb: int) -> np.ndarray:
        g = self.geo
        return self._rows(g.out_base, self.blk.m_range(ib), self._out_rows(jb), g.p, g.q,
                          g.out_bytes)

    def _at_lines(self, ib: int, kb: int) -> np.ndarray:
        b = self.blk
        return self._packed(self.at_base, ib, b.tile_m, _extent(b.m_range(ib)), kb)

    def _block_steps(self, ib: int):
        b = self.blk
        ii = _extent(b.m_range(ib))
        for jb in range(b.nn_n):
            jj = _extent(b.n_range(jb))
            for kb in range(b.nn_k):
                kk = _extent(b.k_range(kb))
                reads = np.concatenate([self._at_lines(ib, kb), self._bt_lines(jb, kb)])
                macs = float(ii * jj * kk * b.batch)
                writes = np.zeros(0, dtype=np.uint64)
                if kb == b.nn_k - 1:
                    writes = self._out_lines(ib, jb)
                    macs += self.out_macs * ii * jj / float(b.m * b.n)
                inner = (ii * kk + jj * kk) * b.batch * self.e + writes.size * self.line
                yield reads, writes, macs, inner

    def _gemm_tiles(self):
        chunks = static_chunks(self.blk.nn_m, self.threads)
        gens = [(core, (s for ib in range(lo, hi) for s in self._block_steps(ib)))
                for core, (lo, hi) in enumerate(chunks) if hi > lo]
        while gens:  # one step of every busy thread in turn keeps the engine's queues short
            alive = []
            for core, gen in gens:
                step = next(gen, None)
                if step is not None:
                    alive.append((core, gen))
                    yield (core, *step)
            gens = alive

    @property
    def n_tiles(self) -> int:
        """Tiles :meth:`tiles` yields."""
        b = self.blk
        return b.nn_n * b.nn_k * self._pack_parts + b.nn_m * b.nn_n * b.nn_k

    def tiles(self):
        """Loop 1 then loop 2, each step a :class:`Tile` with its core (``Tile.core``)."""
        n = 0
        for loop in (self._pack_tiles(), self._gemm_tiles()):
            for core, reads, writes, macs, inner in loop:
                lines = np.concatenate([reads, writes])
                flags = np.zeros(lines.size, dtype=bool)
                flags[reads.size:] = True
                yield Tile(macs=macs, compute_cycles=macs * self.cpm, lines=lines, writes=flags,
                           inner_bytes=int(inner), dma=False, index=n, mlp=self.mlp, core=core)
                n += 1
