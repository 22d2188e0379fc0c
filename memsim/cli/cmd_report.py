"""``memsim report RESULTS_DIR``: the offline HTML report of a saved run or sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, check_output_file, emit_json


@app.command("report")
def report_command(
    results_dir: Path = typer.Argument(..., help="A run directory (memsim run --out) or a sweep "
                                                 "directory holding results.parquet."),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="HTML file to write (default RESULTS_DIR/report.html)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also export every figure as PNG into "
                                                           "this directory (needs Chromium)."),
    json_: bool = typer.Option(False, "--json", help="Print {\"kind\", \"report\", \"png\"} as JSON."),
):
    """Write one self-contained HTML report (works offline) for a run or a sweep."""
    from memsim.report.load import detect, write_report_from_dir

    check_output_file(output, "-o")
    kind = detect(results_dir)
    path = write_report_from_dir(results_dir, output, png_dir=png)
    pngs = sorted(str(p) for p in png.glob("*.png")) if png is not None else []
    if json_:
        emit_json({"kind": kind, "report": str(path), "png": pngs})
    else:
        typer.echo(f"{kind} report written to {path}")
        if png is not None:
            typer.echo(f"{len(pngs)} PNG figure(s) in {png}")
