"""memsim.config: models, cross-field rules, locations, round trips, overrides, sweeps."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.config import (Hardware, Level, Scenario, Sweep, apply_overrides, dump_yaml,
                           dumps_yaml, load_any, load_hardware, load_scenario, load_yaml,
                           preset_path)
from memsim.config.loader import parse_yaml_text, validate_data
from memsim.errors import InfeasibleError, InputError

PI5 = preset_path("raspberry-pi-5")

SCENARIO = """name: cam
hardware: {hw}
streams:
  - network: mobilenet_v2
    frames: 3
    period: 33.3 ms
    jitter: 1 ms
    deadline: 33.3 ms
    cores: [0, 1]
background:
  - {{bandwidth: 2 GB/s, burst: 4 KiB, pattern: poisson}}
strategies:
  compression: {{weights: {{format: quant, bits: 4, group: 128, scale_bits: 16}},
                activations: {{format: sparse, density: 0.5, encoding: rle}}}}
  reuse: {{planner: greedy-by-breadth, fusion: true, alignment: 128 B, dataflow: ws}}
  unroll: {{spatial: auto, temporal: 4}}
  prefetch: {{depth: 2}}
  cache: {{streaming_stores: true}}
seed: 7
"""


@pytest.fixture
def scenario_file(tmp_path):
    hw = tmp_path / "hw" / "pi.yaml"
    hw.parent.mkdir()
    hw.write_text(PI5.read_text())
    path = tmp_path / "scenarios" / "cam.yaml"
    path.parent.mkdir()
    path.write_text(SCENARIO.format(hw="../hw/pi.yaml"))
    return path


def test_attributes_carry_units():
    hw = load_hardware(PI5)
    l1 = hw.memory.level("L1")
    assert (l1.size_bytes, l1.line_bytes, l1.ways, l1.sets) == (65536, 64, 4, 256)
    assert l1.latency_ps == 1667  # 4 cycles at 2.4 GHz, nearest ps
    assert l1.bandwidth_bytes_per_s == 32 * 2.4e9
    assert hw.compute.clock_hz == 2_400_000_000
    assert hw.compute.loop_overhead_cycles == 1
    assert hw.memory.line_bytes == 64
    assert [lv.name for lv in hw.memory.cache_levels()] == ["L1", "L2", "L3"]
    assert hw.memory.dram.refresh.interval_ps == 3_900_000
    assert hw.energy.access_pj_per_byte["dram"] == 40.0
    assert hw.peak_macs_per_s("int8") == 32 * 4 * 2.4e9
    with pytest.raises(InfeasibleError, match="bf16"):
        hw.peak_macs_per_s("bf16")
    with pytest.raises(KeyError):
        hw.memory.level("L9")


def test_models_are_frozen_and_strict():
    hw = load_hardware(PI5)
    with pytest.raises(Exception):
        hw.name = "x"
    with pytest.raises(Exception):
        Level(name="L1", kind="cache", size="64 KiB", line="64 B", ways=4, latency="1 ns",
              bandwidth="1 GB/s", colour="red")


def test_python_callers_use_attribute_names_with_numbers():
    level = Level(name="L1", kind="cache", size_bytes=32768, line_bytes=64, ways=8,
                  latency_ps=1000, bandwidth_bytes_per_s=1e11)
    assert level.sets == 64 and level.policy == "lru"
    with pytest.raises(Exception, match="missing unit"):
        Level(name="L1", kind="cache", size=32768, line="64 B", ways=8, latency="1 ns",
              bandwidth="1 GB/s")


def test_scenario_loads_with_relative_hardware(scenario_file):
    sc = load_scenario(scenario_file)
    assert sc.hardware_path == (scenario_file.parent.parent / "hw" / "pi.yaml").resolve()
    assert sc.source_path == scenario_file.resolve()
    s = sc.streams[0]
    assert (s.period_ps, s.jitter_ps, s.deadline_ps, s.cores) == (
        33_300_000_000, 1_000_000_000, 33_300_000_000, (0, 1))
    w = sc.strategies.compression.weights
    assert (w.format, w.bits, w.group, w.scale_bits, w.at) == ("quant", 4, 128, 16, "core")
    a = sc.strategies.compression.activations
    assert (a.format, a.density, a.encoding) == ("sparse", 0.5, "rle")
    assert sc.strategies.reuse.alignment_bytes == 128 and sc.strategies.reuse.fusion
    assert sc.strategies.unroll.spatial == "auto" and sc.strategies.unroll.temporal == 4
    assert sc.strategies.prefetch.depth == 2 and sc.strategies.cache.streaming_stores
    assert sc.background[0].burst_bytes == 4096 and sc.seed == 7
    assert load_any(scenario_file) == sc


def test_defaults():
    sc = validate_data(Scenario, {"name": "x", "hardware": str(PI5),
                                  "streams": [{"network": "resnet50"}]})
    st_ = sc.strategies
    assert (st_.reuse.planner, st_.reuse.alignment_bytes, st_.reuse.dataflow, st_.reuse.inplace) \
        == ("greedy-by-size", 64, "auto", True)
    assert (st_.unroll.spatial, st_.unroll.temporal, st_.prefetch.depth) == (None, None, 1)  # temporal unset: the hardware hides latency itself
    assert st_.compression.weights.format == "none"
    s = sc.streams[0]
    assert (s.batch, s.dtype, s.frames, s.jitter_ps, s.cores) == (1, "int8", 1, 0, None)


def test_round_trip_dump_and_reload(scenario_file, tmp_path):
    sc = load_scenario(scenario_file)
    out = dump_yaml(sc, tmp_path / "res" / "scenario.resolved.yaml", header="resolved")
    again = load_scenario(out)
    assert again == sc
    assert again.hardware_path is None  # inlined
    data = sc.model_dump(by_alias=True)
    assert data["hardware"]["memory"]["levels"][0]["size"] == "64 KiB"
    assert "size_bytes" in sc.model_dump()["hardware"]["memory"]["levels"][0]
    assert Scenario.model_validate(sc.model_dump()) == sc


@pytest.mark.parametrize("format_spec", [
    {"format": "sparse", "density": 0.25, "encoding": "bitmask"},
    {"format": "sparse", "encoding": "nm", "n": 2, "m": 4},
    {"format": "sparse", "density": 0.3, "encoding": "csr", "bits": 4},
    {"format": "ratio", "ratio": 1.7, "decompress_bytes_per_cycle": 16},
    {"format": "quant", "bits": 3, "decompress_cycles_per_element": 0.5},
])
def test_compression_specs_round_trip(format_spec):
    data = {"name": "x", "hardware": str(PI5), "streams": [{"network": "resnet18"}],
            "strategies": {"compression": {"weights": format_spec}}}
    sc = validate_data(Scenario, data)
    again = validate_data(Scenario, parse_yaml_text(dumps_yaml(sc)))
    assert again == sc
    spec = sc.strategies.compression.weights
    if spec.encoding == "nm":
        assert spec.effective_density == 0.5


@pytest.mark.parametrize("spec, message", [
    ({"format": "quant"}, "needs bits"),
    ({"format": "quant", "bits": 4, "group": 64}, "both group and scale_bits"),
    ({"format": "quant", "bits": 4, "density": 0.5}, "not used by format: quant"),
    ({"format": "sparse", "encoding": "nm", "n": 4, "m": 2}, "must not exceed"),
    ({"format": "sparse", "encoding": "nm", "n": 2, "m": 4, "density": 0.3}, "n/m"),
    ({"format": "sparse", "density": 0.5, "n": 2}, "only used by encoding: nm"),
    ({"format": "sparse", "density": 1.5}, "less than or equal to 1"),
    ({"format": "ratio"}, "needs ratio"),
    ({"format": "measured", "codec": "zlib"}, "needs source"),
    ({"format": "measured", "codec": "brotli"}, "zlib"),
    ({"format": "none", "at": "dram"}, "nothing to decompress"),
    ({"format": "ratio", "ratio": 2, "at": "dram", "decompress_cycles_per_element": 1},
     "decompress_bytes_per_cycle"),
])
def test_compression_rules(spec, message):
    data = {"name": "x", "hardware": str(PI5), "streams": [{"network": "resnet18"}],
            "strategies": {"compression": {"weights": spec}}}
    with pytest.raises(InputError, match=message):
        validate_data(Scenario, data, "s.yaml")


def test_measured_codec_source_relative(tmp_path):
    import numpy as np
    np.save(tmp_path / "w.npy", np.zeros(4))
    path = tmp_path / "s.yaml"
    path.write_text(f"name: x\nhardware: {PI5}\nstreams: [{{network: resnet18}}]\nstrategies:\n"
                    "  compression: {weights: {format: measured, codec: zstd, source: w.npy}}\n")
    spec = load_scenario(path).strategies.compression.weights
    assert spec.source == str((tmp_path / "w.npy").resolve())
    assert (spec.block_bytes, spec.at) == (4096, "dram")


def _hw_error(old, new):
    text = PI5.read_text()
    assert old in text
    with pytest.raises(InputError) as info:
        validate_data(Hardware, parse_yaml_text(text.replace(old, new, 1), "hw.yaml"), "hw.yaml")
    return info.value


def test_error_locations_and_fields():
    err = _hw_error("ways: 8  ", "wayz: 8  ")
    assert err.field == "memory.levels.L2.wayz" and "did you mean 'ways'" in err.problem
    lines = PI5.read_text().splitlines()
    assert "wayz" in lines[err.location.line - 1].replace("ways", "wayz")
    err = _hw_error("size: 2 MiB", "size: 256 KiB")
    assert err.field == "memory.levels.L3.size" and "must not shrink" in err.problem
    assert "size:" in lines[err.location.line - 1]
    err = _hw_error("ways: 16", "ways: 48")
    assert "power-of-two number of sets" in err.problem
    assert str(err).startswith(f"hw.yaml:{err.location.line}:{err.location.col}: memory.levels.L3.ways")


def test_fully_associative_and_cycles_need_clock():
    text = PI5.read_text().replace("ways: 4 ", "ways: 1024 ", 1)
    hw = validate_data(Hardware, parse_yaml_text(text), "x")
    assert hw.memory.level("L1").sets == 1
    err = _hw_error("  clock: 2.4 GHz", "  clock: 0 GHz")
    assert err.field == "compute.clock"


def test_scenario_core_range_and_missing_hardware(scenario_file):
    text = scenario_file.read_text()
    scenario_file.write_text(text.replace("cores: [0, 1]", "cores: [0, 4]"))
    with pytest.raises(InputError, match="core 4 does not exist") as info:
        load_scenario(scenario_file)
    assert info.value.field == "streams.0.cores" and info.value.location.line == 9
    scenario_file.write_text(text.replace("../hw/pi.yaml", "pi.yaml"))
    with pytest.raises(InputError, match="hardware file not found") as info:
        load_scenario(scenario_file)
    assert info.value.location.line == 2


def test_bad_hardware_file_reported_in_that_file(scenario_file):
    hw = scenario_file.parent.parent / "hw" / "pi.yaml"
    hw.write_text(hw.read_text().replace("ways: 4 ", "ways: 5 ", 1))
    with pytest.raises(InputError) as info:
        load_scenario(scenario_file)
    assert Path(info.value.location.path).name == "pi.yaml"


def test_overrides(scenario_file):
    sc = load_scenario(scenario_file, ["hardware.memory.levels.L2.size=1 MiB",
                                       "hardware.compute.clock=3 GHz",
                                       "streams.0.frames=9", "strategies.unroll.temporal=8",
                                       "hardware.memory.levels.0.ways=8"])
    assert sc.hardware.memory.level("L2").size_bytes == 2**20
    assert sc.hardware.memory.level("L1").latency_ps == round(4 / 3e9 * 1e12)  # re-resolved
    assert sc.hardware.memory.level("L1").ways == 8
    assert sc.streams[0].frames == 9 and sc.strategies.unroll.temporal == 8
    assert sc.hardware_path is not None
    sc2 = load_scenario(scenario_file, {"strategies.reuse.planner": "none", "seed": 3})
    assert sc2.strategies.reuse.planner == "none" and sc2.seed == 3
    with pytest.raises(InputError, match="no entry named 'L9'"):
        load_scenario(scenario_file, ["hardware.memory.levels.L9.size=1 MiB"])
    with pytest.raises(InputError, match=r"ambiguous.*\[from override"):
        load_scenario(scenario_file, ["hardware.memory.levels.L2.size=1 KB"])
    with pytest.raises(InputError, match="dotted.path=value"):
        load_scenario(scenario_file, ["oops"])
    raw = load_yaml(PI5)
    apply_overrides(raw, ["memory.levels.L3.size=4 MiB", "energy.mac.int4=0.1 pJ"])
    hw = validate_data(Hardware, raw, PI5)
    assert hw.memory.level("L3").size_bytes == 4 << 20 and hw.energy.mac_pj["int4"] == 0.1


def test_sweep_file(scenario_file, tmp_path):
    path = scenario_file.parent / "sweep.yaml"
    path.write_text("base: cam.yaml\ngrid:\n  hardware.memory.levels.L2.size: [256 KiB, 1 MiB]\n"
                    "  strategies.prefetch.depth: [0, 1, 2]\nseeds: [0, 1]\n"
                    "objectives: {latency_s: min, energy_j: min}\n")
    sweep = load_any(path)
    assert isinstance(sweep, Sweep) and sweep.points == 12
    path.write_text("base: cam.yaml\ngrid:\n  hardware.memory.levels.L7.size: [1 MiB]\n")
    with pytest.raises(InputError, match="no entry named 'L7'"):
        load_any(path)
    path.write_text("base: cam.yaml\nzip: {seed: [1, 2], streams.0.frames: [1]}\n")
    with pytest.raises(InputError, match="equal lengths"):
        load_any(path)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([16, 32, 64, 128]), st.integers(0, 6), st.integers(0, 4),
       st.integers(1, 3))
def test_level_geometry_rule(line, log_sets, log_ways, mult):
    ways = (2 ** log_ways) * mult
    size = line * ways * (2 ** log_sets)
    level = Level(name="L", kind="cache", size_bytes=size, line_bytes=line, ways=ways,
                  latency_ps=1, bandwidth_bytes_per_s=1.0)
    assert level.sets == 2 ** log_sets
    bad = ways + 1
    lines = size // line
    if bad <= lines and (lines % bad or (lines // bad) & (lines // bad - 1)):
        with pytest.raises(Exception, match="power-of-two"):
            Level(name="L", kind="cache", size_bytes=size, line_bytes=line, ways=bad,
                  latency_ps=1, bandwidth_bytes_per_s=1.0)


def test_package_names_resolve_lazily_to_their_modules():
    """``memsim.config`` exports every public name from the submodule that defines it (imported
    on first use); an unknown name is an AttributeError, as for any module."""
    import importlib

    import memsim.config as config

    for module, names in config._EXPORTS.items():
        mod = importlib.import_module(module)
        for name in names:
            assert getattr(config, name) is getattr(mod, name), name
    assert set(config.__all__) == set(config._WHERE) and set(config.__all__) <= set(dir(config))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        config.Nope  # noqa: B018
