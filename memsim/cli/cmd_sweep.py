"""``memsim sweep SPEC``: a resumable design-space sweep on local processes or Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, check_output_file, emit_json


@app.command("sweep")
def sweep_command(
    spec: Path = typer.Argument(..., help="Sweep YAML (base, grid, zip, exclude, seeds, objectives)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Local worker processes "
                                          "(default: CPU count; 0 runs in this process)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, "
                                            "e.g. tcp://10.0.0.5:8786."),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", help="Start a Dask "
                                             "LocalCluster of N workers on 127.0.0.1."),
    out: Optional[Path] = typer.Option(None, "--out", help="Sweep directory (default "
                                       "results/<sweep name>)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write an HTML sweep report."),
    no_reuse: bool = typer.Option(False, "--no-reuse", help="Simulate every point from scratch "
                                  "(no memoised graphs, plans, mappings or cache counts)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Recompute stored points "
                                      "that failed."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
) -> None:
    """Run every point of SPEC; points already stored under the sweep directory are skipped."""
    from memsim.cli.progress import interactive
    from memsim.sweep.runner import run_sweep
    from memsim.sweep.spec import load_sweep

    check_output_file(report, "--report")
    sweep = load_sweep(spec)  # parsed once: the run, the report and the front all read it
    # the bar only for a person at a terminal: never under --json, in a pipe or a CI log
    summary = run_sweep(sweep, out, workers=workers, scheduler=scheduler, dask_local=dask_local,
                        reuse=not no_reuse, progress=progress and not as_json and interactive(),
                        retry_failed=retry_failed)
    if report is not None:
        import pandas as pd

        from memsim.report import write_sweep_report

        info = {"name": summary["name"], "objectives": dict(sweep.objectives),
                "swept": list(sweep.grid) + list(sweep.zip), "spec": str(spec),
                "pareto": summary["pareto"]}
        summary["report"] = str(write_sweep_report(pd.read_parquet(summary["results"]), info,
                                                   report))
    if as_json:
        emit_json({k: summary[k] for k in ("points", "done", "failed", "skipped", "results",
                                           "pareto", "feasible")}
                  | ({"report": summary["report"]} if "report" in summary else {}))
        return
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{summary['name']}[/]: {summary['points']} points — "
                  f"{summary['done']} computed, {summary['failed']} failed, "
                  f"{summary['skipped']} already stored; {summary['feasible']} meet the deadline")
    console.print(f"results: {summary['results']}")
    print_front(summary, sweep, console)
    if "report" in summary:
        console.print(f"report: {summary['report']}")


def _cell(column: str, value) -> str:
    """A results cell for the terminal: times, sizes and energies with units, paths by stem."""
    from memsim.cli.tables import joules, secs, size
    from memsim.report.fmt import fmt_num

    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if column.endswith("_s"):
        return secs(value)
    if column.endswith("_bytes"):
        return size(value)
    if column.endswith("_j"):
        return joules(value)
    if column.endswith("_usd"):
        from memsim.report.fmt import fmt_usd

        return fmt_usd(value)
    if isinstance(value, str):
        if value.endswith((".yaml", ".yml", ".onnx", ".csv")):
            return Path(value).stem
        return _compact_json(value)
    if isinstance(value, bool):
        return str(value).lower()
    return fmt_num(value) if isinstance(value, float) else str(value)


def print_front(summary: dict, sweep, console) -> None:
    """The Pareto front as a table: each point's swept values (board, strategies) and its
    objective figures, best first by the first objective."""
    import pandas as pd

    from memsim.cli.tables import Col, print_table
    from memsim.sweep.spec import value_columns

    table = pd.read_parquet(summary["results"])
    front = table[table["pareto"]].drop_duplicates("id") if "pareto" in table else table.iloc[0:0]
    if front.empty:
        console.print("Pareto front: empty (no point met its deadline)")
        return
    objectives = dict(sweep.objectives)
    first, sense = next(iter(objectives.items()))
    front = front.sort_values(first, ascending=sense == "min", kind="stable")
    swept = [c for c in value_columns(sweep) if c in front]
    # a dimension with one value in the whole sweep tells no point apart: say it once
    fixed = [c for c in swept if table[c].astype(str).nunique() == 1]
    swept = [c for c in swept if c not in fixed]
    if len(sweep.seeds or ()) > 1 and "seed" in front:
        swept.append("seed")
    shown = swept + [c for c in objectives if c in front]
    cols = ([Col(c.rsplit(".", 1)[-1] if c != "seed" else c, "name") for c in swept]
            + [Col(c, "num") for c in shown[len(swept):]])
    rows = [[_cell(c, r[c]) for c in shown] for _, r in front.iterrows()]
    goals = ", ".join(f"{sense} {name}" for name, sense in objectives.items())
    same = "; ".join(f"{c.rsplit('.', 1)[-1]} {_cell(c, front.iloc[0][c])}" for c in fixed)
    note = "point ids and every column: the results file"
    print_table(console, cols, rows, title=f"Pareto front: {len(front)} points ({goals})",
                caption=f"every point: {same}; {note}" if same else note)


def _compact_json(text: str) -> str:
    """A swept mapping/list cell (canonical JSON) as ``format=quant bits=4`` / ``[0, 1]``."""
    import json

    if not text.startswith(("{", "[")):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        value = dict(sorted(value.items(), key=lambda kv: kv[0] != "format"))  # format first
        return " ".join(f"{k}={_compact_json(json.dumps(v)) if isinstance(v, (dict, list)) else v}"
                        for k, v in value.items())
    return ", ".join(map(str, value))
