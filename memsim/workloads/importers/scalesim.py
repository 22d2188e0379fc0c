"""SCALE-Sim topology CSV importer (conv and GEMM rows), with SCALE-Sim's exact semantics.

Format (shared/notes/scalesim.md, SCALE-Sim 3.0.0 ``topology_utils``): the first line is a header
and is skipped; an optional UTF-8 BOM; conv rows ``name,H,W,R,S,C,K,stride,`` (trailing comma;
an optional ``N:M`` sparsity field after the stride); GEMM rows ``name,M,N,K,``. No padding is
added and the output size is rounded UP: ``E = ceil((H - R) / stride) + 1``, which we express as
bottom/right padding of ``(-(H - R)) mod stride`` (the extra row's out-of-range inputs are idle
but the mapping still holds them, as in SCALE-Sim). Layers are independent: each reads its own
input feature map (a graph input) and writes its own output. A GEMM row is a ``matmul`` op
(SCALE-Sim maps it to a conv with an M x K input, a 1 x K filter and N filters). Names containing
``DP`` are depthwise in SCALE-Sim (split into C single-channel layers of K filters): a conv with
``groups = C`` and ``C * K`` output channels.
"""

from __future__ import annotations

import re
from pathlib import Path

from memsim.errors import InputError
from memsim.workloads.builder import GraphBuilder
from memsim.workloads.ir import Graph

CONV_FIELDS = ("H", "W", "R", "S", "C", "K", "stride")
GEMM_FIELDS = ("M", "N", "K")
_SPARSITY = re.compile(r"^(\d+)\s*:\s*(\d+)$")


def load_scalesim_csv(path, batch: int = 1, dtype: str = "int8") -> Graph:
    """Read a SCALE-Sim topology CSV into a ``Graph``; malformed rows raise ``InputError``
    naming the file, line and column."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason})", path=path) from None
    lines = text.splitlines()
    header = [f.strip() for f in lines[0].split(",") if f.strip()] if lines else []
    b = GraphBuilder(path.stem, dtype, batch)
    outputs: list[str] = []
    seen: set[str] = set()
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        while fields and fields[-1] == "":
            fields.pop()
        if not fields:
            continue
        name = fields[0]
        if not name:
            raise InputError("layer name is empty", field="name", path=path, line=lineno, col=1)
        if name in seen:
            raise InputError(f"duplicate layer name (got {name!r})", field="name", path=path,
                             line=lineno, col=1)
        seen.add(name)
        sparsity = None
        if len(fields) == 9 and _SPARSITY.match(fields[8]):
            sparsity = fields.pop()
        if len(fields) == 8:
            names = CONV_FIELDS
        elif len(fields) == 4:
            names = GEMM_FIELDS
        else:
            raise InputError(
                f"expected name,H,W,R,S,C,K,stride, (conv) or name,M,N,K, (GEMM) "
                f"(got {len(fields)} fields)", path=path, line=lineno, col=1)
        _check_header(header, names, len(fields), path, lineno)
        vals = {}
        col = len(name) + 2
        for fname, raw in zip(names, fields[1:]):
            try:
                v = int(raw)
            except ValueError:
                v = None
            if v is None or v < 1:
                raise InputError(f"must be a positive integer (got {raw!r})", field=fname,
                                 path=path, line=lineno, col=col)
            vals[fname] = v
            col += len(raw) + 1
        safe = name  # kept verbatim: reports escape names, users see their own
        if names is GEMM_FIELDS:
            x = b.input(f"{safe}.input", (vals["M"], vals["K"]))
            outputs.append(b.linear(x, vals["N"], bias=False, name=safe))
            continue
        h, w, r, s, c, k, st = (vals[f] for f in CONV_FIELDS)
        if r > h or s > w:
            raise InputError(f"filter {r}x{s} larger than the input {h}x{w}", field="R",
                             path=path, line=lineno, col=1)
        x = b.input(f"{safe}.ifmap", (batch, c, h, w))
        pads = (0, 0, (-(h - r)) % st, (-(w - s)) % st)  # SCALE-Sim rounds the output size up
        depthwise = "DP" in name
        out = b.conv(x, c * k if depthwise else k, (r, s), st, pads,
                     groups=c if depthwise else 1, name=safe)
        op = b.ops[-1]
        op.attrs["scalesim"] = {"row": lineno, **vals}
        if sparsity:
            n_, m_ = map(int, _SPARSITY.match(sparsity).groups())
            if n_ > m_:
                raise InputError(f"sparsity N:M needs N <= M (got {sparsity})", field="sparsity",
                                 path=path, line=lineno, col=1)
            op.attrs["sparsity"] = (n_, m_)
        outputs.append(out)
    if not outputs:
        raise InputError("no layers (the first line is the header)", path=path, line=1)
    return b.finish(outputs, {"source": "scalesim"})


def _check_header(header: list[str], names: tuple, nfields: int, path, lineno: int) -> None:
    """A row must have the shape its header announces: a conv header (8 columns, SCALE-Sim's
    ``Layer name, IFMAP Height, ... Strides``) over a 4-field row means columns are missing,
    not a GEMM layer (GEMM topologies have their own ``Layer, M, N, K`` header; rows of both
    kinds may follow a GEMM header)."""
    if len(header) in (8, 9) and names is GEMM_FIELDS:
        raise InputError(f"missing columns: the header names {len(header)} ({', '.join(header)}) "
                         f"but this row has {nfields} fields", path=path, line=lineno, col=1)
