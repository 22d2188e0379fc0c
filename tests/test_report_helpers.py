"""Helpers shared by the report tests (imported as ``test_report_helpers``) and their own checks.

``make_result`` builds a ``Result`` with the columns ``memsim.engine.collect`` produces, with
consistent numbers (layer spans = compute + stall, stall split over levels, frames back to back),
so report figures can be checked against it without running the engine. ``report_figures``
extracts every figure embedded in a report page from the ``Plotly.newPlot`` calls and decodes
plotly's base64 typed arrays.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from memsim.engine.result import Result

ROOT = Path(__file__).resolve().parents[1]
PI5 = ROOT / "configs" / "hardware" / "raspberry-pi-5.yaml"
XSS = "<img src=x onerror=alert(1)>"


def make_scenario(name="front-camera", frames=3, deadline="10 ms", hardware=PI5, dtype="int8",
                  network="mobilenet_v2"):
    from memsim.config.scenario import Scenario

    return Scenario.model_validate({"name": name, "hardware": str(hardware), "streams": [
        {"network": network, "dtype": dtype, "frames": frames, "deadline": deadline}]})


def make_result(layer_names=("conv1", "dw2", "pw3", "pool4", "fc5"), frames=3, deadline_s=0.010,
                scale=1.0, name="front-camera", hardware=PI5, seed=0, keep_scenario=True) -> Result:
    """A consistent synthetic single-stream Result on the Raspberry Pi 5 preset (levels L1-L3)."""
    rng = np.random.default_rng(seed)
    scenario = make_scenario(name, frames, f"{deadline_s * 1e3} ms", hardware)
    hw = scenario.hardware
    keys = [lvl.name for lvl in hw.memory.levels] + ["dram"]
    cores = hw.compute.cores
    n = len(layer_names)
    macs = rng.integers(1, 50, n) * 1_000_000
    macs[3] = 0 if n > 3 else macs[3]            # a pooling layer without MACs
    rows, timeline = [], []
    now = 0.0
    frame_rows = []
    for f in range(frames):
        arrival = now
        for i, lname in enumerate(layer_names):
            compute = scale * (1e-4 + macs[i] / hw.peak_macs_per_s("int8"))
            split = rng.uniform(0, 1, len(keys)) * scale * 2e-4 * (1 + f)
            stall = float(split.sum())
            nbytes = {k: int(rng.integers(1_000, 2_000_000)) for k in keys}
            row = {"stream": 0, "frame": f, "name": lname, "op": "conv2d" if macs[i] else "pool",
                   "macs": int(macs[i]), "start_s": now, "end_s": now + compute + stall,
                   "compute_s": compute, "stall_s": stall, "compute_cycles": compute * hw.compute.clock_hz,
                   "utilisation": float(rng.uniform(0.3, 1.0)), "tiles": 4, "lines": 100}
            for k, s in zip(keys, split):
                row[f"stall_{k}_s"] = float(s)
                row[f"bytes_{k}"] = nbytes[k]
                if k != "dram":
                    row[f"hits_{k}"] = nbytes[k] // 128
            row["dram_bytes"] = nbytes["dram"]
            row["dram_read_bytes"] = nbytes["dram"] // 2
            row["dram_write_bytes"] = nbytes["dram"] - nbytes["dram"] // 2
            row["bound"] = "compute" if compute >= stall else max(zip(split, keys))[1]
            row["energy_j"] = 1e-12 * (macs[i] * 0.23 + nbytes["dram"] * 40)
            rows.append(row)
            for c in range(cores):
                timeline.append({"resource": f"core{c}", "start_s": now, "end_s": now + compute,
                                 "label": lname, "stream": 0, "frame": f})
            now += compute + stall
        latency = now - arrival
        frame_rows.append({"stream": 0, "frame": f, "arrival_s": arrival, "start_s": arrival,
                           "end_s": now, "latency_s": latency, "deadline_s": deadline_s,
                           "met": latency <= deadline_s})
    layers = pd.DataFrame(rows)
    frames_df = pd.DataFrame(frame_rows)
    live = rng.integers(10_000, 400_000, n)
    memory = pd.DataFrame({"stream": 0, "step": np.arange(n), "layer": list(layer_names),
                           "planned_bytes": live, "naive_bytes": int(live.sum() * 2),
                           "lower_bound_bytes": int(live.max()), "arena_bytes": int(live.max() * 1.1)})
    lat = frames_df["latency_s"].to_numpy()
    summary = {"name": name, "latency_s": float(lat.max()),
               "latency_p50_s": float(np.percentile(lat, 50)),
               "latency_p99_s": float(np.percentile(lat, 99)), "deadline_s": deadline_s,
               "slack_s": deadline_s - float(lat.max()),
               "miss_rate": float((~frames_df["met"]).mean()), "met": bool(frames_df["met"].all()),
               "energy_j": float(layers["energy_j"].sum() / frames),
               "dram_bytes": int(layers["dram_bytes"].sum() / frames),
               "peak_activation_bytes": int(live.max() * 1.1),
               "lower_bound_activation_bytes": int(live.max()),
               "naive_activation_bytes": int(live.sum() * 2),
               "compute_cycles": int(layers[layers["frame"] == 0]["compute_cycles"].sum()),
               "frames": frames, "fits_in_memory": True, "hardware": hw.name}
    return Result(summary=summary, layers=layers, frames=frames_df,
                  timeline=pd.DataFrame(timeline), memory=memory,
                  scenario=scenario if keep_scenario else None,
                  resolved_config=scenario.model_dump(by_alias=True, mode="json"))


# -- reading figures back out of a report ------------------------------------------------------
def decode(value):
    """Plotly's JSON arrays -> numpy arrays ({"dtype", "bdata", "shape"} base64 or plain lists)."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            shape = value["shape"]
            shape = [int(s) for s in str(shape).split(",")] if not isinstance(shape, list) else shape
            arr = arr.reshape(shape)
        return arr
    if isinstance(value, list):
        return np.array(value, dtype=object)
    return value


_NEWPLOT = re.compile(r'Plotly\.newPlot\(\s*"([^"]+)",\s*')


def report_figures(html: str) -> dict[str, dict]:
    """{div id: {"data": [...], "layout": {...}}} for every figure in a report page."""
    out = {}
    dec = json.JSONDecoder()
    for m in _NEWPLOT.finditer(html):
        data, end = dec.raw_decode(html, m.end())
        rest = html[end:].lstrip()
        assert rest.startswith(","), rest[:40]
        start = end + (len(html[end:]) - len(rest)) + 1
        while html[start].isspace():
            start += 1
        layout, _ = dec.raw_decode(html, start)
        out[m.group(1)] = {"data": data, "layout": layout}
    return out


def trace(fig: dict, name: str) -> dict:
    """The trace called ``name`` (exactly one)."""
    found = [t for t in fig["data"] if t.get("name") == name]
    assert len(found) == 1, (name, [t.get("name") for t in fig["data"]])
    return found[0]


# -- checks of the helpers themselves ---------------------------------------------------------
def test_decode_base64_and_lists():
    arr = np.array([1.5, 2.5, -3.0])
    enc = {"dtype": "f8", "bdata": base64.b64encode(arr.tobytes()).decode()}
    assert decode(enc).tolist() == [1.5, 2.5, -3.0]
    enc2 = {"dtype": "i4", "bdata": base64.b64encode(np.arange(6, dtype="i4").tobytes()).decode(),
            "shape": "2, 3"}
    assert decode(enc2).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert list(decode(["a", "b"])) == ["a", "b"]


def test_synthetic_result_is_consistent(tmp_path):
    r = make_result()
    spans = r.layers["end_s"] - r.layers["start_s"]
    assert np.allclose(spans, r.layers["compute_s"] + r.layers["stall_s"])
    split = r.layers[[c for c in r.layers if c.startswith("stall_") and c != "stall_s"]].sum(axis=1)
    assert np.allclose(split, r.layers["stall_s"])
    assert np.allclose(r.frames["latency_s"], r.frames["end_s"] - r.frames["arrival_s"])
    again = Result.load(r.save(tmp_path / "run"))
    assert again.summary["latency_s"] == r.summary["latency_s"]
    assert again.resolved_config["hardware"]["name"] == "Raspberry Pi 5"


def make_sweep_df(seed=0, failed=1) -> pd.DataFrame:
    """A sweep results table: L2 size × clock grid, metrics consistent with a deadline of 10 ms."""
    rng = np.random.default_rng(seed)
    rows = []
    i = 0
    for size in ("256 KiB", "512 KiB", "1 MiB", "2 MiB"):
        for clock in ("1.5 GHz", "2.4 GHz", "800 MHz"):
            lat = 0.004 + 0.01 * rng.uniform(0.2, 1.0) * (1.5 if clock == "800 MHz" else 1.0)
            rows.append({"id": f"p{i:03d}", "hardware.memory.levels.L2.size": size,
                         "hardware.compute.clock": clock, "latency_s": lat,
                         "latency_p99_s": lat * 0.98, "deadline_s": 0.010, "met": lat <= 0.010,
                         "slack_s": 0.010 - lat, "dram_bytes": int(rng.integers(1e6, 9e6)),
                         "energy_j": float(rng.uniform(0.01, 0.05)), "status": "ok", "error": None})
            i += 1
    df = pd.DataFrame(rows)
    for k in range(failed):
        df.loc[k, ["latency_s", "latency_p99_s", "slack_s", "energy_j"]] = np.nan
        df.loc[k, "status"] = "failed"
        df.loc[k, "error"] = "InfeasibleError: arena does not fit"
    from memsim.analysis.pareto import pareto_front

    ok = df[df["status"] == "ok"]
    df["pareto"] = df.index.isin(pareto_front(ok, {"latency_s": "min", "energy_j": "min"}))
    return df
