"""Memory strategies against hand calculations (issue 8): compression sizes and the bytes they
move through the real tile → cache → DRAM pipeline, the DRAM-side decompressor bound, zero
skipping, in-register decompression, temporal unroll (Little's law, spills), spatial auto and
streaming stores. Fusion is in tests/test_fusion.py."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from memsim.strategies.compression import stored_bytes, tensor_bytes_hook
from memsim.strategies.formats import (bitmask_bits, compressed_bytes, csr_bits, nm_bits,
                                       quant_bits, rle_bits)
from memsim.strategies.measured import measure_source
from memsim.mapping.unroll import live_registers, spilled_registers
from memsim.workloads.builder import GraphBuilder
from strategies_helpers import (LINE, cache_hw, dram_bytes, map_with, run, spm_hw, strategies)


def linear_graph(k=256, n=64, m=1, dtype="int8"):
    b = GraphBuilder("mm", dtype=dtype)
    x = b.input("x", (m, k))
    y = b.linear(x, n, bias=False)
    return b.finish([y])


# ----------------------------------------------------------------------------- quantisation

@pytest.mark.parametrize("comp, weight_bytes", [
    ({}, 16384),                                                        # 64·256 int8
    ({"format": "quant", "bits": 8}, 16384),
    ({"format": "quant", "bits": 4}, 8192),                             # 16384·4/8
    ({"format": "quant", "bits": 4, "group": 128, "scale_bits": 16}, 8192 + 128 * 2),
    ({"format": "quant", "bits": 8, "group": 64, "scale_bits": 32}, 16384 + 256 * 4),
    ({"format": "quant", "bits": 2, "group": 128, "scale_bits": 16}, 4096 + 128 * 2),
])
def test_quantised_weights_move_exactly_the_formula_bytes(comp, weight_bytes):
    g = linear_graph()
    base = dram_bytes(run(g, spm_hw())[1])
    got = dram_bytes(run(g, spm_hw(), strategies(compression={"weights": comp}))[1])
    # activations unchanged; the weight (line-aligned, fetched once) moves its stored size
    assert base - got == 16384 - weight_bytes
    assert weight_bytes % LINE == 0


def test_int4_vs_int8_and_group_scales_per_element():
    assert quant_bits(4096, 8) == 4096 * 8
    assert quant_bits(4096, 4) == 4096 * 4
    # scale_bits/group extra bits per element: 16/128 = 0.125
    assert quant_bits(4096, 4, 128, 16) == 4096 * (4 + 16 / 128)
    assert quant_bits(100, 4, 128, 16) == 400 + 16  # a partial group still has its scale


# ----------------------------------------------------------------------------- sparse formats

@pytest.mark.parametrize("density", [0.1, 0.25, 0.5, 0.9])
def test_bitmask_size(density):
    nnz = math.ceil(density * 1024 - 1e-9)
    assert bitmask_bits(1024, density, 8) == 1024 + nnz * 8


def test_bitmask_hand_values():
    assert bitmask_bits(1024, 0.25, 8) == 3072        # 1024 mask + 256·8 → 384 B
    assert bitmask_bits(1024, 0.1, 8) == 1024 + 103 * 8   # nnz = ceil(102.4)


@pytest.mark.parametrize("density, expected_bits", [
    (0.25, 17 * 9 + 256 * (6 + 8)),     # 16 rows: 17 offsets of ceil(log2 257)=9 b; 6-b column ids
    (0.5, 17 * 10 + 512 * (6 + 8)),     # ceil(log2 513) = 10
    (0.05, 17 * 6 + 52 * (6 + 8)),      # nnz = ceil(51.2) = 52, ceil(log2 53) = 6
])
def test_csr_size_16x64(density, expected_bits):
    assert csr_bits(1024, density, 8, rows=16) == expected_bits


@pytest.mark.parametrize("numel, density", [(1024, 0.25), (1024, 0.5), (10000, 0.01),
                                            (10000, 0.05)])
def test_rle_size_with_overflow_entries(numel, density):
    nnz = math.ceil(density * numel - 1e-9)
    entries = nnz / (1 - (1 - density) ** 32)           # 5-bit runs: overflow past 31 zeros
    assert rle_bits(numel, density, 8) == math.ceil(round(entries * (5 + 8), 3))


def test_rle_overflow_matters_only_when_sparse():
    assert rle_bits(1024, 0.5, 8) == 512 * 13               # (1/2)^32 ≈ 0: no padding
    assert rle_bits(10000, 0.01, 8) > 3.5 * 100 * 13         # 0.99^32 = 0.725: 3.6 entries/nnz


@pytest.mark.parametrize("dtype_bits, n, m, ratio", [
    (8, 2, 4, (2 * (8 + 2)) / 32),      # int8 2:4: 2 values + 2·2-bit indices per 4 → 0.625
    (16, 2, 4, (2 * (16 + 2)) / 64),    # fp16 2:4: 9/16 (A100 whitepaper)
    (8, 1, 4, (8 + 2) / 32),
    (8, 4, 8, (4 * (8 + 3)) / 64),
])
def test_nm_size(dtype_bits, n, m, ratio):
    assert nm_bits(1024, n, m, dtype_bits) == 1024 * dtype_bits * ratio


def test_sparse_weights_in_pipeline_move_their_stored_bytes():
    g = linear_graph()
    w = g.tensors["mm" if "mm" in g.tensors else g.ops[0].weights[0]]
    base = dram_bytes(run(g, spm_hw())[1])
    for comp in ({"format": "sparse", "density": 0.25, "encoding": "bitmask"},
                 {"format": "sparse", "encoding": "nm", "n": 2, "m": 4},
                 {"format": "sparse", "density": 0.25, "encoding": "csr"}):
        s = strategies(compression={"weights": comp})
        stored = stored_bytes(s.compression.weights, w)
        got = dram_bytes(run(g, spm_hw(), s)[1])
        assert base - got == 16384 - math.ceil(stored / LINE) * LINE
    # 64×256 int8 2:4 → 0.625 · 16384 = 10240 B; bitmask d=0.25 → 16384/8 + 4096 = 6144 B
    nm = strategies(compression={"weights": {"format": "sparse", "encoding": "nm", "n": 2, "m": 4}})
    assert stored_bytes(nm.compression.weights, w) == 10240
    bm = strategies(compression={"weights": {"format": "sparse", "density": 0.25}})
    assert stored_bytes(bm.compression.weights, w) == 6144


# ----------------------------------------------------------------------------- ratio / measured

def test_ratio_and_biases_stay_plain():
    b = GraphBuilder("mm", dtype="int8")
    y = b.linear(b.input("x", (1, 256)), 64, bias=True)
    g = b.finish([y])
    hook = tensor_bytes_hook(strategies(compression={"weights": {"format": "ratio", "ratio": 2,
                                                                 "at": "core"}}))
    w, bias = g.ops[0].weights
    assert hook(g.tensors[w]) == 8192
    assert hook(g.tensors[bias]) == g.tensors[bias].nbytes


def _blockwise(raw, block=4096):
    return sum(min(len(raw[i:i + block]), len(zlib.compress(raw[i:i + block], 6)))
               for i in range(0, len(raw), block))


def test_measured_zlib_blockwise_ratio_per_tensor(tmp_path):
    rng = np.random.default_rng(0)
    zeros = np.zeros((64, 256), np.int8)
    noise = rng.integers(-128, 127, size=(64, 256), dtype=np.int8)
    half = noise.copy()
    half[:, 128:] = 0
    np.savez(tmp_path / "w.npz", zeros=zeros, noise=noise, half=half)
    got = measure_source(tmp_path / "w.npz", "zlib", 4096)
    for name, arr in (("zeros", zeros), ("noise", noise), ("half", half)):
        raw = arr.tobytes()
        assert got[name].stored_bytes == _blockwise(raw)
        assert got[name].ratio == pytest.approx(len(raw) / _blockwise(raw))
        assert got[name].blocks == 4
    assert got["noise"].ratio == pytest.approx(1.0)   # incompressible blocks are stored raw
    assert got["zeros"].ratio > 50


def test_measured_source_rereads_a_file_edited_within_one_mtime_tick(tmp_path):
    """The measurement cache is keyed by content, not mtime: rewriting the file and restoring
    its timestamp still gives the new ratios."""
    import os

    path = tmp_path / "w.npy"
    np.save(path, np.zeros((64, 64), np.int8))
    stamp = os.stat(path).st_mtime_ns
    before = measure_source(path, "zlib", 1024)
    noise = np.random.default_rng(1).integers(-128, 127, size=(64, 64), dtype=np.int8)
    np.save(path, noise)
    os.utime(path, ns=(stamp, stamp))
    after = measure_source(path, "zlib", 1024)
    [name] = after
    assert before[name].ratio > 10
    assert after[name].ratio == pytest.approx(1.0)


def test_measured_from_onnx_initializers(tmp_path):
    import onnx
    from onnx import helper, numpy_helper

    w = np.zeros((32, 32), np.float32)
    w[::4] = 1.0
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1, 32])],
                              [helper.make_tensor_value_info("y", 1, [1, 32])],
                              [numpy_helper.from_array(w, "w")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    got = measure_source(path, "zlib", 1024)
    assert got["w"].stored_bytes == _blockwise(w.tobytes(), 1024)


def test_missing_codec_package_is_a_clear_input_error(tmp_path):
    from memsim.errors import InputError
    from memsim.strategies.measured import measure_bytes

    try:
        import zstandard  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="zstandard"):
            measure_bytes(b"abc" * 100, "zstd")
    else:
        assert measure_bytes(b"\0" * 8192, "zstd")[0] < 8192


# ----------------------------------------------------------------------------- where it lives

def big_weight_graph():
    return linear_graph(k=1024, n=4096)     # 4 MiB of int8 weights, 1 KiB in, 4 KiB out


def test_at_dram_caches_hold_plain_lines_dram_moves_compressed_bytes():
    g = big_weight_graph()
    s = strategies(compression={"weights": {"format": "ratio", "ratio": 2}})     # at: dram
    assert s.compression.weights.at == "dram"
    _, base, _ = run(g, spm_hw())
    _, comp, ms = run(g, spm_hw(), s)
    lines_base = sum(x.lines for x in base.layers)
    lines_comp = sum(x.lines for x in comp.layers)
    assert lines_comp == lines_base                       # plain lines on chip
    w = 1024 * 4096
    assert dram_bytes(base) - dram_bytes(comp) == pytest.approx(w / 2)


def test_decompressor_slower_than_dram_becomes_the_bound():
    g = big_weight_graph()
    w = 1024 * 4096
    slow = strategies(compression={"weights": {"format": "ratio", "ratio": 2,
                                               "decompress_bytes_per_cycle": 4}})  # 4 GB/s
    fast = strategies(compression={"weights": {"format": "ratio", "ratio": 2,
                                               "decompress_bytes_per_cycle": 64}})
    t_slow, r_slow, _ = run(g, spm_hw(), slow)
    t_fast, r_fast, _ = run(g, spm_hw(), fast)
    # slow: the plain weight bytes through a 4 GB/s decompressor; fast: W/2 over 10 GB/s DRAM
    assert t_slow == pytest.approx(w / 4e9, rel=0.02)
    assert t_fast == pytest.approx((w / 2) / 10e9, rel=0.03)
    assert max(r_slow.layers[0].stall_ps_by_resource.items(), key=lambda kv: kv[1])[0] == \
        "decompress"
    assert max(r_fast.layers[0].stall_ps_by_resource.items(), key=lambda kv: kv[1])[0] == "dram"


def test_at_core_costs_cycles_per_element():
    g = linear_graph()
    plain = map_with(g, spm_hw(), strategies())[0]
    s = strategies(compression={"weights": {"format": "quant", "bits": 4,
                                            "decompress_cycles_per_element": 0.5}})
    m = map_with(g, spm_hw(), s)[0]
    assert m.n_tiles == 1
    assert m.compute_cycles - plain.compute_cycles == pytest.approx(0.5 * 64 * 256)
    tile = next(iter(m.tiles()))
    assert tile.compute_cycles - next(iter(plain.tiles())).compute_cycles == \
        pytest.approx(0.5 * 64 * 256)


def test_zero_skipping_runs_macs_times_density():
    g = linear_graph(k=1024, n=256, m=64)
    s = strategies(compression={"weights": {"format": "sparse", "encoding": "nm", "n": 2,
                                            "m": 4, "decompress_cycles_per_element": 0}})
    dense_hw = map_with(g, spm_hw(mpc=64), s)[0]
    sparse_hw = map_with(g, spm_hw(mpc=64, sparse=True), s)[0]
    assert dense_hw.compute_cycles == pytest.approx(64 * 1024 * 256 / 64)
    assert sparse_hw.compute_cycles == pytest.approx(dense_hw.compute_cycles / 2)
    assert sparse_hw.zero_skip == 0.5


# ----------------------------------------------------------------------------- unrolling

def pool_graph():
    b = GraphBuilder("p", dtype="int8")
    y = b.global_pool(b.input("x", (1, 64, 64, 64)))
    return b.finish([y])


@pytest.mark.parametrize("l1", ["8 KiB", "256 KiB"])
def test_temporal_unroll_raises_bandwidth_per_littles_law_until_dram_saturates(l1):
    g = pool_graph()                      # one read operand: loads_per_iteration = 1
    hw = cache_hw(l1=l1, mpc=64, mshrs=16)
    lat, bw = 100e-9, 10e9
    rates = []
    for u in (1, 2, 4, 8, 16, 32):
        s = strategies(unroll={"temporal": u, "spatial": {"S": 64}})
        t, r, ms = run(g, hw, s)
        assert ms[0].mlp == u and all(tile.mlp == u for tile in ms[0].tiles())
        rate = r.layers[0].dram_read_bytes / t
        # Little's law: m = min(MSHRs, U) lines in flight per latency, until DRAM saturates
        # (4% slack: first-access latency and the last tile's compute are not overlapped)
        assert rate == pytest.approx(min(min(16, u) * LINE / lat, bw), rel=0.045)
        assert rate <= min(min(16, u) * LINE / lat, bw) * 1.0001
        rates.append(rate)
    assert rates[1] == pytest.approx(2 * rates[0], rel=0.01)
    assert rates[5] == pytest.approx(rates[4], rel=1e-9)         # MSHRs cap at 16
    assert all(b > a for a, b in zip(rates[:5], rates[1:5]))


def test_unset_temporal_keeps_hardware_mlp():
    m = map_with(pool_graph(), cache_hw(), strategies())[0]
    assert m.mlp is None and next(iter(m.tiles())).mlp is None


def test_spills_start_exactly_past_the_register_file():
    g = linear_graph()            # loads per iteration: x and W → 3 live registers per copy
    regs = 15
    hw = cache_hw(l1="1 MiB", mpc=16, registers=regs, register_width="16 B")
    inner = {}
    for u in (4, 5, 6, 7):
        m = map_with(g, hw, strategies(unroll={"temporal": u}))[0]
        assert m.n_tiles == 1
        inner[u] = next(iter(m.tiles())).inner_bytes
        assert m.spill[0] == max(0, 3 * u - regs) == spilled_registers(2, u, regs)
    assert live_registers(2, 5) == regs
    assert inner[4] == inner[5]                       # 15 live values fit 15 registers
    iters = 64 * 256 / 16                             # MACs / lanes at full utilisation
    for u in (6, 7):
        spilled = 3 * u - regs
        assert inner[u] - inner[5] == math.ceil(2 * spilled * 16 * iters / u)


def test_spill_bytes_are_replayed_on_l1():
    g = linear_graph()
    hw = cache_hw(l1="1 MiB", mpc=16, registers=15, register_width="16 B")
    _, r5, _ = run(g, hw, strategies(unroll={"temporal": 5}))
    _, r6, _ = run(g, hw, strategies(unroll={"temporal": 6}))
    extra = r6.layers[0].bytes_by_level["L1"] - r5.layers[0].bytes_by_level["L1"]
    assert extra == math.ceil(2 * 3 * 16 * (64 * 256 / 16) / 6)
    assert dram_bytes(r5) == dram_bytes(r6)


def test_loop_overhead_divided_by_temporal():
    g = linear_graph()
    hw = cache_hw(l1="1 MiB", mpc=16, loop_overhead="4 cycles")
    iters = 64 * 256 / 16
    for u in (1, 2, 4):
        m = map_with(g, hw, strategies(unroll={"temporal": u}))[0]
        assert m.compute_cycles == pytest.approx(iters + 4 * iters / u)


def test_spatial_auto_picks_best_lane_factorisation():
    g = linear_graph(k=64, n=24, m=20)           # default: 16 lanes over N=24 → 24/32 = 0.75
    hw = cache_hw(l1="1 MiB", mpc=16)
    default = map_with(g, hw, strategies())[0]
    auto = map_with(g, hw, strategies(unroll={"spatial": "auto"}))[0]
    assert default.utilisation == pytest.approx(0.75)
    assert auto.utilisation == pytest.approx(1.0)      # e.g. 16 over K=64
    assert math.prod(auto.unroll.values()) == 16
    assert auto.compute_cycles < default.compute_cycles


def test_spatial_auto_on_a_systolic_array_never_loses():
    from memsim.config.hardware import Hardware

    hw = Hardware.model_validate({
        "name": "sa", "compute": {"cores": 1, "clock": "1 GHz", "kind": "systolic",
                                  "macs_per_cycle": {"int8": 1024},
                                  "systolic": {"rows": 32, "cols": 32, "dataflow": "os"}},
        "memory": {"levels": [{"name": "SPM", "kind": "scratchpad", "size": "4 MiB",
                               "latency": "1 cycles", "bandwidth": "256 B/cycle"}],
                   "dram": {"bandwidth": "10 GB/s", "latency": "100 ns"}}})
    g = linear_graph(k=512, n=8, m=256)       # Nf = 8 on 32 columns: 1/4 of the columns
    fixed = map_with(g, hw, strategies())[0]
    auto = map_with(g, hw, strategies(unroll={"spatial": "auto"}))[0]
    assert auto.compute_cycles < fixed.compute_cycles
    assert auto.unroll["rows"] * auto.unroll["cols"] == 1024


# ----------------------------------------------------------------------------- streaming stores

def test_streaming_stores_bypass_write_allocate():
    b = GraphBuilder("e", dtype="int8")
    y = b.act(b.input("x", (1, 64, 64, 64)), "relu")
    g = b.finish([y])
    _, normal, _ = run(g, cache_hw())
    _, nt, _ = run(g, cache_hw(), strategies(cache={"streaming_stores": True}))
    size = 64 ** 3
    # write-allocate: every output line is first read from DRAM; non-temporal: never
    assert normal.layers[0].dram_read_bytes == 2 * size
    assert nt.layers[0].dram_read_bytes == size
    assert nt.layers[0].dram_write_bytes == size


def test_tiles_hand_their_segments_over_explicitly():
    # The line-run attributes travel in Tile.segments, not inside the line array: the lines are a
    # plain ndarray, the runs cover them in order, and an ordinary tile has no segments.
    g = linear_graph()
    plain = map_with(g, cache_hw(), strategies())
    assert all(t.segments is None for m in plain for t in m.tiles())
    s = strategies(compression={"weights": {"format": "ratio", "ratio": 2}},
                   cache={"streaming_stores": True})
    tiles = [t for m in map_with(g, cache_hw(), s) for t in m.tiles()]
    assert tiles and all(type(t.lines) is np.ndarray for t in tiles)
    for t in tiles:
        assert t.segments is not None and t.segments.total == t.lines.size
        pos = 0
        for r in t.segments.runs:
            w = t.writes[pos:pos + r.n]
            assert r.streaming == bool(w.all()) and (r.streaming or not w.any())
            pos += r.n
    assert any(r.dram_ratio == 0.5 for t in tiles for r in t.segments.runs)


def test_compressed_sizes_round_to_bytes():
    s = strategies(compression={"weights": {"format": "quant", "bits": 3}})
    assert compressed_bytes(s.compression.weights, 10, "int8") == 4   # 30 bits → 4 B
