"""``memsim replay TRACE --hardware HW.yaml``: a memory trace through the hardware's caches."""

from __future__ import annotations

from pathlib import Path

import typer

from memsim.cli.app import app, emit_json, single_threaded_blas, skip_final_gc


@app.command()
def replay(
    trace: Path = typer.Argument(..., help=".npz (addr, write, size) or valgrind lackey log"),
    hardware: Path = typer.Option(..., "--hardware", help="hardware YAML (its cache levels)"),
    compat: str = typer.Option("default", "--compat",
                               help="default | pycachesim | cachegrind counter semantics"),
    instructions: bool | None = typer.Option(
        None, "--instructions/--no-instructions",
        help="simulate lackey instruction fetches (default: only in cachegrind mode)"),
    flush: bool = typer.Option(False, "--flush", help="write dirty lines back at the end"),
    seed: int = typer.Option(0, "--seed", help="seed of the random replacement policy"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Replay TRACE (all accesses from core 0) and print per-level counters (DESIGN §9)."""
    single_threaded_blas()  # before numpy's import: replay calls no BLAS routine
    from memsim.cache.hierarchy import Hierarchy
    from memsim.cache.replay import replay as run_replay
    from memsim.cache.trace import load_trace
    from memsim.config import load_hardware
    from memsim.errors import InputError

    if compat not in ("default", "pycachesim", "cachegrind"):
        raise InputError(f"unknown compat mode (got {compat!r}; use pycachesim or cachegrind)",
                         field="--compat")
    hw = load_hardware(hardware)
    hier = Hierarchy.from_hardware(hw, cores=1, seed=seed, compat=compat)
    result = run_replay(load_trace(trace), hier, instructions=instructions, flush=flush)
    skip_final_gc()  # counters and arrays only: nothing to finalise at exit
    if as_json:
        emit_json(result)
        return
    from rich.console import Console

    from memsim.cli.tables import Col, print_table

    cols = ("loads", "stores", "hits", "misses", "evictions", "writebacks")
    rows = [[row["name"], *(f"{row[c]:,}" for c in cols)] for row in result["levels"]]
    mem = result["memory"]
    rows.append(["memory", f"{mem['loads']:,}", f"{mem['stores']:,}", "", "", "", ""])
    print_table(Console(), [Col("level", "name"), *(Col(c) for c in cols)], rows,
                title=f"{trace.name}: {result['accesses']:,} accesses, {compat} counter semantics",
                caption=f"replay took {result['seconds']:.3g} s of wall-clock time on this "
                        "machine (counts only; no simulated time)")
    if "cachegrind" in result:
        typer.echo("  ".join(f"{k}={v:,}" for k, v in result["cachegrind"].items()))
