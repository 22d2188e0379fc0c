"""The bad-input corpus and fuzzing: every broken config exits 2 with one located message."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memsim.cli import main
from memsim.config import load_any
from memsim.config.loader import parse_yaml_text, validate_data
from memsim.errors import InputError

BAD = Path(__file__).parent / "data" / "bad"
FILES = sorted(BAD.glob("*.yaml"))


def test_corpus_is_large_enough():
    assert len(FILES) >= 40


def _expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    return first[len("# expect: "):] if first.startswith("# expect: ") else ""


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bad_file_exits_2_with_one_located_message(path, capsys):
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    match = re.match(rf"^{re.escape(str(path))}:(\d+)(:\d+)?: .+", lines[0])
    assert match, lines[0]
    assert int(match.group(1)) >= 1
    assert _expected(path) in lines[0]


def test_special_files_have_their_own_messages(capsys):
    assert main(["validate", str(BAD / "binary.yaml")]) == 2
    assert "binary file" in capsys.readouterr().err
    assert main(["validate", str(BAD / "empty.yaml")]) == 2
    assert "empty file" in capsys.readouterr().err


def test_missing_file_and_directory(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err


def test_50_mb_file_is_refused_quickly(tmp_path, capsys):
    big = tmp_path / "huge.yaml"
    with big.open("wb") as fh:
        line = b"key_%08d: " + b"x" * 80 + b"\n"
        fh.write(b"".join(line % i for i in range(50 * 2**20 // 94 + 1)))
    assert big.stat().st_size >= 50 * 2**20
    assert main(["validate", str(big)]) == 2
    err = capsys.readouterr().err
    assert "too large" in err and str(big) in err


def test_many_files_one_message_each(capsys):
    good = Path(__file__).parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml"
    code = main(["validate", str(good), str(BAD / "hw_zero_ways.yaml"), str(BAD / "empty.yaml")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.startswith("OK ")
    assert len(err.strip().splitlines()) == 2


@pytest.mark.parametrize("name", ["hw_duplicate_key.yaml", "hw_tab_indent.yaml"])
def test_real_console_script(name):
    """The installed entry point: exit 2, one message on stderr, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "memsim", "validate", str(BAD / name)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"{BAD / name}:" in proc.stderr


# --- fuzzing: either a valid config or a clean InputError ------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.sampled_from(["64 KiB", "4 cycles", "2.4 GHz", "17 GB/s", "cache",
                                      "scratchpad", "simd", "systolic", "int8", "L1", "lru"]))
_keys = st.sampled_from(["name", "compute", "memory", "levels", "dram", "cores", "clock", "kind",
                         "macs_per_cycle", "size", "line", "ways", "latency", "bandwidth",
                         "streams", "hardware", "network", "strategies", "energy", "x"])
_trees = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)), max_leaves=25)


def _dump(tree) -> str:
    from io import StringIO

    from ruamel.yaml import YAML
    buf = StringIO()
    YAML(typ="safe", pure=True).dump(tree, buf)
    return buf.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_trees)
def test_fuzz_random_yaml(tree):
    from memsim.config import Hardware, Scenario
    text = _dump(tree)
    for model in (Hardware, Scenario):
        try:
            validate_data(model, parse_yaml_text(text, "fuzz.yaml"), "fuzz.yaml")
        except InputError as err:
            assert err.message.startswith("fuzz.yaml")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    path.write_bytes(data)
    try:
        load_any(path)
    except InputError as err:
        assert str(path) in err.message


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "t.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_any(path)
    except InputError as err:
        assert str(path) in err.message


def _mutations():
    base = (Path(__file__).parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml").read_text()
    return base


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["", " ", "0", "-", ":", "[", "\t", "x", "9",
                                               "KB", "\n  ", "{", "#"]))
def test_fuzz_mutated_preset(position, insert):
    text = _mutations()
    position %= len(text)
    mutated = text[:position] + insert + text[position:]
    try:
        validate_data(__import__("memsim.config", fromlist=["Hardware"]).Hardware,
                      parse_yaml_text(mutated, "m.yaml"), "m.yaml")
    except InputError as err:
        assert err.message.startswith("m.yaml")


def test_unknown_zoo_network_is_located_with_a_suggestion(tmp_path, capsys):
    hw = Path(__file__).resolve().parents[1] / "configs" / "hardware" / "raspberry-pi-5.yaml"
    path = tmp_path / "s.yaml"
    path.write_text(f"name: x\nhardware: {hw}\nstreams:\n  - {{network: mobilenet_v3, dtype: int8}}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}:4:") and "streams.0.network" in err and "mobilenet_v2" in err


@pytest.mark.parametrize("argv", [["run"], ["run", "--bogus", "x"], ["show", "hardware"],
                                  ["frobnicate"], ["plan", "resnet18", "--algorithm"]])
def test_usage_errors_exit_2_without_a_traceback(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "memsim bug" not in err and err.strip()


# --- validate runs every check run makes: the same exit 2 and the same located message ----

SCENARIOS = [p for p in FILES if p.name.startswith("sc_")]
#: problems with the whole file rather than one field (no field to name)
FILE_LEVEL = {"sc_alias_bomb.yaml"}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_validate_and_run_fail_alike(path, tmp_path, capsys):
    validated = main(["validate", str(path)])
    v_out, v_err = capsys.readouterr()
    out_dir = tmp_path / "out"
    ran = main(["run", str(path), "--out", str(out_dir)])
    r_out, r_err = capsys.readouterr()
    assert validated == ran == 2
    assert v_out == r_out == ""
    assert r_err == v_err
    field = "" if path.name in FILE_LEVEL else r"[\w.\-]+: "
    assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: {field}\S", r_err), r_err
    assert _expected(path) in r_err
    assert not out_dir.exists()  # nothing half-written


def test_corpus_covers_what_used_to_pass_validate():
    names = {p.name for p in FILES}
    assert {"sc_onnx_random_bytes.yaml", "sc_csv_missing_columns.yaml", "sc_int4_without_macs.yaml",
            "sc_resolution_huge.yaml", "sc_background_saturates.yaml", "sc_frames_too_many.yaml",
            "sc_inline_l3_1tib.yaml", "hw_l3_1tib.yaml", "sc_streams_key_missing.yaml",
            "sc_layerlist_unknown_op.yaml", "sc_batch_too_big.yaml"} <= names


def test_huge_resolution_blames_the_stream_not_dram(capsys):
    assert main(["validate", str(BAD / "sc_resolution_huge.yaml")]) == 2
    err = capsys.readouterr().err
    assert ": streams.0.resolution: " in err and ": hardware.memory.dram.size:" not in err


@pytest.mark.parametrize("name, kind", [("raspberry-pi-5.yaml", "a hardware description"),
                                        ("../sweeps/kws-mcu.yaml", "a sweep")])
def test_run_on_another_kind_of_file_says_what_it_is(name, kind, capsys):
    path = Path(__file__).parents[1] / "configs" / "hardware" / name
    assert main(["run", str(path), "--no-save"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:1:1: this is {kind}")
    assert "not a scenario (name, hardware, streams)" in err
    assert "required field missing" not in err


def test_validate_detects_a_scenario_without_streams(capsys):
    assert main(["validate", str(BAD / "sc_streams_key_missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "cannot tell the kind" not in err and "streams: required field missing" in err


def test_bare_yaml_tag_is_a_located_error(tmp_path, capsys):
    """Found by test_fuzz_random_bytes: '!!' parses to a tagged scalar without a position."""
    path = tmp_path / "tag.yaml"
    path.write_bytes(b"!!")
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:1:1: expected a mapping")
