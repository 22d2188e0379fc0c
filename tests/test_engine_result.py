"""``Result`` keeps its tables as rows and computes its summary with numpy (engine.collect):
checked against pandas, which built the tables and the summary before, as the oracle."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import memsim
from memsim.engine.result import Result, Table, percentile

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "configs" / "hardware"

#: no energy figures: every layer's energy_j is NaN
NO_ENERGY = """
name: no-energy
compute: {cores: 2, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 16}}
memory:
  levels:
    - {name: L1, kind: cache, size: 64 KiB, line: 64 B, ways: 8, latency: 2 cycles, bandwidth: 64 B/cycle, scope: core}
  dram: {name: dram, bandwidth: 10 GB/s, latency: 80 ns, channels: 1}
"""


def _oracle_stream(index, layers: pd.DataFrame, frames: pd.DataFrame) -> dict:
    """The per-stream summary as pandas computed it (engine.collect before rows)."""
    fr = frames[frames["stream"] == index]
    ly = layers[layers["stream"] == index] if len(layers) else layers
    lat = fr["latency_s"].to_numpy(float)
    deadline = fr["deadline_s"].min() if fr["deadline_s"].notna().any() else None
    n = max(1, len(fr))
    misses = int((~fr["met"]).sum()) if deadline is not None else 0
    energy = float(ly["energy_j"].sum()) / n if len(ly) else float("nan")
    return {"stream": index, "frames": int(len(fr)),
            "latency_s": float(lat.max()) if lat.size else 0.0,
            "latency_p50_s": percentile(lat, 50), "latency_p99_s": percentile(lat, 99),
            "deadline_s": float(deadline) if deadline is not None else None,
            "slack_s": float(deadline - lat.max()) if deadline is not None and lat.size else None,
            "miss_rate": misses / len(fr) if deadline is not None and len(fr) else 0.0,
            "met": misses == 0,
            "dram_bytes": int(round(ly["dram_bytes"].sum() / n)) if len(ly) else 0,
            "energy_j": energy if np.isfinite(energy) else None}


def _scenario(tmp_path, hardware, streams: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nhardware: {hardware}\nstreams:\n{streams}\nseed: 1\n")
    return path


CASES = {
    "two streams, one without deadline": (
        HW / "raspberry-pi-5.yaml",
        "  - {network: person_detect, dtype: int8, frames: 3, period: 4 ms, jitter: 1 ms, "
        "deadline: 3 ms, cores: [0, 1]}\n"
        "  - {network: ds_cnn, dtype: int8, frames: 2, cores: [2, 3]}"),
    "no energy figures": (None, "  - {network: ds_cnn, dtype: int8, frames: 2, deadline: 1 us}"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_summary_and_tables_equal_what_pandas_computes(tmp_path, case):
    hardware, streams = CASES[case]
    if hardware is None:
        hardware = tmp_path / "hw.yaml"
        hardware.write_text(NO_ENERGY)
    result = memsim.simulate(_scenario(tmp_path, hardware, streams))
    assert not result.table("layers").built  # rows until a DataFrame is read
    rows = result.table("layers").rows()
    layers, frames = result.layers, result.frames
    assert result.table("layers").built
    pd.testing.assert_frame_equal(layers, pd.DataFrame(rows))
    s = result.summary
    for st in s["streams"]:
        assert st == _oracle_stream(st["stream"], layers, frames)
    first = layers[layers["frame"] == 0]
    assert s["compute_cycles"] == int(round(float(first["compute_cycles"].sum())))
    timed = frames[frames["deadline_s"].notna()]
    assert s["miss_rate"] == (int((~timed["met"]).sum()) / len(timed) if len(timed) else 0.0)
    if case == "no energy figures":
        assert layers["energy_j"].isna().all()
        assert not s["met"] and s["miss_rate"] == 1.0


def test_worst_frame_rows_and_json_equal_the_dataframe_path(tmp_path):
    hardware, streams = CASES["two streams, one without deadline"]
    result = memsim.simulate(_scenario(tmp_path, hardware, streams))
    from_rows = result.to_json()
    worst = result.worst_frame()
    crit = result.frames[result.frames["stream"] == result.summary["critical_stream"]]
    expected = crit.loc[crit["latency_s"].idxmax()]
    assert (worst["stream"], worst["frame"]) == (expected["stream"], expected["frame"])
    picked = pd.DataFrame(result.worst_frame_rows())
    pd.testing.assert_frame_equal(picked, result.worst_frame_layers().reset_index(drop=True))
    result.save(tmp_path / "out")
    loaded = Result.load(tmp_path / "out")  # DataFrame-backed tables
    assert loaded.table("frames").built
    again = loaded.to_json()
    assert again["layers"] == from_rows["layers"]
    assert loaded.worst_frame() == result.worst_frame()


def test_table_builds_the_frames_pandas_built():
    rows = [{"a": 1, "b": 2.5, "c": "x"}, {"a": 2, "b": math.nan, "c": "y"}]
    pd.testing.assert_frame_equal(Table(rows).frame(), pd.DataFrame(rows))
    pd.testing.assert_frame_equal(Table(rows, ("c", "a", "b")).frame(),
                                  pd.DataFrame(rows, columns=["c", "a", "b"]))
    pd.testing.assert_frame_equal(Table([], ("a",)).frame(), pd.DataFrame([], columns=["a"]))
    assert Table().frame().empty and len(Table()) == 0
    t = Table(rows)
    assert t.column("a").tolist() == [1, 2] and np.isnan(t.column("b")[1])
    df = pd.DataFrame(rows)
    assert Table.of(df).rows()[0] == rows[0] and Table.of(df).column("a").tolist() == [1, 2]
