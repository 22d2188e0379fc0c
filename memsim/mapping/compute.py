"""Compute-time models: SIMD lanes and systolic PE arrays.

Two models, both for one core:

* ``simd``: ``cycles = iters + loop_overhead * iters / temporal`` with
  ``iters = MACs / (macs_per_cycle * utilisation)``; the lane utilisation of a spatial unroll is
  ``prod D / (ceil(D/u) * u)`` over the unrolled dims (DESIGN §4, "Loop unrolling").
* ``systolic``: the SCALE-Sim 3.0.0 cycle model (im2col operand matrices, folds padded to the full
  array, folds back to back), so that our stall-free cycles equal its "Total Cycles" when it
  reports zero stalls. Structure read from SCALE-Sim 3.0.0's (PyPI ``scalesim``, MIT)
  ``systolic_compute_{os,ws,is}.py`` and checked against its reports; verified against golden
  runs in ``tests/data/scalesim/golden.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from memsim.mapping.loops import classify_dims

DATAFLOWS = ("os", "ws", "is")


@dataclass(frozen=True)
class GemmShape:
    """An op seen as SCALE-Sim's im2col GEMM, repeated ``groups`` times.

    ``npx``: output pixels (E·F·N), ``win``: reduction window per output (R·S·C per group),
    ``nf``: filters / output channels per group, ``groups``: independent GEMMs run one after the
    other (depthwise channels; SCALE-Sim splits "DP" layers the same way).
    """

    npx: int
    win: int
    nf: int
    groups: int = 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all groups."""
        return self.npx * self.win * self.nf * self.groups


def scalesim_conv_shape(h: int, w: int, r: int, s: int, c: int, k: int, stride: int,
                        depthwise: bool = False) -> GemmShape:
    """The GEMM SCALE-Sim builds for a topology row ``H,W,R,S,C,K,stride`` (no padding).

    SCALE-Sim rounds the output size up: ``E = ceil((H - R) / stride) + 1`` (notes/scalesim.md),
    one more row than the floor formula when ``H - R`` is not a multiple of the stride. With
    ``depthwise`` (a layer named "DP…") the layer is C single-channel layers of K filters each.
    """
    e = -(-(h - r) // stride) + 1
    f = -(-(w - s) // stride) + 1
    if depthwise:
        return GemmShape(npx=e * f, win=r * s, nf=k, groups=c)
    return GemmShape(npx=e * f, win=r * s * c, nf=k)


def scalesim_gemm_shape(m: int, n: int, k: int) -> GemmShape:
    """SCALE-Sim's GEMM row ``M,N,K``: a conv with an M×K input, a 1×K filter and N filters."""
    return GemmShape(npx=m, win=k, nf=n)


def systolic_cycles(shape: GemmShape, rows: int, cols: int, dataflow: str) -> int:
    """Stall-free cycles of ``shape`` on a ``rows``×``cols`` array (SCALE-Sim 3.0.0 model).

    Mapping (rows get Sr, columns Sc, T streams in time): os Sr=Npx, Sc=Nf, T=Win;
    ws Sr=Win, Sc=Nf, T=Npx; is Sr=Win, Sc=Npx, T=Nf. Every fold is padded to the full array;
    a fold lasts T+rows+cols−2 (os) or T+2·rows+cols−2 (ws, is); total folds·per_fold − 1
    (notes/scalesim.md). Groups run back to back, each with SCALE-Sim's −1.
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"array must be at least 1x1 (got {rows}x{cols})")
    if dataflow == "os":
        sr, sc, t, per = shape.npx, shape.nf, shape.win, shape.win + rows + cols - 2
    elif dataflow == "ws":
        sr, sc, t, per = shape.win, shape.nf, shape.npx, shape.npx + 2 * rows + cols - 2
    elif dataflow == "is":
        sr, sc, t, per = shape.win, shape.npx, shape.nf, shape.nf + 2 * rows + cols - 2
    else:
        raise ValueError(f"dataflow must be one of {DATAFLOWS} (got {dataflow!r})")
    if min(sr, sc, t) <= 0:
        return 0
    folds = -(-sr // rows) * -(-sc // cols)
    return shape.groups * (folds * per - 1)


def systolic_utilisation(shape: GemmShape, rows: int, cols: int, dataflow: str) -> float:
    """MACs over (PE count · cycles): the fraction of the array doing useful work."""
    cycles = systolic_cycles(shape, rows, cols, dataflow)
    return shape.macs / (rows * cols * cycles) if cycles else 0.0


def gemm_shape_of(op) -> GemmShape:
    """Classify an op's loop dims into the im2col GEMM the array sees.

    From the loop nest (docs/architecture.md): with ``O`` the output access, ``W`` the weight
    access (or the last input when the op has no weights, e.g. attention's batched matmul) and
    ``I`` the remaining inputs: group dims index O, W and I (depthwise channels, batch of a
    batched matmul); filter dims index O and W; pixel dims index O only among (O, W); window
    dims are reductions (absent from O).
    """
    cls = classify_dims(op)
    dims = op.loops.dims

    def prod(names):
        return math.prod(dims[d] for d in names)

    return GemmShape(npx=prod(cls.pixel), win=prod(cls.reduction), nf=prod(cls.filter),
                     groups=prod(cls.group))


def compute_cycles_systolic(op, rows: int, cols: int, dataflow: str) -> int:
    """Stall-free compute cycles of ``op`` on a systolic array (SCALE-Sim 3.0.0 "Total Cycles").

    ``op`` is a workload ``Op`` with loops or a :class:`GemmShape`. Depthwise / grouped layers
    run group after group, so their low column utilisation is real (as SCALE-Sim's DP split).
    """
    shape = op if isinstance(op, GemmShape) else gemm_shape_of(op)
    return systolic_cycles(shape, rows, cols, dataflow)


def lane_utilisation(dims: Mapping[str, int], unroll: Mapping[str, int], lanes: int | None = None
                     ) -> float:
    """``prod D/(ceil(D/u)·u)`` over unrolled dims, times ``min(1, prod u / lanes)``.

    The second factor charges lanes left idle when the unroll is narrower than the hardware
    (e.g. ``{K: 16}`` on 32 lanes uses half of them). Unknown dims raise ``KeyError``.
    """
    util = 1.0
    width = 1
    for d, u in unroll.items():
        u = max(1, int(u))
        extent = dims[d]
        util *= extent / (-(-extent // u) * u)
        width *= u
    if lanes:
        util *= min(1.0, width / lanes)
    return util


def compute_cycles_simd(macs: int, macs_per_cycle: int, utilisation: float = 1.0,
                        loop_overhead_cycles: int = 0, temporal: int = 1) -> float:
    """SIMD cycles: ``iters + loop_overhead·iters/temporal``, ``iters = MACs/(mpc·util)``.

    One innermost iteration issues one full-width vector MAC (``macs_per_cycle`` lanes) of which
    a fraction ``utilisation`` is useful; each iteration costs ``loop_overhead_cycles`` of loop
    control, amortised over ``temporal`` unrolled copies (DESIGN §4).
    """
    if macs <= 0:
        return 0.0
    if macs_per_cycle <= 0 or utilisation <= 0:
        raise ValueError("macs_per_cycle and utilisation must be positive")
    iters = macs / (macs_per_cycle * utilisation)
    return iters + loop_overhead_cycles * iters / max(1, int(temporal))
