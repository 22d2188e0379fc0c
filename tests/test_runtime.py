"""The runtime stage (memsim/runtime): algorithm counts by hand, closed-form fixed costs and
thread scaling through whole runs, fusion, NPU depthwise packing, generic = before."""

import dataclasses
import math
from pathlib import Path

import pytest

from memsim.config import Scenario, load_hardware, validate_data
from memsim.config.hardware import RUNTIME_UNITS, RUNTIMES
from memsim.engine.run import simulate
from memsim.errors import InputError
from memsim.mapping.compute import GemmShape, systolic_cycles
from memsim.runtime import PROFILES, apply, fused_ops, get_profile
from memsim.runtime.algorithms import ConvShape, choose_conv, winograd_counts
from memsim.runtime.apply import RuntimeSettings, decide, register_block_ratio
from memsim.runtime.overheads import barrier_s, best_block, layer_fixed_s, wave_efficiency
from memsim.workloads import build

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "configs" / "hardware"

# Compute-bound CPU: 4 cores, memory far faster than the MACs.
CPU4 = {"name": "cpu4", "compute": {"cores": 4, "clock": "1 GHz", "kind": "simd",
                                    "macs_per_cycle": {"int8": 16}},
        "memory": {"levels": [{"name": "SPM", "kind": "scratchpad", "size": "64 MiB",
                               "latency": "1 cycles", "bandwidth": "65536 B/cycle",
                               "scope": "core"}],
                   "dram": {"name": "fast", "bandwidth": "100000 GB/s", "latency": "1 ns"}}}


def _layers_yaml(tmp_path, n: int, channels: int, size: int, name="net.yaml") -> Path:
    """A network of ``n`` identical 1x1 convs (channels → channels) on a size×size map."""
    layers = "\n".join(f"  - {{name: c{i}, op: conv2d, out_channels: {channels}, kernel: 1}}"
                       for i in range(n))
    path = tmp_path / name
    path.write_text(f"name: t\ninputs: {{x: [1, {channels}, {size}, {size}]}}\nlayers:\n{layers}\n")
    return path


def _run(hardware: dict, network, threads=1, params=None, runtime="generic") -> float:
    hw = dict(hardware)
    if params:
        hw["calibration"] = {"runtime": runtime, "unit": "cpu", "params": params, "rows": 1}
    sc = validate_data(Scenario, {"name": "t", "hardware": hw, "runtime": runtime,
                                  "streams": [{"network": str(network), "threads": threads}]})
    return simulate(sc, tables=False).summary["latency_s"]


# ------------------------------------------------------------------ algorithms by hand

def test_winograd_f23_counts_and_transformed_bytes_by_hand():
    # 56x56 output, 64 -> 64 channels: 28x28 = 784 tiles of 4x4 transformed inputs
    a = winograd_counts(ConvShape(n=1, ho=56, wo=56, c=64, k=64, r=3, s=3), 2)
    assert a.macs == 784 * 16 * 64 * 64 == 51_380_224          # vs direct 115,605,504 (2.25x)
    assert a.transform_macs == 784 * 64 * 2 * 4 ** 3 + 784 * 64 * (16 * 2 + 4 * 4)
    assert a.extra_elements == 784 * 16 * (64 + 64) == 1_605_632


def test_winograd_f63_pads_small_maps_and_loses_to_f43_there():
    shape = ConvShape(n=1, ho=7, wo=7, c=512, k=512, r=3, s=3)
    f63 = winograd_counts(shape, 6)
    assert f63.macs == 4 * 64 * 512 * 512                      # ceil(7/6)^2 = 4 tiles of 8x8
    f43 = winograd_counts(shape, 4)
    assert f43.macs == 4 * 36 * 512 * 512                      # ceil(7/4)^2 = 4 tiles of 6x6
    assert choose_conv(shape, (2, 4, 6), 16, True).name == "winograd F(4,3)"
    big = ConvShape(n=1, ho=56, wo=56, c=64, k=64, r=3, s=3)
    assert choose_conv(big, (2, 4, 6), 16, True).name == "winograd F(6,3)"


def test_algorithm_choice_by_layer_kind():
    assert choose_conv(ConvShape(1, 56, 56, 1, 1, 3, 3, groups=32), (2, 4, 6), 16, True).kernel \
        == "depthwise"
    assert choose_conv(ConvShape(1, 56, 56, 64, 64, 1, 1), (2, 4, 6), 16, True).name == "gemm 1x1"
    s2 = choose_conv(ConvShape(1, 28, 28, 64, 64, 3, 3, stride=2), (2, 4, 6), 16, True)
    assert s2.name == "im2col+gemm" and s2.extra_elements == 28 * 28 * 9 * 64
    assert choose_conv(ConvShape(1, 112, 112, 3, 32, 3, 3), (2, 4, 6), 16, True).name \
        == "im2col+gemm"                                       # 3 input channels: no Winograd
    assert choose_conv(ConvShape(1, 56, 56, 64, 64, 3, 3), (), 16, False).name == "direct"


def test_decision_scales_compute_by_true_multiplies_and_charges_the_tile_bytes():
    g = build("resnet18", dtype="fp32").fold_batchnorm()
    op = next(o for o in g.ops if o.name == "layer1.0.1.conv")
    # the mapper's tiles with the transformed tiles as extra bytes (ncnn's own blocked GEMM,
    # which simulates them line by line instead, is tests/test_ncnn_gemm.py's)
    prof = dataclasses.replace(get_profile("ncnn", "cpu"), blocked_gemm=None)

    class M:  # the attributes decide() reads of a mapping
        pass
    m = M()
    m.op, m.spill, m._lanes, m.n_tiles = op, (0, 0, 1), 4, 4
    hw = load_hardware(HW / "raspberry-pi-4.yaml")
    d = decide(m, g, hw, prof, threads=4)
    alg = winograd_counts(ConvShape(1, 56, 56, 64, 64, 3, 3), 6)
    expect = alg.total_macs / op.macs / prof.efficiency["winograd"] * register_block_ratio(1, 1, 8)
    assert d.algorithm == "winograd F(6,3)"
    assert d.compute_scale == pytest.approx(expect, rel=1e-12)
    assert d.extra_bytes == 2 * alg.extra_elements * 4         # fp32, written once and read once
    assert d.fixed_s == pytest.approx(prof.op_overhead_s + 2 * prof.barrier_s)


def test_ncnn_vulkan_winograd_is_three_dispatches_on_the_vector_cores():
    """Issue 14: a Winograd conv under ncnn Vulkan launches three shaders (input transform,
    GEMM, output transform), each paying the dispatch cost; without tensor-core kernels its
    compute runs at the SM's fp32 vector rate (Orin: 1024 fp16 tensor MACs vs 128 fp32 lanes)."""
    g = build("resnet18", dtype="fp16").fold_batchnorm()
    op = next(o for o in g.ops if o.name == "layer1.0.1.conv")

    class M:  # the attributes decide() reads of a mapping
        pass
    m = M()
    m.op, m.spill, m.lanes, m.n_tiles = op, (0, 0, 1), 1024, 16
    hw = load_hardware(HW / "jetson-agx-orin-64gb.yaml")
    prof = get_profile("ncnn", "gpu")
    d = decide(m, g, hw, prof, threads=1)
    assert d.algorithm.startswith("winograd")
    assert d.fixed_s == pytest.approx(3 * prof.op_overhead_s)
    tensor = decide(m, g, hw, dataclasses.replace(prof, tensor_cores=True), threads=1)
    assert d.compute_scale / tensor.compute_scale == pytest.approx(1024 / 128)


# ------------------------------------------------------------------ closed forms

def test_barrier_wave_and_register_block_closed_forms():
    assert barrier_s(1, 1e-6) == 0.0
    assert barrier_s(4, 1e-6) == pytest.approx(2e-6)
    assert barrier_s(12, 1e-6) == pytest.approx(4e-6)
    assert layer_fixed_s(5e-6, 8, 1e-6) == pytest.approx(8e-6)
    assert wave_efficiency(108, 108) == 1.0
    assert wave_efficiency(109, 108) == pytest.approx(109 / 216)
    assert wave_efficiency(6, 108) == pytest.approx(6 / 108)
    assert register_block_ratio(1, 1, 8) == pytest.approx(1.125 / 2)
    # a 128x768 GEMM on 108 SMs: the tile that fills the SMs wins over the big one
    tile, eff = best_block(128, 768, 1, 108, needed_intensity=8.0)
    assert tile in ((64, 32), (32, 32)) and eff > wave_efficiency(6, 108)


def test_launch_overhead_times_n_identical_tiny_layers(tmp_path):
    n, overhead = 9, 10e-6
    net = _layers_yaml(tmp_path, n, channels=8, size=4)
    base = _run(CPU4, net, threads=1)
    with_cost = _run(CPU4, net, threads=1, params={"op_overhead_s": overhead})
    assert with_cost - base == pytest.approx(n * overhead, rel=1e-9, abs=1e-12)


def test_thread_scaling_of_a_big_compute_bound_layer_is_about_n(tmp_path):
    net = _layers_yaml(tmp_path, 1, channels=256, size=64)   # 268 M MACs, a few MB of data
    t1, t4 = _run(CPU4, net, threads=1), _run(CPU4, net, threads=4)
    assert t1 / t4 == pytest.approx(4.0, rel=0.03)
    step = 3e-6                                             # barrier: ceil(log2 4) = 2 steps
    t4b = _run(CPU4, net, threads=4, params={"barrier_s": step})
    assert t4b - t4 == pytest.approx(2 * step, rel=1e-9)


def test_thread_scaling_of_a_tiny_layer_is_bounded_by_the_barrier(tmp_path):
    net = _layers_yaml(tmp_path, 1, channels=4, size=2)      # 64 MACs: nanoseconds of work
    step = 5e-6
    t1 = _run(CPU4, net, threads=1, params={"barrier_s": step})
    t4 = _run(CPU4, net, threads=4, params={"barrier_s": step})
    assert t1 < 1e-6                                        # one thread: no barrier
    assert t4 == pytest.approx(2 * step, rel=0.05)           # four: the barrier is the layer
    assert t4 > t1                                          # more threads made it slower


# ------------------------------------------------------------------ fusion and NPU packing

def test_fusion_drops_activations_and_tensorrt_also_residual_adds():
    g = build("resnet18", dtype="int8").fold_batchnorm()
    relus = {o.name for o in g.ops if o.attrs.get("op") == "relu"}
    adds = {o.name for o in g.ops if o.attrs.get("op") == "add"}
    ncnn = fused_ops(g, get_profile("ncnn", "cpu"))
    trt = fused_ops(g, get_profile("tensorrt", "gpu"))
    assert not adds & ncnn
    # the relu after each residual add reads the add's output: fused only where the add is
    assert relus - trt == set() and adds <= trt
    assert len(relus & ncnn) == len(relus) - len(adds)
    assert fused_ops(g, get_profile("generic", "cpu")) == set()


def test_tensorrt_launches_fused_attention_and_one_qkv_gemm_per_layer():
    """Issue 14: per BERT layer TensorRT launches one QKV GEMM (k and v ride with q) and one
    fused attention kernel (softmax and context ride with the scores): 4 ops per layer without
    a launch of their own; CNNs have none; other runtimes launch every op."""
    from memsim.runtime.apply import merged_launches
    g = build("bert_base", dtype="int8").fold_batchnorm()
    trt = merged_launches(g, get_profile("tensorrt", "gpu"))
    assert trt == {f"encoder.{i}.attn.{n}" for i in range(12)
                   for n in ("k", "v", "softmax", "context")}
    assert merged_launches(g, get_profile("ncnn", "gpu")) == set()
    cnn = build("resnet18", dtype="int8").fold_batchnorm()
    assert merged_launches(cnn, get_profile("tensorrt", "gpu")) == set()


def test_edge_tpu_packs_depthwise_channels_across_the_columns():
    hw = load_hardware(HW / "coral-edge-tpu.yaml")
    g = build("mobilenet_v2", dtype="int8").fold_batchnorm()
    from memsim.mapping import map_graph
    from memsim.mapping.addresses import SimpleAddressMap

    maps = map_graph(g, hw, SimpleAddressMap(g))
    dw = next(m for m in maps if m.op.kind == "conv2d" and m.op.loops.dims["G"] > 1)
    d = dw.op.loops.dims
    npx, c = d["P"] * d["Q"], d["G"]
    one = systolic_cycles(GemmShape(npx, 9, 1, c), 64, 64, "ws")
    packed = systolic_cycles(GemmShape(npx, 9, c), 64, 64, "ws")
    assert one == c * (npx + 2 * 64 + 64 - 2 - 1)             # one fold per channel
    assert packed == -(-c // 64) * (npx + 2 * 64 + 64 - 2) - 1
    out = apply(maps, g, hw, RuntimeSettings("edgetpu", "npu", 1))
    layer = next(x for x in out if x.op.name == dw.op.name)
    assert layer.compute_cycles == pytest.approx(dw.compute_cycles * packed / one)


# ------------------------------------------------------------------ generic = before

def test_generic_runtime_returns_the_mappings_untouched():
    g = build("mobilenet_v2", dtype="int8").fold_batchnorm()
    hw = load_hardware(HW / "raspberry-pi-5.yaml")
    from memsim.mapping import map_graph
    from memsim.mapping.addresses import SimpleAddressMap

    maps = map_graph(g, hw, SimpleAddressMap(g))
    assert apply(maps, g, hw, RuntimeSettings("generic", "cpu", 4)) is maps


def test_runtime_generic_reproduces_the_preset_without_a_runtime_bitwise():
    from memsim.config import load_yaml

    raw = dict(load_yaml(HW / "raspberry-pi-5.yaml"))
    raw.pop("runtime")
    stream = [{"network": "mobilenet_v2", "dtype": "int8", "frames": 2}]
    old = validate_data(Scenario, {"name": "a", "hardware": raw, "streams": stream})
    new = validate_data(Scenario, {"name": "a", "hardware": dict(load_yaml(HW / "raspberry-pi-5.yaml")),
                                   "streams": stream, "runtime": "generic"})
    a, b = simulate(old, tables=False), simulate(new, tables=False)
    assert a.summary["latency_s"] == b.summary["latency_s"]
    assert a.summary["dram_bytes"] == b.summary["dram_bytes"]
    assert a.layers["end_s"].tolist() == b.layers["end_s"].tolist()
    shipped = validate_data(Scenario, {"name": "a", "streams": stream,
                                       "hardware": dict(load_yaml(HW / "raspberry-pi-5.yaml"))})
    assert simulate(shipped, tables=False).summary["runtime"] == "ncnn"


# ------------------------------------------------------------------ scenario keys and units

def test_config_runtime_names_match_the_profiles():
    assert set(RUNTIMES) == set(PROFILES)
    assert {k: set(v) for k, v in RUNTIME_UNITS.items()} == {k: set(v) for k, v in PROFILES.items()}


def test_unit_selects_the_boards_cpu_sharing_its_dram():
    from memsim.config import load_scenario

    gpu = load_hardware(HW / "jetson-agx-orin-64gb.yaml")
    sc = validate_data(Scenario, {"name": "a", "hardware": str(HW / "jetson-agx-orin-64gb.yaml"),
                                  "unit": "cpu", "streams": [{"network": "resnet18",
                                                              "threads": 12}]},
                       source_path=ROOT / "x.yaml")
    assert sc.hardware.compute.cores == 12 and sc.hardware.unit_kind == "cpu"
    assert sc.hardware.memory.dram == gpu.memory.dram
    assert sc.hardware.runtime == "ncnn" and sc.streams[0].cores == tuple(range(12))
    assert sc.hardware.for_unit("gpu") == gpu
    del load_scenario


@pytest.mark.parametrize("extra, stream, field, words", [
    ({"unit": "npu"}, {}, "unit", "no npu unit"),
    ({"runtime": "edgetpu"}, {}, "runtime", "does not run on a gpu"),
    ({}, {"threads": 17}, "streams.0.threads", "16 cores"),
    ({}, {"threads": 2, "cores": [0, 1, 2]}, "streams.0.threads", "3 cores"),
    ({"runtime": "cudnn"}, {}, "runtime", "cudnn"),
])
def test_bad_runtime_unit_threads_are_located_errors(tmp_path, extra, stream, field, words):
    from memsim.config import load_scenario

    path = tmp_path / "s.yaml"
    lines = [f"name: s", f"hardware: {HW / 'jetson-agx-orin-64gb.yaml'}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    lines += ["streams:", "  - network: resnet18"] + [f"    {k}: {v}" for k, v in stream.items()]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:") and field in msg and words in msg


def test_allcore_clock_fraction_slows_only_multi_thread_compute(tmp_path):
    net = _layers_yaml(tmp_path, 1, channels=256, size=64)
    t1, t4 = _run(CPU4, net, threads=1), _run(CPU4, net, threads=4)
    half = {"allcore_clock_fraction": 0.5}
    assert _run(CPU4, net, threads=1, params=half) == t1
    assert _run(CPU4, net, threads=4, params=half) == pytest.approx(2 * t4, rel=0.01)


# ------------------------------------------------------------------ ncnn's parallel split

def test_ncnn_tile_m_and_work_items_by_hand():
    from memsim.runtime.overheads import ncnn_tile_m, parallel_items, split_efficiency

    # M=64 on 4 threads: nn=2, tile 32, x4 = 128, one block of 64, then ceil8(64//4) = 16
    assert ncnn_tile_m(64, 4) == 16 and parallel_items("gemm", 64, 1, 4, 4) == 4
    # M=24 on 4 threads: tile 24 → 96 → 24 → ceil8(24//4 = 6) = 8: three items, one thread idle
    assert ncnn_tile_m(24, 4) == 8 and parallel_items("winograd", 24, 1, 4, 4) == 3
    assert split_efficiency(3, 4) == pytest.approx(0.75)
    # M=64 on 12 threads: ceil8(64//12 = 5) = 8 → 8 items for 12 threads
    assert parallel_items("gemm", 64, 1, 12, 8) == 8
    assert split_efficiency(8, 12) == pytest.approx(8 / 12)
    # one thread: no re-split (tile 32 for M=64); depthwise: channel packs
    assert ncnn_tile_m(64, 1) == 32
    assert parallel_items("depthwise", 1, 96, 12, 4) == 24
    assert split_efficiency(24, 12) == 1.0 and split_efficiency(18, 12) == pytest.approx(0.75)


def test_ncnn_layer_with_few_output_channels_scales_with_its_work_items(tmp_path):
    # 16 output channels: ncnn splits them in 2 blocks of 8, so 4 threads run like 2
    net = _layers_yaml(tmp_path, 1, channels=16, size=512)   # 67 M MACs, compute-bound
    t1 = _run(CPU4, net, threads=1, runtime="ncnn")
    t4 = _run(CPU4, net, threads=4, runtime="ncnn")
    assert t1 / t4 == pytest.approx(2.0, rel=0.03)
    g1, g4 = _run(CPU4, net, threads=1), _run(CPU4, net, threads=4)
    assert g1 / g4 == pytest.approx(4.0, rel=0.03)           # generic: the engine's even deal


def test_dram_sustained_is_the_units_simulated_bandwidth():
    sc = validate_data(Scenario, {"name": "a", "hardware": str(HW / "raspberry-pi-4.yaml"),
                                  "streams": [{"network": "mobilenet_v2"}]},
                       source_path=ROOT / "x.yaml")
    pi4 = load_hardware(HW / "raspberry-pi-4.yaml")
    assert pi4.memory.dram.bandwidth_bytes_per_s == 12.8e9          # the preset keeps the peak
    assert sc.hardware.memory.dram.bandwidth_bytes_per_s == 5.5e9   # the unit runs at STREAM's
    board = load_hardware(HW / "rk3588.yaml")
    npu = validate_data(Scenario, {"name": "a", "hardware": str(HW / "rk3588.yaml"),
                                   "streams": [{"network": "mobilenet_v2"}]},
                        source_path=ROOT / "x.yaml")
    cpu = validate_data(Scenario, {"name": "a", "hardware": str(HW / "rk3588.yaml"), "unit": "cpu",
                                   "streams": [{"network": "mobilenet_v2"}]},
                        source_path=ROOT / "x.yaml")
    assert npu.hardware.memory.dram.bandwidth_bytes_per_s == 33.8e9  # the NPU: no figure, peak
    assert cpu.hardware.memory.dram.bandwidth_bytes_per_s == 17e9
    assert board.for_unit("cpu").for_unit("npu") == board           # the swap round-trips
