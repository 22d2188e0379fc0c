"""``memsim calibrate MEASUREMENTS.csv --hardware BOARD.yaml --out CALIBRATED.yaml``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


@app.command("calibrate")
def calibrate_command(
    measurements: Path = typer.Argument(..., help="CSV: network,dtype,threads,latency_ms "
                                                  "[,batch,runtime,unit,resolution]."),
    hardware: Path = typer.Option(..., "--hardware", help="Preset YAML (or preset name) to calibrate."),
    out: Path = typer.Option(..., "--out", help="Where to write the calibrated preset YAML."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="Runtime of rows without one."),
    unit: Optional[str] = typer.Option(None, "--unit", help="Unit of rows without one (cpu|gpu|npu)."),
    params: Optional[str] = typer.Option(None, "--params", help="Comma-separated free parameters "
                                         "to fit (default: every one the data identifies)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Fit a preset's runtime parameters to measured latencies; print the leave-one-out error."""
    from memsim.calibration import calibrate, read_measurements, write_calibrated
    from memsim.config import load_hardware, preset_path
    from memsim.config.hardware import RUNTIMES, UNIT_KINDS
    from memsim.errors import InputError
    from memsim.runtime.calibrate import BOUNDS

    if runtime is not None and runtime not in RUNTIMES:
        raise InputError(f"unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})",
                         field="--runtime")
    if unit is not None and unit not in UNIT_KINDS:
        raise InputError(f"unknown unit {unit!r} (known: {', '.join(UNIT_KINDS)})", field="--unit")
    only = None
    if params:
        only = [p.strip() for p in params.split(",") if p.strip()]
        bad = [p for p in only if p not in BOUNDS]
        if bad:
            raise InputError(f"unknown parameter {bad[0]!r} (known: {', '.join(BOUNDS)})",
                             field="--params")
    if out.is_dir():
        raise InputError("is a directory; give a file name for the calibrated preset",
                         field="--out", path=out)
    if not out.parent.is_dir():
        raise InputError("folder does not exist", field="--out", path=out)
    hw_path = preset_path(hardware)
    hw = load_hardware(hw_path)
    rows = read_measurements(measurements)
    cal = calibrate(rows, hw, runtime=runtime, unit=unit, only=only, path=measurements)
    write_calibrated(cal, hw_path, out)
    fit = cal.fit
    if json_:
        emit_json({"runtime": cal.runtime, "unit": cal.unit, "params": fit.params,
                   "free": list(fit.names), "median_error": fit.median_factor,
                   "loo_median_error": fit.loo_median_factor, "loo_factors": fit.loo_factors,
                   "rows": [{"line": m.line, "network": m.network, "measured_ms": m.latency_ms,
                             "fitted_ms": p * 1e3} for m, p in zip(rows, fit.predicted_s)],
                   "out": str(out)})
        return
    typer.echo(f"calibrated {cal.runtime} on the {cal.unit} of {hw.for_unit(cal.unit).name} to {len(rows)} "
               f"measurements ({fit.iterations} simulation rounds)")
    for name in fit.names:
        value = fit.params[name]
        shown = f"{value * 1e6:.4g} µs" if name.endswith("_s") else f"{value:.4g}"
        typer.echo(f"  {name:24s} {shown}")
    for m, p, lf in zip(rows, fit.predicted_s, fit.loo_factors or [None] * len(rows)):
        left = f"  left out: {lf:.3f}x" if lf is not None and not math.isnan(lf) else ""
        typer.echo(f"  line {m.line:3d} {m.network:16s} measured {m.latency_ms:9.4g} ms  "
                   f"fitted {p * 1e3:9.4g} ms{left}")
    loo = fit.loo_median_factor
    typer.echo(f"median error {fit.median_factor:.3f}x; leave-one-out median error "
               f"{loo:.3f}x" if loo else f"median error {fit.median_factor:.3f}x")
    typer.echo(f"wrote {out}")
