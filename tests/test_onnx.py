"""ONNX exporter/importer: exact round trip for every zoo network; malformed models."""

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from memsim.errors import InputError
from memsim.workloads import build, list_networks, load_network
from memsim.workloads.importers.onnx_export import export_onnx

SMALL = {"bert_base": {"seq_len": 16}, "gpt2": {"seq_len": 8}, "llama-1b": {"seq_len": 4},
         "llama-7b": {"phase": "decode", "context": 9}, "llm": {"layers": 2, "seq_len": 4},
         "yolov8n": {"resolution": 320}}


def _rows(g):
    return [tuple(r.values()) for r in g.layers()]


@pytest.mark.parametrize("name", [r["name"] for r in list_networks()])
def test_round_trip_every_zoo_network(tmp_path, name):
    g = build(name, **SMALL.get(name, {}))
    p = tmp_path / f"{name}.onnx"
    export_onnx(g, p)  # shapes only
    g2 = load_network(p, dtype="int8")
    assert _rows(g2) == _rows(g)
    assert g2.params == g.params and g2.macs == g.macs
    assert [t.kind for t in g2.tensors.values() if t.kind == "state"] == \
        [t.kind for t in g.tensors.values() if t.kind == "state"]


def test_round_trip_with_weights_batch_and_fp16(tmp_path):
    g = build("ds_cnn", batch=3, dtype="fp16")
    p = tmp_path / "ds.onnx"
    export_onnx(g, p, weights=True)
    onnx.checker.check_model(onnx.load(str(p)))
    g2 = load_network(p, batch=3, dtype="fp16")
    assert _rows(g2) == _rows(g)


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "m", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _save(tmp_path, model, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return p


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
W = onnx.numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")


def test_import_torch_style_conv_with_symbolic_batch(tmp_path):
    m = _model([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                helper.make_node("Relu", ["c"], ["y"])], [X], [Y], [W])
    g = load_network(_save(tmp_path, m), batch=2)
    assert g.op("c").macs == 2 * 4 * 8 * 8 * 27 and g.params == 108
    assert g.tensors["w"].kind == "weight"


def test_unsupported_ops_listed_or_lenient(tmp_path):
    m = _model([helper.make_node("Conv", ["x", "w"], ["c"]),
                helper.make_node("Celu", ["c"], ["d"], name="weird1"),
                helper.make_node("Mish", ["d"], ["y"], name="weird2")], [X], [Y], [W])
    p = _save(tmp_path, m)
    with pytest.raises(InputError) as e:
        load_network(p)
    assert "Celu (node weird1)" in str(e.value) and "Mish (node weird2)" in str(e.value)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        g = load_network(p, lenient=True)
    assert len(w) == 2 and g.op("y").kind == "elementwise"
    assert g.op("y").input_bytes(g) == g.tensors["c"].nbytes


def test_old_opset_refused(tmp_path):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [X], [Y], opset=10)
    with pytest.raises(InputError, match="opset 11"):
        load_network(_save(tmp_path, m))


def test_garbage_file(tmp_path):
    p = tmp_path / "g.onnx"
    p.write_bytes(b"\x01\x02not a model")
    with pytest.raises(InputError, match="ONNX"):
        load_network(p)


@pytest.mark.parametrize("location,ok", [("w.bin", True), ("../w.bin", False),
                                         ("/etc/passwd", False), ("sub/w.bin", False)])
def test_external_data_only_beside_model(tmp_path, location, ok):
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", location
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"])], [X], [Y], [w])
    p = _save(tmp_path, m)
    if ok:
        assert load_network(p).params == 108
    else:
        with pytest.raises(InputError, match="external data"):
            load_network(p)


def test_initializer_shape_mismatch_names_node(tmp_path):
    bad = onnx.numpy_helper.from_array(np.zeros((4, 2, 3, 3), np.float32), "w")
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", group=1)], [X], [Y], [bad])
    with pytest.raises(InputError) as e:
        load_network(_save(tmp_path, m))
    assert "conv0" in str(e.value) or "y" in str(e.value)
