"""Calibrate a preset + runtime to measurements: simulate, fit, write the calibrated preset.

``calibrate(measurements, hardware_path, ...) -> Calibrated`` runs every measurement through the
full simulator in its own context (unit, runtime, threads, dtype, batch, resolution), fits the
free parameters (``memsim.runtime.calibrate``) and computes the leave-one-out error;
``write_calibrated(cal, hardware_path, out)`` writes the preset with the fitted values and the
residuals in comments.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from memsim.errors import InputError
from memsim.fileio import publish_mode
from memsim.runtime import calibrate as fitlib
from memsim.runtime.apply import RuntimeSettings, algorithm_of, settings_for
from memsim.runtime.overheads import layer_fixed_s
from memsim.runtime.profiles import KERNELS, get_profile

RUNTIME_KEYS = ("op_overhead_s", "barrier_s", "allcore_clock_fraction") + tuple(
    f"efficiency_{k}" for k in KERNELS)


@dataclass
class Calibrated:
    """The outcome: the ``fit``, the measurements, the (runtime, unit) fitted and the
    hardware it applies to."""

    fit: fitlib.Fit
    measurements: list
    runtime: str
    unit: str
    hardware: object


def context_of(measurements, hardware, runtime: str | None, unit: str | None, path=None):
    """The one (runtime, unit) the measurements share; ``InputError`` at the first row that
    differs (one calibration fits one runtime on one unit)."""
    chosen = None
    for m in measurements:
        u = m.unit or unit or hardware.unit_kind
        if u not in hardware.unit_kinds():
            raise InputError(f"{hardware.name} has no {u} unit (units: "
                             f"{', '.join(hardware.unit_kinds())})", field="unit", path=path,
                             line=m.line)
        view = hardware.for_unit(u)
        r = m.runtime or runtime or view.runtime or "generic"
        try:
            get_profile(r, u)
        except KeyError as exc:
            raise InputError(exc.args[0], field="runtime", path=path, line=m.line) from None
        if chosen is None:
            chosen = (r, u)
        elif chosen != (r, u):
            raise InputError(f"one calibration fits one runtime on one unit: this row is {r} on "
                             f"{u}, earlier rows {chosen[0]} on {chosen[1]}", path=path,
                             line=m.line)
    return chosen


def hardware_at(hardware, runtime: str, unit: str, theta: dict, rows: int):
    """``hardware`` with ``theta`` applied: DRAM bandwidth × ``dram_fraction`` and the runtime
    parameters as its ``calibration``."""
    from memsim.config.hardware import Calibration

    dram = hardware.memory.dram
    frac = theta.get("dram_fraction", 1.0)
    memory = hardware.memory.model_copy(update={"dram": dram.model_copy(
        update={"bandwidth_bytes_per_s": dram.bandwidth_bytes_per_s * frac})})
    params = {k: float(v) for k, v in theta.items() if k in RUNTIME_KEYS}
    cal = Calibration(runtime=runtime, unit=unit, params=params, rows=rows,
                      dram_fraction=min(1.0, frac))
    return hardware.model_copy(update={"memory": memory, "calibration": cal})


def scenario_for(m, hardware, runtime: str, unit: str):
    """A one-frame scenario running measurement ``m`` on ``hardware``."""
    from memsim.config import Scenario

    stream = {"network": m.network, "dtype": m.dtype, "batch": m.batch, "frames": 1}
    if m.threads:
        stream["threads"] = m.threads
    if m.resolution:
        stream["resolution"] = m.resolution
    return Scenario.model_validate({
        "name": f"calibrate-{m.line}", "hardware": hardware, "streams": [stream],
        "runtime": runtime, "unit": unit, "seed": 0,
        "strategies": {"reuse": {"planner": "greedy-by-size"}, "prefetch": {"depth": 1}}})


def row_model(m, scenario, theta: dict) -> fitlib.RowModel:
    """Simulate ``scenario`` and keep its per-layer terms (kernel class, compute, memory
    stall, fixed cost) as the surrogate anchored at ``theta``."""
    from memsim.engine.run import simulate
    from memsim.prepare import load_stream_graph

    result = simulate(scenario, tables=False)
    stream = scenario.streams[0]
    rt = settings_for(stream, scenario.hardware, scenario.runtime, scenario.unit)
    prof = rt.profile()
    graph = load_stream_graph(stream)  # the graph simulated (all network parameters)
    ops = {op.name: op for op in graph.ops}
    fixed = layer_fixed_s(prof.op_overhead_s, rt.threads, prof.barrier_s)
    barrier = fixed - prof.op_overhead_s
    layers = []
    for _, r in result.layers.iterrows():
        op = ops.get(r["name"])
        kernel = algorithm_of(op, prof).kernel if op is not None else "elementwise"
        memory = max(0.0, float(r["stall_s"]) - fixed)
        layers.append(fitlib.LayerTerms(kernel, float(r["compute_s"]), memory,
                                        prof.op_overhead_s, barrier))
    anchor = {"op_overhead_s": prof.op_overhead_s, "barrier_s": prof.barrier_s,
              "allcore_clock_fraction": prof.allcore_clock_fraction,
              "dram_fraction": theta["dram_fraction"],
              **{f"efficiency_{k}": prof.efficiency[k] for k in KERNELS}}
    return fitlib.RowModel(layers, anchor, multithread=rt.threads > 1)


def profile_params(runtime: str, unit: str) -> dict:
    """The profile's own value of every calibratable parameter (``dram_fraction`` 1)."""
    prof = get_profile(runtime, unit)
    theta = {"op_overhead_s": prof.op_overhead_s, "barrier_s": prof.barrier_s,
             "dram_fraction": 1.0, "allcore_clock_fraction": prof.allcore_clock_fraction}
    theta.update({f"efficiency_{k}": prof.efficiency[k] for k in KERNELS})
    return theta


def start_params(runtime: str, unit: str) -> dict:
    """The profile's defaults as the fit's starting point (a zero overhead starts at 1 µs:
    log space needs a positive start; a zero thread barrier only on a CPU, the one unit whose
    runtimes synchronise threads after each layer)."""
    theta = profile_params(runtime, unit)
    theta["op_overhead_s"] = theta["op_overhead_s"] or 1e-6
    theta["barrier_s"] = theta["barrier_s"] or (1e-6 if unit == "cpu" else 0.0)
    return theta


def settle(theta: dict, names, runtime: str, unit: str) -> dict:
    """``theta`` with every parameter outside ``names`` (not fitted) back at the profile's own
    value: the starting point's positive placeholders for zero defaults must not remain in a
    model that did not fit them."""
    exact = profile_params(runtime, unit)
    return {k: (v if k in names else exact.get(k, v)) for k, v in theta.items()}


def calibrate(measurements, hardware, *, runtime=None, unit=None, only=None, path=None,
              loo_groups=None) -> Calibrated:
    """Fit ``hardware`` (a ``Hardware``) + runtime to ``measurements`` (module docstring).

    ``only``: restrict the free parameters to these names. Too few rows for the identifiable
    parameters is an ``InputError`` naming both counts.
    """
    runtime, unit = context_of(measurements, hardware, runtime, unit, path)
    n = len(measurements)
    measured = [m.latency_ms / 1e3 for m in measurements]

    def simulate_rows(theta):
        hw = hardware_at(hardware, runtime, unit, theta, n)
        return [row_model(m, scenario_for(m, hw, runtime, unit), theta) for m in measurements]

    start = start_params(runtime, unit)
    first = simulate_rows(start)
    names = fitlib.free_parameters(first, tuple(only) if only else None)
    need = fitlib.rows_needed(len(names))
    if n < need:
        raise InputError(f"{n} measurement(s) cannot determine {len(names)} free parameters "
                         f"({', '.join(names)}): need at least {need} rows, or fewer "
                         f"parameters (--params)", path=path, line=0)
    settled = settle(start, names, runtime, unit)
    if settled != start:  # a placeholder not fitted: anchor the fit without it
        start, first = settled, simulate_rows(settled)
    result = fitlib.fit(simulate_rows, measured, start, names, models=first)
    result.loo_factors = fitlib.leave_one_out(result, measured, loo_groups)
    return Calibrated(result, list(measurements), runtime, unit, hardware)


def _fmt(name: str, value: float) -> str:
    if name.endswith("_s"):
        return f"{value * 1e6:.4g} µs"
    return f"{value:.4g}"


def calibrated_yaml(cal: Calibrated, source_text: str, source_name: str) -> str:
    """The preset text with the fitted DRAM bandwidth and a ``calibration`` block whose comments
    give every measurement's residual."""
    from ruamel.yaml import YAML

    fit = cal.fit
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(source_text)
    data["name"] = f"{data['name']} (calibrated)"
    frac = fit.params.get("dram_fraction", 1.0)
    if frac != 1.0:
        bw = cal.hardware.memory.dram.bandwidth_bytes_per_s * frac
        data["memory"]["dram"]["bandwidth"] = f"{bw / 1e9:.4g} GB/s"
        data["memory"]["dram"].yaml_add_eol_comment(
            f"calibrated: {frac:.3f} of the preset's bandwidth sustained", "bandwidth")
    if "calibration" in data:  # calibrating a calibrated preset replaces the old fit
        del data["calibration"]
    buf = io.StringIO()
    yaml.dump(data, buf)
    loo = fit.loo_median_factor
    lines = [f"# memsim calibrate: {cal.runtime} on the {cal.unit} of {source_name}, fitted to "
             f"{len(cal.measurements)} measurements",
             f"# free parameters: {', '.join(fit.names) or 'none'}; median error factor "
             f"{fit.median_factor:.3f}x" + (f", leave-one-out {loo:.3f}x" if loo else ""),
             "# residuals (predicted / measured):"]
    loo_factors = fit.loo_factors or [None] * len(cal.measurements)
    for m, p, lf in zip(cal.measurements, fit.predicted_s, loo_factors):
        lines.append(f"#   line {m.line}: {m.network} {m.dtype} threads={m.threads or 'all'}: "
                     f"measured {m.latency_ms:.4g} ms, fitted {p * 1e3:.4g} ms "
                     f"(x{p * 1e3 / m.latency_ms:.3f})"
                     + (f", left out {lf:.3f}x" if lf is not None and not math.isnan(lf) else ""))
    lines += ["calibration:", f"  runtime: {cal.runtime}", f"  unit: {cal.unit}",
              "  params:"]
    for k in fit.names:
        if k in RUNTIME_KEYS:
            lines.append(f"    {k}: {fit.params[k]:.6g}    # {_fmt(k, fit.params[k])}")
    if not any(k in RUNTIME_KEYS for k in fit.names):
        lines[-1] = "  params: {}"
    lines.append(f"  rows: {len(cal.measurements)}")
    if loo:
        lines.append(f"  loo_median_error: {max(1.0, loo):.4f}")
    lines.append(f"  dram_fraction: {min(1.0, frac):.4f}")
    return buf.getvalue() + "\n".join(lines) + "\n"


def write_calibrated(cal: Calibrated, hardware_path, out) -> Path:
    """Write the calibrated preset to ``out`` atomically and check it loads back."""
    from memsim.config import load_hardware

    src = Path(hardware_path)
    text = calibrated_yaml(cal, src.read_text(encoding="utf-8"), src.name)
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".yaml")
    publish_mode(tmp)  # mkstemp's 0600 would leave the preset readable by its owner only
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        load_hardware(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
