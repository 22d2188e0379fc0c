"""Leave-one-network-out calibrated predictions for ``fidelity.py``.

Rows are grouped by board context: preset, unit, runtime and the measured setup (one board
with one software stack, ``fidelity_rows._setup``), as a user calibrating their own board has
them — two boards of one chip (an Android RK3588 and a Rock 5B, a Coral Dev Board and a USB
Accelerator) or two stacks on one board are two calibrations. For each network of a group, the
group's free parameters (memsim.runtime.calibrate) are fitted to the rows of the *other*
networks — on layer surrogates anchored at the shipped defaults — and the held-out network's rows
are then predicted by a full simulation at the fitted parameters. A group needs rows of at least
two networks and enough rows for its identifiable parameters; rows of other groups are reported
as not calibrated.
"""

from __future__ import annotations

from fidelity import hardware_data
from fidelity_rows import Row


def _measurement(row: Row):
    from memsim.calibration.measurements import Measurement

    return Measurement(row.line, row.network, row.dtype, row.threads, row.latency_ms,
                       resolution=row.params.get("resolution"))


def _scenario(row: Row, hw, runtime, unit):
    from memsim.config import Scenario

    stream = {"network": row.network, "dtype": row.dtype, "frames": 1, **row.params}
    if row.threads:
        stream["threads"] = row.threads
    return Scenario.model_validate({
        "name": f"loo-{row.line}", "hardware": hw, "streams": [stream], "runtime": runtime,
        "unit": unit, "seed": 0,
        "strategies": {"reuse": {"planner": "greedy-by-size"}, "prefetch": {"depth": 1},
                       **row.strategies}})


def loo_results(results: list[tuple[Row, float]], by_setup: bool = True) -> tuple[list, dict]:
    """(row, leave-one-network-out prediction ms) for every calibratable row; skipped counts.
    ``by_setup=False``: groups by preset, unit, runtime and clock only (every board and
    software stack of a preset in one calibration, as before 2026-12-04)."""
    from memsim.config import Hardware, validate_data
    from memsim.runtime import calibrate as fitlib
    from memsim.calibration import runner

    groups: dict = {}
    for row, _ in results:
        key = (row.preset, row.unit, row.runtime, row.clock_hz, row.setup if by_setup else "")
        groups.setdefault(key, []).append(row)
    out, skipped = [], {}
    for (preset, unit, runtime, _, _), rows in groups.items():
        nets = sorted({r.network for r in rows})
        hw = validate_data(Hardware, hardware_data(rows[0]))
        start = runner.start_params(runtime, unit)
        base = runner.hardware_at(hw, runtime, unit, start, len(rows))
        models = [runner.row_model(_measurement(r), _scenario(r, base, runtime, unit), start)
                  for r in rows]
        ok = len(nets) >= 2
        for net in nets if ok else ():
            keep = [i for i, r in enumerate(rows) if r.network != net]
            names = fitlib.free_parameters([models[i] for i in keep])
            if len(keep) < fitlib.rows_needed(len(names)):
                names = names[:max(0, len(keep) - 1)]
            theta = fitlib.fit_surrogate([models[i] for i in keep],
                                         [rows[i].latency_ms / 1e3 for i in keep], names, start)
            theta = runner.settle(theta, names, runtime, unit)
            fitted = runner.hardware_at(hw, runtime, unit, theta, len(keep))
            for r in rows:
                if r.network == net:
                    from memsim.engine.run import simulate

                    p = simulate(_scenario(r, fitted, runtime, unit), tables=False)
                    out.append((r, p.summary["latency_s"] * 1e3))
        if not ok:
            for r in rows:
                skipped[r.cls] = skipped.get(r.cls, 0) + 1
    return out, skipped
