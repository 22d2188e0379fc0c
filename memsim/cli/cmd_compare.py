"""``memsim compare``: run one network on several boards and print the verdict table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


@app.command("compare")
def compare_command(
    hardware: list[Path] = typer.Argument(..., help="Hardware YAML files (e.g. configs/hardware/*.yaml)."),
    network: str = typer.Option(..., "--network", help="Zoo network name or a .onnx/.csv/.yaml path."),
    deadline: str = typer.Option(..., "--deadline", help="Per-frame deadline, e.g. 33ms."),
    dtype: str = typer.Option("int8", "--dtype", help="Data type of weights and activations."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size."),
    frames: int = typer.Option(1, "--frames", min=1, help="Frames per board (back to back)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object (DESIGN §9)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML report here."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also export the report's figures as PNG here."),
    fail_on_miss: bool = typer.Option(False, "--fail-on-miss",
                                      help="Exit 3 unless every board meets the deadline."),
):
    """Which boards meet the deadline, with what slack, at what price and energy."""
    from rich.console import Console

    from memsim.report.compare import compare_boards

    if png is not None:
        from memsim.report.png import require_browser

        require_browser()
    from memsim.cli.progress import progress_bar

    with progress_bar("simulating boards", enabled=not json_) as bar:
        entries = compare_boards(network, hardware, deadline=deadline, dtype=dtype, batch=batch,
                                 frames=frames, progress=(lambda i, n, _name: bar(i, n)) if bar else None)
    if report is not None:
        from memsim.report.compare import write_compare_report

        write_compare_report(entries, report, network=network, dtype=dtype, batch=batch, frames=frames)
    if png is not None:
        from memsim.report.compare import compare_figures
        from memsim.report.png import export_png

        export_png(compare_figures(entries), png)
    if json_:
        emit_json({"rows": [e.row() for e in entries]})
    else:
        print_table(entries, Console())
    if fail_on_miss and not all(e.row()["met"] for e in entries):
        raise typer.Exit(3)


def print_table(entries, console) -> None:
    """The verdict table on the terminal."""
    from rich.table import Table

    from memsim.report.fmt import fmt_bytes, fmt_j, fmt_num, fmt_s, fmt_usd

    table = Table(title="memsim compare")
    for col in ("hardware", "latency", "deadline", "slack", "DRAM/frame", "energy/frame", "price",
                "FPS/$", "verdict"):
        table.add_column(col)
    for e in entries:
        r = e.row()
        if e.result is None:
            verdict = f"[bold red]CANNOT RUN[/]: {e.note}"
        else:
            verdict = "[bold green]MET[/]" if r["met"] else "[bold red]MISSED[/]"
        table.add_row(e.hardware, fmt_s(r["latency_s"]), fmt_s(r["deadline_s"]), fmt_s(r["slack_s"]),
                      fmt_bytes(r["dram_bytes"]), fmt_j(r["energy_j"]), fmt_usd(r["price_usd"]),
                      fmt_num(r["fps_per_dollar"]), verdict)
    console.print(table)
