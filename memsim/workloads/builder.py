"""``GraphBuilder``: constructs ops with exact loop nests, MACs, params and tensors.

Every zoo network and every importer goes through these constructors, so an op's loop nest,
MAC count and parameter count are defined in exactly one place. Tensor names equal the name of the
op that writes them; weights are ``<op>.weight`` / ``<op>.bias``.

Elementary-operation counts for ops without MACs (``attrs["ops"]``, per output element) are memsim
conventions, listed in :data:`ELEMENTWISE_OPS` and docs/workloads.md; they feed only the compute
cost of non-MAC layers.
"""

from __future__ import annotations

import math
from typing import Sequence

from memsim.workloads.ir import Access, Affine, Graph, LoopNest, Op, Tensor, bias_dtype

A = Affine.of
C0 = Affine.const(0)

#: Elementary operations per output element (memsim convention, see module docstring).
ELEMENTWISE_OPS: dict[str, int] = {
    "add": 1, "sub": 1, "mul": 1, "div": 1, "relu": 1, "relu6": 2, "clip": 2, "sigmoid": 4,
    "silu": 5, "hardsigmoid": 3, "hardswish": 4, "gelu": 8, "tanh": 4, "rope": 3, "copy": 0,
    "slice": 0, "upsample": 0, "identity": 0, "exp": 1, "sqrt": 1, "neg": 1, "pow": 1,
    "unknown": 1,
}
SOFTMAX_OPS = 5  # max, subtract, exp, sum, divide
NORM_OPS = {"batch": 2, "layer": 8, "rms": 5}  # per element: scale+shift; mean/var/normalise


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _dimnames(rank: int) -> list[str]:
    return [f"d{i}" for i in range(rank)]


def same_pads(size: tuple[int, int], k: tuple[int, int], s: tuple[int, int],
              d: tuple[int, int] = (1, 1)) -> tuple[int, int, int, int]:
    """TensorFlow ``padding='same'`` pads ``(top, left, bottom, right)``: total
    ``max((ceil(H/s) - 1) s + (k - 1) d + 1 - H, 0)``, the smaller half on top/left."""
    pads = []
    for h, kk, ss, dd in zip(size, k, s, d):
        total = max((-(-h // ss) - 1) * ss + (kk - 1) * dd + 1 - h, 0)
        pads.append((total // 2, total - total // 2))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])


class GraphBuilder:
    """Accumulates tensors and ops in execution order; :meth:`finish` returns the ``Graph``."""

    def __init__(self, name: str, dtype: str = "int8", batch: int = 1):
        self.name = name
        self.dtype = dtype
        self.batch = int(batch)
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self._count: dict[str, int] = {}

    # -- helpers -------------------------------------------------------------------------
    def shape(self, t: str) -> tuple[int, ...]:
        """Shape of tensor ``t``."""
        return self.tensors[t].shape

    def _name(self, name: str | None, kind: str) -> str:
        if name is None:
            n = self._count.get(kind, 0)
            self._count[kind] = n + 1
            name = f"{kind}_{n}"
        if name in self.tensors:
            raise ValueError(f"duplicate name {name!r}")
        return name

    def tensor(self, name: str, shape, kind: str = "activation", dtype: str | None = None,
               alias_of: str | None = None) -> str:
        """Register a tensor and return its name."""
        if name in self.tensors:
            raise ValueError(f"duplicate tensor {name!r}")
        self.tensors[name] = Tensor(name, tuple(shape), dtype or self.dtype, kind, alias_of)
        return name

    def weight(self, name: str, shape, dtype: str | None = None) -> str:
        """Register a learned tensor (reused if it already exists, e.g. tied embeddings)."""
        if name in self.tensors:
            return name
        return self.tensor(name, shape, "weight", dtype)

    def add_op(self, op: Op) -> str:
        """Append ``op``; returns its first output."""
        self.ops.append(op)
        return op.outputs[0] if op.outputs else op.name

    def input(self, name: str, shape, dtype: str | None = None) -> str:
        """A graph input."""
        self.inputs.append(name)
        return self.tensor(name, shape, "input", dtype)

    def state(self, name: str, shape, dtype: str | None = None) -> str:
        """A persistent non-weight tensor (KV cache)."""
        return self.tensor(name, shape, "state", dtype)

    # -- ops ----------------------------------------------------------------------------
    def conv(self, x: str, out_ch: int, k, stride=1, pad=None, dilation=1, groups: int = 1,
             bias: bool = False, name: str | None = None) -> str:
        """2-D convolution on NCHW ``x``; weight ``(out_ch, C/groups, R, S)``.

        ``pad``: int, ``(ph, pw)``, ``(top, left, bottom, right)``, ``"same"`` (TensorFlow) or
        ``None`` (``(k - 1) * dilation // 2`` each side). Output ``P = (H + pt + pb - d(R-1) - 1)
        // stride + 1``.
        """
        name = self._name(name, "conv")
        n, c, h, w = self.shape(x)
        (r, s), (sh, sw), (dh, dw) = _pair(k), _pair(stride), _pair(dilation)
        if pad is None:
            pads = ((r - 1) * dh // 2, (s - 1) * dw // 2) * 2
        elif pad == "same":
            pads = same_pads((h, w), (r, s), (sh, sw), (dh, dw))
        elif isinstance(pad, int):
            pads = (pad,) * 4
        elif len(pad) == 2:
            pads = (pad[0], pad[1], pad[0], pad[1])
        else:
            pads = tuple(pad)
        pt, pl, pb, pr = pads
        p = (h + pt + pb - dh * (r - 1) - 1) // sh + 1
        q = (w + pl + pr - dw * (s - 1) - 1) // sw + 1
        if c % groups or out_ch % groups or p < 1 or q < 1:
            raise ValueError(f"conv {name}: bad shape C={c} K={out_ch} groups={groups} P={p} Q={q}")
        cg, kg = c // groups, out_ch // groups
        wt = self.weight(f"{name}.weight", (out_ch, cg, r, s))
        weights = [wt]
        out = self.tensor(name, (n, out_ch, p, q))
        kidx = Affine((("G", kg), ("K", 1)))
        acc = [
            Access(x, "r", (A("N"), Affine((("G", cg), ("C", 1))),
                            Affine((("P", sh), ("R", dh)), -pt), Affine((("Q", sw), ("S", dw)), -pl))),
            Access(wt, "r", (kidx, A("C"), A("R"), A("S"))),
        ]
        params = out_ch * cg * r * s
        if bias:
            b = self.weight(f"{name}.bias", (out_ch,), bias_dtype(self.dtype))
            weights.append(b)
            acc.append(Access(b, "r", (kidx,)))
            params += out_ch
        acc.append(Access(out, "w", (A("N"), kidx, A("P"), A("Q"))))
        dims = {"N": n, "G": groups, "K": kg, "C": cg, "P": p, "Q": q, "R": r, "S": s}
        attrs = {"kernel": (r, s), "stride": (sh, sw), "pads": pads, "dilation": (dh, dw),
                 "groups": groups, "bias": bias}
        return self.add_op(Op(name, "conv2d", (x,), tuple(weights), (out,), attrs,
                              macs=n * out_ch * p * q * cg * r * s, params=params,
                              loops=LoopNest(dims, tuple(acc))))

    def linear(self, x: str, out_features: int, bias: bool = True, name: str | None = None,
               weight: str | None = None, transpose_b: bool = True) -> str:
        """``y = x W^T + b`` on a 2-D ``x`` ``(M, K)``; ``W`` is ``(N, K)`` as in torch.

        ``weight`` names an existing tensor to share (tied embeddings: not counted again).
        """
        name = self._name(name, "linear")
        m, kk = self.shape(x)
        tied = weight is not None
        wshape = (out_features, kk) if transpose_b else (kk, out_features)
        wt = weight if tied else self.weight(f"{name}.weight", wshape)
        if self.tensors[wt].shape != wshape:
            raise ValueError(f"linear {name}: weight {wt} shape {self.tensors[wt].shape}")
        out = self.tensor(name, (m, out_features))
        widx = (A("N"), A("K")) if transpose_b else (A("K"), A("N"))
        acc = [Access(x, "r", (A("M"), A("K"))), Access(wt, "r", widx)]
        weights = [wt]
        params = 0 if tied else out_features * kk
        if bias:
            b = self.weight(f"{name}.bias", (out_features,), bias_dtype(self.dtype))
            weights.append(b)
            acc.append(Access(b, "r", (A("N"),)))
            params += out_features
        acc.append(Access(out, "w", (A("M"), A("N"))))
        dims = {"M": m, "N": out_features, "K": kk}
        return self.add_op(Op(name, "matmul", (x,), tuple(weights), (out,),
                              {"bias": bias, "transpose_b": transpose_b, "tied": tied},
                              macs=m * out_features * kk, params=params,
                              loops=LoopNest(dims, tuple(acc))))

    def einsum(self, equation: str, a: str, b: str, name: str | None = None) -> str:
        """Batched matmul given as an einsum over two operands, e.g. ``"bmhk,bnhk->bhmn"``.

        Letters in both operands and the output become batch dims ``B, H, G, B3, ...``; letters
        only in ``a`` and the output ``M``; only in ``b`` and the output ``N``; summed letters
        ``K``. MACs = product of all dims.
        """
        name = self._name(name, "bmm")
        lhs, out_s = equation.replace(" ", "").split("->")
        sa, sb = lhs.split(",")
        size: dict[str, int] = {}
        for sub, t in ((sa, a), (sb, b)):
            shp = self.shape(t)
            if len(sub) != len(shp):
                raise ValueError(f"einsum {name}: {sub} does not match shape {shp}")
            for ch, n in zip(sub, shp):
                if size.setdefault(ch, n) != n:
                    raise ValueError(f"einsum {name}: {ch} is {size[ch]} and {n}")
        dimname: dict[str, str] = {}
        batch_names = ["B", "H", "G"]
        groups = {"batch": [], "M": [], "N": [], "K": []}
        for ch in dict.fromkeys(out_s + sa + sb):
            key = ("batch" if ch in sa and ch in sb else "M" if ch in sa else "N") \
                if ch in out_s else "K"
            groups[key].append(ch)
        for i, ch in enumerate(groups["batch"]):
            dimname[ch] = batch_names[i] if i < 3 else f"B{i}"
        for key in ("M", "N", "K"):
            for i, ch in enumerate(groups[key]):
                dimname[ch] = key if i == 0 else f"{key}{i + 1}"
        out = self.tensor(name, tuple(size[ch] for ch in out_s))
        order = [ch for key in ("batch", "M", "N", "K") for ch in groups[key]]
        dims = {dimname[ch]: size[ch] for ch in order}
        acc = (Access(a, "r", tuple(A(dimname[ch]) for ch in sa)),
               Access(b, "r", tuple(A(dimname[ch]) for ch in sb)),
               Access(out, "w", tuple(A(dimname[ch]) for ch in out_s)))
        ins, weights, params = self._split_weights([a, b])
        return self.add_op(Op(name, "batch_matmul", ins, weights, (out,), {"equation": equation},
                              macs=math.prod(dims.values()), params=params,
                              loops=LoopNest(dims, acc)))

    def elementwise(self, op: str, xs: Sequence[str], name: str | None = None,
                    inplace: bool = True) -> str:
        """Elementwise ``op`` over ``xs`` (learned tensors allowed) with numpy broadcasting."""
        name = self._name(name, op)
        operands = list(xs)
        shapes = [self.shape(t) for t in operands]
        rank = max(len(s) for s in shapes)
        out_shape = tuple(max(s[i - rank + len(s)] if i - rank + len(s) >= 0 else 1 for s in shapes)
                          for i in range(rank))
        dn = _dimnames(rank)
        out = self.tensor(name, out_shape)
        acc = []
        for t in operands:
            s = self.shape(t)
            off = rank - len(s)
            idx = tuple(C0 if s[i] == 1 and out_shape[i + off] != 1 else A(dn[i + off])
                        for i in range(len(s)))
            acc.append(Access(t, "r", idx))
        acc.append(Access(out, "w", tuple(A(d) for d in dn)))
        numel = math.prod(out_shape)
        per = ELEMENTWISE_OPS.get(op, 1) * max(1, len(operands) - 1 if op in ("add", "mul", "sub") else 1)
        ins, weights, params = self._split_weights(operands)
        return self.add_op(Op(name, "elementwise", ins, weights, (out,),
                              {"op": op, "ops": numel * per}, params=params,
                              loops=LoopNest(dict(zip(dn, out_shape)), tuple(acc)),
                              inplace_ok=inplace and bool(ins) and self.shape(ins[0]) == out_shape))

    def act(self, x: str, fn: str, name: str | None = None) -> str:
        """Activation function (``relu``, ``relu6``, ``silu``, ``gelu``, ``sigmoid``, ...)."""
        return self.elementwise(fn, [x], name)

    def add(self, a: str, b: str, name: str | None = None) -> str:
        """Elementwise sum."""
        return self.elementwise("add", [a, b], name)

    def mul(self, a: str, b: str, name: str | None = None) -> str:
        """Elementwise product (broadcasting)."""
        return self.elementwise("mul", [a, b], name)

    def upsample(self, x: str, scale: int = 2, name: str | None = None) -> str:
        """Nearest-neighbour upsampling by an integer ``scale`` (dims N, C, H, W, U, V)."""
        name = self._name(name, "upsample")
        n, c, h, w = self.shape(x)
        out = self.tensor(name, (n, c, h * scale, w * scale))
        dims = {"N": n, "C": c, "H": h, "W": w, "U": scale, "V": scale}
        acc = (Access(x, "r", (A("N"), A("C"), A("H"), A("W"))),
               Access(out, "w", (A("N"), A("C"), Affine((("H", scale), ("U", 1))),
                                 Affine((("W", scale), ("V", 1))))))
        return self.add_op(Op(name, "elementwise", (x,), (), (out,),
                              {"op": "upsample", "scale": scale, "ops": 0},
                              loops=LoopNest(dims, acc)))

    def batchnorm(self, x: str, name: str | None = None) -> str:
        """Inference batch norm over channel axis 1: scale and shift (2C params; running
        statistics are not learned parameters and are not modelled)."""
        name = self._name(name, "bn")
        shp = self.shape(x)
        c = shp[1]
        g = self.weight(f"{name}.weight", (c,))
        b = self.weight(f"{name}.bias", (c,))
        dn = _dimnames(len(shp))
        out = self.tensor(name, shp)
        acc = (Access(x, "r", tuple(A(d) for d in dn)), Access(g, "r", (A(dn[1]),)),
               Access(b, "r", (A(dn[1]),)), Access(out, "w", tuple(A(d) for d in dn)))
        return self.add_op(Op(name, "norm", (x,), (g, b), (out,),
                              {"norm": "batch", "ops": NORM_OPS["batch"] * math.prod(shp)},
                              params=2 * c, loops=LoopNest(dict(zip(dn, shp)), acc),
                              inplace_ok=True))

    def layernorm(self, x: str, name: str | None = None, kind: str = "layer",
                  bias: bool = True) -> str:
        """Layer norm (``kind="layer"``) or RMS norm (``"rms"``) over the last axis."""
        name = self._name(name, "ln")
        shp = self.shape(x)
        d = shp[-1]
        dn = _dimnames(len(shp))
        g = self.weight(f"{name}.weight", (d,))
        weights = [g]
        acc = [Access(x, "r", tuple(A(x_) for x_ in dn)), Access(g, "r", (A(dn[-1]),))]
        if bias:
            b = self.weight(f"{name}.bias", (d,))
            weights.append(b)
            acc.append(Access(b, "r", (A(dn[-1]),)))
        out = self.tensor(name, shp)
        acc.append(Access(out, "w", tuple(A(x_) for x_ in dn)))
        return self.add_op(Op(name, "norm", (x,), tuple(weights), (out,),
                              {"norm": kind, "ops": NORM_OPS[kind] * math.prod(shp)},
                              params=d * len(weights), loops=LoopNest(dict(zip(dn, shp)), tuple(acc)),
                              inplace_ok=True))

    def softmax(self, x: str, name: str | None = None, axis: int = -1) -> str:
        """Softmax over ``axis`` (default the last)."""
        name = self._name(name, "softmax")
        shp = self.shape(x)
        dn = _dimnames(len(shp))
        out = self.tensor(name, shp)
        idx = tuple(A(d) for d in dn)
        return self.add_op(Op(name, "softmax", (x,), (), (out,),
                              {"axis": axis % len(shp), "ops": SOFTMAX_OPS * math.prod(shp)},
                              loops=LoopNest(dict(zip(dn, shp)), (Access(x, "r", idx),
                                                                  Access(out, "w", idx))),
                              inplace_ok=True))

    def pool(self, x: str, kind: str, k, stride=None, pad=0, name: str | None = None) -> str:
        """Max or average pooling (dims N, C, P, Q, R, S); ``pad`` int or (t, l, b, r)."""
        name = self._name(name, f"{kind}pool")
        n, c, h, w = self.shape(x)
        r, s = _pair(k)
        sh, sw = _pair(stride if stride is not None else k)
        pt, pl, pb, pr = (pad,) * 4 if isinstance(pad, int) else tuple(pad)
        p = (h + pt + pb - r) // sh + 1
        q = (w + pl + pr - s) // sw + 1
        out = self.tensor(name, (n, c, p, q))
        dims = {"N": n, "C": c, "P": p, "Q": q, "R": r, "S": s}
        acc = (Access(x, "r", (A("N"), A("C"), Affine((("P", sh), ("R", 1)), -pt),
                               Affine((("Q", sw), ("S", 1)), -pl))),
               Access(out, "w", (A("N"), A("C"), A("P"), A("Q"))))
        return self.add_op(Op(name, "pool", (x,), (), (out,),
                              {"pool": kind, "kernel": (r, s), "stride": (sh, sw),
                               "pads": (pt, pl, pb, pr), "ops": n * c * p * q * r * s},
                              loops=LoopNest(dims, acc)))

    def global_pool(self, x: str, name: str | None = None) -> str:
        """Global average pooling to ``(N, C, 1, 1)``."""
        _, _, h, w = self.shape(x)
        return self.pool(x, "avg", (h, w), (1, 1), 0, name)

    def reshape(self, x: str, shape, name: str | None = None) -> str:
        """A no-copy view of ``x`` with a new shape (same element count, same bytes)."""
        name = self._name(name, "reshape")
        shape = tuple(int(v) for v in shape)
        if math.prod(shape) != math.prod(self.shape(x)):
            raise ValueError(f"reshape {name}: {self.shape(x)} -> {shape}")
        out = self.tensor(name, shape, alias_of=x, dtype=self.tensors[x].dtype)
        return self.add_op(Op(name, "reshape", (x,), (), (out,), {"shape": shape}))

    def flatten(self, x: str, name: str | None = None) -> str:
        """View ``(N, ...)`` as ``(N, rest)``."""
        shp = self.shape(x)
        return self.reshape(x, (shp[0], math.prod(shp[1:])), name)

    def transpose(self, x: str, perm: Sequence[int], name: str | None = None) -> str:
        """A transpose that copies: ``out[i_perm] = x[i]`` (dims d0.. over the output)."""
        name = self._name(name, "transpose")
        shp = self.shape(x)
        out_shape = tuple(shp[p] for p in perm)
        dn = _dimnames(len(shp))
        out = self.tensor(name, out_shape)
        src = [None] * len(shp)
        for o, p in enumerate(perm):
            src[p] = A(dn[o])
        acc = (Access(x, "r", tuple(src)), Access(out, "w", tuple(A(d) for d in dn)))
        return self.add_op(Op(name, "transpose", (x,), (), (out,), {"perm": tuple(perm), "ops": 0},
                              loops=LoopNest(dict(zip(dn, out_shape)), acc)))

    def concat(self, xs: Sequence[str], axis: int = 1, name: str | None = None) -> str:
        """Copy ``xs`` (in order; learned tensors such as a class token allowed, broadcast over
        size-1 axes) into slices of one output along ``axis``; operand ``i`` is read at
        ``index - offset_i`` (out of range = not its slice)."""
        name = self._name(name, "concat")
        operands = list(xs)
        shapes = [self.shape(t) for t in operands]
        rank = len(shapes[0])
        axis %= rank
        out_shape = [max(s[i] for s in shapes) for i in range(rank)]
        out_shape[axis] = sum(s[axis] for s in shapes)
        dn = _dimnames(rank)
        out = self.tensor(name, tuple(out_shape))
        acc, off = [], 0
        for t, s in zip(operands, shapes):
            idx = tuple(C0 if (i != axis and s[i] == 1 and out_shape[i] != 1)
                        else A(dn[i], 1, -off if i == axis else 0) for i in range(rank))
            acc.append(Access(t, "r", idx))
            off += s[axis]
        acc.append(Access(out, "w", tuple(A(d) for d in dn)))
        inputs, weights, params = self._split_weights(operands)
        return self.add_op(Op(name, "concat", inputs, weights, (out,),
                              {"axis": axis, "ops": 0}, params=params,
                              loops=LoopNest(dict(zip(dn, out_shape)), tuple(acc))))

    def _split_weights(self, operands):
        """(activation operands, weight operands, params of weights not yet owned by an op)."""
        owned = {w for o in self.ops for w in o.weights}
        inputs = tuple(t for t in operands if self.tensors[t].kind != "weight")
        weights = tuple(dict.fromkeys(t for t in operands if self.tensors[t].kind == "weight"))
        params = sum(self.tensors[w].numel for w in weights if w not in owned)
        return inputs, weights, params

    def embedding(self, ids: str | None, vocab: int, dim: int, name: str | None = None,
                  rows: int | None = None, row_offset: int = 0, weight: str | None = None) -> str:
        """Row gather from a ``(vocab, dim)`` table into ``(rows, dim)``.

        With ``ids`` ``(B, T)``: output ``(B, T, dim)``; the rows read are data, so the nest
        reads row ``t`` for token ``t`` (distinct rows per sequence; ``attrs["data_dependent"]``).
        Without ``ids`` (learned positions): ``rows`` rows from ``row_offset`` on, exact.
        """
        name = self._name(name, "embedding")
        wt = weight or self.weight(f"{name}.weight", (vocab, dim))
        params = 0 if weight else vocab * dim
        if ids is not None:
            b, t = self.shape(ids)
            out = self.tensor(name, (b, t, dim))
            dims = {"B": b, "T": t, "D": dim}
            acc = (Access(ids, "r", (A("B"), A("T"))), Access(wt, "r", (A("T"), A("D"))),
                   Access(out, "w", (A("B"), A("T"), A("D"))))
            inputs = (ids,)
        else:
            out = self.tensor(name, (rows, dim))
            dims = {"T": rows, "D": dim}
            acc = (Access(wt, "r", (A("T", 1, row_offset), A("D"))), Access(out, "w", (A("T"), A("D"))))
            inputs = ()
        return self.add_op(Op(name, "embedding", inputs, (wt,), (out,),
                              {"data_dependent": ids is not None, "row_offset": row_offset,
                               "ops": 0, "vocab": vocab}, params=params,
                              loops=LoopNest(dims, acc)))

    def cache_write(self, x: str, cache: str, axis: int, offset: int, perm: Sequence[int],
                    name: str | None = None) -> str:
        """Copy ``x`` into the slice ``[offset, offset + n)`` along ``axis`` of the state tensor
        ``cache`` (a KV-cache append); ``perm[o]`` is the axis of ``x`` feeding cache axis ``o``.
        The op writes only that slice; the rest of the cache is left untouched."""
        name = self._name(name, "cache_write")
        xs = self.shape(x)
        cs = self.tensors[cache].shape
        dims = {f"d{o}": xs[perm[o]] for o in range(len(cs))}
        src = [None] * len(xs)
        for o, p in enumerate(perm):
            src[p] = A(f"d{o}")
        acc = (Access(x, "r", tuple(src)),
               Access(cache, "w", tuple(A(f"d{o}", 1, offset if o == axis else 0)
                                       for o in range(len(cs)))))
        self.add_op(Op(name, "concat", (x,), (), (cache,),
                       {"axis": axis, "offset": offset, "cache_write": True,
                        "perm": tuple(perm), "ops": 0},
                       loops=LoopNest(dims, acc)))
        return cache

    def slice(self, x: str, axis: int, start: int, stop: int, name: str | None = None) -> str:
        """Copy ``x[..., start:stop, ...]`` along ``axis``; a stop of ``start + 1`` with
        ``keepdim=False`` semantics is :meth:`select`."""
        return self._slice(x, axis, start, stop, True, name)

    def select(self, x: str, axis: int, index: int, name: str | None = None) -> str:
        """Copy ``x[..., index, ...]`` (the axis is dropped), e.g. a class token."""
        return self._slice(x, axis, index, index + 1, False, name)

    def _slice(self, x, axis, start, stop, keep, name):
        name = self._name(name, "slice")
        shp = self.shape(x)
        axis %= len(shp)
        out_shape = list(shp)
        out_shape[axis] = stop - start
        if not keep:
            del out_shape[axis]
        dn = _dimnames(len(out_shape))
        src, j = [], 0
        for i in range(len(shp)):
            if i == axis and not keep:
                src.append(Affine.const(start))
            else:
                src.append(A(dn[j], 1, start if i == axis else 0))
                j += 1
        out = self.tensor(name, tuple(out_shape))
        acc = (Access(x, "r", tuple(src)), Access(out, "w", tuple(A(d) for d in dn)))
        return self.add_op(Op(name, "elementwise", (x,), (), (out,),
                              {"op": "slice", "axis": axis, "start": start, "stop": stop,
                               "keepdim": keep, "ops": 0},
                              loops=LoopNest(dict(zip(dn, out_shape)), acc)))

    # -- result -------------------------------------------------------------------------
    def finish(self, outputs: Sequence[str], attrs: dict | None = None) -> Graph:
        """The graph; ``outputs`` become ``output`` tensors."""
        for o in outputs:
            t = self.tensors[o]
            if t.kind == "activation":
                self.tensors[o] = Tensor(t.name, t.shape, t.dtype, "output", t.alias_of)
        g = Graph(self.name, dict(self.tensors), list(self.ops), tuple(self.inputs),
                  tuple(outputs), dict(attrs or {}, batch=self.batch, dtype=self.dtype))
        return g
