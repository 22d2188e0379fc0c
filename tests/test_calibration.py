"""memsim calibrate: planted parameters are recovered; bad measurement files are located errors."""

from pathlib import Path

import pytest

from memsim.calibration import calibrate, read_measurements
from memsim.calibration.measurements import Measurement
from memsim.calibration import runner
from memsim.cli import main
from memsim.config import load_hardware
from memsim.engine.run import simulate
from memsim.errors import InputError
from memsim.runtime import calibrate as fitlib

ROOT = Path(__file__).resolve().parents[1]
STM32 = ROOT / "configs" / "hardware" / "stm32h743.yaml"
PLANTED = {"op_overhead_s": 35e-6, "efficiency_gemm": 0.6, "efficiency_depthwise": 0.3}
NETS = [("ds_cnn", None), ("person_detect", 64), ("person_detect", 96), ("person_detect", 128),
        ("person_detect", 160)]


def _synthetic(hw, theta) -> list[Measurement]:
    """Measurements the model itself produces at ``theta`` (the planted truth)."""
    rows = [Measurement(2 + i, n, "int8", 1, 1.0, resolution=r) for i, (n, r) in enumerate(NETS)]
    at = runner.hardware_at(hw, "tflite-micro", "cpu", theta, len(rows))
    out = []
    for m in rows:
        s = simulate(runner.scenario_for(m, at, "tflite-micro", "cpu"), tables=False)
        out.append(Measurement(m.line, m.network, m.dtype, m.threads,
                               s.summary["latency_s"] * 1e3, resolution=m.resolution))
    return out


def test_calibration_recovers_planted_parameters_within_2_percent():
    hw = load_hardware(STM32)
    theta = {**runner.start_params("tflite-micro", "cpu"), **PLANTED}
    rows = _synthetic(hw, theta)
    cal = calibrate(rows, hw, runtime="tflite-micro", unit="cpu", only=tuple(PLANTED))
    assert set(cal.fit.names) == set(PLANTED)
    for name, value in PLANTED.items():
        assert cal.fit.params[name] == pytest.approx(value, rel=0.02)
    assert cal.fit.median_factor == pytest.approx(1.0, abs=0.01)
    assert max(cal.fit.loo_factors) < 1.02


def test_surrogate_is_exact_at_its_anchor_and_huber_fit_ignores_an_outlier():
    lt = [fitlib.LayerTerms("gemm", 2e-3, 1e-3, 1e-4), fitlib.LayerTerms("depthwise", 1e-3, 0, 1e-4)]
    anchor = {"op_overhead_s": 1e-4, "dram_fraction": 1.0, "efficiency_gemm": 0.5,
              "efficiency_depthwise": 0.5, "efficiency_winograd": 1, "efficiency_direct": 1,
              "efficiency_elementwise": 1}
    m = fitlib.RowModel(lt, anchor)
    assert m.predict(anchor) == pytest.approx(2e-3 + 1e-3 + 1e-3 + 2e-4)
    # twice the efficiency halves the compute; half the DRAM fraction doubles the stall
    assert m.predict({**anchor, "efficiency_gemm": 1.0}) == pytest.approx(1e-3 + 1e-3 + 1e-3 + 2e-4)
    assert m.predict({**anchor, "dram_fraction": 0.5}) == pytest.approx(2e-3 + 2e-3 + 1e-3 + 2e-4)
    # rows that scale only the overhead: 10 agree on 2x the overhead, one is 3x off
    models = [fitlib.RowModel([fitlib.LayerTerms("gemm", 0.0, 0.0, 1e-4 * k)], anchor)
              for k in range(1, 12)]
    measured = [2e-4 * k for k in range(1, 12)]
    measured[5] *= 3
    theta = fitlib.fit_surrogate(models, measured, ("op_overhead_s",), anchor)
    assert theta["op_overhead_s"] == pytest.approx(2e-4, rel=0.05)


def _csv(tmp_path, text, name="m.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, line, words", [
    ("network,dtype,threads\nds_cnn,int8,1\n", 1, "header lacks latency_ms"),
    ("network,dtype,threads,latency_ms\nds_cnn,int8,1\n", 2, "3 fields"),
    ("network,dtype,threads,latency_ms\nds_cnn,int8,1,10\nresnet9000,int8,1,5\n", 3,
     "unknown network 'resnet9000'"),
    ("network,dtype,threads,latency_ms\nds_cnn,int8,1,0\n", 2, "positive"),
    ("network,dtype,threads,latency_ms\nds_cnn,int8,1,-3.5\n", 2, "positive"),
    ("network,dtype,threads,latency_ms\nds_cnn,int8,1,fast\n", 2, "expected a number"),
    ("network,dtype,threads,latency_ms\nds_cnn,int7,1,5\n", 2, "unknown dtype"),
    ("network,dtype,threads,latency_ms,colour\nds_cnn,int8,1,5,red\n", 1, "unknown column"),
    ("network,dtype,threads,latency_ms\n\"ds_cnn,int8,1,5\n", 2, "1 fields, the header has 4"),
    ("network,dtype,threads,latency_ms\n", 2, "no measurements"),
])
def test_bad_measurement_files_are_located_errors(tmp_path, text, line, words):
    path = _csv(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_measurements(path)
    assert str(err.value).startswith(f"{path}:{line}:") and words in str(err.value)


def test_calibrate_cli_bad_inputs_exit_2_with_file_line_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    bad = _csv(tmp_path, "network,dtype,threads,latency_ms\nds_cnn,int8,1,10\nnope,int8,1,5\n")
    assert main(["calibrate", str(bad), "--hardware", str(STM32), "--out", str(out)]) == 2
    assert f"{bad}:3:" in capsys.readouterr().err and not out.exists()
    few = _csv(tmp_path, "network,dtype,threads,latency_ms\nds_cnn,int8,1,10\n"
                         "person_detect,int8,1,30\n", "few.csv")
    assert main(["calibrate", str(few), "--hardware", str(STM32), "--out", str(out),
                 "--params", "op_overhead_s,efficiency_gemm,efficiency_depthwise"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{few}:") and "2 measurement(s) cannot determine 3 free parameters" in err
    assert "need at least 4 rows" in err and not out.exists()
    assert main(["calibrate", str(few), "--hardware", str(STM32), "--out", str(out),
                 "--params", "speed"]) == 2
    assert "unknown parameter 'speed'" in capsys.readouterr().err


def test_calibrated_preset_loads_and_run_says_it_is_calibrated(tmp_path, capsys):
    hw = load_hardware(STM32)
    rows = _synthetic(hw, {**runner.start_params("tflite-micro", "cpu"), **PLANTED})
    lines = ["network,dtype,threads,latency_ms,resolution"]
    lines += [f"{m.network},int8,1,{m.latency_ms:.6f},{m.resolution or ''}" for m in rows]
    csv = _csv(tmp_path, "\n".join(lines) + "\n")
    out = tmp_path / "stm32-cal.yaml"
    assert main(["calibrate", str(csv), "--hardware", str(STM32), "--out", str(out),
                 "--params", "op_overhead_s,efficiency_gemm,efficiency_depthwise"]) == 0
    printed = capsys.readouterr().out
    assert "leave-one-out median error" in printed
    text = out.read_text()
    assert "# residuals (predicted / measured):" in text and "line 2: ds_cnn" in text
    cal = load_hardware(out).calibration
    assert cal.runtime == "tflite-micro" and cal.rows == 5
    assert cal.params["efficiency_gemm"] == pytest.approx(0.6, rel=0.02)
    scen = tmp_path / "s.yaml"
    scen.write_text(f"name: s\nhardware: {out}\nstreams:\n  - {{network: ds_cnn, dtype: int8}}\n")
    assert main(["run", str(scen), "--no-save"]) == 0
    shown = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "calibrated: tflite-micro on cpu fitted to 5 measurements" in shown
    assert "runtime tflite-micro on the cpu" in shown


def test_surrogate_applies_the_allcore_clock_only_to_multi_thread_rows():
    anchor = {"op_overhead_s": 1e-4, "barrier_s": 1e-6, "dram_fraction": 1.0,
              "allcore_clock_fraction": 1.0, "efficiency_gemm": 1.0}
    lt = [fitlib.LayerTerms("gemm", 1e-3, 0.0, 1e-4, 2e-6)]
    one, many = fitlib.RowModel(lt, anchor), fitlib.RowModel(lt, anchor, multithread=True)
    slow = {**anchor, "allcore_clock_fraction": 0.5}
    assert one.predict(slow) == pytest.approx(1e-3 + 1e-4 + 2e-6)
    assert many.predict(slow) == pytest.approx(2e-3 + 1e-4 + 2e-6)
    assert many.predict({**anchor, "barrier_s": 2e-6}) == pytest.approx(1e-3 + 1e-4 + 4e-6)


def test_calibrate_refuses_mixed_runtimes_and_missing_units_at_their_line(tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    mixed = _csv(tmp_path, "network,dtype,threads,latency_ms,runtime\nds_cnn,int8,1,10,tflite-micro\n"
                           "ds_cnn,int8,1,11,generic\n")
    assert main(["calibrate", str(mixed), "--hardware", str(STM32), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{mixed}:3:") and "one runtime on one unit" in err
    gpu = _csv(tmp_path, "network,dtype,threads,latency_ms,unit\nds_cnn,int8,1,10,gpu\n", "g.csv")
    assert main(["calibrate", str(gpu), "--hardware", str(STM32), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{gpu}:2:") and "has no gpu unit" in err and not out.exists()


def test_unfitted_parameters_stay_at_the_profiles_values():
    # the fit starts a zero overhead at a positive placeholder (log space); a parameter it does
    # not fit must go back to the profile's value, and a GPU runtime gets no thread barrier
    start = runner.start_params("generic", "cpu")
    assert start["op_overhead_s"] == start["barrier_s"] == 1e-6
    assert runner.start_params("tensorrt", "gpu")["barrier_s"] == 0.0
    settled = runner.settle(start, ("op_overhead_s",), "generic", "cpu")
    assert settled["op_overhead_s"] == 1e-6 and settled["barrier_s"] == 0.0
    assert runner.settle(start, (), "generic", "cpu") == runner.profile_params("generic", "cpu")
