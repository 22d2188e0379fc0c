"""SCALE-Sim topology export: rows from memsim graphs, checked against known ResNet-18 shapes,
memsim's own SCALE-Sim cycle model and a round trip through the importer."""

import pytest

from memsim.mapping.compute import compute_cycles_systolic, scalesim_conv_shape
from memsim.workloads.builder import GraphBuilder
from memsim.workloads.importers.scalesim import load_scalesim_csv
from memsim.workloads.importers.scalesim_export import (HEADER, format_scalesim_csv,
                                                        scalesim_rows, write_scalesim_csv)
from memsim.workloads.load import load_network


def _array_ops(graph):
    return [op for op in graph.ops if op.kind in ("conv2d", "matmul")]


def test_resnet18_rows_have_the_known_layer_shapes():
    rows, skipped = scalesim_rows(load_network("resnet18"))
    by_name = {r[0]: r[1:] for r in rows}
    assert len(rows) == 21  # 17 3x3/7x7 convs, 3 downsample 1x1 convs, the classifier
    # 7x7/2 stem on 224x224 with pad 3: 112x112 outputs read a 229x229 extent
    assert rows[0] == ("stem.conv", 229, 229, 7, 7, 3, 64, 2)
    assert by_name["layer1.0.1.conv"] == (58, 58, 3, 3, 64, 64, 1)  # 56x56 + pad 1 each side
    downs = [r for r in rows if r[3] == 1 and r[7] == 2]
    assert [r[1:] for r in downs] == [(55, 55, 1, 1, 64, 128, 2), (27, 27, 1, 1, 128, 256, 2),
                                      (13, 13, 1, 1, 256, 512, 2)]
    assert rows[-1][1:] == (1, 1, 1, 1, 512, 1000, 1)  # fc as a 1x1 conv: M=1, K=512, N=1000
    assert "stem.relu" in skipped and not any(n.endswith(".conv") for n in skipped)


@pytest.mark.parametrize("net", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("rows_cols_df", [(64, 64, "ws"), (32, 16, "os"), (8, 128, "is")])
def test_rows_give_memsims_systolic_cycles(net, rows_cols_df):
    """SCALE-Sim's model on each exported row equals memsim's cycles for the layer it came from."""
    g = load_network(net)
    rows, _ = scalesim_rows(g)
    ops = _array_ops(g)
    assert len(rows) == len(ops)  # zoo nets: no grouped conv other than depthwise
    r, c, df = rows_cols_df
    for op, row in zip(ops, rows):
        shape = scalesim_conv_shape(*row[1:], depthwise="DP" in row[0])
        assert compute_cycles_systolic(shape, r, c, df) == compute_cycles_systolic(op, r, c, df)


@pytest.mark.parametrize("net", ["resnet18", "mobilenet_v2"])
def test_round_trip_through_the_importer_keeps_macs_and_outputs(net, tmp_path):
    g = load_network(net)
    path = tmp_path / f"{net}.csv"
    write_scalesim_csv(g, path)
    back = load_scalesim_csv(path)
    assert back.macs == g.macs
    for op, op2 in zip(_array_ops(g), back.ops):
        out, out2 = g.tensors[op.outputs[0]].shape, back.tensors[op2.outputs[0]].shape
        assert op.macs == op2.macs
        if op.kind == "conv2d":
            assert out == out2


def test_file_format_and_grouped_and_depthwise_rows(tmp_path):
    b = GraphBuilder("t", "int8", 1)
    x = b.input("x", (1, 8, 10, 10))
    y = b.conv(x, 16, 3, 1, 1, groups=4, name="gDP")  # grouped: one row per group, DP renamed
    y = b.conv(y, 16, 3, 2, 1, groups=16, name="dw")  # depthwise: one DP row
    g = b.finish([y])
    rows, _ = scalesim_rows(g)
    assert rows == [(f"gdp.g{i}", 12, 12, 3, 3, 2, 4, 1) for i in range(4)] + [
        ("DP.dw", 11, 11, 3, 3, 16, 1, 2)]
    text = format_scalesim_csv(rows)
    assert text.splitlines()[0] == HEADER and text.splitlines()[1] == "gdp.g0,12,12,3,3,2,4,1,"
    path = tmp_path / "t.csv"
    write_scalesim_csv(g, path)
    assert load_scalesim_csv(path).macs == g.macs
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temp file left behind


def test_inexpressible_layers_raise():
    b = GraphBuilder("d", "int8", 1)
    y = b.conv(b.input("x", (1, 4, 9, 9)), 4, 3, 1, 2, dilation=2, name="dil")
    with pytest.raises(ValueError, match="dilated"):
        scalesim_rows(b.finish([y]))
    b = GraphBuilder("b", "int8", 2)
    y = b.conv(b.input("x", (2, 4, 9, 9)), 4, 3, 1, 1, name="c")
    with pytest.raises(ValueError, match="batch"):
        scalesim_rows(b.finish([y]))
