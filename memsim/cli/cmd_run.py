"""``memsim run SCENARIO``: simulate one deployment and print its deadline verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, check_output_file, emit_json


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
    per_tile: bool = typer.Option(False, "--per-tile", help="Simulate every tile as its own "
                                  "event chain (engine.granularity=per-tile; no fast path)."),
):
    """Replay a scenario through the simulated hierarchy and check its deadlines."""
    from rich.console import Console

    from memsim.cli.verdict import parse_layers, print_verdict
    from memsim.config import load_scenario
    from memsim.engine.preflight import blame_overrides
    from memsim.engine.result import check_results_dir
    from memsim.errors import InputError

    top = parse_layers(layers)
    overrides = list(set_ or [])
    if per_tile:
        overrides.append("engine.granularity=per-tile")
    model = load_scenario(scenario, overrides=overrides)
    out = out or Path("results") / _safe_name(model.name)
    if not no_save:
        check_results_dir(out)  # before simulating: never fail after the work is done
    check_output_file(report, "--report")
    try:
        result = _simulate(model, json_)
    except InputError as err:
        raise blame_overrides(err, set_) from None
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


def _simulate(model, json_: bool):
    """``simulate(model)`` with a progress bar on a terminal, else a wall-time estimate line for a
    long run (pipes, CI logs); nothing extra under ``--json``."""
    from memsim.cli.estimate import FrameEstimate
    from memsim.cli.progress import progress_bar
    from memsim.engine.run import simulate

    total = sum(s.frames for s in model.streams)
    with progress_bar("simulating frames", enabled=not json_ and total > 1) as bar:
        if bar is not None:  # a person at a terminal: the bar's ETA column is the estimate
            return simulate(model, progress=bar)
        return simulate(model, progress=None if json_ or total <= 3 else FrameEstimate(total))


def _safe_name(name: str) -> str:
    """The folder of ``results/<name>``: the name itself when it is letters (any script), digits
    and ``._-``; otherwise its usable part plus a hash of the whole name (``run-<hash>`` when
    nothing is usable), so that two different names never share a folder."""
    import hashlib
    import re
    import unicodedata

    text = unicodedata.normalize("NFC", name)
    safe = re.sub(r"[^\w.-]+", "-", text).strip("-.")
    if safe == name:
        return safe
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{digest}" if safe else f"run-{digest}"
