"""Layers a runtime runs as its own blocked GEMM: which ones, where their buffers live, and the
wrapper the engine sees (``memsim.runtime.ncnn_gemm`` has the loop nest).

Eligible (:func:`blocked_eligible`): an fp32/fp16/int8 conv2d of batch 1 and one group that
the runtime runs as a GEMM (1x1, im2col or Winograd), on a cache target (not a scratchpad),
with plain operands (no compression, nothing held on chip by layer fusion). Every other layer
keeps the mapper's tiles.

int8 runs ncnn's older int8 kernels (``convolution_sgemm_pack8to4_int8.h``,
``convolution_winograd_dot_pack8to4_int8.h`` at cc37c10997e8): the whole packed B (int8; the
Winograd-transformed input in int16) is built once, then ``#pragma omp parallel for`` over
pairs of pack-4 output channels — 8 channels per work item — each streams all of it, with no
further cache blocking (:func:`int8_blocking`); the transformed int16 weights likewise. Their
int32 Winograd output buffer and the separate im2col copy before packing are not simulated.

Addresses (:func:`blocked_layers`): the packed weights of each blocked layer get their own
region after the stream's last tensor (4 KiB aligned, in layer order: ncnn packs them once at
load time and keeps them), followed by one workspace for the packed ``B`` shared by all layers
(ncnn's workspace allocator hands the same memory to each layer in turn).
"""

from __future__ import annotations

import math

from memsim.runtime.ncnn_gemm import Blocking, ConvGeometry, NcnnGemmStream, blocking
from memsim.runtime.algorithms import conv_shape_of
from memsim.mapping.layer import PLAIN_COST
from memsim.workloads.ir import dtype_bits

_ALIGN = 4096
#: ncnn's L2 fallback on aarch64 when sysfs reports no L2 (src/cpu.cpp get_cpu_level2_cachesize)
_L2_FALLBACK_BYTES = 256 * 1024


def blocked_eligible(m, graph, alg) -> bool:
    """Whether layer ``m`` (running ``alg``) runs as the runtime's blocked GEMM."""
    shape = conv_shape_of(m.op)
    if shape is None or shape.groups != 1 or shape.n != 1 or shape.dilation != 1:
        return False
    if alg.kernel not in ("gemm", "winograd") or m.dma or m.skip_operands:
        return False
    if any(c != PLAIN_COST for c in m.operand_costs):
        return False
    roles = {o.role for o in m.operands}
    if not {"input", "output"} <= roles:
        return False
    return dtype_bits(graph.tensors[m.op.outputs[0]].dtype) in (8, 16, 32)


def int8_blocking(m: int, n: int, k: int, batch: int) -> Blocking:
    """ncnn's int8 GEMM: work items of 8 output channels, each over all of ``n`` and ``k``."""
    return Blocking(m, n, k, batch, min(8, m), n, k)


class BlockedLayer:
    """A runtime layer whose tiles are the runtime's blocked GEMM (every other attribute is the
    wrapped :class:`memsim.runtime.apply.RuntimeLayer`'s)."""

    def __init__(self, layer, stream: NcnnGemmStream, n_tiles: int):
        self._layer = layer
        self.stream = stream
        self.n_tiles = n_tiles
        self.memo_key = (layer.memo_key, stream.at_base, stream.ws_base)

    def __getattr__(self, name):
        return getattr(self._layer, name)

    def tiles(self):
        """The runtime's tile stream (``NcnnGemmStream.tiles``)."""
        return self.stream.tiles()


def l2_share_bytes(hardware) -> int:
    """What ncnn's ``get_cpu_level2_cache_size()`` reports: the second cache level's size per
    core sharing it (``src/cpu.cpp``: the L2 over the cores in its ``shared_cpu_map``)."""
    levels = [lv for lv in hardware.memory.levels if getattr(lv, "kind", "cache") == "cache"]
    if len(levels) < 2:
        return _L2_FALLBACK_BYTES
    lv = levels[1]
    shared = getattr(lv, "scope", "core") == "shared"
    return int(lv.size_bytes // (hardware.compute.cores if shared else 1))


def _stream_end(mappings) -> int:
    end = 0
    for m in mappings:
        for o in m.operands:
            end = max(end, o.base + math.ceil(math.prod(o.shape) * o.bits / 8))
    return -(-end // _ALIGN) * _ALIGN


def _geometry(m, alg) -> tuple[ConvGeometry, tuple, int, bool]:
    """(geometry, GEMM dims ``(M, N, K, batch)``, packed element bytes, int8 kernels)."""
    shape = conv_shape_of(m.op)
    inp = next(o for o in m.operands if o.role == "input")
    out = next(o for o in m.operands if o.role == "output")
    pads = m.op.attrs.get("pads", (0, 0, 0, 0))
    stride = m.op.attrs.get("stride", 1)
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    _, c, h, w = inp.shape
    geo = ConvGeometry(c=c, h=h, w=w, k=shape.k, p=shape.ho, q=shape.wo, r=shape.r, s=shape.s,
                       stride=int(stride), pad_top=int(pads[0]), wino_m=alg.tile,
                       in_base=inp.base, out_base=out.base, in_bytes=inp.bits / 8,
                       out_bytes=out.bits / 8)
    if alg.tile:
        a = alg.tile + 2
        dims = (shape.k, -(-shape.ho // alg.tile) * -(-shape.wo // alg.tile), shape.c, a * a)
    else:
        dims = (shape.k, shape.ho * shape.wo, shape.c * shape.r * shape.s, 1)
    if out.bits <= 8:  # int8 kernels: int16 Winograd operands, int8 packed im2col
        return geo, dims, 2 if alg.tile else 1, True
    return geo, dims, int(out.bits // 8), False


def blocked_layers(layers: list, mappings: list, graph, hardware, threads: int) -> list:
    """``layers`` (runtime layers) with every eligible one wrapped as a :class:`BlockedLayer`."""
    from_base = _stream_end(mappings)
    l2, cores = l2_share_bytes(hardware), hardware.compute.cores
    streams = []
    for i, layer in enumerate(layers):
        alg = layer.decision.alg
        if alg is None or not blocked_eligible(layer, graph, alg):
            continue
        geo, (mm, nn, kk, batch), e, int8 = _geometry(layer, alg)
        if int8:
            blk = int8_blocking(mm, nn, kk, batch)
        else:
            blk = blocking(mm, nn, kk, batch, l2, e, threads, bool(alg.tile), cores)
        total = float(alg.total_macs) or 1.0
        pack_macs, out_macs = _transform_split(alg, geo)
        stream = NcnnGemmStream(geo, blk, threads, layer.line_bytes, from_base, 0, e,
                                layer.compute_cycles / total, pack_macs, out_macs, layer.mlp,
                                inner_split=int8 or blk.batch > 1)
        from_base += -(-stream.at_bytes // _ALIGN) * _ALIGN
        streams.append((i, stream))
    out = list(layers)
    for i, stream in streams:
        stream.ws_base = from_base
        out[i] = BlockedLayer(layers[i], stream, stream.n_tiles)
    return out


def _transform_split(alg, geo: ConvGeometry) -> tuple[float, float]:
    """(input transform MACs, output transform MACs) of a Winograd ``alg`` (0, 0 otherwise):
    ``algorithms.winograd_counts``' ``2α³`` per tile·input channel and ``α²m + αm²`` per
    tile·output channel."""
    if not alg.tile:
        return 0.0, 0.0
    m, a = alg.tile, alg.tile + 2
    tiles = -(-geo.p // m) * -(-geo.q // m)
    return float(tiles * geo.c * 2 * a ** 3), float(tiles * geo.k * (a * a * m + a * m * m))
