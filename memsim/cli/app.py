"""The Typer application and the helpers every command module shares.

Command modules live beside this file as ``cmd_<name>.py``; ``memsim.cli`` imports every one of
them, so adding a command never edits a shared file. Heavy imports go inside command functions.
"""

from __future__ import annotations

import json
import math
import os
import sys

import typer

app = typer.Typer(
    name="memsim",
    help="Does this network meet its real-time deadline on this memory hierarchy?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
list_app = typer.Typer(help="List built-in hardware presets or networks.", no_args_is_help=True)
show_app = typer.Typer(help="Show one network or hardware description.", no_args_is_help=True)
app.add_typer(list_app, name="list")
app.add_typer(show_app, name="show")


#: set by a command (``skip_final_gc``): the console script freezes the garbage collector's
#: objects before the interpreter exits
_SKIP_FINAL_GC = [False]


def skip_final_gc() -> None:
    """Declare that this command leaves nothing whose clean-up needs the interpreter's final
    garbage collection (no unclosed files or other finalisers in reference cycles): when the
    ``memsim`` console script exits after it, ``main`` moves every object out of the collector's
    reach (``gc.freeze``), so the last collection does not traverse all the objects the imports
    created (typer, pydantic, numpy: ≈ 30 ms of a ``memsim replay`` process, docs/benchmarks.md).
    Reference counting still frees what it can and ``atexit`` handlers still run; calls of
    ``main(argv)`` in a live process (tests) are unaffected."""
    _SKIP_FINAL_GC[0] = True


def single_threaded_blas() -> None:
    """For a command that calls no BLAS routine (``replay``), before it first imports numpy:
    start numpy's OpenBLAS with one thread (``OPENBLAS_NUM_THREADS=1``, unless the user set it).
    Otherwise OpenBLAS starts a thread per core at import which busy-waits for work that never
    comes: measured (perf, 2 cores) ≈ 8 % of a ``memsim replay`` process's CPU samples in
    ``blas_thread_server``, CPU time above wall time, and ≈ 50 ms of wall time when the other
    core is busy (docs/benchmarks.md). Does nothing once numpy is imported (tests, library use),
    so it never changes the threads of a live process."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _jsonable(obj):
    """Convert numpy scalars/arrays and non-finite floats into plain JSON values."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def emit_json(obj) -> None:
    """Print exactly one JSON object on stdout (DESIGN §9)."""
    sys.stdout.write(json.dumps(_jsonable(obj), sort_keys=False) + "\n")
    sys.stdout.flush()


def check_output_file(path, option: str) -> None:
    """Refuse an output file (``-o``, ``--report``) that is a directory or whose folder does not
    exist (exit 2, before any work) — folders are never created silently."""
    if path is None:
        return
    from pathlib import Path

    from memsim.errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory; give a file name", field=option, path=path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise InputError(f"folder {parent} {what}; create it first or choose another path",
                         field=option, path=path)
