"""Sweep files, expansion, the store, resume, failures, compaction, Pareto and the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sweep_helpers import write_base, write_file_base, write_layer_network, write_sweep

from memsim.errors import InputError
from memsim.sweep.runner import run_sweep
from memsim.sweep.spec import combinations, expand, load_sweep

FAKE = "sweep_helpers:fake_batch"

GRID = """\
base: base.yaml
grid:
  hardware.memory.levels.L2.size: [16 KiB, 32 KiB, 64 KiB]
  hardware.memory.dram.bandwidth: [2 GB/s, 4 GB/s, 8 GB/s]
exclude:
  - {hardware.memory.levels.L2.size: 64 KiB, hardware.memory.dram.bandwidth: 2 GB/s}
seeds: [0, 1]
objectives: {latency_s: min, energy_j: min}
"""


@pytest.fixture
def base(tmp_path):
    return write_base(tmp_path)


def test_grid_zip_exclude_seeds(tmp_path, base):
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    combos = combinations(sweep)
    assert len(combos) == 8  # 3 x 3 minus one excluded
    assert combos[0] == {"hardware.memory.levels.L2.size": "16 KiB",
                         "hardware.memory.dram.bandwidth": "2 GB/s"}
    points = expand(sweep)
    assert len(points) == 16 == len({p.id for p in points})
    p = points[0]
    assert p.scenario.hardware.memory.level("L2").size_bytes == 16 * 1024
    assert p.scenario.hardware.memory.dram.bandwidth_bytes_per_s == 2e9
    assert {q.seed for q in points} == {0, 1}
    zipped = load_sweep(write_sweep(tmp_path, """\
base: base.yaml
zip:
  hardware.memory.levels.L2.size: [16 KiB, 64 KiB]
  hardware.memory.levels.L2.ways: [4, 16]
""", "zip.yaml"))
    pairs = [(p.scenario.hardware.memory.level("L2").size_bytes,
              p.scenario.hardware.memory.level("L2").ways) for p in expand(zipped)]
    assert pairs == [(16384, 4), (65536, 16)]


def test_ids_stable_and_sensitive(tmp_path, base):
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    first = [p.id for p in expand(sweep)]
    assert first == [p.id for p in expand(sweep)]
    # a changed base file changes every id (no stale reuse)
    (tmp_path / "tiny.yaml").write_text((tmp_path / "tiny.yaml").read_text()
                                        .replace("latency: 100 ns", "latency: 120 ns"))
    assert not set(first) & {p.id for p in expand(load_sweep(tmp_path / "sweep.yaml"))}


@pytest.mark.parametrize("body, where, text", [
    ("base: base.yaml\ngrid: {hardware.memory.levels.L2.size: [16 KiB, 48 KB]}\n", ":2:", "ambiguous"),
    ("base: base.yaml\ngrid: {hardware.memory.levels.L7.size: [16 KiB]}\n", ":2:", "no entry named 'L7'"),
    ("base: base.yaml\ngrid: {hardware.memory.dram.bandwith: [1 GB/s]}\n", ":2:", "did you mean 'bandwidth'"),
    ("base: base.yaml\ngrids: {}\n", ":2:1", "did you mean 'grid'"),
    ("base: nope.yaml\ngrid: {seed: [1]}\n", ":1:", "base scenario not found"),
    ("base: base.yaml\nzip: {seed: [1, 2], strategies.prefetch.depth: [1]}\n", "", "equal lengths"),
    ("base: base.yaml\ngrid: {seed: [1]}\nobjectives: {latency: min}\n", ":3:", "did you mean 'latency_s'"),
    ("base: base.yaml\ngrid: {seed: [1]}\nobjectives: {latency_s: fastest}\n", ":3:", "objectives"),
    ("base: base.yaml\ngrid: {seed: [1]}\nexclude: [{seed2: 1}]\n", ":3:", "not a swept path"),
])
def test_bad_sweep_files_are_located(tmp_path, base, body, where, text):
    path = write_sweep(tmp_path, body, "bad.yaml")
    with pytest.raises(InputError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(str(path) + where) and text in message, message


def test_validate_knows_sweeps(tmp_path, base):
    from memsim.cli import main
    from memsim.config import load_any

    path = write_sweep(tmp_path, GRID)
    assert type(load_any(path)).__name__ == "Sweep"
    assert main(["validate", str(path)]) == 0


def test_hardware_paths_relative_to_sweep_file(tmp_path, base):
    boards = tmp_path / "boards"
    boards.mkdir()
    text = (tmp_path / "tiny.yaml").read_text()
    (boards / "a.yaml").write_text(text.replace("tiny-board", "board-a"))
    (boards / "b.yaml").write_text(text.replace("tiny-board", "board-b").replace("price_usd: 10", "price_usd: 25"))
    sweep = load_sweep(write_sweep(tmp_path, "base: base.yaml\ngrid:\n  hardware: [boards/a.yaml, boards/b.yaml]\n"
                                              "  hardware.memory.levels.L2.size: [16 KiB, 64 KiB]\n"))
    points = expand(sweep)
    assert [p.scenario.hardware.name for p in points] == ["board-a"] * 2 + ["board-b"] * 2
    assert [p.scenario.hardware.memory.level("L2").size_bytes for p in points] == [16384, 65536] * 2


def test_run_store_resume_failures_pareto(tmp_path, base, monkeypatch):
    log = tmp_path / "evaluated.log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    body = GRID.replace("[2 GB/s, 4 GB/s, 8 GB/s]", "[1 GB/s, 2 GB/s, 4 GB/s, 8 GB/s]")
    # an invalid combination: board "l1only" has no L2 to resize (each value alone is fine)
    text = (tmp_path / "tiny.yaml").read_text()
    l2 = [line for line in text.splitlines() if "name: L2" in line][0]
    (tmp_path / "l1only.yaml").write_text(text.replace(l2 + "\n", "").replace(" L2: 3 pJ/B,", ""))
    body = body.replace("grid:\n", "grid:\n  hardware: [tiny.yaml, l1only.yaml]\n")
    spec = write_sweep(tmp_path, body)
    out = tmp_path / "out"
    first = run_sweep(spec, out, workers=0, evaluator=FAKE, progress=False)
    total = 2 * (3 * 4 - 1) * 2
    assert first["points"] == total
    assert first["done"] + first["failed"] == total and first["skipped"] == 0
    evaluated = log.read_text().split()
    assert len(evaluated) == len(set(evaluated))
    table = pd.read_parquet(first["results"])
    assert len(table) == total and table["id"].is_unique
    assert {"hardware.memory.levels.L2.size", "hardware.memory.dram.bandwidth", "seed",
            "latency_s", "status", "error", "feasible", "pareto"} <= set(table.columns)
    failed = table[table["status"] == "failed"]
    assert failed["error"].str.len().gt(0).all()
    bad = table[table["hardware"].str.endswith("l1only.yaml")]
    assert len(bad) == total // 2 and (bad["status"] == "failed").all()  # invalid: never run
    assert bad["error"].str.contains("no entry named 'L2'").all()
    assert not set(bad["id"]) & set(evaluated)
    good = table[table["hardware"].str.endswith("tiny.yaml")]
    ran_failed = good[good["status"] == "failed"]
    assert (ran_failed["hardware.memory.dram.bandwidth"] == "1 GB/s").all() and len(ran_failed) == 6
    # Pareto: feasible ok points no other feasible point beats on both objectives
    front = table[table["pareto"]]
    assert set(front["id"]) == set(first["pareto"]) and len(front) > 0
    feas = table[table["feasible"]]
    for _, r in front.iterrows():
        assert not ((feas["latency_s"] <= r["latency_s"]) & (feas["energy_j"] <= r["energy_j"])
                    & ((feas["latency_s"] < r["latency_s"]) | (feas["energy_j"] < r["energy_j"]))).any()
    assert (table.loc[table["feasible"], "met"]).all()
    assert (out / "sweep.resolved.yaml").is_file()
    assert len(list((out / "points").glob("*.parquet"))) == total
    # resume: nothing is recomputed
    again = run_sweep(spec, out, workers=0, evaluator=FAKE, progress=False)
    assert again["skipped"] == total and again["done"] == again["failed"] == 0
    assert log.read_text().split() == evaluated
    assert again["pareto"] == first["pareto"]


def test_stray_temporaries_are_ignored(tmp_path, base):
    from memsim.sweep.store import Store

    store = Store(tmp_path / "s")
    store.write({"id": "abc", "status": "ok"})
    (tmp_path / "s" / "points" / ".def.123.tmp").write_bytes(b"half a parquet")
    assert store.done_ids() == {"abc"}
    assert not (tmp_path / "s" / "points" / ".def.123.tmp").exists()


def test_local_processes_match_inline(tmp_path, base):
    spec = write_sweep(tmp_path, GRID)
    a = run_sweep(spec, tmp_path / "a", workers=0, evaluator=FAKE, progress=False)
    b = run_sweep(spec, tmp_path / "b", workers=2, evaluator=FAKE, progress=False)
    ta = pd.read_parquet(a["results"]).drop(columns=["seconds"])
    tb = pd.read_parquet(b["results"]).drop(columns=["seconds"])
    pd.testing.assert_frame_equal(ta, tb)


def test_cli_json(tmp_path, base, capsys):
    from memsim.cli import main

    spec = write_sweep(tmp_path, "base: base.yaml\ngrid:\n  hardware.memory.levels.L2.size: [16 KiB, 64 KiB]\n"
                                  "objectives: {latency_s: min, dram_bytes: min}\n")
    code = main(["sweep", str(spec), "--workers", "0", "--out", str(tmp_path / "o"), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    assert {"points", "done", "failed", "skipped", "results", "pareto"} <= set(data)
    assert data["points"] == 2 and data["done"] == 2 and data["failed"] == 0
    table = pd.read_parquet(data["results"])
    assert set(table["method"]) == {"stackdist"}
    assert table["latency_s"].gt(0).all() and set(data["pareto"]) <= set(table["id"])
    assert main(["sweep", str(spec), "--workers", "1", "--dask-local", "2"]) == 2


FILE_GRID = """\
base: file.yaml
grid:
  hardware.memory.levels.L2.size: [16 KiB, 64 KiB]
seeds: [0, 1]
"""


def test_ids_cover_network_file_contents(tmp_path, monkeypatch):
    from memsim import fileio as files  # file_digests lives in the foundation

    write_file_base(tmp_path)
    sweep = load_sweep(write_sweep(tmp_path, FILE_GRID))
    hashed = []
    digest = files.file_digest
    monkeypatch.setattr(files, "file_digest", lambda path: hashed.append(path) or digest(path))
    first = expand(sweep)
    assert hashed == [str((tmp_path / "net.yaml").resolve())]  # once per expansion, not per point
    assert all(set(p.files) == set(hashed) and len(p.id) == 16 for p in first)
    assert [p.id for p in expand(sweep)] == [p.id for p in first]  # deterministic
    write_layer_network(tmp_path, channels=12)  # same path, other contents
    assert not {p.id for p in first} & {p.id for p in expand(sweep)}
    write_layer_network(tmp_path)  # the old contents give the old ids back
    assert [p.id for p in expand(sweep)] == [p.id for p in first]


def test_ids_cover_measured_source_and_onnx_external_data(tmp_path, base):
    import numpy as np

    from memsim.sweep.files import file_digest, onnx_external_files

    np.save(tmp_path / "w.npy", np.zeros(256, np.int8))
    base.write_text(base.read_text() + "strategies:\n  compression:\n"
                    "    weights: {format: measured, codec: zlib, source: w.npy}\n")
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    first = {p.id for p in expand(sweep)}
    np.save(tmp_path / "w.npy", np.arange(256, dtype=np.int8))
    assert not first & {p.id for p in expand(sweep)}
    pytest.importorskip("onnx")
    from memsim.workloads import load_network
    from memsim.workloads.importers.onnx_export import export_onnx

    model = tmp_path / "net.onnx"  # shapes only: weights in net.weights.bin, not written
    export_onnx(load_network(write_layer_network(tmp_path)), model)
    assert onnx_external_files(model) == ["net.weights.bin"]
    missing = file_digest(model)
    (tmp_path / "net.weights.bin").write_bytes(b"\0" * 64)
    zeros = file_digest(model)
    (tmp_path / "net.weights.bin").write_bytes(b"\1" * 64)
    assert len({missing, zeros, file_digest(model)}) == 3


def test_edited_network_file_recomputes(tmp_path):
    from memsim.config import load_scenario
    from memsim.sweep import worker

    scenario = load_scenario(write_file_base(tmp_path))
    key = worker.prepared_key(scenario)
    spec = write_sweep(tmp_path, FILE_GRID.replace("[0, 1]", "[0]"))
    out = tmp_path / "out"
    first = run_sweep(spec, out, workers=0, progress=False)
    assert (first["done"], first["skipped"]) == (2, 0)
    before = pd.read_parquet(first["results"])
    assert run_sweep(spec, out, workers=0, progress=False)["skipped"] == 2  # unchanged: resumed
    write_layer_network(tmp_path, channels=32)
    assert worker.prepared_key(scenario) != key  # same path, new contents: no stale memo
    # the in-process worker memos of the first run must not serve the old network
    second = run_sweep(spec, out, workers=0, progress=False)
    assert (second["done"], second["skipped"], second["failed"]) == (2, 0, 0)
    after = pd.read_parquet(second["results"])
    assert not set(before["id"]) & set(after["id"])
    assert (after["compute_cycles"].to_numpy() > before["compute_cycles"].to_numpy()).all()
    assert (after["latency_s"].to_numpy() > before["latency_s"].to_numpy()).all()
