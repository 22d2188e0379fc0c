"""What the commands print on an 80-column terminal (or a pipe): verdicts, layer tables, fronts."""

import json
import re
from pathlib import Path

import pytest

from memsim.cli import main

HW = Path(__file__).parents[1] / "configs" / "hardware"
LACKEY = Path(__file__).parent / "data" / "cache" / "tiny_lackey.txt"


@pytest.fixture(autouse=True)
def columns_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("LINES", raising=False)


def _scenario(tmp_path, streams: str, name="t") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nhardware: {HW / 'raspberry-pi-5.yaml'}\nstreams:\n{streams}")
    return path


TWO_STREAMS = ("  - {network: gpt2, phase: decode, context: 32, frames: 2}\n"
               "  - {network: ds_cnn, frames: 3, deadline: 1 ms}\n")


def _run(capsys, *args):
    code = main(["run", *map(str, args), "--no-save"])
    out, err = capsys.readouterr()
    return code, out, err


def _fits(text: str, width: int = 80) -> None:
    for line in text.splitlines():
        assert len(line) <= width, line


def _table_rows(out: str, title: str) -> list[str]:
    """Body lines of the table whose title starts with ``title`` (after the ─ rule)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rule = next(i for i in range(start, len(lines)) if lines[i].startswith("─"))
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith(("--layers", "--json", "every point", "point ids")):
            break
        rows.append(line)
    return rows


def _matches(shown: str, name: str) -> bool:
    if "…" not in shown:
        return shown == name
    head, tail = shown.split("…")
    return name.startswith(head) and name.endswith(tail)


def test_run_two_streams_each_verdict_and_top_layers_fit_80(tmp_path, capsys):
    path = _scenario(tmp_path, TWO_STREAMS)
    code, out, _ = _run(capsys, path)
    assert code == 0
    _fits(out)
    streams = _table_rows(out, "per stream")
    assert [r.split()[:2] for r in streams] == [["0", "gpt2"], ["1", "ds_cnn"]]
    assert "0 of 3" in streams[1] and "MET" in streams[1] and "MET" not in streams[0]
    assert "deadline misses (all streams)" in out and "0 of 3 frames" in out
    assert "critical stream" in out and "1: ds_cnn" in out
    # top 10 layers of the critical stream's worst frame, slowest first, names recognisable
    code, js, _ = _run(capsys, path, "--json")
    layers = json.loads(js)["layers"]
    rows = _table_rows(out, "slowest 10 of")
    assert len(rows) == 10
    by_time = sorted(layers, key=lambda r: r["end_s"] - r["start_s"], reverse=True)
    names = [r["name"] for r in layers]
    for row in rows:
        assert any(_matches(row.split()[0], n) for n in names), row
    assert _matches(rows[0].split()[0], by_time[0]["name"])


def test_run_layers_option(tmp_path, capsys):
    path = _scenario(tmp_path, "  - {network: ds_cnn, frames: 1, deadline: 1 ms}\n")
    code, out, _ = _run(capsys, path, "--layers", "all")
    n = len(json.loads(_run(capsys, path, "--json")[1])["layers"])
    assert code == 0 and len(_table_rows(out, f"all {n} layers")) == n
    code, out, _ = _run(capsys, path, "--layers", "3")
    assert code == 0 and len(_table_rows(out, "slowest 3 of")) == 3
    code, out, err = _run(capsys, path, "--layers", "many")
    assert code == 2 and "--layers" in err and out == ""


def test_run_without_deadline_says_so_and_energy_has_a_readable_unit(tmp_path, capsys):
    path = _scenario(tmp_path, "  - {network: gpt2, phase: decode, context: 32, frames: 2}\n")
    code, out, _ = _run(capsys, path)
    assert code == 0
    assert "MET" not in out and "MISSED" not in out and "no deadline set" in out
    assert "0.0 %" not in out
    energy = re.search(r"energy / frame\s+([\d.]+) (J|mJ|µJ|nJ|pJ)", out)
    assert energy and 1 <= float(energy.group(1)) < 1000


def test_list_networks_counts_without_markup(capsys):
    assert main(["list", "networks"]) == 0
    out = capsys.readouterr().out
    _fits(out)
    assert "``" not in out
    row = next(line for line in out.splitlines() if line.startswith("mobilenet_v2"))
    assert "3,504,872" in row and "300,774,272" in row
    assert main(["list", "networks", "--json"]) == 0
    nets = {n["name"]: n for n in json.loads(capsys.readouterr().out)["networks"]}
    assert nets["resnet50"]["parameters"] == 25_557_032 and nets["resnet50"]["macs"] > 4e9


def test_show_network_macs_never_cut(capsys):
    assert main(["show", "network", "resnet50"]) == 0
    out = capsys.readouterr().out
    _fits(out)
    assert "118,013,952" in out  # stem conv MACs, cut to '118,013,…' before


def test_compare_cannot_run_reason_on_whole_lines(capsys):
    code = main(["compare", "--network", "ds_cnn", "--deadline", "10ms", "--dtype", "fp16",
                 str(HW / "esp32-s3.yaml"), str(HW / "raspberry-pi-5.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    _fits(out)
    assert "hardware" in out and "hardw…" not in out
    assert "CANNOT RUN [1]" in out
    note = next(line for line in out.splitlines() if line.startswith("[1] ESP32-S3"))
    assert len(note.split()) > 5  # a sentence, not one word per line


def test_sweep_prints_front_as_swept_values(tmp_path, capsys):
    from sweep_helpers import write_base

    base = write_base(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: s\nbase: {base.name}\ngrid:\n  strategies.prefetch.depth: [0, 2]\n"
                    "objectives: {latency_s: min, dram_bytes: min}\n")
    code = main(["sweep", str(spec), "--workers", "0", "--no-progress", "--out",
                 str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    _fits(out)
    import pandas as pd

    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    rows = _table_rows(out, "Pareto front")
    front = table[table["pareto"]]
    assert len(rows) == len(front) >= 1
    assert all(pid not in out for pid in table["id"])
    assert {r.split()[0] for r in rows} == {str(v) for v in front["strategies.prefetch.depth"]}
    assert re.search(r"\d (ms|µs|ns)", rows[0])


def test_replay_says_wall_time_and_refuses_garbage(tmp_path, capsys):
    code = main(["replay", str(LACKEY), "--hardware", str(HW / "raspberry-pi-5.yaml")])
    out = capsys.readouterr().out
    assert code == 0 and "wall-clock" in out and "accesses in" not in out
    bad = tmp_path / "t.npz"
    bad.write_bytes(bytes(range(256)) * 4)
    code = main(["replay", str(bad), "--hardware", str(HW / "raspberry-pi-5.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"{bad}: not a .npz archive") and err.isascii()
    log = tmp_path / "t.log"
    log.write_bytes(b"\x7f\x8f\xffgarbage\x01\x02\n")
    code = main(["replay", str(log), "--hardware", str(HW / "raspberry-pi-5.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and f"{log}:1:1: binary data" in err and err.isascii()


def test_results_folder_keeps_non_ascii_names_apart(tmp_path, monkeypatch, capsys):
    from memsim.cli.cmd_run import _safe_name

    assert _safe_name("前カメラ") == "前カメラ" and _safe_name("front-camera-pi5") == "front-camera-pi5"
    assert _safe_name("камера 2").startswith("камера-2-")
    assert len({_safe_name(n) for n in ("cam 1", "cam/1", "cam-1", "cam:1")}) == 4
    assert _safe_name("!!!") != _safe_name("???") and _safe_name("!!!").startswith("run-")
    monkeypatch.chdir(tmp_path)
    for name in ("前カメラ", "後カメラ"):
        path = _scenario(tmp_path, "  - {network: ds_cnn, frames: 1}\n", name=name)
        assert main(["run", str(path), "--layers", "0"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["前カメラ", "後カメラ"]


def test_report_to_a_missing_folder_is_refused(tmp_path, capsys):
    target = tmp_path / "nonexistent" / "dir" / "x.html"
    assert main(["report", str(tmp_path), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{target}: -o: folder {target.parent} does not exist")
    assert not (tmp_path / "nonexistent").exists()
    path = _scenario(tmp_path, "  - {network: ds_cnn, frames: 1}\n")
    assert main(["run", str(path), "--no-save", "--report", str(target)]) == 2
    assert "--report: folder" in capsys.readouterr().err


def test_frame_estimate_speaks_once_and_only_for_long_runs():
    import io

    from memsim.cli.estimate import FrameEstimate

    ticks = iter([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    out = io.StringIO()
    est = FrameEstimate(1000, stream=out, clock=lambda: next(ticks))
    for done in range(1, 6):
        est(done, 1000)
    text = out.getvalue()
    assert text.count("\n") == 1 and "1,000 frames" in text and "min" in text  # ~997 s left
    quiet = io.StringIO()
    ticks = iter([0.0, 0.01, 0.02, 0.03])
    est = FrameEstimate(10, stream=quiet, clock=lambda: next(ticks))
    for done in range(1, 5):
        est(done, 10)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("argv", [
    ["list", "hardware"],
    ["show", "network", "llama-1b", "--phase", "decode", "--context", "8"],
    ["trace", "ds_cnn", "--hardware", str(HW / "raspberry-pi-5.yaml")],
    ["explain", str(HW.parent / "scenarios" / "kws-stm32h743.yaml"), "--frames", "1"],
], ids=["list-hardware", "show-llm", "trace", "explain"])
def test_every_table_fits_80_columns(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 0
    out = capsys.readouterr().out
    _fits(out)
    if argv[0] == "list":
        assert "raspberry-pi-5" in out and "jetson-agx-orin-64gb" in out  # presets never cut
    if argv[0] == "show":
        assert "layers.0.attn.q" in out or re.search(r"layers\.0\S*…\S*\.q", out)


def test_run_through_a_pipe_fits_80_columns(tmp_path):
    """The real console script writing into a pipe (no COLUMNS): rich's 80-column default."""
    import os
    import subprocess
    import sys

    path = _scenario(tmp_path, "  - {network: gpt2, phase: decode, context: 16, frames: 1, "
                               "deadline: 1 s}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run([sys.executable, "-m", "memsim", "run", str(path), "--no-save"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    _fits(proc.stdout)
    rows = _table_rows(proc.stdout, "slowest 10 of")
    assert len(rows) == 10 and any("…" in r or "lm_head" in r for r in rows)


def test_run_reports_background_load_near_saturation(tmp_path, capsys):
    path = _scenario(tmp_path, "  - {network: ds_cnn, frames: 1}\nbackground:\n"
                               "  - {bandwidth: 14 GB/s}\n")
    code, out, _ = _run(capsys, path, "--layers", "0")
    assert code == 0
    # 14 GB/s of 17.07 GB/s less refresh (280 ns of every 3.9 us): 14 / 15.84 = 88 %
    assert re.search(r"background DRAM load\s+14 GB/s, 88 % of DRAM \(near saturation\)", out)
