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


def test_sweep_rows_equal_the_summaries_of_full_runs(base):
    """A worker skips the tables a sweep does not keep; the stored metrics stay those of
    ``memsim.simulate``."""
    scenarios = [load_scenario(base, overrides=o) for o in VARIANTS[:5] + VARIANTS[6:7]]
    rows = worker.evaluate_batch([(str(i), s) for i, s in enumerate(scenarios)])
    for row, scenario in zip(rows, scenarios):
        assert row["status"] == "ok", row["error"]
        metrics = {k: v for k, v in row.items() if k not in ("id", "status", "error", "method",
                                                            "seconds")}
        assert metrics == worker.summary_row(memsim.simulate(scenario), scenario)


def test_tasks_keep_groups_whole_and_prepared_streams_together(base):
    from types import SimpleNamespace

    from memsim.sweep.runner import _group_key, plan_tasks

    scenarios = [load_scenario(base, overrides=o + [f"hardware.memory.dram.bandwidth={bw} GB/s"])
                 for o in ([], ["hardware.memory.levels.L2.size=16 KiB"],
                           ["hardware.memory.levels.L1.size=8 KiB"])
                 for bw in (1, 2, 4)]
    points = [SimpleNamespace(index=i, scenario=s) for i, s in enumerate(scenarios)]
    for chunk in (1, 2, 4, 6, 100):
        tasks = plan_tasks(points, 2, chunk)
        assert sorted(p.index for t in tasks for p in t) == list(range(len(points)))
        assert max(len(t) for t in tasks) <= chunk
        if chunk >= 6:  # the two L1 variants' groups never share a task; a group is never split
            assert all(len({_group_key(p)[0] for p in t}) == 1 for t in tasks)
            assert all(len({_group_key(p) for p in t}) <= 2 for t in tasks)
            for key in {_group_key(p) for p in points}:
                assert sum(any(_group_key(p) == key for p in t) for t in tasks) == 1


def test_a_refresh_hazard_replays_the_counts_again(base, monkeypatch):
    """The engine runs a point again when a lazily refreshed DRAM window cannot be ordered
    exactly; the replayed cache counts start over with it."""
    from memsim.engine.links import SharedLink

    scenario = load_scenario(base, overrides=["hardware.memory.dram.refresh.interval=3.9 us",
                                              "hardware.memory.dram.refresh.blocked=280 ns"])
    want = memsim.simulate(scenario)
    original, calls = SharedLink._catch_up, [0]

    def catch_up(self):
        calls[0] += 1
        if calls[0] == 30:
            self._hazard("forced")
        return original(self)

    monkeypatch.setattr(SharedLink, "_catch_up", catch_up)
    result, method = worker.simulate_point(scenario, True, worker._llc_wanted([scenario]))
    assert calls[0] >= 30 and method == "stackdist"
    _same(result, want)
