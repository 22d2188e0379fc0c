"""Fidelity: memsim's batch-1 latency against published measurements of real devices.

Usage: python benchmarks/fidelity.py [--csv PATH] [--rows] [--only SUBSTRING] [--no-calibrated]
                                     [--calibrated-only] [--group-by-preset] [--before]

Every row of ``../shared/data/measurements/published-latency.csv`` runs in its own execution
context (preset, unit, runtime, threads, dtype, network parameters, the measured board's clock;
see ``fidelity_rows.py``), one frame, and the table gives per device class (MCU, CPU, GPU, NPU)
and overall: the median error factor ``max(p/m, m/p)``, the bias (median ``p/m``) and the
share of rows within 1.25x and 1.5x. Rows that cannot be run are counted and listed with the
reason, never dropped silently. With calibration (default), each network's rows are predicted
by a model calibrated on the other networks measured on the same setup — one board with one
software stack, as a user calibrating their own board has it (leave one network out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fidelity_rows import DEFAULT_CSV, Row, load_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("MCU", "CPU", "GPU", "NPU")


def scenario_data(row: Row, hardware: dict, before: bool = False) -> dict:
    """The scenario (raw data) that runs ``row`` in its context on ``hardware`` (raw data).

    ``before``: memsim as it was before the runtime stage — ``runtime: generic``, the preset's
    own unit, threads as a core list.
    """
    stream = {"network": row.network, "dtype": row.dtype, "frames": 1, **row.params}
    data = {"name": f"fidelity-{row.line}", "hardware": hardware, "streams": [stream],
            "strategies": {"reuse": {"planner": "greedy-by-size"}, "prefetch": {"depth": 1},
                           **row.strategies},
            "seed": 0}
    if before:
        data["runtime"] = "generic"
        if row.threads:
            stream["cores"] = list(range(row.threads))
        return data
    data.update({"unit": row.unit, "runtime": row.runtime})
    if row.threads:
        stream["threads"] = row.threads
    return data


def hardware_data(row: Row) -> dict:
    """The preset's raw data, with the measured board's clock where the row says it differs."""
    from memsim.config import load_yaml, preset_path
    from memsim.config.loader import plain_data

    data = plain_data(load_yaml(preset_path(row.preset)))
    if row.clock_hz:
        data["compute"]["clock"] = f"{row.clock_hz / 1e6:g} MHz"
    return data


def predict_ms(row: Row, hardware: dict | None = None, before: bool = False) -> float:
    """Predicted latency of ``row`` in milliseconds (``InputError``/``InfeasibleError`` when
    the context cannot be run)."""
    from memsim.config import Scenario, validate_data
    from memsim.engine.run import simulate

    hw = hardware if hardware is not None else hardware_data(row)
    data = scenario_data(row, hw, before)
    key = repr({**data, "name": ""})
    if key in _MEMO:
        return _MEMO[key]
    # an in-memory scenario: the path only names the CSV row in messages (no such file)
    scenario = validate_data(Scenario, data, None,
                             source_path=ROOT / f"fidelity-csv-line-{row.line}.yaml")
    _MEMO[key] = simulate(scenario, tables=False).summary["latency_s"] * 1e3
    return _MEMO[key]


#: predictions by context: identical contexts (the same model on two hosts) run once
_MEMO: dict[str, float] = {}


def table(results: list[tuple[Row, float | None]]) -> list[tuple]:
    """Per class and overall: (class, n, median factor, bias, share ≤1.25x, share ≤1.5x)."""
    out = []
    for cls in CLASSES + ("all",):
        ratios = [p / r.latency_ms for r, p in results
                  if p is not None and (cls == "all" or r.cls == cls)]
        if not ratios:
            out.append((cls, 0, None, None, None, None))
            continue
        factors = [max(x, 1 / x) for x in ratios]
        out.append((cls, len(ratios), statistics.median(factors), statistics.median(ratios),
                    sum(f <= 1.25 for f in factors) / len(factors),
                    sum(f <= 1.5 for f in factors) / len(factors)))
    return out


def print_table(title: str, results, skipped: dict) -> None:
    """Markdown table of ``results`` plus the count of rows that could not run per class."""
    print(f"\n### {title}\n")
    print("| class | rows run | not run | median error factor | bias (median p/m) | ≤1.25x | ≤1.5x |")
    print("|---|---|---|---|---|---|---|")
    for cls, n, med, bias, w125, w15 in table(results):
        miss = sum(v for k, v in skipped.items() if cls == "all" or k == cls)
        if not n:
            print(f"| {cls} | 0 | {miss} | – | – | – | – |")
            continue
        print(f"| {cls} | {n} | {miss} | {med:.2f}x | {bias:.2f} | {w125:.0%} | {w15:.0%} |")


def _top_unit(row: Row) -> str:
    from memsim.config import load_hardware, preset_path

    return load_hardware(preset_path(row.preset)).unit_kind


def run_rows(rows: list[Row], verbose: bool, before: bool = False) -> tuple[list, dict, list]:
    """Predict every runnable row; returns (results, skipped count per class, skip lines)."""
    from memsim.errors import InfeasibleError, InputError

    results, skipped, reasons = [], {}, []
    for row in rows:
        if row.skip:
            skipped[row.cls] = skipped.get(row.cls, 0) + 1
            reasons.append(f"line {row.line} {row.key}: {row.skip}")
            continue
        if before and row.unit != _top_unit(row):
            skipped[row.cls] = skipped.get(row.cls, 0) + 1
            reasons.append(f"line {row.line} {row.key}: the preset had no {row.unit} unit")
            continue
        t0 = time.perf_counter()
        try:
            p = predict_ms(row, before=before)
        except (InputError, InfeasibleError) as exc:  # reported, not fatal
            skipped[row.cls] = skipped.get(row.cls, 0) + 1
            reasons.append(f"line {row.line} {row.key}: cannot run: {str(exc).splitlines()[0]}")
            continue
        results.append((row, p))
        if verbose:
            print(f"line {row.line:3d} {row.key:48s} {row.runtime:12s} measured "
                  f"{row.latency_ms:9.3f} ms predicted {p:9.3f} ms  x{p / row.latency_ms:5.2f}"
                  f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return results, skipped, reasons


def calibrated_only(rows: list[Row], by_setup: bool = True) -> int:
    """Print the leave-one-network-out calibrated table alone: the rows that can run (MCU
    rows are tried — they are cheap and one needs more memory than the preset has —, the others
    are taken as runnable unless their context is unsupported)."""
    from fidelity_calibrated import loo_results
    from memsim.errors import InfeasibleError, InputError

    runnable, skipped = [], {}
    for row in rows:
        ok = not row.skip
        if ok and row.cls == "MCU":
            try:
                predict_ms(row)
            except (InputError, InfeasibleError):
                ok = False
        if ok:
            runnable.append((row, None))
        else:
            skipped[row.cls] = skipped.get(row.cls, 0) + 1
    loo, lskipped = loo_results(runnable, by_setup)
    for row, p in loo:
        print(f"line {row.line:3d} {row.key:48s} calibrated: measured {row.latency_ms:9.3f} ms "
              f"predicted {p:9.3f} ms  x{p / row.latency_ms:5.2f}", flush=True)
    print_table("leave-one-network-out calibrated", loo, {**skipped, **lskipped})
    return 0


def main(argv=None) -> int:
    """Print the fidelity table(s)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--rows", action="store_true", help="print every row's prediction")
    ap.add_argument("--only", default=None, help="only rows whose key contains this")
    ap.add_argument("--no-calibrated", action="store_true")
    ap.add_argument("--calibrated-only", action="store_true",
                    help="only the leave-one-network-out calibrated table (e.g. in a second "
                         "process beside a --no-calibrated run)")
    ap.add_argument("--group-by-preset", action="store_true",
                    help="calibrate every board and software stack of a preset together "
                         "(the grouping before 2026-12-04) instead of per measured setup")
    ap.add_argument("--before", action="store_true",
                    help="memsim before the runtime stage (runtime: generic, preset's own unit)")
    args = ap.parse_args(argv)
    rows = load_rows(args.csv)
    if args.only:
        rows = [r for r in rows if args.only in r.key]
    t0 = time.perf_counter()
    if args.calibrated_only:
        return calibrated_only(rows, not args.group_by_preset)
    results, skipped, reasons = run_rows(rows, args.rows, args.before)
    title = "before: runtime generic" if args.before else "uncalibrated (shipped presets)"
    print_table(title, results, skipped)
    print(f"\n{len(results)} rows run, {sum(skipped.values())} not run "
          f"({time.perf_counter() - t0:.0f} s):")
    for line in reasons:
        print(f"- {line}")
    if not args.no_calibrated and not args.before:
        from fidelity_calibrated import loo_results

        loo, lskipped = loo_results(results, not args.group_by_preset)
        print_table("leave-one-network-out calibrated", loo, {**skipped, **lskipped})
        done = {r.line for r, _ in loo}
        every = loo + [(r, p) for r, p in results if r.line not in done]
        print_table("every row: calibrated where its setup measured another network, else "
                    "the shipped preset", every, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
