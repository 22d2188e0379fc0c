"""ncnn's blocked GEMM (memsim/runtime/ncnn_gemm.py, runtime/blocked.py): its tile sizes by hand
from ncnn's formulas, the buffer traffic of its two loops in closed form, its static schedule,
and threads left idle by layers with fewer output-channel blocks than threads."""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime_helpers import small_cpu

from memsim.config import Scenario, load_hardware, validate_data
from memsim.engine.run import simulate
from memsim.runtime.algorithms import ConvShape, choose_conv, ncnn_winograd_tile
from memsim.runtime.blocked import l2_share_bytes
from memsim.runtime.ncnn_gemm import Blocking, ConvGeometry, NcnnGemmStream, blocking, static_owner

HW = Path(__file__).resolve().parents[1] / "configs" / "hardware"
LINE = 64

CPU = small_cpu()


def test_tile_sizes_follow_ncnns_rules_by_hand():
    # Winograd F(6,3) 64 -> 64 on 56x56 (100 tiles, 64 batches), 256 KiB of L2 per core,
    # 4 threads: TILE_K = min(ceil8((65536-32)/12), ceil8(64)) = 64; TILE_M = 8 (x4 = 32,
    # then cut to ceil8(32/4) = 8); TILE_N = (65536 - 8*64)/64 = 1016 -> one block of 100
    assert blocking(64, 100, 64, 64, 256 << 10, 4, 4, True, 4) == Blocking(64, 100, 64, 64, 8, 100, 64)
    # im2col 3x3 s2 64 -> 128 at 28x28 (K = 576, N = 784), fp32: nn_M = 4 -> TILE_M 32, x4 =
    # 128, cut to 32; TILE_N = (65536 - 32*576)//576 = 81 -> 80, ten blocks of 80 (79 rounded)
    assert blocking(128, 784, 576, 1, 256 << 10, 4, 4, False, 4) == Blocking(128, 784, 576, 1, 32, 80, 576)
    # the fp16 kernels count the L2 in 2-byte elements and start the M split at 64 rows
    assert blocking(128, 784, 576, 1, 256 << 10, 2, 4, False, 4) == Blocking(128, 784, 576, 1, 32, 160, 576)
    # one thread: TILE_M stays 32 (four blocks of 32 output channels)
    assert blocking(128, 784, 576, 1, 256 << 10, 4, 1, False, 4).tile_m == 32


def test_l2_share_and_winograd_rule():
    pi4 = load_hardware(HW / "raspberry-pi-4.yaml")     # 1 MiB L2 shared by 4 cores
    assert l2_share_bytes(pi4) == 256 << 10
    assert ncnn_winograd_tile(ConvShape(1, 56, 56, 64, 64, 3, 3)) == 6
    assert ncnn_winograd_tile(ConvShape(1, 7, 7, 512, 512, 3, 3)) == 4
    assert ncnn_winograd_tile(ConvShape(1, 56, 56, 3, 4, 3, 3)) == 0      # < 8 channels
    assert ncnn_winograd_tile(ConvShape(1, 28, 28, 64, 64, 3, 3, stride=2)) == 0
    # ncnn's rule takes F(6,3) on 7x7 maps with <= 128 channels, where fewest-MACs would not
    small = ConvShape(1, 7, 7, 128, 128, 3, 3)
    assert choose_conv(small, (2, 4, 6), 16, True, "ncnn").name == "winograd F(6,3)"
    assert choose_conv(small, (2, 4, 6), 16, True).name == "winograd F(4,3)"


def test_static_schedule_is_contiguous_chunks():
    assert static_owner(10, 4) == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]
    assert static_owner(2, 4) == [0, 1]


def _stream(m_out=32, c=64, p=8, threads=2, wino=0):
    """A stream on an 8x8 fp32 map (256 B per channel row block: line aligned)."""
    geo = ConvGeometry(c=c, h=p, w=p, k=m_out, p=p, q=p, r=3 if wino else 1, s=3 if wino else 1,
                       stride=1, pad_top=1 if wino else 0, wino_m=wino, in_base=0,
                       out_base=1 << 20, in_bytes=4, out_bytes=4)
    if wino:
        a = wino + 2
        dims = (m_out, (-(-p // wino)) ** 2, c, a * a)
    else:
        dims = (m_out, p * p, c, 1)
    # a 4 KiB L2 share forces several blocks in every dimension
    blk = blocking(*dims, 4 << 10, 4, threads, bool(wino), 4)
    return NcnnGemmStream(geo, blk, threads, LINE, at_base=2 << 20, ws_base=4 << 20,
                          elem_bytes=4, cycles_per_mac=0.5), blk


@pytest.mark.parametrize("wino", [0, 2])
def test_buffer_traffic_of_the_two_loops_in_closed_form(wino):
    s, blk = _stream(wino=wino)
    assert blk.nn_m > 1 and (blk.nn_n > 1 or blk.nn_k > 1)
    tiles = list(s.tiles())
    ws = (np.uint64((4 << 20) // LINE), np.uint64(((4 << 20) + s.ws_bytes) // LINE))
    at = (np.uint64((2 << 20) // LINE), np.uint64(((2 << 20) + s.at_bytes) // LINE))
    ws_w = ws_r = at_r = 0
    out = []
    for t in tiles:
        w, r = t.lines[t.writes], t.lines[~t.writes]
        ws_w += int(((w >= ws[0]) & (w < ws[1])).sum())
        ws_r += int(((r >= ws[0]) & (r < ws[1])).sum())
        at_r += int(((r >= at[0]) & (r < at[1])).sum())
        out.append(w[w < ws[0]])
    bt_lines = sum(s._bt_lines(j, k).size for j in range(blk.nn_n) for k in range(blk.nn_k))
    at_lines = sum(s._at_lines(i, k).size for i in range(blk.nn_m) for k in range(blk.nn_k))
    assert ws_w == bt_lines                         # B packed once
    assert ws_r == blk.nn_m * bt_lines              # ... and streamed once per M block
    assert at_r == blk.nn_n * at_lines              # weights once per N block
    written = np.concatenate(out)
    expect = np.arange((1 << 20) // LINE, ((1 << 20) + 32 * 64 * 4) // LINE, dtype=np.uint64)
    assert np.array_equal(np.unique(written), expect)       # every output line written
    macs = sum(t.macs for t in tiles)
    gemm = blk.m * blk.n * blk.k * blk.batch
    assert macs == pytest.approx(gemm)              # no transform MACs given here
    assert sum(t.compute_cycles for t in tiles) == pytest.approx(0.5 * gemm)


def test_gemm_tiles_go_to_the_static_owner_of_their_block():
    s, blk = _stream(m_out=40, threads=4, wino=2)  # Winograd: 5 blocks of 8 on 4 threads
    assert blk.nn_m == 5
    gemm = [t for t in s.tiles() if t.macs > 0]    # (the pack loop has no MACs here)
    per_block = blk.nn_n * blk.nn_k
    cores = [t.core for t in gemm]
    assert sorted(cores) == sorted([0] * 2 * per_block + [1, 2, 3] * per_block)


def _one_conv(tmp_path, out_channels: int, kernel: int = 1) -> Path:
    path = tmp_path / f"conv{out_channels}.yaml"
    path.write_text("name: t\ninputs: {x: [1, 64, 32, 32]}\nlayers:\n"
                    f"  - {{name: c, op: conv2d, out_channels: {out_channels}, kernel: {kernel}}}\n")
    return path


def _compute_s(net: Path, threads: int) -> float:
    sc = validate_data(Scenario, {"name": "t", "hardware": CPU, "runtime": "ncnn",
                                  "streams": [{"network": str(net), "dtype": "fp32",
                                               "threads": threads}]})
    layers = simulate(sc).layers
    return float(layers.loc[layers["name"] == "c", "compute_s"].iloc[0])


def test_threads_beyond_the_output_channel_blocks_stay_idle(tmp_path):
    # 1x1, 16 output channels: TILE_M = 8 on 2 and on 4 threads, so two blocks either way;
    # on one thread a single block of 16
    net = _one_conv(tmp_path, 16)
    t1, t2, t4 = (_compute_s(net, n) for n in (1, 2, 4))
    assert t4 == pytest.approx(t2, rel=1e-6)
    assert t1 == pytest.approx(2 * t2, rel=1e-6)
    # 64 output channels: four blocks of 16 on four threads, two of 32 on one
    wide = _one_conv(tmp_path, 64)
    assert _compute_s(wide, 1) == pytest.approx(4 * _compute_s(wide, 4), rel=1e-6)


def test_int8_kernels_split_eight_channels_over_all_of_b():
    from memsim.runtime.blocked import int8_blocking
    assert int8_blocking(64, 100, 64, 36) == Blocking(64, 100, 64, 36, 8, 100, 64)
    geo = ConvGeometry(c=64, h=8, w=8, k=64, p=8, q=8, r=1, s=1, stride=1, pad_top=0, wino_m=0,
                       in_base=0, out_base=1 << 20, in_bytes=1, out_bytes=1)
    s = NcnnGemmStream(geo, int8_blocking(64, 64, 64, 1), 4, LINE, 2 << 20, 4 << 20, 1, 1.0,
                       inner_split=True)
    tiles = list(s.tiles())
    assert len(tiles) == s.n_tiles == 4 + 8      # the one pack block on 4 threads, 8 items
    assert sorted(t.core for t in tiles[4:]) == [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.mark.parametrize("dtype", ["fp32", "int8"])
def test_every_blocked_layer_of_a_network_yields_its_macs(dtype):
    from memsim.engine.preflight import prepare_checked
    from memsim.runtime.blocked import BlockedLayer

    sc = validate_data(Scenario, {"name": "t", "hardware": str(HW / "raspberry-pi-4.yaml"),
                                  "streams": [{"network": "resnet18", "dtype": dtype,
                                               "threads": 4}]})
    stream = prepare_checked(sc).streams[0]
    blocked = [m for m in stream.mappings if isinstance(m, BlockedLayer)]
    convs = [op for op in stream.graph.ops if op.kind == "conv2d"]
    assert len(convs) == 20 and len(blocked) == len(convs)   # every conv of ResNet-18
    regions = []
    for m in blocked:
        tiles = list(m.tiles())
        assert len(tiles) == m.n_tiles
        assert sum(t.macs for t in tiles) == pytest.approx(m.decision.alg.total_macs, rel=1e-9)
        assert sum(t.compute_cycles for t in tiles) == pytest.approx(m.compute_cycles, rel=1e-9)
        regions.append((m.stream.at_base, m.stream.at_base + m.stream.at_bytes))
    regions.sort()
    assert all(a[1] <= b[0] for a, b in zip(regions, regions[1:]))   # packed weights disjoint
    assert regions[-1][1] <= blocked[0].stream.ws_base               # workspace after them


def test_border_copy_reads_the_input_and_writes_the_bordered_blob_once():
    from memsim.runtime.ncnn_gemm import BorderCopy
    b = BorderCopy(c=6, h=8, w=8, pads=(1, 1, 1, 1), src_base=0, dst_base=1 << 20, elem_bytes=4)
    assert b.shape == (10, 10) and b.nbytes == 6 * 100 * 4
    tiles = list(b.tiles(threads=4, line_bytes=LINE))
    assert [t.core for t in tiles] == [0, 1, 2, 3]            # channels 2, 2, 1, 1
    reads = np.concatenate([t.lines[~t.writes] for t in tiles])
    writes = np.concatenate([t.lines[t.writes] for t in tiles])
    assert np.array_equal(np.unique(reads), np.arange(6 * 64 * 4 // LINE))
    assert np.array_equal(np.unique(writes), np.arange((1 << 20) // LINE,
                                                       ((1 << 20) + b.nbytes) // LINE + 1))
    assert all(t.macs == 0 for t in tiles)


def test_padded_convs_copy_their_border_before_the_kernel(tmp_path):
    # a padded 3x3 conv moves more DRAM bytes than the same conv on a pre-padded input
    # would: its input is read once by the copy and the bordered blob written and read
    from memsim.engine.preflight import prepare_checked
    from memsim.runtime.blocked import BlockedLayer

    net = _one_conv(tmp_path, 64, kernel=3)
    sc = validate_data(Scenario, {"name": "t", "hardware": CPU, "runtime": "ncnn",
                                  "streams": [{"network": str(net), "dtype": "fp32",
                                               "threads": 4}]})
    (m,) = [m for m in prepare_checked(sc).streams[0].mappings if m.op.name == "c"]
    assert isinstance(m, BlockedLayer) and m.border is not None
    tiles = list(m.tiles())
    assert len(tiles) == m.n_tiles
    copy = tiles[:4]
    assert all(t.macs == 0 and t.core == i for i, t in enumerate(copy))
    # the pack loop reads the bordered blob, not the input
    pack_reads = np.concatenate([t.lines[~t.writes] for t in tiles[4:4 + m.stream.blk.nn_n
                                                                     * m.stream.blk.nn_k]])
    lo = m.border.dst_base // LINE
    assert pack_reads.min() >= lo and pack_reads.max() < lo + -(-m.border.nbytes // LINE)


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30), eb=st.sampled_from([0.5, 1, 2, 4]),
       c=st.integers(1, 12), data=st.data())
def test_row_lines_equal_brute_force(h, w, eb, c, data):
    c0 = data.draw(st.integers(0, c - 1))
    c1 = data.draw(st.integers(c0, c))
    r0 = data.draw(st.integers(-2, h))
    r1 = data.draw(st.integers(r0, h + 2))
    base = data.draw(st.integers(0, 4096))
    s, _ = _stream()
    got = s._rows(base, (c0, c1), (r0, r1), h, w, eb)
    want = set()
    a, b = max(0, r0), min(h, r1)
    for ch in range(c0, c1):
        if b > a:
            lo = base + (ch * h + a) * w * eb
            hi = base + (ch * h + b) * w * eb
            want.update(range(int(lo // LINE), -(-math.ceil(hi) // LINE)))
    assert got.tolist() == sorted(want)
