"""ONNX exporter for memsim graphs (``onnx.helper``), opset 21 plus domain ``ai.memsim``.

Every IR op becomes one ONNX node named like the op, writing a tensor of the same name, so
:func:`memsim.workloads.importers.onnx_import.load_onnx` rebuilds the same ops. Ops with no
single standard ONNX equivalent use the custom domain ``ai.memsim`` (``Elementwise`` with an
``op`` attribute for SiLU/RoPE/copies, ``RMSNorm``, ``CacheWrite`` for KV-cache appends); other
ONNX tools will not run those nodes. ``weights=False`` (the default) writes a shapes-only model:
initializers reference an external file ``<stem>.weights.bin`` beside the model that is NOT
written (memsim needs only shapes); ``weights=True`` embeds zero-filled weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from memsim.workloads.ir import Graph, Op

OPSET = 21
MEMSIM_DOMAIN = "ai.memsim"

ONNX_TYPES = {
    "int4": TensorProto.INT4, "uint4": TensorProto.UINT4, "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8, "int16": TensorProto.INT16, "fp16": TensorProto.FLOAT16,
    "bf16": TensorProto.BFLOAT16, "int32": TensorProto.INT32, "fp32": TensorProto.FLOAT,
    "int64": TensorProto.INT64, "fp64": TensorProto.DOUBLE,
}
_STANDARD_ELEMENTWISE = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "relu": "Relu", "sigmoid": "Sigmoid",
    "tanh": "Tanh", "hardswish": "HardSwish", "hardsigmoid": "HardSigmoid", "gelu": "Gelu",
    "exp": "Exp", "sqrt": "Sqrt", "neg": "Neg",
}


class _Exporter:
    def __init__(self, graph: Graph, weights: bool, location: str):
        self.g = graph
        self.embed = weights
        self.location = location
        self.nodes: list = []
        self.inits: list = []
        self.const_names: set[str] = set()
        self.offset = 0

    def weight_init(self, name: str) -> None:
        t = self.g.tensors[name]
        if self.embed:
            tp = helper.make_tensor(name, ONNX_TYPES[t.dtype], t.shape,
                                    vals=bytes(t.nbytes), raw=True)
        else:
            tp = TensorProto(name=name, data_type=ONNX_TYPES[t.dtype], dims=t.shape)
            tp.data_location = TensorProto.EXTERNAL
            for k, v in (("location", self.location), ("offset", str(self.offset)),
                         ("length", str(t.nbytes))):
                e = tp.external_data.add()
                e.key, e.value = k, v
            self.offset += -(-t.nbytes // 4096) * 4096
        self.inits.append(tp)

    def const(self, name: str, values, dtype=np.int64) -> str:
        if name not in self.const_names:
            self.const_names.add(name)
            self.inits.append(onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def node(self, op_type, inputs, irop: Op, domain="", **attrs):
        self.nodes.append(helper.make_node(op_type, list(inputs), list(irop.outputs),
                                           name=irop.name, domain=domain or None, **attrs))

    def operands(self, op: Op) -> list[str]:
        return [a.tensor for a in op.loops.accesses if "w" not in a.mode]

    def export_op(self, op: Op) -> None:
        k, at = op.kind, op.attrs
        if k == "conv2d":
            self.node("Conv", [op.inputs[0], *op.weights], op,
                      kernel_shape=list(at["kernel"]), strides=list(at["stride"]),
                      pads=list(at["pads"]), dilations=list(at["dilation"]), group=at["groups"])
        elif k == "matmul":
            self.node("Gemm", [op.inputs[0], *op.weights], op, transB=int(at["transpose_b"]))
        elif k == "batch_matmul":
            self.node("Einsum", self.operands(op), op, equation=at["equation"])
        elif k == "pool":
            self.node("MaxPool" if at["pool"] == "max" else "AveragePool", op.inputs, op,
                      kernel_shape=list(at["kernel"]), strides=list(at["stride"]),
                      pads=list(at["pads"]))
        elif k == "softmax":
            self.node("Softmax", op.inputs, op, axis=at["axis"])
        elif k == "reshape":
            self.node("Reshape", [op.inputs[0], self.const(f"{op.name}.shape", at["shape"])], op)
        elif k == "transpose":
            self.node("Transpose", op.inputs, op, perm=list(at["perm"]))
        elif k == "concat" and at.get("cache_write"):
            self.node("CacheWrite", op.inputs, op, MEMSIM_DOMAIN, axis=at["axis"],
                      offset=at["offset"], perm=list(at["perm"]),
                      shape=list(self.g.tensors[op.outputs[0]].shape))
        elif k == "concat":
            self.node("Concat", self.operands(op), op, axis=at["axis"])
        elif k == "norm":
            if at["norm"] == "batch":
                c = self.g.tensors[op.weights[0]].shape[0]
                stats = [self.const(f"{op.name}.running_mean", np.zeros(c), np.float32),
                         self.const(f"{op.name}.running_var", np.ones(c), np.float32)]
                self.node("BatchNormalization", [op.inputs[0], *op.weights, *stats], op)
            elif at["norm"] == "layer":
                self.node("LayerNormalization", [op.inputs[0], *op.weights], op, axis=-1)
            else:
                self.node("RMSNorm", [op.inputs[0], *op.weights], op, MEMSIM_DOMAIN)
        elif k == "embedding":
            table = op.weights[0]
            if op.inputs:
                self.node("Gather", [table, op.inputs[0]], op, axis=0)
            else:
                rows = self.g.tensors[op.outputs[0]].shape[0]
                pos = self.const(f"{op.name}.positions", np.arange(rows) + at["row_offset"])
                self.node("Gather", [table, pos], op, axis=0)
        elif k == "elementwise":
            self.export_elementwise(op)
        else:  # pragma: no cover - every IR kind is handled above
            raise ValueError(f"cannot export op kind {k}")

    def export_elementwise(self, op: Op) -> None:
        name, at = op.attrs["op"], op.attrs
        ins = self.operands(op)
        if name == "add" and len(ins) > 2:
            self.node("Sum", ins, op)
        elif name in _STANDARD_ELEMENTWISE:
            self.node(_STANDARD_ELEMENTWISE[name], ins, op)
        elif name == "relu6":
            self.node("Clip", [ins[0], self.const("relu6.min", 0.0, np.float32),
                               self.const("relu6.max", 6.0, np.float32)], op)
        elif name == "slice" and at.get("keepdim", True):
            self.node("Slice", [ins[0], self.const(f"{op.name}.starts", [at["start"]]),
                                self.const(f"{op.name}.ends", [at["stop"]]),
                                self.const(f"{op.name}.axes", [at["axis"]])], op)
        elif name == "slice":
            self.node("Gather", [ins[0], self.const(f"{op.name}.index", at["start"])], op,
                      axis=at["axis"])
        elif name == "upsample":
            s = float(at["scale"])
            self.node("Resize", [ins[0], "", self.const(f"{op.name}.scales", [1.0, 1.0, s, s],
                                                        np.float32)], op, mode="nearest")
        else:
            self.node("Elementwise", ins, op, MEMSIM_DOMAIN, op=name)

    def run(self) -> onnx.ModelProto:
        g = self.g
        for t in g.tensors.values():
            if t.kind == "weight":
                self.weight_init(t.name)
        for op in g.ops:
            self.export_op(op)

        def vi(name):
            t = g.tensors[name]
            return helper.make_tensor_value_info(name, ONNX_TYPES[t.dtype], list(t.shape))

        inputs = [vi(n) for n in g.inputs]
        outputs = [vi(n) for n in g.outputs]
        skip = set(g.inputs) | set(g.outputs)
        value_info = [vi(n) for n, t in g.tensors.items() if t.kind != "weight" and n not in skip]
        graph = helper.make_graph(self.nodes, g.name, inputs, outputs, self.inits,
                                  value_info=value_info)
        model = helper.make_model(graph, producer_name="memsim",
                                  opset_imports=[helper.make_opsetid("", OPSET),
                                                 helper.make_opsetid(MEMSIM_DOMAIN, 1)])
        helper.set_model_props(model, {"memsim.dtype": g.attrs.get("dtype", ""),
                                       "memsim.batch": str(g.attrs.get("batch", ""))})
        return model


def export_onnx(graph: Graph, path=None, weights: bool = False) -> onnx.ModelProto:
    """Export ``graph`` as ONNX; written to ``path`` when given (temp file + rename).

    ``weights=False``: shapes-only (initializers point to an unwritten ``<stem>.weights.bin``);
    ``weights=True``: zero-filled weight data embedded (mind the size of large models).
    """
    stem = Path(path).stem if path else graph.name
    model = _Exporter(graph, weights, f"{stem}.weights.bin").run()
    if path is not None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(model.SerializeToString())
        tmp.replace(path)
    return model

