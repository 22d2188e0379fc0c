"""``memsim run SCENARIO``: simulate one deployment and print its deadline verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


def _fmt_s(value) -> str:
    if value is None:
        return "—"
    value = float(value)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _fmt_bytes(value) -> str:
    value = float(value or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.4g} {unit}"
        value /= 1024
    return f"{value:.4g} TiB"


def print_verdict(result, console) -> None:
    """A verdict table and the per-layer breakdown of the worst frame."""
    from rich.table import Table

    s = result.summary
    verdict = "[bold green]MET[/]" if s["met"] else "[bold red]MISSED[/]"
    head = Table(title=f"{s['name']} on {s.get('hardware', '')}: {verdict}", show_header=False)
    for key, text in (("latency_s", "worst frame latency"), ("latency_p50_s", "p50"),
                      ("latency_p99_s", "p99"), ("deadline_s", "deadline"), ("slack_s", "slack")):
        head.add_row(text, _fmt_s(s.get(key)))
    if s.get("runtime"):
        threads = ", ".join(str(t) for t in s.get("threads") or [])
        what = "threads" if s.get("unit") == "cpu" else "cores"
        head.add_row("assumed", f"runtime {s['runtime']} on the {s.get('unit')} ({threads} {what})"
                     + (f"; calibrated: {s['calibrated']}" if s.get("calibrated") else "; uncalibrated"))
    head.add_row("miss rate", f"{100 * s['miss_rate']:.1f} % of {s['frames']} frames")
    head.add_row("DRAM traffic / frame", _fmt_bytes(s["dram_bytes"]))
    head.add_row("activation arena (lower bound)",
                 f"{_fmt_bytes(s['peak_activation_bytes'])} ({_fmt_bytes(s['lower_bound_activation_bytes'])})")
    if s.get("energy_j") is not None:
        head.add_row("energy / frame", f"{s['energy_j'] * 1e3:.4g} mJ")
    if s.get("results_dir"):
        head.add_row("results", str(s["results_dir"]))
    console.print(head)
    layers = result.worst_frame_layers()
    table = Table(title="worst frame, per layer")
    for col in ("layer", "op", "compute", "stall", "DRAM", "bound"):
        table.add_column(col)
    for _, r in layers.iterrows():
        table.add_row(str(r["name"]), str(r["op"]), _fmt_s(r["compute_s"]), _fmt_s(r["stall_s"]),
                      _fmt_bytes(r["dram_bytes"]), str(r["bound"]))
    console.print(table)


@app.command("run")
def run_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override a field: dotted.path=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results directory (default results/<name>)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object (DESIGN §9)."),
    fail_on_miss: bool = typer.Option(False, "--fail-on-miss", help="Exit 3 when a deadline is missed."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write an HTML report here."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not write results to disk."),
):
    """Replay a scenario through the simulated hierarchy and check its deadlines."""
    from rich.console import Console

    from memsim.config import load_scenario
    from memsim.engine.run import simulate

    from memsim.engine.result import check_results_dir
    from memsim.errors import InputError

    console = Console(stderr=True)
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
        print_verdict(result, Console())
    if fail_on_miss and not result.summary["met"]:
        raise typer.Exit(3)


def _safe_name(name: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z._-]+", "-", name).strip("-") or "run"
