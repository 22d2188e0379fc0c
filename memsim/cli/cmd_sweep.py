"""``memsim sweep SPEC``: a resumable design-space sweep on local processes or Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


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

    # the bar only for a person at a terminal: never under --json, in a pipe or a CI log
    summary = run_sweep(spec, out, workers=workers, scheduler=scheduler, dask_local=dask_local,
                        reuse=not no_reuse, progress=progress and not as_json and interactive(),
                        retry_failed=retry_failed)
    if report is not None:
        import pandas as pd

        from memsim.report import write_sweep_report
        from memsim.sweep.spec import load_sweep

        sweep = load_sweep(spec)
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
    console.print(f"Pareto front ({len(summary['pareto'])}): {', '.join(summary['pareto'][:20])}"
                  + (" …" if len(summary["pareto"]) > 20 else ""))
    if "report" in summary:
        console.print(f"report: {summary['report']}")
