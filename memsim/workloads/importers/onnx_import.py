"""ONNX importer: shapes only (weights are never read), via ``onnx`` shape inference.

Rules: default-domain opset >= 11; graph inputs whose first axis is symbolic get ``batch``;
initializers in a weight role (Conv W/B, Gemm/MatMul B/C, Gather data, norm scale/bias, operands
of Add/Mul/Concat/Einsum with more than one element) are learned weights; index, shape, scale
and running-statistics inputs are constants (not parameters). External data is accepted only
when its location is a plain file name beside the model in the model's folder; it is not read.
Unsupported ops raise one ``InputError`` listing them all; with ``lenient=True`` each is modelled
as elementwise traffic (reads its activation inputs, writes its outputs, 1 op per output element)
with a ``warnings.warn``. Activation and weight dtypes are the ``dtype`` argument; integer graph
inputs (token ids) keep their ONNX type.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
from onnx import TensorProto, numpy_helper

from memsim.errors import InputError
from memsim.workloads.builder import GraphBuilder, same_pads
from memsim.workloads.importers.onnx_export import MEMSIM_DOMAIN
from memsim.workloads.ir import Graph

_INT_TYPES = {TensorProto.INT32: "int32", TensorProto.INT64: "int64", TensorProto.INT8: "int8",
              TensorProto.UINT8: "uint8", TensorProto.INT16: "int16"}
_ELEMENTWISE = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Relu": "relu",
                "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
                "HardSigmoid": "hardsigmoid", "Gelu": "gelu", "Exp": "exp", "Sqrt": "sqrt",
                "Neg": "neg", "Sum": "add", "Erf": "unknown", "Pow": "pow"}
_VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
SUPPORTED = sorted(set(_ELEMENTWISE) | _VIEWS | {
    "Conv", "Gemm", "MatMul", "Einsum", "MaxPool", "AveragePool", "GlobalAveragePool",
    "GlobalMaxPool", "Softmax", "Concat", "BatchNormalization", "LayerNormalization",
    "Transpose", "Gather", "Slice", "Resize", "Clip", "Constant"})


def _check_external(model: onnx.ModelProto, path: Path) -> None:
    folder = path.resolve().parent
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                tensors.append(a.t)
    for t in tensors:
        if t.data_location != TensorProto.EXTERNAL:
            continue
        loc = {e.key: e.value for e in t.external_data}.get("location", "")
        target = (folder / loc).resolve()
        if not loc or Path(loc).is_absolute() or ".." in Path(loc).parts or target.parent != folder:
            raise InputError(f"external data must be a file beside the model in its folder "
                             f"(got {loc!r})", field=f"initializer {t.name}", path=path)


class _Importer:
    def __init__(self, model, path, batch, dtype, lenient):
        self.model, self.path, self.lenient = model, path, lenient
        g = model.graph
        self.b = GraphBuilder(g.name or path.stem, dtype, batch)
        self.inits = {t.name: t for t in g.initializer}
        self.shapes: dict[str, tuple] = {}
        self.types: dict[str, int] = {}
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                self.shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                             for d in tt.shape.dim)
            self.types[vi.name] = tt.elem_type
        self.consts: dict[str, object] = {}
        self.unsupported: dict[str, str] = {}

    def out_shape(self, name):
        """Inferred shape of ``name`` with a symbolic leading axis bound to the batch."""
        shape = self.shapes.get(name)
        if shape and shape[0] is None:
            shape = (self.b.batch,) + tuple(shape[1:])
        return shape

    def err(self, node, problem):
        return InputError(problem, field=f"node {node.name or node.output[0]} ({node.op_type})",
                          path=self.path)

    # -- tensors -------------------------------------------------------------------------
    def const(self, name):
        """Numpy value of a constant (initializer or Constant node), or None."""
        if name in self.consts:
            return self.consts[name]
        t = self.inits.get(name)
        if t is None or t.data_location == TensorProto.EXTERNAL:
            return None
        return numpy_helper.to_array(t)

    def weight(self, name):
        """Register an initializer as a learned tensor (graph dtype); returns its name."""
        b = self.b
        if name not in b.tensors:
            b.weight(name, tuple(self.inits[name].dims))
        return name

    def operand(self, node, name):
        """An activation operand (must already exist) or an initializer (a weight)."""
        if name in self.b.tensors:
            return name
        if name in self.inits:
            return self.weight(name)
        raise self.err(node, f"input {name!r} is not produced by an earlier node")

    # -- nodes ---------------------------------------------------------------------------
    def run(self) -> Graph:
        g, b = self.model.graph, self.b
        for vi in g.input:
            if vi.name in self.inits:
                continue
            shape = list(self.shapes.get(vi.name, ()))
            if not shape:
                raise InputError("graph input has no shape", field=f"input {vi.name}", path=self.path)
            if shape[0] is None or (shape[0] == 1 and b.batch != 1):
                shape[0] = b.batch
            if None in shape:
                raise InputError(f"dynamic dimension other than the batch (got {shape})",
                                 field=f"input {vi.name}", path=self.path)
            b.input(vi.name, shape, _INT_TYPES.get(self.types.get(vi.name)))
        for node in g.node:
            self.import_node(node)
        if self.unsupported:
            listed = ", ".join(f"{op} (node {n})" for op, n in sorted(self.unsupported.items()))
            raise InputError(f"unsupported ops: {listed}; use --lenient to model them as "
                             f"elementwise traffic", path=self.path)
        outs = [o.name for o in g.output if o.name in b.tensors]
        return b.finish(outs, {"source": "onnx"})

    def import_node(self, node) -> None:
        b, t = self.b, node.op_type
        out = node.output[0]
        if node.domain not in ("", "ai.onnx", MEMSIM_DOMAIN):
            return self.unknown(node)
        if t == "Constant":
            self.consts[out] = numpy_helper.to_array(node.attribute[0].t) if node.attribute and \
                node.attribute[0].type == onnx.AttributeProto.TENSOR else None
            return None
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        if node.domain == MEMSIM_DOMAIN:
            return self.memsim_node(node, attrs)
        ins = [i for i in node.input]
        if t == "Conv":
            return self.conv(node, attrs)
        if t == "Gemm":
            if attrs.get("transA", 0) or ins[1] not in self.inits:
                return self.unknown(node)
            x = self.operand(node, ins[0])
            trans = bool(attrs.get("transB", 0))
            wshape = tuple(self.inits[ins[1]].dims)
            n = wshape[0] if trans else wshape[1]
            has_bias = len(ins) > 2 and bool(ins[2])
            tied = self._owned(ins[1])
            self._rename(out, ins[1], ins[2] if has_bias else None)
            return b.linear(x, n, has_bias, out, weight=ins[1] if tied else None,
                            transpose_b=trans) and self._unrename()
        if t == "MatMul":
            return self.matmul(node)
        if t == "Einsum":
            return b.einsum(attrs["equation"], self.operand(node, ins[0]),
                            self.operand(node, ins[1]), out)
        if t in ("MaxPool", "AveragePool"):
            if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or attrs.get("ceil_mode"):
                return self.unknown(node)
            k = attrs["kernel_shape"]
            return b.pool(self.operand(node, ins[0]), "max" if t == "MaxPool" else "avg", tuple(k),
                          tuple(attrs.get("strides", [1, 1])), tuple(attrs.get("pads", [0] * 4)), out)
        if t in ("GlobalAveragePool", "GlobalMaxPool"):
            x = self.operand(node, ins[0])
            _, _, h, w = b.shape(x)
            return b.pool(x, "avg" if t == "GlobalAveragePool" else "max", (h, w), (1, 1), 0, out)
        if t == "Softmax":
            return b.softmax(self.operand(node, ins[0]), out, attrs.get("axis", -1))
        if t == "Concat":
            return b.concat([self.operand(node, i) for i in ins], attrs["axis"], out)
        if t == "BatchNormalization":
            self._rename(out, ins[1], ins[2])
            return b.batchnorm(self.operand(node, ins[0]), out) and self._unrename()
        if t == "LayerNormalization":
            if attrs.get("axis", -1) not in (-1, len(b.shape(ins[0])) - 1):
                return self.unknown(node)
            has_bias = len(ins) > 2 and bool(ins[2])
            self._rename(out, ins[1], ins[2] if has_bias else None)
            return b.layernorm(self.operand(node, ins[0]), out, "layer", has_bias) and self._unrename()
        if t in _VIEWS:
            shape = self.out_shape(out)
            if not shape or None in shape:
                raise self.err(node, "output shape unknown after shape inference")
            return b.reshape(self.operand(node, ins[0]), shape, out)
        if t == "Transpose":
            x = self.operand(node, ins[0])
            return b.transpose(x, attrs.get("perm", list(range(len(b.shape(x))))[::-1]), out)
        if t == "Gather":
            return self.gather(node, attrs)
        if t == "Slice":
            return self.slice(node)
        if t == "Resize" or t == "Upsample":
            return self.resize(node, attrs)
        if t == "Clip":
            lo, hi = (self.const(i) if len(ins) > j and ins[j] else None
                      for j, i in ((1, ins[1] if len(ins) > 1 else ""), (2, ins[2] if len(ins) > 2 else "")))
            op = "relu6" if (lo is not None and hi is not None and float(lo) == 0 and float(hi) == 6) else "clip"
            return b.elementwise(op, [self.operand(node, ins[0])], out)
        if t in _ELEMENTWISE:
            xs = [i for i in ins if i]
            operands = []
            for i in xs:
                if i in self.inits and _numel(self.inits[i].dims) <= 1:
                    continue  # scalar constants are not parameters
                operands.append(self.operand(node, i))
            if not operands:
                return self.unknown(node)
            return b.elementwise(_ELEMENTWISE[t], operands, out)
        return self.unknown(node)

    def _owned(self, w):
        return any(w in o.weights for o in self.b.ops)

    def _rename(self, out, w, bias):
        self._map = {f"{out}.weight": w, f"{out}.bias": bias}
        orig = self.b.weight
        imp = self

        def renamed(name, shape, dtype=None):
            real = imp._map.get(name) or name
            if real in imp.inits and tuple(imp.inits[real].dims) != tuple(shape):
                raise InputError(f"initializer {real} has shape {tuple(imp.inits[real].dims)}, "
                                 f"the op needs {tuple(shape)}", field=f"node {out}", path=imp.path)
            return orig(real, shape, dtype)

        self.b.weight = renamed

    def _unrename(self):
        del self.b.weight
        return True

    def conv(self, node, attrs):
        b, ins, out = self.b, node.input, node.output[0]
        x = self.operand(node, ins[0])
        if ins[1] not in self.inits:
            return self.unknown(node)
        w = tuple(self.inits[ins[1]].dims)
        if len(w) != 4:
            return self.unknown(node)
        k = tuple(attrs.get("kernel_shape", w[2:]))
        strides = tuple(attrs.get("strides", [1, 1]))
        dil = tuple(attrs.get("dilations", [1, 1]))
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = same_pads(b.shape(x)[2:], k, strides, dil)
            if auto == "SAME_LOWER":
                pads = (pads[2], pads[3], pads[0], pads[1])
        elif auto == "VALID":
            pads = (0, 0, 0, 0)
        else:
            pads = tuple(attrs.get("pads", [0, 0, 0, 0]))
        has_bias = len(ins) > 2 and bool(ins[2])
        self._rename(out, ins[1], ins[2] if has_bias else None)
        r = b.conv(x, w[0], k, strides, pads, dil, attrs.get("group", 1), has_bias, out)
        return r and self._unrename()

    def matmul(self, node):
        b, (a_, w_), out = self.b, node.input, node.output[0]
        a = self.operand(node, a_)
        w = self.operand(node, w_)
        sa, sw = b.shape(a), b.shape(w)
        if b.tensors[w].kind == "weight" and len(sa) == 2 and len(sw) == 2:
            self._rename(out, w_, None)
            return b.linear(a, sw[1], False, out, transpose_b=False) and self._unrename()
        letters = "abcdefgh"
        if len(sa) < 2 or len(sw) < 2 or (len(sw) > 2 and sa[:-2] != sw[:-2]):
            return self.unknown(node)
        batch = letters[:len(sa) - 2]
        eq = f"{batch}xk,{batch if len(sw) > 2 else ''}ky->{batch}xy"
        return b.einsum(eq, a, w, out)

    def gather(self, node, attrs):
        b, (data, idx), out = self.b, node.input, node.output[0]
        axis = attrs.get("axis", 0)
        ival = self.const(idx)
        if data in self.inits and axis == 0:
            vocab, dim = tuple(self.inits[data].dims)
            owned = self._owned(data)
            self._rename(out, data, None)
            if ival is not None and ival.ndim == 1 and (ival == ival[0] + range(len(ival))).all():
                r = b.embedding(None, vocab, dim, out, rows=len(ival), row_offset=int(ival[0]),
                                weight=data if owned else None)
            elif idx in b.tensors and len(b.shape(idx)) == 2:
                r = b.embedding(idx, vocab, dim, out, weight=data if owned else None)
            else:
                self._unrename()
                return self.unknown(node)
            return r and self._unrename()
        if data in b.tensors and ival is not None and ival.ndim == 0:
            return b.select(data, axis, int(ival), out)
        return self.unknown(node)

    def slice(self, node):
        b, ins, out = self.b, node.input, node.output[0]
        vals = [self.const(i) if i else None for i in ins[1:]]
        if ins[0] not in b.tensors or any(v is None for v in vals[:3]) or len(vals[2]) != 1:
            return self.unknown(node)
        if len(vals) > 3 and vals[3] is not None and int(vals[3][0]) != 1:
            return self.unknown(node)
        shape = b.shape(ins[0])
        axis = int(vals[2][0]) % len(shape)
        start, stop = (int(v[0]) for v in vals[:2])
        start, stop = max(0, start % shape[axis] if start < 0 else start), min(shape[axis], stop)
        return b.slice(ins[0], axis, start, stop, out)

    def resize(self, node, attrs):
        b, ins, out = self.b, node.input, node.output[0]
        x = self.operand(node, ins[0])
        oshape = self.out_shape(out)
        mode = attrs.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "nearest" or not oshape or len(oshape) != 4:
            return self.unknown(node)
        sh, sw = oshape[2] // b.shape(x)[2], oshape[3] // b.shape(x)[3]
        if sh != sw or sh * b.shape(x)[2] != oshape[2]:
            return self.unknown(node)
        return b.upsample(x, sh, out)

    def memsim_node(self, node, attrs):
        b, out, t = self.b, node.output[0], node.op_type
        if t == "Elementwise":
            op = attrs["op"].decode() if isinstance(attrs["op"], bytes) else attrs["op"]
            return b.elementwise(op, [self.operand(node, i) for i in node.input], out)
        if t == "RMSNorm":
            self._rename(out, node.input[1], None)
            return b.layernorm(self.operand(node, node.input[0]), out, "rms", False) and self._unrename()
        if t == "CacheWrite":
            cache = b.state(out, tuple(attrs["shape"]))
            b.cache_write(self.operand(node, node.input[0]), cache, attrs["axis"],
                          attrs["offset"], attrs["perm"], name=node.name or f"{out}.write")
            return cache
        return self.unknown(node)

    def unknown(self, node):
        if not self.lenient:
            self.unsupported.setdefault(node.op_type, node.name or node.output[0])
            return None
        shape = self.out_shape(node.output[0])
        known = [i for i in node.input if i in self.b.tensors]
        if (not shape or None in shape) and len(known) == 1:
            shape = self.b.shape(known[0])  # elementwise: the output has its input's shape
        if not shape or None in shape:
            raise self.err(node, "unsupported op with unknown output shape (cannot be modelled)")
        warnings.warn(f"{self.path}: node {node.name or node.output[0]} ({node.op_type}) "
                      f"modelled as elementwise traffic", stacklevel=3)
        ins = [i for i in node.input if i in self.b.tensors]
        if not ins:
            self.b.input(node.output[0], shape)
            return None
        b = self.b
        shapes = [b.shape(i) for i in ins]
        rank = max(len(x) for x in shapes)
        bshape = tuple(max((x[k - rank + len(x)] if k - rank + len(x) >= 0 else 1) for x in shapes)
                       for k in range(rank))
        if bshape != tuple(shape):
            raise self.err(node, f"unsupported op whose output {tuple(shape)} is not its inputs' "
                                 f"broadcast shape {bshape} (cannot be modelled as elementwise)")
        b.elementwise("unknown", ins, node.output[0])
        b.ops[-1].attrs["onnx_op"] = node.op_type
        return None


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def load_onnx(path, batch: int = 1, dtype: str = "int8", lenient: bool = False) -> Graph:
    """Import an ONNX model (see the module docstring for the rules)."""
    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # protobuf DecodeError and friends
        raise InputError(f"not a readable ONNX model ({type(err).__name__}: {err})",
                         path=path) from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < 11:
        raise InputError(f"ONNX opset 11 or newer needed (got {opset})", field="opset_import",
                         path=path)
    _check_external(model, path)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as err:
        raise InputError(f"shape inference failed ({err})", path=path) from None
    try:
        return _Importer(model, path, batch, dtype, lenient).run()
    except (ValueError, KeyError, IndexError) as err:
        raise InputError(f"cannot import ({type(err).__name__}: {err})", path=path) from None
