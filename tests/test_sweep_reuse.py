"""Reused work gives exactly the fully simulated results: memoised preparation, replayed cache
counts and stack-distance last-level-cache counts, against ``memsim.simulate`` point by point."""

from __future__ import annotations

import pandas as pd
import pytest
from sweep_helpers import write_base

import memsim
from memsim.config import load_scenario
from memsim.sweep import worker


def _same(a, b):
    assert a.summary == b.summary
    for name in ("layers", "frames", "timeline"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


VARIANTS = [
    [],
    ["hardware.memory.levels.L2.size=16 KiB"],
    ["hardware.memory.levels.L2.size=64 KiB", "hardware.memory.levels.L2.ways=16"],
    ["hardware.memory.levels.L2.ways=2"],
    ["hardware.memory.dram.bandwidth=1 GB/s"],
    ["hardware.memory.levels.L1.policy=lru", "hardware.memory.levels.L2.size=16 KiB"],
    ["hardware.memory.levels.L2.policy=fifo"],          # non-LRU LLC: kernel replay
    ["hardware.memory.levels.L1.policy=random"],        # random upper level: kernel replay
    ["strategies.prefetch.depth=0", "hardware.memory.levels.L2.size=16 KiB"],
]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_base(tmp_path_factory.mktemp("reuse"), frames=2)


def test_reused_points_equal_full_simulation(base):
    methods = []
    scenarios = [load_scenario(base, overrides=o) for o in VARIANTS]
    wanted = worker._llc_wanted(scenarios)
    for scenario in scenarios:
        result, method = worker.simulate_point(scenario, True, wanted)
        methods.append(method)
        _same(result, memsim.simulate(scenario))
    assert methods[:6] == ["stackdist"] * 6
    assert methods[6:8] == ["replay", "replay"]


def test_multicore_points_use_prepared_streams_and_real_caches(tmp_path):
    base = write_base(tmp_path, frames=1, cores="[0, 1]")
    for o in ([], ["hardware.memory.levels.L2.size=16 KiB"]):
        scenario = load_scenario(base, overrides=o)
        result, method = worker.simulate_point(scenario)
        assert method == "prepared"  # two cores: access order depends on timing, no replay
        _same(result, memsim.simulate(scenario))


def test_prepared_key_ignores_only_what_mapping_does_not_read(base):
    a = load_scenario(base)
    key = worker.prepared_key(a)
    for o in ("hardware.memory.dram.bandwidth=1 GB/s", "hardware.memory.levels.L2.size=16 KiB",
              "hardware.memory.levels.L2.ways=16", "hardware.memory.levels.L1.policy=lru"):
        assert worker.prepared_key(load_scenario(base, overrides=[o])) == key, o
    for o in ("hardware.memory.levels.L1.size=8 KiB", "strategies.prefetch.depth=2",
              "hardware.compute.clock=2 GHz", "streams.0.frames=3"):
        assert worker.prepared_key(load_scenario(base, overrides=[o])) != key, o
