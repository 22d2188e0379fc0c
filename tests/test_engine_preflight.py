"""Pre-simulation checks: one function for run and validate, errors located in the user's files."""

from pathlib import Path

import pytest

from memsim.config import load_scenario, validate_data
from memsim.config.loader import parse_yaml_text
from memsim.config.scenario import Scenario
from memsim.engine.preflight import locate_field, prepare_checked
from memsim.errors import InfeasibleError, InputError

HW = Path(__file__).parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml"


def _write(tmp_path, streams: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nhardware: {HW}\nstreams:\n{streams}")
    return path


def test_builder_error_blames_the_parameter_of_the_right_stream(tmp_path):
    path = _write(tmp_path, "  - network: ds_cnn\n  - network: yolov8n\n    resolution: 100\n")
    with pytest.raises(InputError) as info:
        prepare_checked(load_scenario(path))
    assert info.value.message.startswith(f"{path.resolve()}:6:17: streams.1.resolution: yolov8n: ")


def test_dtype_error_is_located_and_infeasible(tmp_path):
    path = _write(tmp_path, "  - {network: ds_cnn, dtype: int4}\n")
    with pytest.raises(InfeasibleError) as info:
        prepare_checked(load_scenario(path))
    assert info.value.message.startswith(f"{path.resolve()}:4:30: streams.0.dtype: ")


def test_in_memory_scenario_keeps_the_original_message():
    text = f"name: s\nhardware: {HW}\nstreams:\n  - {{network: ds_cnn, dtype: int4}}\n"
    scenario = validate_data(Scenario, parse_yaml_text(text, None), None)
    with pytest.raises(InfeasibleError) as info:
        prepare_checked(scenario)
    assert info.value.message.startswith("<input>: streams.0.dtype: ")


def test_good_scenario_prepares_every_stream(tmp_path):
    path = _write(tmp_path, "  - network: ds_cnn\n  - network: ds_cnn\n    batch: 2\n")
    prepared = prepare_checked(load_scenario(path))
    assert len(prepared.streams) == 2
    s1, s2 = prepared.streams
    assert s2.graph.macs == 2 * s1.graph.macs and len(s1.mappings) == len(s2.mappings)


def test_locate_field_follows_the_hardware_file(tmp_path):
    scenario = load_scenario(_write(tmp_path, "  - network: ds_cnn\n"))
    path, line, col = locate_field(scenario, "hardware.memory.dram.size")
    text = HW.read_text().splitlines()[line - 1]
    assert path == HW.resolve() and text[col - 1:].startswith("8 GiB")


def test_an_override_is_blamed_instead_of_the_line_it_replaced(tmp_path, capsys):
    from memsim.cli import main

    path = _write(tmp_path, "  - {network: ds_cnn, dtype: int8}\n")
    assert main(["run", str(path), "--no-save", "--set", "streams.0.dtype=int4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path.resolve()}: streams.0.dtype: ")
    assert err.rstrip().endswith("[from override streams.0.dtype=int4]")
