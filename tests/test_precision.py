"""The widths ncnn stores an int8 network's activations in (memsim/runtime/precision.py) and the
quantize / int32 / requantize passes of its int8 convolutions (runtime/blocked.py): which edges
stay int8 against the counts in ncnn's own benchncnn int8 models, the memory plan at the stored
widths, and every pass's lines in closed form."""

from pathlib import Path

import numpy as np
import pytest

from runtime_helpers import small_cpu

from memsim.config import Hardware, Scenario, load_hardware, validate_data
from memsim.engine.preflight import prepare_checked
from memsim.mapping.mapper import op_dtype
from memsim.runtime.blocked import BlockedLayer
from memsim.runtime.precision import int8_edges, retype_graph, storage_dtype
from memsim.runtime.profiles import get_profile
from memsim.workloads import load_network

HW = Path(__file__).resolve().parents[1] / "configs" / "hardware"
LINE = 64
NCNN = get_profile("ncnn", "cpu")

CPU = small_cpu({"fp32": 4, "int8": 16})

# conv a -> relu -> conv b (int8 edge), b -> add with x (fp), add -> depthwise d -> relu (fp:
# the graph output)
NET = """name: t
inputs: {x: [1, 16, 16, 16]}
layers:
  - {name: a, op: conv2d, out_channels: 16, kernel: 3, padding: 1}
  - {name: ra, op: relu}
  - {name: b, op: conv2d, out_channels: 16, kernel: 1}
  - {name: s, op: add, inputs: [b, x]}
  - {name: d, op: conv2d, out_channels: 16, kernel: 3, padding: 1, groups: 16}
  - {name: rd, op: relu}
"""


def _conv_outputs(graph, names):
    return [t for op in graph.ops if op.kind == "conv2d" for t in op.outputs if t in names]


@pytest.mark.parametrize("net, int8_convs, convs", [("resnet18", 8, 20), ("mobilenet_v1", 26, 28)])
def test_int8_edges_match_ncnns_benchmark_models(net, int8_convs, convs):
    # benchmark/models/resnet18_int8.param (Tencent/ncnn @a4d2ea1d4422): 8 Convolution layers
    # with int8_scale_term 102 (requantize: the first conv of each basic block); the other 12
    # and the InnerProduct have 2. mobilenet_int8.param: 13 ConvolutionDepthWise with 101 and
    # 13 Convolution with 102; the last pointwise conv (before the pooling) and the
    # InnerProduct have 2 (memsim's zoo MobileNetV1 has its classifier as a 1x1 conv: 28).
    g = load_network(net, dtype="int8").fold_batchnorm()
    keep = int8_edges(g)
    assert len(_conv_outputs(g, keep)) == int8_convs
    assert sum(op.kind == "conv2d" for op in g.ops) == convs


def test_retype_keeps_weights_and_conv_to_conv_edges(tmp_path):
    (tmp_path / "t.yaml").write_text(NET)
    g = load_network(str(tmp_path / "t.yaml"), dtype="int8").fold_batchnorm()
    pi5, pi4 = load_hardware(HW / "raspberry-pi-5.yaml"), load_hardware(HW / "raspberry-pi-4.yaml")
    assert storage_dtype(pi5) == "fp16" and storage_dtype(pi4) == "fp32"
    r = retype_graph(g, NCNN, pi5)
    ops = {op.name: op for op in r.ops}
    assert r.tensors[ops["a"].outputs[0]].dtype == "int8"       # a -> relu -> b
    assert r.tensors[ops["ra"].outputs[0]].dtype == "int8"
    for name in ("b", "s", "d", "rd"):                          # read by an add / the output
        assert r.tensors[ops[name].outputs[0]].dtype == "fp16"
    assert r.tensors["x"].dtype == "fp16"                       # benchncnn feeds a float blob
    assert all(t.dtype == g.tensors[n].dtype for n, t in r.tensors.items() if t.kind == "weight")
    # the convs still compute in int8 (the mapper's lanes), the add in the storage type
    assert [op_dtype(r, ops[n]) for n in ("a", "b", "d", "s")] == ["int8"] * 3 + ["fp16"]
    # nothing changes for a float network or a runtime without the passes
    f = load_network(str(tmp_path / "t.yaml"), dtype="fp16").fold_batchnorm()
    assert retype_graph(f, NCNN, pi5) is f
    assert retype_graph(g, get_profile("xnnpack", "cpu"), pi5) is g


def _layers(tmp_path, threads=4):
    (tmp_path / "t.yaml").write_text(NET)
    sc = validate_data(Scenario, {"name": "t", "hardware": CPU, "runtime": "ncnn",
                                  "streams": [{"network": str(tmp_path / "t.yaml"),
                                               "dtype": "int8", "threads": threads}]})
    p = prepare_checked(sc).streams[0]
    return p, {m.op.name: m for m in p.mappings}


def _lines(base, nbytes):
    return set(range(base // LINE, -(-(base + nbytes) // LINE)))


def test_plan_sizes_tensors_at_their_stored_width(tmp_path):
    # the memory plan sees the prepared graph's widths: x and b's output as fp32 (CPU has no
    # fp16 rate), a's output as int8, so their planned extents differ by 4x
    p, _ = _layers(tmp_path)
    g = p.graph
    assert storage_dtype(validate_data(Hardware, CPU)) == "fp32"
    ops = {op.name: op for op in g.ops}
    assert g.tensors["x"].nbytes == g.tensors[ops["b"].outputs[0]].nbytes == 16 * 256 * 4
    assert g.tensors[ops["a"].outputs[0]].nbytes == 16 * 256
    sizes = {b.id: b.size for b in p.plan.buffers}
    assert sizes[ops["b"].outputs[0]] >= 16 * 256 * 4 > sizes[ops["a"].outputs[0]] >= 16 * 256


def test_int8_conv_passes_in_closed_form(tmp_path):
    _, layers = _layers(tmp_path)
    b = layers["b"]                       # 1x1, int8 input (a's requantized output), fp32 out
    assert isinstance(b, BlockedLayer) and b.stream is not None and not b.pre
    (requant,) = b.post
    assert (requant.elem_bytes, requant.out_bytes) == (4.0, 4.0)       # int32 -> fp32
    tiles = list(b.tiles())
    assert len(tiles) == b.n_tiles
    out = next(o for o in b.operands if o.role == "output")
    post = tiles[-requant.n_tiles(4):]
    reads = set(np.concatenate([t.lines[~t.writes] for t in post]).tolist())
    writes = set(np.concatenate([t.lines[t.writes] for t in post]).tolist())
    assert reads == _lines(requant.src_base, 16 * 256 * 4)              # the int32 blob
    assert writes == _lines(out.base, 16 * 256 * 4)                     # the fp32 output
    # the blocked GEMM writes the int32 blob (and its packed-B workspace), not the output
    gemm_writes = set(np.concatenate([t.lines[t.writes] for t in tiles[:-len(post)]]).tolist())
    assert _lines(requant.src_base, 16 * 256 * 4) <= gemm_writes
    assert not gemm_writes & _lines(out.base, 16 * 256 * 4)

    a = layers["a"]                       # 3x3 pad 1 on the fp32 input x: quantize, border
    quant, border = a.pre
    inp = next(o for o in a.operands if o.role == "input")
    assert (quant.src_base, quant.elem_bytes, quant.out_bytes) == (inp.base, 4.0, 1.0)
    assert (border.src_base, border.elem_bytes) == (quant.dst_base, 1.0)
    assert border.nbytes == 16 * 18 * 18 and a.border is border
    (requant_a,) = a.post                 # int32 -> int8 (requantize: read by conv b)
    assert requant_a.out_bytes == 1.0
    q_tiles = list(quant.tiles(4, LINE))
    assert sum(t.inner_bytes for t in q_tiles) == 16 * 256 * (4 + 1)
    assert set(np.concatenate([t.lines[~t.writes] for t in q_tiles]).tolist()) == \
        _lines(inp.base, 16 * 256 * 4)
    # the pack loop reads the bordered int8 copy
    assert a.stream.geo.in_base == border.dst_base and a.stream.geo.in_bytes == 1.0

    d = layers["d"]                       # pack-8 3x3 depthwise: its tiles, then the int32
    assert d.stream is None               # stores and the dequantize
    quant_d, _ = d.pre                    # its input (the add) is fp32
    stores, deq = d.post
    assert not stores.read and stores.dst_base == deq.src_base
    assert stores.nbytes == 16 * 256 * 4 and deq.nbytes == 16 * 256 * 4
    assert quant_d.nbytes == 16 * 256


def test_int8_winograd_on_dot_product_cores_needs_256_channels():
    # convolution_arm.cpp (cc37c10997e8) create_pipeline_int8_arm: on cores with asimddp the
    # int8 Winograd F(4,3) only with >= 256 input and output channels, else the int8 GEMM
    from memsim.runtime.algorithms import ConvShape, ncnn_winograd_tile
    from memsim.runtime.precision import has_dot_product

    assert has_dot_product(load_hardware(HW / "raspberry-pi-5.yaml"))      # A76: SDOT
    assert not has_dot_product(load_hardware(HW / "raspberry-pi-4.yaml"))  # A72
    small, big = ConvShape(1, 28, 28, 128, 128, 3, 3), ConvShape(1, 14, 14, 256, 256, 3, 3)
    assert ncnn_winograd_tile(small, int8=True) == 4
    assert ncnn_winograd_tile(small, int8=True, dot=True) == 0
    assert ncnn_winograd_tile(big, int8=True, dot=True) == 4
