"""The prepare stage: frozen records, the seed layout, and a memo key that covers every input.

The key test changes, one at a time, every hardware field mapping can read (every field of
``MappingInputs``: the whole compute block, the line size, the target level) and checks that
the key changes; and changes fields mapping cannot read and checks that the key — and the
prepared tile streams — stay the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sweep_helpers import write_base

import memsim
from memsim.config import Systolic, load_scenario
from memsim.mapping import MappingInputs, Target, map_graph
from memsim.prepare import Prepared, Seeds, prepare, prepare_key


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return load_scenario(write_base(tmp_path_factory.mktemp("prep"), frames=1))


def _with_compute(scenario, **update):
    hw = scenario.hardware
    return scenario.model_copy(update={"hardware": hw.model_copy(
        update={"compute": hw.compute.model_copy(update=update)})})


def _with_level(scenario, index, **update):
    hw = scenario.hardware
    levels = list(hw.memory.levels)
    levels[index] = levels[index].model_copy(update=update)
    memory = hw.memory.model_copy(update={"levels": tuple(levels)})
    return scenario.model_copy(update={"hardware": hw.model_copy(update={"memory": memory})})


#: a different value for every field of Compute (a new field fails the coverage check)
COMPUTE_CHANGES = {
    "cores": 3,
    "clock_hz": 2_000_000_000,
    "kind": "systolic",
    "macs_per_cycle": {"int8": 32, "fp32": 4},
    "systolic": Systolic(rows=8, cols=8, dataflow="ws"),
    "loop_overhead_cycles": 2,
    "registers": 16,
    "register_bytes": 32,
    "sparse": True,
}


def test_every_compute_field_is_covered():
    from memsim.config import Compute

    assert set(COMPUTE_CHANGES) == set(Compute.model_fields)


def test_mapping_inputs_are_exactly_compute_line_and_target():
    # the mapper's only view of the hardware; extending it extends the key (key() dumps all)
    assert [f.name for f in dataclasses.fields(MappingInputs)] == ["compute", "line_bytes", "target"]
    assert [f.name for f in dataclasses.fields(Target)] == ["name", "kind", "scope", "size_bytes"]


@pytest.mark.parametrize("field", sorted(COMPUTE_CHANGES))
def test_key_changes_with_every_compute_field(base, field):
    changed = _with_compute(base, **{field: COMPUTE_CHANGES[field]})
    assert getattr(changed.hardware.compute, field) != getattr(base.hardware.compute, field)
    assert prepare_key(changed) != prepare_key(base)


@pytest.mark.parametrize("update", [{"size_bytes": 8192}, {"scope": "shared"},
                                    {"name": "L0"}, {"kind": "scratchpad"}])
def test_key_changes_with_every_target_field(base, update):
    # L1 is the target (the tiny board has no scratchpad)
    assert MappingInputs.of(base.hardware).target.name == "L1"
    changed = _with_level(base, 0, **update)
    assert MappingInputs.of(changed.hardware).target != MappingInputs.of(base.hardware).target
    assert prepare_key(changed) != prepare_key(base)


def test_key_changes_with_the_line_size_and_a_new_target(base):
    lines = _with_level(_with_level(base, 0, line_bytes=128), 1, line_bytes=128)
    assert lines.hardware.memory.line_bytes == 128
    assert prepare_key(lines) != prepare_key(base)
    pad = _with_level(base, 1, kind="scratchpad", ways=None, policy=None)  # L2 becomes the target
    assert prepare_key(pad) != prepare_key(base)


def test_key_changes_with_streams_strategies_and_the_seed_of_a_seeded_planner(tmp_path, base):
    path = write_base(tmp_path, frames=1)
    for o in (["streams.0.batch=2"], ["streams.0.dtype=fp32"], ["strategies.reuse.alignment=128 B"],
              ["strategies.compression.weights.format=quant", "strategies.compression.weights.bits=4"]):
        assert prepare_key(load_scenario(path, overrides=o)) != prepare_key(base), o
    assert prepare_key(load_scenario(path, overrides=["seed=5"])) == prepare_key(base)
    best = load_scenario(path, overrides=["strategies.reuse.planner=best"])
    assert prepare_key(best.model_copy(update={"seed": 5})) != prepare_key(best)


@pytest.mark.parametrize("update", [
    {"ways": 16},                      # associativity of the target: caches, not tiles
    {"policy": "lru"},
    {"latency_ps": 9000},
    {"bandwidth_bytes_per_s": 1e9},
])
def test_fields_mapping_does_not_read_leave_key_and_tiles_alone(base, update):
    for index in (0, 1):
        changed = _with_level(base, index, **update)
        assert prepare_key(changed) == prepare_key(base)
    changed = _with_level(base, 1, size_bytes=16384)  # a non-target level's size
    assert prepare_key(changed) == prepare_key(base)
    a, b = prepare(base).streams[0], prepare(changed).streams[0]
    for ma, mb in zip(a.mappings, b.mappings):
        for ta, tb in zip(ma.tiles(), mb.tiles()):
            assert np.array_equal(ta.lines, tb.lines) and ta.compute_cycles == tb.compute_cycles


def test_the_mapper_needs_nothing_but_its_view(base):
    """map_graph runs on MappingInputs alone — it cannot read any other hardware field."""
    stream = prepare(base).streams[0]
    view = MappingInputs.of(base.hardware)
    again = map_graph(stream.graph, view, stream.plan, base.strategies)
    assert len(again) == len(stream.mappings)
    for m, n in zip(stream.mappings, again):
        assert (m.tile, m.order, m.compute_cycles, m.target_level) == \
            (n.tile, n.order, n.compute_cycles, n.target_level)


def test_prepared_records_are_frozen(base):
    prepared = prepare(base)
    assert isinstance(prepared, Prepared)
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.seeds = None
    m = prepared.streams[0].mappings[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.tile = {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        next(iter(m.tiles())).lines = None


def test_seed_layout_is_the_spawn_order():
    seeds = Seeds.of(7, 2)
    spawned = np.random.SeedSequence(7).spawn(5)
    assert seeds.cache == int(spawned[0].generate_state(1)[0])
    assert seeds.background.spawn_key == spawned[1].spawn_key
    assert [s.spawn_key for s in seeds.streams] == [spawned[3].spawn_key, spawned[4].spawn_key]


def test_a_stream_pass_sees_every_stream_and_its_result_is_simulated(base):
    """The seam for a later pass (the runtime model): extra cycles per tile reach the engine."""
    seen = []

    def slower(scenario, index, stream):
        seen.append(index)
        return stream.with_mappings(dataclasses.replace(m, extra_cycles_per_tile=1000.0)
                                    for m in stream.mappings)

    plain = memsim.simulate(base)
    from memsim.engine.run import simulate

    slow = simulate(base, prepared=prepare(base, passes=[slower]))
    assert seen == [0]
    assert slow.summary["latency_s"] > plain.summary["latency_s"]
    same = simulate(base, prepared=prepare(base))
    assert same.summary == plain.summary
