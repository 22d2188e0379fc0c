"""Mapping and traces: tile footprints, re-fetch model, unrolling, SIMD and systolic compute."""

from __future__ import annotations

import csv
import json
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from memsim.config.hardware import Hardware
from memsim.config.strategies import Strategies
from memsim.mapping import (
    GemmShape,
    SimpleAddressMap,
    analytic_bytes,
    compute_cycles_simd,
    compute_cycles_systolic,
    fetch_counts,
    lane_utilisation,
    map_graph,
    map_op,
    scalesim_conv_shape,
    scalesim_gemm_shape,
    systolic_cycles,
)
from memsim.mapping.compute import systolic_utilisation
from memsim.workloads.builder import GraphBuilder

DATA = Path(__file__).parent / "data" / "scalesim"


def hardware(l1="8 KiB", cores=2, kind="simd", mpc=16, systolic=None, scratchpad=False):
    """A small two-level hardware description."""
    comp = {"cores": cores, "clock": "1 GHz", "kind": kind, "macs_per_cycle": {"int8": mpc,
                                                                            "fp32": mpc // 4}}
    if systolic:
        comp["systolic"] = systolic
    if scratchpad:
        l1lv = {"name": "SPM", "kind": "scratchpad", "size": l1, "latency": "1 cycles",
                "bandwidth": "64 B/cycle"}
    else:
        l1lv = {"name": "L1", "kind": "cache", "size": l1, "line": "64 B", "ways": 4,
                "latency": "1 cycles", "bandwidth": "64 B/cycle"}
    l2 = "128 MiB" if "MiB" in l1 else "1 MiB"
    return Hardware.model_validate({
        "name": "t", "compute": comp,
        "memory": {"levels": [l1lv, {"name": "L2", "kind": "cache", "size": l2, "line": "64 B",
                                     "ways": 8, "latency": "10 cycles",
                                     "bandwidth": "32 B/cycle", "scope": "shared"}],
                   "dram": {"bandwidth": "10 GB/s", "latency": "100 ns"}}})


# ----------------------------------------------------------------------------- test graphs

def _graph(kind):
    b = GraphBuilder(kind)
    if kind == "conv":
        x = b.input("x", (1, 5, 13, 11))
        y = b.conv(x, 12, 3, stride=2, pad=1, bias=True)
    elif kind == "conv1x1s2":
        x = b.input("x", (1, 8, 9, 9))
        y = b.conv(x, 6, 1, stride=2, pad=0)                # touches only even rows/cols
    elif kind == "depthwise":
        x = b.input("x", (1, 24, 10, 10))
        y = b.conv(x, 24, 3, groups=24)
    elif kind == "grouped":
        x = b.input("x", (1, 8, 9, 9))
        y = b.conv(x, 12, 3, groups=4, stride=2)
    elif kind == "matmul":
        x = b.input("x", (20, 70))
        y = b.linear(x, 33)
    elif kind == "batch_matmul":
        q = b.input("q", (2, 17, 24))
        k = b.input("k", (2, 24, 19))
        y = b.einsum("bmk,bkn->bmn", q, k)
    elif kind == "pool":
        x = b.input("x", (1, 6, 15, 15))
        y = b.pool(x, "max", 3, stride=2, pad=1)
    elif kind == "elementwise":
        x = b.input("x", (1, 16, 12, 12))
        z = b.input("z", (1, 16, 12, 12))
        y = b.add(x, z)
    elif kind == "softmax":
        x = b.input("x", (3, 50, 37))
        y = b.softmax(x)
    elif kind == "norm":
        x = b.input("x", (40, 96))
        y = b.layernorm(x)
    elif kind == "concat":
        x = b.input("x", (1, 5, 9, 9))
        z = b.input("z", (1, 7, 9, 9))
        y = b.concat([x, z], axis=1)
    elif kind == "transpose":
        x = b.input("x", (7, 30, 9))
        y = b.transpose(x, (2, 0, 1))
    elif kind == "embedding":
        y = b.embedding(None, 500, 64, rows=23) if _emb_rows() else b.embedding(None, 500, 64)
    else:
        raise KeyError(kind)
    return b.finish([y])


def _emb_rows():
    import inspect
    return "rows" in inspect.signature(GraphBuilder.embedding).parameters


KINDS = ["conv", "conv1x1s2", "depthwise", "grouped", "matmul", "batch_matmul", "pool",
         "elementwise", "softmax", "norm", "concat", "transpose", "embedding"]


def brute_lines(graph, op, am, line=64):
    """Independent oracle: every iteration point, every access, in-range elements → lines."""
    dims = op.loops.dims
    grids = np.meshgrid(*[np.arange(n) for n in dims.values()], indexing="ij")
    pt = {d: g.ravel() for d, g in zip(dims, grids)}
    out = {}
    for a in op.loops.accesses:
        t = graph.tensors[a.tensor]
        ok = np.ones(pt[next(iter(dims))].size, bool)
        flat = np.zeros_like(ok, dtype=np.int64)
        for ax, size in zip(a.index, t.shape):
            v = ax.offset + sum(c * pt[d] for d, c in ax.terms)
            v = np.broadcast_to(v, ok.shape)
            ok &= (v >= 0) & (v < size)
            flat = flat * size + v
        el = np.unique(flat[ok])
        byte0 = am.address(a.tensor) + el * t.bits // 8
        byte1 = am.address(a.tensor) + ((el + 1) * t.bits - 1) // 8
        lines = np.union1d(byte0 // line, byte1 // line)
        out.setdefault(a.tensor, set()).update(lines.tolist())
    return out


def stream_by_tensor(graph, m, am):
    """Lines of the tile stream attributed to tensors by address region."""
    regions = sorted((am.address(t), am.address(t) + graph.tensors[t].nbytes, t)
                     for t in {o.tensor for o in m.operands})
    counts = {t: 0 for *_, t in regions}
    sets = {t: set() for *_, t in regions}
    writes = {t: 0 for *_, t in regions}
    for tile in m.tiles():
        for lo, hi, t in regions:
            sel = (tile.lines >= lo // 64) & (tile.lines <= (hi - 1) // 64)
            counts[t] += int(sel.sum())
            writes[t] += int((sel & tile.writes).sum())
            sets[t].update(tile.lines[sel].tolist())
    return counts, sets, writes


# ----------------------------------------------------------------------------- footprints

@pytest.mark.parametrize("kind", KINDS)
def test_union_of_tile_footprints_is_exactly_the_operand_lines(kind):
    g = _graph(kind)
    am = SimpleAddressMap(g)
    hw = hardware(l1="2 KiB", cores=3)          # small: forces many tiles
    for m in map_graph(g, hw, am):
        assert m.n_tiles > 1 or math.prod(m.dims.values()) < 64
        expected = brute_lines(g, m.op, am)
        _, got, _ = stream_by_tensor(g, m, am)
        for t, lines in expected.items():
            assert got[t] == lines, (kind, t)


@pytest.mark.parametrize("kind", KINDS)
def test_fully_on_chip_mapping_touches_each_line_once(kind):
    g = _graph(kind)
    am = SimpleAddressMap(g)
    hw = hardware(l1="64 MiB", cores=1)
    for m in map_graph(g, hw, am):
        assert m.n_tiles == 1
        tiles = list(m.tiles())
        lines = np.concatenate([t.lines for t in tiles])
        writes = np.concatenate([t.writes for t in tiles])
        # each operand line once; a line is read and written only if in- and output share it
        assert np.unique(lines[~writes]).size == (~writes).sum()
        assert np.unique(lines[writes]).size == writes.sum()
        exp = brute_lines(g, m.op, am)
        assert lines.size == sum(len(v) for v in exp.values())


def test_scratchpad_target_marks_dma_and_is_the_target():
    g = _graph("conv")
    m = map_graph(g, hardware(l1="4 KiB", scratchpad=True), SimpleAddressMap(g))[0]
    assert m.target_level == "SPM" and m.dma
    assert all(t.dma for t in m.tiles())


def test_tiles_at_least_cores_and_working_set_fits():
    from memsim.mapping.tiling import working_set_bytes
    g = _graph("conv")
    for cores in (1, 2, 4):
        m = map_graph(g, hardware(l1="4 KiB", cores=cores), SimpleAddressMap(g))[0]
        assert m.n_tiles >= cores
        assert working_set_bytes(m.operands, m.tile) <= 2048   # half of 4 KiB (prefetch 1)


def test_gpu_sms_each_get_a_tile_of_a_small_layer():
    """Issue 14: an SM's 2048 lanes unroll over two dims of output pixels, and unroll-multiple
    tiles of a 14x14 depthwise layer are fewer than 108 SMs (the rule off); the GPU tile search
    splits below the unroll until every SM has a tile (ceil(D/t) tiles per dim, product >= SMs)."""
    from memsim.mapping.loops import classify_dims
    from memsim.mapping.mapper import lane_dim
    from memsim.mapping.tiling import best_mapping, n_tiles_of
    from memsim.mapping.unroll import auto_spatial
    b = GraphBuilder("dw")
    x = b.input("x", (1, 64, 14, 14))
    y = b.conv(x, 64, 3, pad=1, groups=64, bias=False)
    g = b.finish([y])
    gpu = hardware(l1="128 KiB", cores=108, mpc=2048)
    m = map_graph(g, gpu, SimpleAddressMap(g))[0]
    dims = dict(m.op.loops.dims)
    assert m.n_tiles == math.prod(n_tiles_of(dims, m.tile).values()) >= 108
    assert m.n_tiles < 2 * 108                   # halving stops once there are enough
    # the same search without the rule stops at the unroll (the cause: tiles >= 32x64 pixels)
    unroll = auto_spatial(dims, 2048, prefer=lane_dim(m.op, classify_dims(m.op)))
    for below in (False, True):
        _, _, tile, _ = best_mapping(m.operands, dims, classify_dims(m.op), ("ws", "os", "is"),
                                     64 * 1024, 108, unroll, split_below_unroll=below)
        assert (math.prod(n_tiles_of(dims, tile).values()) >= 108) == below


# ----------------------------------------------------------------------------- re-fetch

def _aligned_matmul():
    b = GraphBuilder("mm", dtype="fp32")
    x = b.input("x", (32, 64))
    y = b.linear(x, 48, bias=False)
    return b.finish([y])


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_refetch_counts_equal_analytic_model(dataflow):
    g = _aligned_matmul()
    am = SimpleAddressMap(g)
    st = Strategies.model_validate({"reuse": {"dataflow": dataflow}})
    m = map_op(g, g.ops[0], hardware(l1="4 KiB"), am.address, st)
    # force a tiling with rows of whole lines (16 fp32 = 64 B) so lines == bytes / 64
    m = dataclasses.replace(m, tile={"M": 8, "N": 16, "K": 32}, n_tiles=4 * 3 * 2)
    counts, _, writes = stream_by_tensor(g, m, am)
    for tr in m.traffic:
        assert counts[tr.tensor] * 64 == tr.bytes, (dataflow, tr)
        assert writes[tr.tensor] * 64 == math.ceil(tr.write_elements * 4)
    mult = fetch_counts(m)
    if dataflow == "ws":
        assert mult[g.ops[0].weights[0]] == 1            # weights fetched once
    if dataflow == "os":
        out = g.ops[0].outputs[0]
        assert mult[out] == 1 and writes[out] * 64 == g.tensors[out].nbytes
    if dataflow == "is":
        assert mult["x"] == 1


@pytest.mark.parametrize("kind", ["conv", "depthwise", "pool", "batch_matmul"])
def test_stream_lines_bound_analytic_bytes(kind):
    g = _graph(kind)
    am = SimpleAddressMap(g)
    m = map_graph(g, hardware(l1="2 KiB"), am)[0]
    counts, _, _ = stream_by_tensor(g, m, am)
    for tr in m.traffic:
        # lines round each footprint row up to whole lines; never fewer bytes than analytic
        assert counts[tr.tensor] * 64 >= tr.bytes
    ab = analytic_bytes(m, hardware(l1="2 KiB"))
    assert ab["L1"] >= ab["L2"] >= m.compulsory_bytes and ab["dram"] == ab["L2"]


def test_compression_hook_shrinks_weight_lines():
    g = _aligned_matmul()
    w = g.ops[0].weights[0]

    def half(t):
        return t.nbytes // 2 if t.kind == "weight" else t.nbytes
    am, am2 = SimpleAddressMap(g), SimpleAddressMap(g, tensor_bytes=half)
    hw = hardware(l1="64 MiB", cores=1)
    m1 = map_graph(g, hw, am)[0]
    m2 = map_graph(g, hw, am2, tensor_bytes=half)[0]
    c1, _, _ = stream_by_tensor(g, m1, am)
    n2 = sum(t.lines.size for t in m2.tiles())
    assert c1[w] == g.tensors[w].nbytes // 64
    assert n2 == sum(c1.values()) - c1[w] // 2


# ----------------------------------------------------------------------------- compute

def _golden_rows():
    with open(DATA / "golden.csv") as f:
        return list(csv.DictReader(f))


def test_systolic_cycles_equal_scalesim_golden():
    rows = _golden_rows()
    assert len(rows) >= 250
    for r in rows:
        a = [int(r[k]) for k in "abcdefg" if r[k]]
        shape = scalesim_gemm_shape(*a) if r["kind"] == "gemm" else scalesim_conv_shape(*a)
        assert int(r["stall_cycles"]) == 0
        got = systolic_cycles(shape, int(r["rows"]), int(r["cols"]), r["dataflow"])
        assert got == int(r["total_cycles"]), r


def test_depthwise_equals_scalesim_channel_split():
    rows = [r for r in _golden_rows() if r["layer"].startswith("DP_dw3x3Channel")]
    by_cfg = {}
    for r in rows:
        by_cfg.setdefault((int(r["rows"]), int(r["cols"]), r["dataflow"]), 0)
        by_cfg[(int(r["rows"]), int(r["cols"]), r["dataflow"])] += int(r["total_cycles"])
    assert len(by_cfg) >= 6
    for (rr, cc, df), total in by_cfg.items():
        shape = scalesim_conv_shape(16, 16, 3, 3, 8, 1, 1, depthwise=True)
        assert systolic_cycles(shape, rr, cc, df) == total


def test_quoted_resnet18_figures():
    rows = list(csv.reader(open(DATA / "resnet18.csv")))[1:]
    shapes = [scalesim_conv_shape(*[int(x) for x in r[1:8]]) for r in rows]
    assert len(rows) == 21
    assert systolic_cycles(shapes[0], 256, 256, "os") == 31_535
    assert systolic_cycles(shapes[1], 256, 256, "os") == 13_031
    assert sum(systolic_cycles(s, 32, 32, "ws") for s in shapes) == 2_519_815


def test_compute_cycles_systolic_from_ir_op_matches_golden():
    # SCALE-Sim row c3x3s1: 16x16 input, 3x3, C=8, K=16, stride 1 (no padding: floor == ceil)
    b = GraphBuilder("g")
    x = b.input("x", (1, 8, 16, 16))
    b.conv(x, 16, 3, pad=0)
    b.linear(b.input("m", (64, 48)), 32, bias=False)        # GEMM row g64x32x48
    g = b.finish([b.ops[0].outputs[0], b.ops[1].outputs[0]])
    want = {(r["layer"], int(r["rows"]), int(r["cols"]), r["dataflow"]): int(r["total_cycles"])
            for r in _golden_rows()}
    for (rr, cc) in [(8, 8), (16, 16), (32, 32), (128, 128)]:
        for df in ("os", "ws", "is"):
            assert compute_cycles_systolic(g.ops[0], rr, cc, df) == want[("c3x3s1", rr, cc, df)]
            assert compute_cycles_systolic(g.ops[1], rr, cc, df) == \
                want[("g64x32x48", rr, cc, df)]


def test_simd_formula_and_lane_utilisation():
    assert compute_cycles_simd(1000, 10, 0.5, loop_overhead_cycles=2, temporal=4) == 300
    assert lane_utilisation({"C": 3}, {"C": 16}, 16) == pytest.approx(3 / 16)
    assert lane_utilisation({"K": 100}, {"K": 16}) == pytest.approx(100 / 112)
    assert lane_utilisation({"K": 64}, {"K": 16}, 32) == pytest.approx(0.5)


def test_first_conv_c3_unrolled_16_over_c_uses_3_16():
    b = GraphBuilder("first")
    x = b.input("x", (1, 3, 32, 32))
    b.conv(x, 32, 3, stride=2)
    g = b.finish([b.ops[0].outputs[0]])
    st = Strategies.model_validate({"unroll": {"spatial": {"C": 16}}})
    m = map_graph(g, hardware(mpc=16), SimpleAddressMap(g), st)[0]
    assert m.utilisation == pytest.approx(3 / 16)
    assert m.compute_cycles == pytest.approx(g.ops[0].macs / (16 * 3 / 16))
    assert sum(t.compute_cycles for t in m.tiles()) == pytest.approx(m.compute_cycles)
    # default: lanes over the output-channel loop K=32 → full utilisation
    m0 = map_graph(g, hardware(mpc=16), SimpleAddressMap(g))[0]
    assert m0.unroll == {"K": 16} and m0.utilisation == 1.0


def test_depthwise_on_pe_array_has_real_low_utilisation():
    b = GraphBuilder("dw")
    x = b.input("x", (1, 32, 18, 18))
    d = b.conv(x, 32, 3, groups=32, pad=0)
    b.conv(d, 32, 3, pad=0)
    g = b.finish([b.ops[1].outputs[0]])
    hw = hardware(kind="systolic", mpc=256, systolic={"rows": 16, "cols": 16, "dataflow": "ws"})
    dw, dense = map_graph(g, hw, SimpleAddressMap(g))
    shape = GemmShape(npx=16 * 16, win=9, nf=1, groups=32)
    assert dw.compute_cycles == systolic_cycles(shape, 16, 16, "ws")
    assert dw.utilisation == pytest.approx(systolic_utilisation(shape, 16, 16, "ws"))
    assert dw.utilisation < 1 / 16 < dense.utilisation
    assert sum(t.compute_cycles for t in dw.tiles()) == pytest.approx(dw.compute_cycles)


def test_forced_dataflow_and_auto_choice():
    g = _aligned_matmul()
    am = SimpleAddressMap(g)
    hw = hardware(l1="4 KiB")
    auto = map_graph(g, hw, am)[0]
    costs = {}
    for df in ("ws", "os", "is"):
        m = map_graph(g, hw, am, Strategies.model_validate({"reuse": {"dataflow": df}}))[0]
        assert m.dataflow == df
        costs[df] = analytic_bytes(m, hw)["L1"]
    assert analytic_bytes(auto, hw)["L1"] <= min(costs.values()) * 1.05


def test_cli_trace_writes_replay_npz(tmp_path):
    from typer.testing import CliRunner

    from memsim.cli import app as _  # noqa: F401  (registers every command)
    from memsim.cli.app import app
    hw = Path(__file__).parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml"
    out = tmp_path / "t.npz"
    res = CliRunner().invoke(app, ["trace", "person_detect", "--hardware", str(hw), "--layer",
                                   "conv1.conv", "--out", str(out), "--json"])
    assert json.loads(res.stdout)["layers"][0]["name"] == "conv1.conv"
    assert res.exit_code == 0, res.output
    data = np.load(out)
    assert data["addr"].dtype == np.uint64 and data["write"].dtype == bool
    assert data["addr"].size == data["write"].size > 0
    assert np.all(data["addr"] % 64 == 0) and data["write"].any()
    bad = CliRunner().invoke(app, ["trace", "person_detect", "--hardware", str(hw), "--layer",
                                   "no-such-layer"])
    assert bad.exit_code != 0 and "no layer with loops" in str(bad.exception)
