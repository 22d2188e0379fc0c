"""SCALE-Sim CSV and YAML layer-list importers, incl. every malformed case."""

import pytest

from memsim.errors import InputError
from memsim.workloads import load_network

HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def _write(tmp_path, name, text, bom=False):
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return p


def test_scalesim_conv_rounds_up_without_padding(tmp_path):
    p = _write(tmp_path, "t.csv", HEADER + "Conv1,224,224,7,7,3,64,2,\nConv2,56,56,3,3,64,64,1,\n",
               bom=True)
    g = load_network(p)
    c1 = g.op("Conv1")
    # E = ceil((224 - 7) / 2) + 1 = 110 (shared/notes/scalesim.md), not floor -> 109
    assert g.tensors["Conv1"].shape == (1, 64, 110, 110)
    assert c1.attrs["pads"] == (0, 0, 1, 1)
    assert c1.macs == 110 * 110 * 7 * 7 * 3 * 64
    assert g.tensors["Conv2"].shape == (1, 64, 54, 54)
    assert g.inputs == ("Conv1.ifmap", "Conv2.ifmap")


def test_scalesim_gemm_and_sparsity_rows(tmp_path):
    p = _write(tmp_path, "g.csv", "Layer, M, N, K,\nfc1,128,256,512,\n"
                                  "Conv3,8,8,3,3,16,32,1,2:4,\n")
    g = load_network(p, batch=2, dtype="fp16")
    fc = g.op("fc1")
    assert fc.kind == "matmul" and fc.loops.dims == {"M": 128, "N": 256, "K": 512}
    assert g.op("Conv3").attrs["sparsity"] == (2, 4)
    assert g.tensors["fc1.input"].nbytes == 128 * 512 * 2


def test_scalesim_depthwise_dp_rows(tmp_path):
    p = _write(tmp_path, "d.csv", HEADER + "Conv_DP1,16,16,3,3,8,1,1,\n")
    op = load_network(p).op("Conv_DP1")
    assert op.attrs["groups"] == 8 and op.macs == 14 * 14 * 9 * 8


@pytest.mark.parametrize("body,line,field", [
    ("Conv1,224,224,7,7,3,64\n", 2, ""),            # too few fields (stride missing)
    ("Conv1,224,x,7,7,3,64,2,\n", 2, "W"),          # not a number
    ("Conv1,224,224,7,7,3,0,2,\n", 2, "K"),          # zero
    ("Conv1,4,4,7,7,3,8,1,\n", 2, "R"),              # filter larger than input
    ("ok,8,8,3,3,3,8,1,\nok,8,8,3,3,3,8,1,\n", 3, "name"),  # duplicate
    ("c,8,8,3,3,3,8,1,5:4,\n", 2, "sparsity"),       # N > M
    (",8,8,3,3,3,8,1,\n", 2, "name"),
])
def test_scalesim_malformed(tmp_path, body, line, field):
    p = _write(tmp_path, "bad.csv", HEADER + body)
    with pytest.raises(InputError) as e:
        load_network(p)
    assert e.value.location.line == line and e.value.field == field
    assert str(p) in str(e.value)


def test_scalesim_empty_and_binary(tmp_path):
    with pytest.raises(InputError, match="no layers"):
        load_network(_write(tmp_path, "e.csv", HEADER))
    p = tmp_path / "b.csv"
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="UTF-8"):
        load_network(p)


LAYERS = """name: tiny
inputs: {image: [1, 3, 32, 32]}
layers:
  - {name: c1, op: conv2d, out_channels: 16, kernel: 3, stride: 1, padding: 1, bias: true}
  - {name: bn1, op: batchnorm}
  - {name: r1, op: relu}
  - {name: c2, op: conv2d, out_channels: 16, kernel: 3, padding: same, groups: 16}
  - {name: a1, op: add, inputs: [r1, c2]}
  - {name: p1, op: maxpool, kernel: 2}
  - {name: f, op: flatten}
  - {name: fc, op: linear, out_features: 10}
  - {name: sm, op: softmax}
"""


def test_layer_list(tmp_path):
    g = load_network(_write(tmp_path, "t.yaml", LAYERS), batch=2)
    assert g.name == "tiny" and g.outputs == ("sm",)
    assert g.op("c1").params == 3 * 16 * 9 + 16 and g.op("bn1").params == 32
    assert g.op("c2").macs == 2 * 16 * 32 * 32 * 9
    assert g.op("fc").macs == 2 * 16 * 16 * 16 * 10
    assert g.tensors["image"].shape == (2, 3, 32, 32)
    g.validate()


@pytest.mark.parametrize("text,line,field", [
    ("inputs: {image: [1, 3, 8, 8]}\nlayers:\n  - {op: relux}\n", 3, "layers[0].op"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayers:\n  - {op: conv2d, kernel: 3}\n", 3,
     "layers[0].out_channels"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayers:\n  - {op: relu, inputs: [nope]}\n", 3,
     "layers[0].inputs"),
    ("inputs: {image: [1, -3, 8, 8]}\nlayers:\n  - {op: relu}\n", 1, "inputs.image"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayers: []\n", 2, "layers"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayers:\n  - {op: relu, colour: red}\n", 3,
     "layers[0].colour"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayers:\n  - {op: conv2d, out_channels: 4, kernel: 9, padding: 0}\n", 3,
     "layers[0]"),
    ("inputs: {image: [1, 3, 8, 8]}\nlayrs: []\n", 2, "layrs"),
])
def test_layer_list_malformed(tmp_path, text, line, field):
    p = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(InputError) as e:
        load_network(p)
    assert e.value.field == field and e.value.location.line == line, str(e.value)


def test_load_network_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_network(tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="dtype"):
        load_network("resnet18", dtype="int7")
    with pytest.raises(InputError, match="batch"):
        load_network("resnet18", batch=0)
    with pytest.raises(InputError, match="takes"):
        load_network("resnet18", seq_len=4)
    with pytest.raises(InputError, match="unknown network"):
        load_network("resnet19")
    with pytest.raises(InputError):
        load_network("gpt2", phase="decode", context=5000)
