"""SCALE-Sim topology CSV exporter: the conv and matmul ops of a memsim graph as conv rows.

The inverse of :func:`memsim.workloads.importers.scalesim.load_scalesim_csv` for the layers a
systolic array computes (shared/notes/scalesim.md gives the format and semantics):

- SCALE-Sim adds no padding and sizes outputs as ``E = ceil((H - R) / stride) + 1``. A padded
  memsim conv with output ``E x F`` is written with the input extent it actually reads,
  ``H = (E - 1) * stride + R`` (likewise W), so SCALE-Sim computes exactly ``E x F`` outputs
  and the same MACs.
- A depthwise conv (``groups == C``, ``K = C * m`` outputs) becomes one row whose name contains
  ``DP`` with ``C`` channels and ``m`` filters: SCALE-Sim splits it into C single-channel layers.
  Other grouped convs become one row per group (``name.g<i>``). Other names have ``DP`` spelled
  ``dp`` so SCALE-Sim does not split them.
- A ``matmul`` (M x K by K x N) becomes a conv row ``H = M, W = 1, R = S = 1, C = K, K = N``:
  the same im2col operand matrices as SCALE-Sim's own GEMM mapping (M pixels, a K window,
  N filters), so conv and GEMM layers share one conv-type file.

Other ops (pooling, elementwise, norms, reshapes) are not array work and are left out; the
exporter reports them. Dilated convs, unequal strides and batch > 1 convs have no SCALE-Sim row
and raise ``ValueError``.
"""

from __future__ import annotations

import math
from pathlib import Path

from memsim.workloads.ir import Graph, Op

HEADER = ("Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,"
          "Strides,")


def _row_name(op: Op, depthwise: bool) -> str:
    name = op.name.replace(",", "_").replace("DP", "dp")
    return f"DP.{name}" if depthwise else name


def _conv_rows(graph: Graph, op: Op) -> list[tuple]:
    at = op.attrs
    n, c, _, _ = graph.tensors[op.inputs[0]].shape
    _, k, e, f = graph.tensors[op.outputs[0]].shape
    (r, s), (sh, sw), g = at["kernel"], at["stride"], at["groups"]
    if n != 1:
        raise ValueError(f"{op.name}: SCALE-Sim has no batch dimension (batch {n})")
    if tuple(at["dilation"]) != (1, 1):
        raise ValueError(f"{op.name}: SCALE-Sim has no dilated convolutions")
    if sh != sw:
        raise ValueError(f"{op.name}: SCALE-Sim needs one stride (got {sh}x{sw})")
    h, w = (e - 1) * sh + r, (f - 1) * sw + s
    if g == 1:
        return [(_row_name(op, False), h, w, r, s, c, k, sh)]
    if g == c:
        return [(_row_name(op, True), h, w, r, s, c, k // c, sh)]
    base = _row_name(op, False)
    return [(f"{base}.g{i}", h, w, r, s, c // g, k // g, sh) for i in range(g)]


def _matmul_rows(graph: Graph, op: Op) -> list[tuple]:
    a = graph.tensors[op.inputs[0]].shape
    out = graph.tensors[op.outputs[0]].shape
    kdim, ndim = a[-1], out[-1]
    m = math.prod(a) // kdim
    return [(_row_name(op, False), m, 1, 1, 1, kdim, ndim, 1)]


def scalesim_rows(graph: Graph) -> tuple[list[tuple], list[str]]:
    """(rows ``(name, H, W, R, S, C, K, stride)`` in graph order, names of the ops left out)."""
    rows: list[tuple] = []
    skipped: list[str] = []
    for op in graph.ops:
        if op.kind == "conv2d":
            rows.extend(_conv_rows(graph, op))
        elif op.kind == "matmul":
            rows.extend(_matmul_rows(graph, op))
        else:
            skipped.append(op.name)
    return rows, skipped


def format_scalesim_csv(rows: list[tuple]) -> str:
    """The topology file text: SCALE-Sim's header line, then one ``name,H,W,R,S,C,K,stride,``
    row per layer (the trailing comma SCALE-Sim's parser needs)."""
    return "".join([HEADER + "\n"] + [",".join(map(str, row)) + ",\n" for row in rows])


def write_scalesim_csv(graph: Graph, path) -> list[str]:
    """Write ``graph``'s array layers as a SCALE-Sim topology CSV at ``path`` (temp file +
    rename); returns the names of the ops left out."""
    rows, skipped = scalesim_rows(graph)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(format_scalesim_csv(rows))
    tmp.replace(path)
    return skipped
