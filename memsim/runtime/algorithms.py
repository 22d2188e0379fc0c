"""Convolution algorithms a runtime executes, with their true multiply counts and extra traffic.

Pure functions of a layer's shape (no hardware, no engine). For a conv2d with output
``Ho×Wo``, ``C`` input and ``K`` output channels (per group), kernel ``R×S``:

* ``direct``: ``Ho·Wo·C·K·R·S`` MACs, no extra buffer.
* ``im2col``+GEMM: the same MACs, plus the im2col matrix (``Ho·Wo·R·S·C`` elements) written once
  and read once by the GEMM (Chellapilla et al. 2006, "High performance convolutional neural
  networks for document processing").
* ``gemm`` (1x1, stride 1): the input already is the GEMM operand; MACs as direct.
* ``winograd`` F(m,3) for 3x3 stride-1 undilated convs (Lavin & Gray, CVPR 2016, "Fast
  algorithms for convolutional neural networks"): the output is cut into ``T = ceil(Ho/m)·
  ceil(Wo/m)`` tiles of ``m×m``; each input tile of ``α×α`` (``α = m+2``) is transformed
  (``V = Bᵀ d B``), multiplied element-wise with the pre-transformed filters (``U = G g Gᵀ``,
  done once when the model is loaded, as ncnn and XNNPACK do) and summed over channels — a
  batched GEMM of ``T·α²·C·K`` multiplies — then transformed back (``Y = Aᵀ M A``). Transforms
  are counted as dense small matrix products (an upper bound: hand-written transforms exploit
  the zeros and ±1 of B and A): input ``2·α³`` per tile and channel, output ``α²·m + α·m²``
  per tile and output channel. Transformed tiles (``T·α²·C`` inputs, ``T·α²·K`` outputs) are
  written once and read once.
* ``depthwise``: one filter per channel, ``Ho·Wo·C·R·S`` MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Winograd output tile sizes memsim knows (F(m,3)).
WINOGRAD_TILES = (2, 4, 6)


@dataclass(frozen=True)
class ConvShape:
    """The shape of one conv2d as the runtime sees it (per group; ``groups`` of them)."""

    n: int
    ho: int
    wo: int
    c: int
    k: int
    r: int
    s: int
    stride: int = 1
    dilation: int = 1
    groups: int = 1

    @property
    def direct_macs(self) -> int:
        """Multiply-accumulates of direct convolution (all groups)."""
        return self.n * self.ho * self.wo * self.c * self.k * self.r * self.s * self.groups

    @property
    def depthwise(self) -> bool:
        """One input and one output channel per group (a depthwise conv)."""
        return self.groups > 1 and self.c == 1


@dataclass(frozen=True)
class Algorithm:
    """What one layer runs: ``name``, the kernel class whose efficiency applies, the
    multiply-accumulates it executes (``macs``: GEMM or direct part, ``transform_macs``:
    Winograd transforms) and the elements of extra buffers it writes once and reads once."""

    name: str
    kernel: str
    macs: int
    transform_macs: int = 0
    extra_elements: int = 0
    tile: int = 0  # Winograd output tile m (0: not Winograd)

    @property
    def total_macs(self) -> int:
        """All multiply-accumulates executed."""
        return self.macs + self.transform_macs


def winograd_transforms(tiles: int, c: int, k: int, m: int) -> tuple[int, int]:
    """(input, output) transform MACs of F(m,3) over ``tiles`` tiles: ``2α³`` per tile and
    input channel, ``α²m + αm²`` per tile and output channel (dense products, module doc)."""
    alpha = m + 2
    return tiles * c * 2 * alpha ** 3, tiles * k * (alpha * alpha * m + alpha * m * m)


def winograd_counts(shape: ConvShape, m: int) -> Algorithm:
    """F(m,3) multiply counts and transformed-tile elements of a 3x3 stride-1 conv (module doc)."""
    if m < 1:
        raise ValueError(f"Winograd output tile must be >= 1 (got {m})")
    alpha = m + 2
    tiles = shape.n * math.ceil(shape.ho / m) * math.ceil(shape.wo / m) * shape.groups
    gemm = tiles * alpha * alpha * shape.c * shape.k
    t_in, t_out = winograd_transforms(tiles, shape.c, shape.k, m)
    extra = tiles * alpha * alpha * (shape.c + shape.k)
    return Algorithm(f"winograd F({m},3)", "winograd", gemm, t_in + t_out, extra, m)


def winograd_eligible(shape: ConvShape) -> bool:
    """3x3, stride 1, undilated, not depthwise (Lavin & Gray's setting)."""
    return (shape.r == 3 and shape.s == 3 and shape.stride == 1 and shape.dilation == 1
            and not shape.depthwise)


def im2col_elements(shape: ConvShape) -> int:
    """Elements of the im2col matrix: one ``R·S·C`` column per output pixel (per group)."""
    return shape.n * shape.ho * shape.wo * shape.r * shape.s * shape.c * shape.groups


def ncnn_winograd_tile(shape: ConvShape, int8: bool = False, dot: bool = False) -> int:
    """ncnn's Winograd choice for an eligible 3x3 s1 conv (0: none): any conv with at least 8
    input or output channels; F(6,3) when both counts are <= 128, else F(4,3) when both are
    >= 8, else F(2,3) (Tencent/ncnn src/layer/arm/convolution_arm.cpp, create_pipeline and
    forward, cc37c10997e8). ``int8``: only F(4,3), on the pack8-in/pack4-out path (input
    channels a multiple of 8, outputs of 4; create_pipeline_int8_arm), and on cores with
    dot-product instructions (``dot``) only with >= 256 input and output channels — below that
    the int8 im2col GEMM (the same file's ``cpu_support_arm_asimddp()`` condition; from
    2023-10, 80b3b9c6f, ncnn drops int8 Winograd on such cores altogether)."""
    c, k = shape.c, shape.k
    if not winograd_eligible(shape):
        return 0
    if int8:
        if dot and not (c >= 256 and k >= 256):
            return 0
        return 4 if c % 8 == 0 and k % 4 == 0 else 0
    if c < 8 and k < 8:
        return 0
    if c <= 128 and k <= 128:
        return 6
    return 4 if c >= 8 and k >= 8 else 2


def choose_conv(shape: ConvShape, winograd_tiles: tuple[int, ...], min_channels: int,
                im2col: bool, rule: str = "fewest") -> Algorithm:
    """The algorithm a runtime with these capabilities runs for ``shape``.

    Depthwise convs run the depthwise kernel; 1x1 stride-1 convs are a GEMM; eligible 3x3 convs
    with at least ``min_channels`` input and output channels take the Winograd variant of
    ``winograd_tiles`` that executes the fewest multiplies (tile padding of small maps makes
    large tiles lose there), unless direct GEMM is cheaper; the rest im2col+GEMM (``im2col``)
    or direct. ``rule="ncnn"``: the Winograd variant is ncnn's (:func:`ncnn_winograd_tile`);
    ``"ncnn-int8"`` its int8 kernels', ``"ncnn-int8-dot"`` on a core with dot products.
    """
    direct = shape.direct_macs
    if shape.depthwise:
        return Algorithm("depthwise", "depthwise", direct)
    if shape.r == 1 and shape.s == 1 and shape.stride == 1:
        return Algorithm("gemm 1x1", "gemm", direct)
    base = (Algorithm("im2col+gemm", "gemm", direct, 0, im2col_elements(shape)) if im2col
            else Algorithm("direct", "direct", direct))
    if rule in ("ncnn", "ncnn-int8", "ncnn-int8-dot"):
        m = ncnn_winograd_tile(shape, rule != "ncnn", rule == "ncnn-int8-dot")
        return winograd_counts(shape, m) if m and m in winograd_tiles else base
    if (winograd_tiles and winograd_eligible(shape) and shape.c >= min_channels
            and shape.k >= min_channels):
        best = min((winograd_counts(shape, m) for m in winograd_tiles),
                   key=lambda a: a.total_macs)
        if best.total_macs < base.total_macs:
            return best
    return base


def conv_shape_of(op) -> ConvShape | None:
    """The :class:`ConvShape` of a workload conv2d op (None for other ops).

    Reads the op's loop dims (``N, G, K, C, P, Q, R, S``: batch, groups, output and input
    channels per group, output rows and columns, kernel; docs/workloads.md) and its
    ``stride``/``dilation`` attributes.
    """
    if op.kind != "conv2d" or op.loops is None:
        return None
    d = op.loops.dims
    stride = op.attrs.get("stride", 1)
    dilation = op.attrs.get("dilation", 1)
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    dilation = dilation[0] if isinstance(dilation, (tuple, list)) else dilation
    return ConvShape(n=d.get("N", 1), ho=d.get("P", 1), wo=d.get("Q", 1), c=d.get("C", 1),
                     k=d.get("K", 1), groups=d.get("G", 1),
                     r=d.get("R", 1), s=d.get("S", 1), stride=int(stride),
                     dilation=int(dilation))
