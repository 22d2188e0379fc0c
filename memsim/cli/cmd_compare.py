"""``memsim compare``: run one network on several boards and print the verdict table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, check_output_file, emit_json


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

    check_output_file(report, "--report")
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
    """The verdict table on the terminal, fitted to its width; a board that could not run gets
    CANNOT RUN in the table and its reason as a numbered note below it (never wrapped into a
    narrow column)."""
    from memsim.cli.tables import Col, joules, print_table as fitted, secs, size
    from memsim.report.fmt import fmt_num, fmt_usd

    # slack is left out: deadline (in the title) minus latency, and in --json and the report
    cols = [Col("hardware", "name"), Col("latency"), Col("DRAM"), Col("energy"), Col("price"),
            Col("FPS/$"), Col("verdict", "text")]
    rows, notes = [], []
    deadlines = {e.row()["deadline_s"] for e in entries}
    for e in entries:
        r = e.row()
        if e.result is None:
            notes.append(f"[{len(notes) + 1}] {e.hardware}: {e.note}")
            verdict = f"[bold red]CANNOT RUN[/] [{len(notes)}]"
        else:
            verdict = "[bold green]MET[/]" if r["met"] else "[bold red]MISSED[/]"
        rows.append([e.hardware, secs(r["latency_s"]), size(r["dram_bytes"]),
                     joules(r["energy_j"]), fmt_usd(r["price_usd"]),
                     fmt_num(r["fps_per_dollar"], 3), verdict])
    deadline = (f"deadline {secs(next(iter(deadlines)))}" if len(deadlines) == 1
                else "deadlines differ per board")
    fitted(console, cols, rows, title=f"memsim compare: {deadline}; DRAM and energy per frame")
    from rich.markup import escape

    for note in notes:
        console.print(escape(note), overflow="fold")
