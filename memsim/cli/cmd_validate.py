"""``memsim validate FILE...``: check hardware, scenario and sweep files (kind detected)."""

from __future__ import annotations

from pathlib import Path

import typer

from memsim.cli.app import app, emit_json


@app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="YAML files: hardware, scenario or sweep."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Validate config files; prints one OK line per file, or the first error and exits 2.

    A scenario gets every check ``memsim run`` makes before simulating: networks loaded and
    parsed, dtypes supported by the compute unit, sizes simulatable, memory plan and mapping
    built, arena against memory, background load below the DRAM's bandwidth.

    With --json: {"files": [{"file", "kind", "name", "ok", "error"}], "ok": bool}. Exit code 2
    when any file is bad (each bad file's message also goes to stderr).
    """
    import sys

    from memsim.config import Hardware, Scenario, load_any
    from memsim.errors import InputError

    rows, bad = [], 0
    for path in files:
        try:
            model = load_any(path)
            if isinstance(model, Scenario):
                _preflight(model)
        except InputError as err:
            bad += 1
            sys.stderr.write(f"{err.message}\n")
            rows.append({"file": str(path), "kind": None, "name": None, "ok": False,
                         "error": err.message})
            continue
        kind = ("hardware" if isinstance(model, Hardware)
                else "scenario" if isinstance(model, Scenario) else "sweep")
        name = getattr(model, "name", None)
        rows.append({"file": str(path), "kind": kind, "name": name, "ok": True, "error": None})
        if not as_json:
            typer.echo(f"OK {path} ({kind}: {name})" if name else f"OK {path} ({kind})")
    if as_json:
        emit_json({"files": rows, "ok": bad == 0})
    if bad:
        # SystemExit, not typer.Exit: with standalone_mode=False click returns Exit's code
        # from app() instead of raising, and memsim.cli.main would then report 0
        raise SystemExit(2)


def _preflight(scenario) -> None:
    """What ``simulate`` checks before its first event (memsim.engine.preflight)."""
    from memsim.engine.preflight import prepare_checked

    prepare_checked(scenario)
