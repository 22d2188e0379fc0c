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
further cache blocking (:func:`int8_blocking`); the transformed int16 weights likewise. With
``int8_passes`` an int8 conv also quantizes a floating-point input and round-trips its int32
output blob (:func:`int8_passes_of`); the separate im2col copy before packing is not simulated.

Addresses (:func:`blocked_layers`): the packed weights of each blocked layer get their own
region after the stream's last tensor (4 KiB aligned, in layer order: ncnn packs them once at
load time and keeps them), followed by one workspace for the packed ``B`` shared by all layers
(ncnn's workspace allocator hands the same memory to each layer in turn) and one for the
bordered input copies of padded convs (``ncnn_gemm.BorderCopy``).
"""

from __future__ import annotations

import math

from dataclasses import replace

from memsim.runtime.ncnn_gemm import (BorderCopy, Blocking, ConvGeometry, NcnnGemmStream,
                                      blocking)
from memsim.runtime.algorithms import conv_shape_of, winograd_transforms
from memsim.runtime.precision import computes_int8
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
    """A runtime layer whose tiles are the runtime's own: the passes before its kernel
    (``pre``: an int8 quantize, the border copy), its blocked GEMM (``stream``, or None: the
    wrapped layer's tiles), then the passes after it (``post``: an int8 layer's int32 blob and
    its requantize). Every other attribute is the wrapped
    :class:`memsim.runtime.apply.RuntimeLayer`'s."""

    def __init__(self, layer, stream: NcnnGemmStream | None, pre: tuple, post: tuple,
                 threads: int):
        self._layer = layer
        self.stream, self.pre, self.post, self.threads = stream, pre, post, threads
        main = stream.n_tiles if stream is not None else layer.n_tiles
        self.n_tiles = main + sum(c.n_tiles(threads) for c in pre + post)
        # everything the tiles depend on beyond the wrapped layer (a sweep shares mappings
        # between points that may differ in threads or caches)
        self.memo_key = (layer.memo_key, threads,
                         stream and (stream.blk, stream.at_base, stream.ws_base, stream.geo),
                         pre, post)

    def __getattr__(self, name):
        return getattr(self._layer, name)

    @property
    def border(self) -> BorderCopy | None:
        """The border copy before the kernel (None when the conv has no padding)."""
        return next((c for c in self.pre if any(c.pads)), None)

    def tiles(self):
        """The passes before, the kernel's tiles (blocked GEMM or the wrapped layer's), the
        passes after."""
        for copy in self.pre:
            yield from copy.tiles(self.threads, self.line_bytes, self.mlp)
        yield from (self.stream.tiles() if self.stream is not None else self._layer.tiles())
        for copy in self.post:
            yield from copy.tiles(self.threads, self.line_bytes, self.mlp)


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


def _border(m) -> BorderCopy | None:
    """The border copy of a padded conv2d (None when it has no padding)."""
    if m.op.kind != "conv2d":
        return None
    pads = tuple(int(p) for p in m.op.attrs.get("pads", (0, 0, 0, 0)))
    inp = next((o for o in m.operands if o.role == "input"), None)
    if inp is None or not any(pads) or len(inp.shape) != 4:
        return None
    _, c, h, w = inp.shape
    return BorderCopy(c * inp.shape[0], h, w, pads, inp.base, 0, inp.bits / 8)


def _geometry(m, alg, border: BorderCopy | None) -> tuple[ConvGeometry, tuple, int, bool]:
    """(geometry, GEMM dims ``(M, N, K, batch)``, packed element bytes, int8 kernels); the
    input is the bordered copy when there is one."""
    shape = conv_shape_of(m.op)
    inp = next(o for o in m.operands if o.role == "input")
    out = next(o for o in m.operands if o.role == "output")
    stride = m.op.attrs.get("stride", 1)
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    _, c, h, w = inp.shape
    base, pad_top = inp.base, int(m.op.attrs.get("pads", (0, 0, 0, 0))[0])
    if border is not None:
        (h, w), base, pad_top = border.shape, border.dst_base, 0
    geo = ConvGeometry(c=c, h=h, w=w, k=shape.k, p=shape.ho, q=shape.wo, r=shape.r, s=shape.s,
                       stride=int(stride), pad_top=pad_top, wino_m=alg.tile, in_base=base,
                       out_base=out.base, in_bytes=inp.bits / 8, out_bytes=out.bits / 8)
    if alg.tile:
        a = alg.tile + 2
        dims = (shape.k, -(-shape.ho // alg.tile) * -(-shape.wo // alg.tile), shape.c, a * a)
    else:
        dims = (shape.k, shape.ho * shape.wo, shape.c * shape.r * shape.s, 1)
    if out.bits <= 8 or computes_int8(m.op):
        # int8 kernels: int16 Winograd operands, int8 packed im2col
        return geo, dims, 2 if alg.tile else 1, True
    return geo, dims, int(out.bits // 8), False


def _gemm_stream(layer, hardware, threads: int, base: int,
                 border: BorderCopy | None) -> NcnnGemmStream | None:
    """The blocked GEMM of ``layer`` with its packed weights at ``base`` (None: not eligible)."""
    alg = layer.decision.alg
    if not layer.decision.blocked:
        return None
    geo, (mm, nn, kk, batch), e, int8 = _geometry(layer, alg, border)
    if int8:
        blk = int8_blocking(mm, nn, kk, batch)
    else:
        blk = blocking(mm, nn, kk, batch, l2_share_bytes(hardware), e, threads, bool(alg.tile),
                       hardware.compute.cores)
    pack_macs, out_macs = _transform_split(alg, geo)
    return NcnnGemmStream(geo, blk, threads, layer.line_bytes, base, 0, e,
                          layer.compute_cycles / (float(alg.total_macs) or 1.0), pack_macs,
                          out_macs, layer.mlp, inner_split=int8 or blk.batch > 1)


def blocked_layers(layers: list, mappings: list, hardware, threads: int,
                   border: bool = True, int8_passes: bool = False) -> list:
    """``layers`` (runtime layers) with the runtime's own tiles where it has them: a
    :class:`BlockedLayer` for every conv its decision runs blocked (``Decision.blocked``),
    every padded conv (``border``) and, with ``int8_passes``, every int8 conv (its quantize,
    int32 and requantize passes, :func:`int8_passes_of`). Addresses as in the module
    docstring; after the packed-B workspace come the bordered copies', the quantized inputs'
    and the int32 blobs' (one each, shared by all layers like ncnn's workspace allocator)."""
    base = _stream_end(mappings)
    plans = []
    for i, layer in enumerate(layers):
        if layer.dma:
            continue
        copy = _border(layer) if border else None
        quant, post = int8_passes_of(layer) if int8_passes else (None, ())
        stream = _gemm_stream(layer, hardware, threads, base, copy)
        if stream is None and copy is None and quant is None and not post:
            continue
        if stream is not None:
            base += -(-stream.at_bytes // _ALIGN) * _ALIGN
        plans.append((i, stream, copy, quant, post))
    ws = max((p[1].ws_bytes for p in plans if p[1] is not None), default=0)
    border_base = base + _aligned(ws)
    q_base = border_base + _aligned(max((p[2].nbytes for p in plans if p[2]), default=0))
    i32_base = q_base + _aligned(max((p[3].nbytes for p in plans if p[3]), default=0))
    out = list(layers)
    for i, stream, copy, quant, post in plans:
        pre = []
        if quant is not None:
            pre.append(replace(quant, dst_base=q_base))
        if copy is not None:
            copy = replace(copy, dst_base=border_base)
            # of the quantized copy (its workspace is sized for the float input: an upper bound)
            pre.append(replace(copy, src_base=q_base, elem_bytes=1.0) if quant else copy)
        post = tuple(replace(c, src_base=i32_base) if c.read else replace(c, dst_base=i32_base)
                     for c in post)
        if stream is not None:
            stream.ws_base = base
            geo = stream.geo
            if copy is not None or quant is not None:
                geo = replace(geo, in_base=border_base if copy is not None else q_base,
                              in_bytes=1.0 if quant is not None else geo.in_bytes)
            if post:
                geo = replace(geo, out_base=i32_base, out_bytes=4.0)
            stream.geo = geo
        out[i] = BlockedLayer(layers[i], stream, tuple(pre), post, threads)
    return out


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def int8_passes_of(layer) -> tuple[BorderCopy | None, tuple]:
    """(quantize pass or None, passes after the kernel) of an int8 conv as ncnn runs it
    (``convolution_arm.cpp`` / ``convolutiondepthwise_arm.cpp`` ``forward_int8_arm``): a
    floating-point input is quantized to an int8 workspace first; every Convolution, and the
    pack-8 3x3 depthwise kernels, accumulate into an int32 blob that a requantize (int8 out)
    or dequantize (floating-point out) pass then reads (other depthwise kernels requantize in
    registers). Workspace addresses are filled in by :func:`blocked_layers`; the blocked GEMM
    writes the int32 blob itself, other kernels' tiles write the output and a write-only pass
    stands for their int32 stores."""
    op = layer.op
    shape = conv_shape_of(op)
    if shape is None or not computes_int8(op):
        return None, ()
    inp = next((o for o in layer.operands if o.role == "input"), None)
    out = next((o for o in layer.operands if o.role == "output"), None)
    if inp is None or out is None or len(inp.shape) != 4 or len(out.shape) != 4:
        return None, ()
    _, c, h, w = inp.shape
    quant = (BorderCopy(c * inp.shape[0], h, w, (0, 0, 0, 0), inp.base, 0, inp.bits / 8, 1.0)
             if inp.bits > 8 else None)
    depthwise = shape.groups > 1
    if depthwise and not (shape.r == shape.s == 3 and c % 8 == 0):
        return quant, ()
    _, k, p, q = out.shape
    requant = BorderCopy(k * out.shape[0], p, q, (0, 0, 0, 0), 0, out.base, 4.0, out.bits / 8)
    stores = () if layer.decision.blocked else (
        BorderCopy(k * out.shape[0], p, q, (0, 0, 0, 0), 0, 0, 4.0, read=False),)
    return quant, stores + (requant,)


def _transform_split(alg, geo: ConvGeometry) -> tuple[float, float]:
    """(input transform MACs, output transform MACs) of a Winograd ``alg`` (0, 0 otherwise)."""
    if not alg.tile:
        return 0.0, 0.0
    m = alg.tile
    t_in, t_out = winograd_transforms(-(-geo.p // m) * -(-geo.q // m), geo.c, geo.k, m)
    return float(t_in), float(t_out)
