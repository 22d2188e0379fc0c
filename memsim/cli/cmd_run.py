"""``memsim run SCENARIO``: simulate one deployment and print its deadline verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


@app.command("run")
def run_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override a field: dotted.path=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results directory (default results/<name>)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object (DESIGN §9)."),
    fail_on_miss: bool = typer.Option(False, "--fail-on-miss", help="Exit 3 when a deadline is missed."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML report here."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write results to disk."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Slowest layers to list: a "
                                         "number (default 10) or 'all' (every layer, in order)."),
):
    """Replay a scenario through the simulated hierarchy and check its deadlines."""
    from rich.console import Console

    from memsim.config import load_scenario
    from memsim.engine.run import simulate

    from memsim.engine.result import check_results_dir
    from memsim.errors import InputError

    from memsim.cli.verdict import parse_layers, print_verdict

    console = Console(stderr=True)
    top = parse_layers(layers)
    model = load_scenario(scenario, overrides=list(set_ or []))
    out = out or Path("results") / _safe_name(model.name)
    if not no_save:
        check_results_dir(out)  # before simulating: never fail after the work is done
    if report is not None and report.is_dir():
        raise InputError("is a directory; give a file name for the HTML report", field="--report",
                         path=report)
    total = sum(s.frames for s in model.streams)
    if json_ or total <= 1 or not console.is_terminal:
        result = simulate(model)
    else:
        from rich.progress import Progress

        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("simulating frames", total=total)
            result = simulate(model, progress=lambda done, _t: bar.update(task, completed=done))
    if not no_save:
        result.save(out)
    if report is not None:
        from memsim.report import write_run_report

        write_run_report(result, report)
    if json_:
        emit_json(result.to_json())
    else:
        print_verdict(result, Console(), top)
    if fail_on_miss and not result.summary["met"]:
        raise typer.Exit(3)


def _safe_name(name: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z._-]+", "-", name).strip("-") or "run"
