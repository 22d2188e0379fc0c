"""Whole runs through `memsim.simulate`, each checked against an answer computed without the engine."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import memsim
from memsim.cli import main
from memsim.config import load_scenario
from memsim.engine.result import Result
from memsim.errors import InfeasibleError, InputError
from memsim.mapping import compute_cycles_systolic

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "configs" / "hardware"


def scenario_file(tmp_path, hardware, streams, strategies="", name="t", extra=""):
    text = f"name: {name}\nhardware: {hardware}\nstreams:\n{streams}\n{strategies}\n{extra}\nseed: 3\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def csv_network(tmp_path, rows, name="net.csv"):
    path = tmp_path / name
    path.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                    "Num Filter, Strides,\n" + "\n".join(rows) + "\n")
    return path


BIG_CPU = """
name: big-cpu
compute: {cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 16}}
memory:
  levels:
    - {name: L1, kind: cache, size: 1 MiB, line: 64 B, ways: 16, latency: 1 cycles, bandwidth: 4096 B/cycle, scope: core, mshrs: 4096}
  dram: {name: fast, bandwidth: 4000 GB/s, latency: 1 ns, channels: 1}
"""

SYSTOLIC = """
name: npu
compute:
  cores: 1
  clock: 1 GHz
  kind: systolic
  macs_per_cycle: {int8: 1024}
  systolic: {rows: 32, cols: 32, dataflow: ws}
memory:
  levels:
    - {name: SPM, kind: scratchpad, size: 64 MiB, latency: 1 cycles, bandwidth: 65536 B/cycle, scope: core}
  dram: {name: fast, bandwidth: 100000 GB/s, latency: 1 ns, channels: 1}
"""


SYSTOLIC_256_OS = SYSTOLIC.replace("rows: 32, cols: 32, dataflow: ws", "rows: 256, cols: 256, dataflow: os") \
    .replace("int8: 1024", "int8: 65536")


def test_systolic_run_matches_scalesim_quoted_cycles(tmp_path):
    """SCALE-Sim 3.0.0 on a 256x256 os array: Conv1 31,535 and Conv2_1a 13,031 cycles
    (stall-free Total Cycles; shared/notes/scalesim.md). Ample bandwidth: the engine's layer
    times are those cycles at 1 GHz."""
    (tmp_path / "npu.yaml").write_text(SYSTOLIC_256_OS)
    net = csv_network(tmp_path, ["Conv1,224,224,7,7,3,64,2,", "Conv2_1a,56,56,3,3,64,64,1,"])
    path = scenario_file(tmp_path, "npu.yaml", f"  - {{network: {net.name}, dtype: int8}}")
    layers = memsim.simulate(path).layers
    assert layers["compute_cycles"].tolist() == [31_535, 13_031]
    durations = (layers["end_s"] - layers["start_s"]).to_numpy()
    assert durations == pytest.approx(np.array([31_535, 13_031]) * 1e-9, rel=0.01)


def test_compute_bound_layer_takes_macs_over_peak(tmp_path):
    (tmp_path / "hw.yaml").write_text(BIG_CPU)
    # K = 64 filters: a multiple of the 16 lanes, so utilisation is 1.
    net = csv_network(tmp_path, ["conv,58,58,3,3,64,64,1,"])
    path = scenario_file(tmp_path, "hw.yaml", f"  - {{network: {net.name}, dtype: int8}}")
    result = memsim.simulate(path)
    layer = result.layers.iloc[0]
    macs = 56 * 56 * 3 * 3 * 64 * 64
    assert layer["macs"] == macs
    expected = macs / 16 / 1e9  # MACs / (16 MAC/cycle at 1 GHz)
    assert layer["compute_s"] == pytest.approx(expected, rel=0.01)
    assert result.summary["latency_s"] == pytest.approx(expected, rel=0.01)
    assert layer["bound"] == "compute"


def test_systolic_run_with_ample_bandwidth_reproduces_scalesim_cycles(tmp_path):
    (tmp_path / "npu.yaml").write_text(SYSTOLIC)
    rows = ["Conv1,224,224,7,7,3,64,2,", "Conv2_1a,56,56,3,3,64,64,1,"]
    net = csv_network(tmp_path, rows)
    path = scenario_file(tmp_path, "npu.yaml", f"  - {{network: {net.name}, dtype: int8}}")
    result = memsim.simulate(path)
    scenario = load_scenario(path)
    from memsim.workloads import load_network

    graph = load_network(str(tmp_path / net.name), batch=1, dtype="int8")
    for op, (_, layer) in zip([o for o in graph.ops if o.loops is not None], result.layers.iterrows()):
        cycles = compute_cycles_systolic(op, 32, 32, "ws")
        assert layer["compute_cycles"] == pytest.approx(cycles, rel=1e-9)
        # Ample bandwidth: the layer takes its compute cycles at 1 GHz, within 1%.
        assert layer["end_s"] - layer["start_s"] == pytest.approx(cycles * 1e-9, rel=0.01)
    assert scenario.hardware.compute.kind == "systolic"


def test_reuse_shows_as_fewer_dram_writebacks_of_dead_activations(tmp_path):
    """planner none vs greedy-by-size on the Pi 5 preset.

    With one buffer per tensor, every activation's dirty lines are eventually evicted and written
    back to DRAM even though nobody reads them again. With a reuse plan, the next tensor is
    written to the same addresses: its stores hit the dead dirty lines in the caches, which are
    overwritten instead of written back. So the reuse plan writes less to DRAM.
    """
    runs = {}
    for planner in ("none", "greedy-by-size"):
        path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                             "  - {network: mobilenet_v2, dtype: int8, resolution: 160}",
                             f"strategies: {{reuse: {{planner: {planner}}}}}", name=f"reuse-{planner}")
        runs[planner] = memsim.simulate(path)
    writes = {k: int(r.layers["dram_write_bytes"].sum()) for k, r in runs.items()}
    assert writes["greedy-by-size"] < writes["none"]
    peak = {k: r.summary["peak_activation_bytes"] for k, r in runs.items()}
    assert peak["greedy-by-size"] < peak["none"]


def _fingerprint(result):
    return (json.dumps(result.summary, sort_keys=True, default=str),
            pd.util.hash_pandas_object(result.layers, index=False).sum(),
            pd.util.hash_pandas_object(result.frames, index=False).sum())


def test_same_scenario_and_seed_give_identical_results(tmp_path):
    path = scenario_file(tmp_path, HW / "rk3588-cpu.yaml",
                         "  - {network: person_detect, dtype: int8, frames: 3, period: 5 ms, jitter: 1 ms, deadline: 5 ms}",
                         extra="background:\n  - {bandwidth: 2 GB/s, burst: 4 KiB, pattern: poisson}")
    first, second = memsim.simulate(path), memsim.simulate(path)
    assert _fingerprint(first) == _fingerprint(second)
    code = ("import memsim, json, sys; r = memsim.simulate(sys.argv[1]); "
            "print(json.dumps(r.to_json(), sort_keys=True))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    other = json.loads(out.stdout)
    mine = json.loads(json.dumps(first.to_json(), sort_keys=True))
    assert other == mine


def test_jitter_and_period_shape_the_frames(tmp_path):
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                         "  - {network: person_detect, dtype: int8, frames: 4, period: 10 ms, jitter: 2 ms, deadline: 10 ms}")
    frames = memsim.simulate(path).frames
    offsets = frames["arrival_s"].to_numpy() - np.arange(4) * 10e-3
    assert np.all(offsets >= 0) and np.all(offsets < 2e-3)
    assert np.all(frames["start_s"] >= frames["arrival_s"] - 1e-15)
    assert np.allclose(frames["latency_s"], frames["end_s"] - frames["arrival_s"], rtol=0, atol=1e-15)


def test_unsupported_dtype_is_a_clear_error(tmp_path):
    path = scenario_file(tmp_path, HW / "coral-edge-tpu.yaml", "  - {network: person_detect, dtype: fp32}")
    with pytest.raises(InfeasibleError, match="fp32"):
        memsim.simulate(path)
    assert main(["run", str(path), "--no-save"]) == 2


def test_arena_larger_than_memory_names_limit_and_need(tmp_path):
    text = (HW / "stm32h743.yaml").read_text()
    (tmp_path / "mcu.yaml").write_text(text)
    path = scenario_file(tmp_path, "mcu.yaml", "  - {network: resnet18, dtype: int8}")
    with pytest.raises(InputError) as err:
        memsim.simulate(path)
    message = str(err.value)
    assert "MiB" in message or "KiB" in message


def test_results_round_trip_through_parquet(tmp_path):
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml", "  - {network: person_detect, dtype: int8, frames: 2}")
    result = memsim.simulate(path)
    out = result.save(tmp_path / "out")
    loaded = Result.load(out)
    pd.testing.assert_frame_equal(loaded.layers, result.layers)
    pd.testing.assert_frame_equal(loaded.frames, result.frames)
    assert loaded.summary["latency_s"] == result.summary["latency_s"]
    assert (out / "scenario.resolved.yaml").exists()
    assert load_scenario(out / "scenario.resolved.yaml").hardware == load_scenario(path).hardware


def test_run_cli_json_has_the_documented_shape(tmp_path, capsys):
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                         "  - {network: person_detect, dtype: int8, frames: 2, deadline: 10 ms}")
    assert main(["run", str(path), "--json", "--out", str(tmp_path / "res")]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("name", "latency_s", "latency_p50_s", "latency_p99_s", "deadline_s", "slack_s",
                "miss_rate", "met", "energy_j", "dram_bytes", "peak_activation_bytes",
                "compute_cycles", "results_dir", "layers"):
        assert key in data
    assert data["deadline_s"] == pytest.approx(0.01)
    assert data["slack_s"] == pytest.approx(0.01 - data["latency_s"])
    assert isinstance(data["dram_bytes"], int)
    assert {"name", "op", "start_s", "end_s", "compute_s", "stall_s", "dram_bytes", "bound"} <= set(data["layers"][0])
    assert (tmp_path / "res" / "layers.parquet").exists()


def test_missed_deadline_exit_code_only_with_fail_on_miss(tmp_path):
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                         "  - {network: person_detect, dtype: int8, deadline: 1 us}")
    assert main(["run", str(path), "--no-save", "--json"]) == 0
    assert main(["run", str(path), "--no-save", "--json", "--fail-on-miss"]) == 3


STREAM_HW = """
name: dram-only
compute: {cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 100000}}
memory:
  levels:
    - {name: SPM, kind: scratchpad, size: 64 KiB, latency: 1 cycles, bandwidth: 100000 B/cycle, scope: core, mshrs: 100000}
  dram: {name: d, bandwidth: 10 GB/s, latency: 100 ns, channels: 1}
"""


def test_dram_bound_streaming_layer_takes_bytes_over_bandwidth_plus_latency(tmp_path):
    """A 1 MiB relu on a DRAM-only config: every byte crosses DRAM once each way."""
    (tmp_path / "hw.yaml").write_text(STREAM_HW)
    (tmp_path / "net.yaml").write_text(
        "name: stream\ninputs: {x: [1, 64, 128, 128]}\nlayers:\n  - {name: r, op: relu}\n")
    path = scenario_file(tmp_path, "hw.yaml", "  - {network: net.yaml, dtype: int8}")
    result = memsim.simulate(path)
    layer = result.layers.iloc[0]
    assert layer["dram_bytes"] == 2 * 64 * 128 * 128  # read the input, write the output
    expected = layer["dram_bytes"] / 10e9 + 100e-9
    assert layer["end_s"] - layer["start_s"] == pytest.approx(expected, rel=0.01)
    assert layer["bound"] == "dram"


def test_two_stream_summary_reports_the_critical_stream(tmp_path):
    """The summary's latency and deadline belong together: those of the stream with least slack."""
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                         "  - {network: person_detect, dtype: int8, frames: 2, deadline: 50 ms, cores: [0, 1]}\n"
                         "  - {network: ds_cnn, dtype: int8, frames: 3, deadline: 1 ms, cores: [2, 3]}")
    result = memsim.simulate(path)
    s = result.summary
    per = {st["stream"]: st for st in s["streams"]}
    assert [per[0]["frames"], per[1]["frames"]] == [2, 3]
    critical = min(per.values(), key=lambda st: st["slack_s"])
    assert s["critical_stream"] == critical["stream"]
    assert s["deadline_s"] == critical["deadline_s"]
    assert s["slack_s"] == pytest.approx(s["deadline_s"] - s["latency_s"])
    for st in per.values():
        frames = result.frames[result.frames["stream"] == st["stream"]]
        assert st["latency_s"] == frames["latency_s"].max()
        layers = result.layers[result.layers["stream"] == st["stream"]]
        assert st["dram_bytes"] == round(layers["dram_bytes"].sum() / len(frames))
    assert s["dram_bytes"] == per[0]["dram_bytes"] + per[1]["dram_bytes"]


@pytest.mark.parametrize("hardware, streams", [
    ("raspberry-pi-5.yaml",
     "  - {network: person_detect, dtype: int8, frames: 2, cores: [0], period: 5 ms, jitter: 1 ms}"),
    ("intel-core-i7-13700.yaml",
     "  - {network: person_detect, dtype: int8, frames: 2}\n"
     "  - {network: ds_cnn, dtype: int8, frames: 2, period: 4 ms}"),
])
def test_lazy_refresh_windows_and_summary_only_runs_equal_the_full_run(tmp_path, monkeypatch,
                                                                         hardware, streams):
    """Refresh windows simulated lazily (default) or each by the refresh process, and a run
    without the timeline/memory tables (sweeps): the same results to the bit."""
    import memsim.engine.run as run_mod

    path = scenario_file(tmp_path, HW / hardware, streams,
                         extra="background:\n  - {bandwidth: 1 GB/s, burst: 4 KiB, pattern: poisson}")
    lazy = memsim.simulate(path)
    exact = run_mod.simulate(path, exact_refresh=True)
    assert lazy.summary == exact.summary
    for name in ("layers", "frames", "timeline", "memory"):
        pd.testing.assert_frame_equal(getattr(lazy, name), getattr(exact, name), check_exact=True)
    lean = run_mod.simulate(path, tables=False)
    assert lean.summary == exact.summary
    pd.testing.assert_frame_equal(lean.layers, exact.layers, check_exact=True)


def test_resolved_config_reproduces_the_run(tmp_path):
    """Re-running the saved scenario.resolved.yaml gives the same numbers (defaults written out)."""
    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml", "  - {network: person_detect, dtype: int8}")
    first = memsim.simulate(path)
    out = first.save(tmp_path / "res")
    again = memsim.simulate(out / "scenario.resolved.yaml")
    assert again.summary["latency_s"] == first.summary["latency_s"]
    assert again.summary["dram_bytes"] == first.summary["dram_bytes"]


def test_a_refresh_hazard_runs_the_scenario_again_with_every_window(tmp_path, monkeypatch):
    """When a lazily refreshed link cannot order a window exactly it gives up; the run is
    repeated with the refresh process and equals it."""
    import memsim.engine.run as run_mod
    from memsim.engine.links import SharedLink

    path = scenario_file(tmp_path, HW / "raspberry-pi-5.yaml",
                         "  - {network: person_detect, dtype: int8, frames: 1, cores: [0]}")
    original, calls = SharedLink._catch_up, [0]

    def catch_up(self):
        calls[0] += 1
        if calls[0] == 40:
            self._hazard("forced")
        return original(self)

    monkeypatch.setattr(SharedLink, "_catch_up", catch_up)
    retried = memsim.simulate(path)
    assert calls[0] >= 40
    monkeypatch.setattr(SharedLink, "_catch_up", original)
    exact = run_mod.simulate(path, exact_refresh=True)
    assert retried.summary == exact.summary
    pd.testing.assert_frame_equal(retried.layers, exact.layers, check_exact=True)
