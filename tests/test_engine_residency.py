"""The engine charges the DRAM traffic of activations spilled under a scratchpad's capacity
(``engine.residency``: the arena planned within the backing level, spilled lines from DRAM)."""

from __future__ import annotations

import pytest

import memsim
from memsim.config import load_scenario
from memsim.planning.onchip import activation_capacity
from memsim.prepare import prepare_stream

HW = """
name: spm-{size}
compute: {{cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {{int8: 16}}}}
memory:
  levels:
    - {{name: SPM, kind: scratchpad, size: {size}, latency: 1 cycles, bandwidth: 1024 B/cycle, scope: core}}
  dram: {{name: test-dram, bandwidth: 10 GB/s, latency: 100 ns, channels: 1}}
"""


CHAIN = """name: chain
inputs: {x: [1, 16, 32, 32]}
layers:
  - {name: c1, op: conv2d, out_channels: 16, kernel: 1}
  - {name: c2, op: conv2d, out_channels: 16, kernel: 1}
  - {name: c3, op: conv2d, out_channels: 16, kernel: 1}
"""
CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
       "Num Filter, Strides,\nc1,32,32,1,1,16,16,1,\nc2,32,32,1,1,16,16,1,\n"
       "c3,32,32,1,1,16,16,1,\n")


def _run(tmp_path, size, spill="least-traffic", network="net.csv"):
    """Simulate ``network`` on the scratchpad NPU of ``size``, spilling only (``split: off``:
    these tests are about spill traffic; tests/test_planning_split.py covers the split)."""
    (tmp_path / f"hw{size}.yaml").write_text(HW.format(size=size))
    (tmp_path / "net.csv").write_text(CSV)
    (tmp_path / "chain.yaml").write_text(CHAIN)
    path = tmp_path / f"s{size}{spill}.yaml"
    path.write_text(f"name: t\nhardware: hw{size}.yaml\nstreams:\n  - {{network: {network}, "
                    f"dtype: int8}}\nstrategies:\n  reuse: {{spill: {spill}, split: off}}\nseed: 0\n")
    result = memsim.simulate(path)
    return int(result.layers["dram_bytes"].sum()), load_scenario(path)


@pytest.mark.parametrize("spill,expected", [("least-traffic", 32768), ("largest-first", 65536)])
def test_spilled_chain_activations_cost_a_write_and_a_read(tmp_path, spill, expected):
    """x -> c1 -> c2 -> c3, three 1x1 convs over 32x32x16 int8 (16 KiB per tensor), on a
    24 KiB scratchpad: every step's 32 KiB live set needs 8 KiB spilled. Least traffic spills
    x and c3 (read / written in host memory directly instead of copied: free) and one of c1,
    c2 (written once, read once: 32 KiB); largest first spills c1 and c2 (64 KiB). The engine
    charges exactly that over the run with everything resident (1 MiB)."""
    big, _ = _run(tmp_path, "1 MiB", spill, "chain.yaml")
    small, scenario = _run(tmp_path, "24 KiB", spill, "chain.yaml")
    plan = prepare_stream(scenario.streams[0], scenario.hardware, scenario.strategies, 0).plan
    assert plan.spill_traffic_bytes == expected
    assert big == 2 * 16384  # x copied in, c3 copied out; the weights stay resident
    assert small - big == expected


@pytest.mark.parametrize("spill", ["least-traffic", "largest-first"])
def test_spilled_activations_cost_their_closed_form_traffic(tmp_path, spill):
    """Three 1x1 convs, each on its own 32x32x16 int8 input (a CSV network: every tensor is a
    graph input or output, 16 KiB each). With 1 MiB of scratchpad everything is resident: DRAM
    moves each input in and each output out once. With 24 KiB at most one tensor stays on
    chip; the spilled ones are read / written in host memory directly instead of copied, so
    the closed form of the extra traffic is 0 B, and the engine's DRAM bytes must not move."""
    big, _ = _run(tmp_path, "1 MiB")
    small, scenario = _run(tmp_path, "24 KiB", spill)
    plan = prepare_stream(scenario.streams[0], scenario.hardware, scenario.strategies, 0).plan
    assert activation_capacity(scenario.hardware) == 24 * 1024
    assert plan.onchip_bytes <= 24 * 1024 and len(plan.spilled) >= 4
    assert plan.spill_traffic_bytes == 0
    assert small - big == 0
    assert big == 6 * 16384  # inputs in, outputs out; the weights stay resident on chip


def test_resident_ranges_keep_only_the_onchip_part_of_a_spilled_arena(tmp_path):
    from types import SimpleNamespace

    from memsim.config import load_hardware
    from memsim.engine.residency import host_io, resident_ranges

    (tmp_path / "hw.yaml").write_text(HW.format(size="64 KiB"))
    hw = load_hardware(tmp_path / "hw.yaml")
    regions = {"activation": (0, 100 * 1024), "weight": (100 * 1024, 101 * 1024),
               "state": (101 * 1024, 101 * 1024)}
    plan = SimpleNamespace(region=regions.__getitem__, onchip_bytes=40 * 1024,
                           address={"x": 0, "y": 90 * 1024}.__getitem__)
    [ranges] = resident_ranges(hw, [plan])
    line = hw.memory.line_bytes
    assert ranges == ((0, 40 * 1024 // line), (100 * 1024 // line, 101 * 1024 // line))
    graph = SimpleNamespace(inputs=("x",), outputs=("y",),
                            tensors={"x": SimpleNamespace(nbytes=3000),
                                     "y": SimpleNamespace(nbytes=500)})
    assert host_io(hw, graph, plan, ranges) == (3000, 0)  # y spilled: written in DRAM itself
