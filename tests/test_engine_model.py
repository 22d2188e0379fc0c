"""The engine's timing model against closed forms, with hand-made tiles (no mapping involved).

Each expected value is computed from the hardware numbers alone: bytes/bandwidth + latency for a
DRAM-bound stream, m·line/latency for an MLP-bound one, MACs/peak for compute, twice the time for
two streams sharing one link, and a throughput loss of blocked/interval under refresh.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from memsim.config import load_hardware
from memsim.engine.pipeline import LayerPlan, Runner
from memsim.engine.system import System
from memsim.mapping import Tile

LINE = 64


def write_hw(tmp_path, text, name="hw.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_hardware(path)


DRAM_ONLY = """
name: dram-only
compute: {{cores: {cores}, clock: 1 GHz, kind: simd, macs_per_cycle: {{int8: 16, fp32: 4}}}}
memory:
  levels:
    - {{name: SPM, kind: scratchpad, size: 1 MiB, latency: 1 cycles, bandwidth: 1024 B/cycle, scope: core{mshrs}}}
  dram: {{name: test-dram, bandwidth: 10 GB/s, latency: 100 ns, channels: 1{refresh}}}
"""

CACHED = """
name: cached
compute: {cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 16}}
memory:
  levels:
    - {name: L1, kind: cache, size: 32 KiB, line: 64 B, ways: 8, latency: 4 cycles, bandwidth: 64 B/cycle, scope: core, mshrs: 8}
  dram: {name: test-dram, bandwidth: 100 GB/s, latency: 100 ns, channels: 1}
"""


def dram_only(tmp_path, cores=1, mshrs=None, refresh=""):
    extra = f", mshrs: {mshrs}" if mshrs else ""
    return write_hw(tmp_path, DRAM_ONLY.format(cores=cores, mshrs=extra, refresh=refresh))


def tile(first_line, n, cycles=0, writes=False, dma=True):
    lines = np.arange(first_line, first_line + n, dtype=np.uint64)
    return Tile(lines=lines, writes=np.full(n, writes), compute_cycles=cycles, inner_bytes=0,
                dma=dma, macs=0)


def run_layers(hw, tiles_per_stream, depth=1, hierarchy=None, cores_per_stream=None):
    """Run one frame per stream, each a single layer of the given tiles; return (env, runner)."""
    env = simpy.Environment()
    system = System(env, hw, hierarchy, hw.compute.cores)
    runner = Runner(system, depth, hw.compute.clock_hz)
    dones = []
    for i, tiles in enumerate(tiles_per_stream):
        plan = LayerPlan(name=f"layer{i}", op="elementwise", macs=0,
                         target=hw.memory.levels[0].name, tiles=lambda t=tiles: iter(t))
        done = env.event()
        dones.append(done)
        cores = (cores_per_stream or [[0]] * len(tiles_per_stream))[i]
        env.process(runner.stream(i, [plan], cores, 1, None, 0, None,
                                  np.random.default_rng(i), i << 30, done))
    env.run(until=env.all_of(dones))
    return env, runner


def test_dram_bound_stream_takes_bytes_over_bandwidth_plus_latency(tmp_path):
    hw = dram_only(tmp_path, mshrs=100_000)
    n = 200_000  # 12.8 MB
    env, _ = run_layers(hw, [[tile(0, n)]])
    expected = n * LINE / 10e9 * 1e12 + 100_000  # ps
    assert env.now == pytest.approx(expected, rel=0.01)


def test_mlp_limited_stream_reaches_m_lines_per_latency(tmp_path):
    m = 4
    hw = dram_only(tmp_path, mshrs=m)
    n = 40_000
    env, _ = run_layers(hw, [[tile(0, n)]])
    throughput = n * LINE / (env.now * 1e-12)
    assert throughput == pytest.approx(m * LINE / 100e-9, rel=0.02)


def test_two_streams_sharing_dram_each_take_twice_as_long(tmp_path):
    hw = dram_only(tmp_path, cores=2, mshrs=100_000)
    n = 200_000
    env1, r1 = run_layers(hw, [[tile(0, n)]])
    single = r1.frames[0].end_ps
    env2, r2 = run_layers(hw, [[tile(0, n)], [tile(0, n)]], cores_per_stream=[[0], [1]])
    for fr in r2.frames:
        assert fr.end_ps == pytest.approx(2 * single, rel=0.01)


def test_compute_bound_tile_takes_its_cycles(tmp_path):
    hw = dram_only(tmp_path)
    cycles = 5_000_000
    env, runner = run_layers(hw, [[tile(0, 10, cycles=cycles)]])
    assert env.now == pytest.approx(cycles * 1000 + 0, rel=0.001)  # 1 GHz: 1000 ps per cycle
    assert runner.layers[0].compute_ps_by_core[0] == cycles * 1000


def test_prefetch_overlaps_transfers_with_compute(tmp_path):
    hw = dram_only(tmp_path, mshrs=100_000)
    # Each tile: 10,000 lines = 64 us of DRAM plus 100 ns latency; 64,000 cycles = 64 us compute.
    tiles = [tile(i * 10_000, 10_000, cycles=64_000) for i in range(8)]
    serial_env, _ = run_layers(hw, [tiles], depth=0)
    overlap_env, _ = run_layers(hw, [tiles], depth=1)
    t_mem, t_cmp = 10_000 * LINE / 10e9 * 1e12 + 100_000, 64_000 * 1000
    assert serial_env.now == pytest.approx(8 * (t_mem + t_cmp), rel=0.001)
    assert overlap_env.now == pytest.approx(8 * max(t_mem, t_cmp) + min(t_mem, t_cmp), rel=0.001)


def test_refresh_lowers_dram_throughput_by_blocked_over_interval(tmp_path):
    from refresh_oracle import refresh_process

    hw = dram_only(tmp_path, mshrs=100_000, refresh=", refresh: {interval: 3.9 us, blocked: 350 ns}")
    env = simpy.Environment()
    system = System(env, hw, None, 1)
    stop = env.event()
    r = hw.memory.dram.refresh
    env.process(refresh_process(env, system.dram_links[0], r.interval_ps, r.blocked_ps, 0, stop))
    nbytes = 20_000_000

    def proc():
        yield system.dram.transfer(nbytes)
        stop.succeed()

    env.process(proc())
    env.run()
    assert nbytes / (env.now * 1e-12) == pytest.approx(10e9 * (1 - 350 / 3900), rel=0.01)


def test_cache_hits_cost_l1_and_misses_cost_dram(tmp_path):
    from memsim.cache import Hierarchy

    hw = write_hw(tmp_path, CACHED)
    hierarchy = Hierarchy.from_hardware(hw)
    n = 256  # 16 KiB: fits the 32 KiB L1
    first = tile(0, n, dma=False)
    again = tile(0, n, dma=False)
    env, runner = run_layers(hw, [[first, again]], depth=0, hierarchy=hierarchy)
    st = runner.layers[0]
    assert st.dram_read_bytes == n * LINE          # first pass misses everything once
    assert st.hits_by_level["L1"] == n             # second pass hits everything
    assert st.bytes_by_level["L1"] == 2 * n * LINE  # both passes cross the L1 port


MCU = """
name: mcu
compute: {cores: 1, clock: 100 MHz, kind: simd, macs_per_cycle: {int8: 2}}
memory:
  levels:
    - {name: L1, kind: cache, size: 4 KiB, line: 32 B, ways: 4, latency: 1 cycles, bandwidth: 8 B/cycle, scope: core}
    - {name: SRAM, kind: scratchpad, size: 256 KiB, latency: 2 cycles, bandwidth: 8 B/cycle, scope: core}
  dram: {name: flash, bandwidth: 0.1 GB/s, latency: 50 ns, channels: 1, writable: false}
"""


def test_read_only_backing_store_serves_activations_from_sram(tmp_path):
    hw = write_hw(tmp_path, MCU)
    env = simpy.Environment()
    system = System(env, hw, None, 1)
    assert system.backing == "SRAM"
    acts = np.arange(0, 100, dtype=np.uint64)            # activation arena lines [0, 1000)
    weights = np.arange(5000, 5040, dtype=np.uint64)     # weight region
    lines = np.concatenate([acts, weights])
    writes = np.zeros(lines.size, bool)
    done, cost, _ = system.fetch(0, lines, writes, "L1", 0.0, False, onchip=((0, 1000),))
    env.run(done)
    assert cost.dram_read_bytes == 40 * 32               # only weights come from flash
    assert cost.bytes_by_level["SRAM"] == 100 * 32        # activations from the SRAM


def test_residency_places_activations_then_weights_in_the_largest_scratchpad(tmp_path):
    from types import SimpleNamespace

    from memsim.engine.residency import resident_ranges

    hw = dram_only(tmp_path)  # scratchpad-only: 1 MiB SPM, writable DRAM
    plan = SimpleNamespace(region=lambda kind: {"activation": (0, 600 * 1024),
                                                "weight": (640 * 1024, 1000 * 1024),
                                                "state": (1024 * 1024, 1024 * 1024)}[kind])
    # 600 KiB of activations fit; 360 KiB of weights fit the 424 KiB left.
    assert resident_ranges(hw, [plan]) == [((0, 600 * 16), (640 * 16, 1000 * 16))]
    big = SimpleNamespace(region=lambda kind: {"activation": (0, 600 * 1024),
                                               "weight": (640 * 1024, 1100 * 1024),
                                               "state": (1100 * 1024, 1100 * 1024)}[kind])
    # 460 KiB of weights do not fit the 424 KiB left: they stay in DRAM.
    assert resident_ranges(hw, [big]) == [((0, 600 * 16),)]
    cached = write_hw(tmp_path, CACHED, "cached.yaml")
    assert resident_ranges(cached, [plan]) == [None]  # caches decide, nothing pinned


def test_host_io_copies_inputs_in_and_outputs_back_per_frame(tmp_path):
    """A scratchpad accelerator with a resident arena: the frame waits for the input copy
    (latency + bytes/bandwidth) before its tiles and for the output copy after them."""
    hw = dram_only(tmp_path)  # 10 GB/s, 100 ns DRAM; 1024 B/cycle SPM port at 1 GHz
    env = simpy.Environment()
    system = System(env, hw, None, 1)
    runner = Runner(system, 1, hw.compute.clock_hz)
    plan = LayerPlan(name="only", op="elementwise", macs=0, target="SPM", tiles=lambda: iter(()),
                     host_in_bytes=150_528, host_out_bytes=1_000)
    done = env.event()
    env.process(runner.stream(0, [plan], [0], 1, None, 0, None, np.random.default_rng(0), 0,
                              done))
    env.run(until=done)
    dram = hw.memory.dram

    def copy(n):  # ps: latency, then the DRAM link (slower than the SPM port)
        return dram.latency_ps + n / dram.bandwidth_bytes_per_s * 1e12

    assert env.now == pytest.approx(copy(150_528) + copy(1_000), rel=1e-6)
    stats = runner.layers[0]
    assert (stats.dram_read_bytes, stats.dram_write_bytes) == (150_528, 1_000)
    assert stats.bytes_by_level["SPM"] == 151_528
    assert stats.stall_ps_by_resource["dram"] == pytest.approx(env.now, rel=1e-9)


def test_host_io_only_for_a_resident_arena_on_writable_host_memory(tmp_path):
    from memsim.engine.residency import host_io, resident_ranges

    graph = SimpleNamespace(inputs=("x",), outputs=("y", "y"),
                            tensors={"x": SimpleNamespace(nbytes=3000),
                                     "y": SimpleNamespace(nbytes=40)})
    plan = SimpleNamespace(region=lambda kind: {"activation": (0, 64 * 1024),
                                                "weight": (64 * 1024, 128 * 1024),
                                                "state": (128 * 1024, 128 * 1024)}[kind])
    hw = dram_only(tmp_path)
    [ranges] = resident_ranges(hw, [plan])
    assert host_io(hw, graph, plan, ranges) == (3000, 40)  # each output counted once
    huge = SimpleNamespace(region=lambda kind: {"activation": (0, 2048 * 1024),
                                                "weight": (2048 * 1024, 2048 * 1024),
                                                "state": (2048 * 1024, 2048 * 1024)}[kind])
    [ranges] = resident_ranges(hw, [huge])
    assert host_io(hw, graph, huge, ranges) == (0, 0)  # arena streamed: tiles read the input
    mcu = write_hw(tmp_path, MCU, "mcu.yaml")
    [ranges] = resident_ranges(mcu, [plan])
    assert host_io(mcu, graph, plan, ranges) == (0, 0)  # sensor DMA puts the input in SRAM
    cached = write_hw(tmp_path, CACHED, "cached.yaml")
    assert host_io(cached, graph, plan, None) == (0, 0)


def test_prefetch_never_takes_another_cores_tile(tmp_path):
    """Two equal compute-bound tiles on two cores with double buffering run in parallel."""
    hw = dram_only(tmp_path, cores=2, mshrs=100_000)
    tiles = [tile(0, 10, cycles=1_000_000), tile(10, 10, cycles=1_000_000)]
    env, runner = run_layers(hw, [tiles], depth=1, cores_per_stream=[[0, 1]])
    st = runner.layers[0]
    assert st.compute_ps_by_core == {0: 1_000_000_000, 1: 1_000_000_000}
    assert env.now < 1.01 * 1_000_000_000 + 200_000  # one tile's compute + its fetch, not two
