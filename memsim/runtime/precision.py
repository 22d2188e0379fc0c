"""The activation widths a runtime keeps in an int8 network — decided before the memory plan.

ncnn's int8 inference (``src/layer/arm/convolution_arm.cpp`` ``forward_int8_arm``, Tencent/ncnn
@a4d2ea1d4422; the same structure in ``convolutiondepthwise_arm.cpp``) quantizes a
convolution's input to int8 when it is not int8 already, accumulates into an int32 workspace
blob, and then either *requantizes* that to int8 — when the model's ``int8_scale_term`` is
above 100 — or *dequantizes* it to the floating-point storage type (fp16 with ARMv8.2 fp16
storage, else fp32), running the activation after it. ``ncnn2int8`` sets the +100
(``tools/quantize/ncnn2int8.cpp`` ``fuse_requantize``) exactly when the convolution's output
— through its fused activation — is read only by convolutions (directly or through a Split of
convolutions); benchncnn's int8 models carry it so (``benchmark/models/resnet18_int8.param``: 8
of 21 convolutions, ``mobilenet_int8.param`` 26 of 28). Every other op (pooling, residual adds,
concatenations, the classifier) runs in floating point on floating-point blobs.

:func:`retype_graph` applies that to a network built in int8: activations keep int8 only on
convolution-to-convolution edges, every other activation gets the storage type, and the MAC
ops keep computing in int8 (``Op.attrs["compute_dtype"]``, which ``mapping.op_dtype`` honours).
The memory plan then sizes every tensor as the runtime stores it. The quantize, int32 and
requantize passes themselves are simulated by ``runtime.blocked`` (``int8_passes``).
"""

from __future__ import annotations

from dataclasses import replace

from memsim.runtime.profiles import ACTIVATIONS, RuntimeProfile
from memsim.workloads.ir import Graph

#: op kinds ncnn runs with int8 arithmetic in an int8 model (Convolution, ConvolutionDepthWise,
#: InnerProduct)
INT8_MAC_KINDS = ("conv2d", "matmul")


def storage_dtype(hardware) -> str:
    """ncnn's floating-point blob type on this CPU: fp16 where the cores have ARMv8.2 fp16
    arithmetic (an ``fp16`` MAC rate in the preset; ``opt.use_fp16_storage`` is benchncnn's
    default), else fp32."""
    return "fp16" if "fp16" in hardware.compute.macs_per_cycle else "fp32"


def has_dot_product(hardware) -> bool:
    """Whether the cores have int8 dot-product instructions (Arm ``SDOT``, ARMv8.2 DotProd):
    read from the preset's rates — a dot product does 4 int8 MACs per 32-bit lane where an
    FMA does one, so an int8 rate of at least 4x the fp32 rate (A76: 32 vs 8; the A72 without
    it: 8 vs 4, ``SMLAL`` on 16-bit lanes)."""
    rates = hardware.compute.macs_per_cycle
    return rates.get("int8", 0) >= 4 * rates.get("fp32", float("inf"))


def computes_int8(op) -> bool:
    """Whether :func:`retype_graph` marked ``op`` as an int8 MAC op (its input or output may be
    stored in floating point)."""
    return op.attrs.get("compute_dtype") == "int8"


def _activation(op) -> bool:
    return op.kind == "elementwise" and op.attrs.get("op") in ACTIVATIONS and len(op.inputs) == 1


def int8_edges(graph: Graph) -> set[str]:
    """Activation tensors ncnn keeps in int8: a conv2d's output, and its fused activations'
    outputs, when what finally reads them is only conv2d ops (``fuse_requantize``)."""
    keep: set[str] = set()
    for op in graph.ops:
        if op.kind != "conv2d" or not op.outputs:
            continue
        chain = [op.outputs[0]]
        readers = graph.consumers(chain[-1])
        while len(readers) == 1 and _activation(readers[0]) and readers[0].outputs:
            chain.append(readers[0].outputs[0])
            readers = graph.consumers(chain[-1])
        if readers and all(r.kind == "conv2d" for r in readers):
            keep.update(chain)
    return keep


def retype_graph(graph: Graph, prof: RuntimeProfile, hardware) -> Graph:
    """``graph`` with the activation widths ``prof``'s runtime stores (``int8_passes``: ncnn's
    rule above) when it is an int8 network; ``graph`` itself otherwise."""
    if not prof.int8_passes or graph.attrs.get("dtype") != "int8":
        return graph
    fp = storage_dtype(hardware)
    keep = int8_edges(graph)
    tensors = {}
    for name, t in graph.tensors.items():
        retype = t.kind != "weight" and t.dtype == "int8" and graph.root(name) not in keep \
            and name not in keep
        tensors[name] = replace(t, dtype=fp) if retype else t
    ops = [replace(op, attrs={**op.attrs, "compute_dtype": "int8"})
           if op.kind in INT8_MAC_KINDS and op.weights else op for op in graph.ops]
    return Graph(graph.name, tensors, ops, graph.inputs, graph.outputs,
                 {**graph.attrs, "storage_dtype": fp})
