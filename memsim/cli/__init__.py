"""memsim's command line: ``memsim run|sweep|compare|report|plan|replay|trace|validate|list|show``.

``main`` wraps the Typer app so that bad input exits 2 with one message on stderr and no
traceback, and our own errors exit 1 (set ``MEMSIM_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import gc
import importlib
import os
import pkgutil
import sys

from memsim.cli.app import _SKIP_FINAL_GC, app, emit_json, list_app, show_app
from memsim.errors import InputError

__all__ = ["app", "main", "emit_json", "list_app", "show_app"]


def _load_commands() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_commands()


def _click_exit(err: Exception) -> int | None:
    """Exit code for click/typer's own exceptions (usage errors, aborts), or None for others.

    typer ships its own copy of click, so the classes are recognised by their behaviour: an
    ``exit_code`` and, for usage errors, a ``show()`` that prints the one-line message.
    """
    name = type(err).__name__
    if name == "Exit":
        return int(getattr(err, "exit_code", 0) or 0)
    if name == "Abort":
        sys.stderr.write("aborted\n")
        return 1
    if hasattr(err, "show") and hasattr(err, "exit_code"):
        err.show()
        return 2
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memsim`` console script; returns (and exits with) the exit code."""
    try:
        # In non-standalone mode click returns typer.Exit's code instead of raising it.
        returned = app(args=argv, standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except InputError as err:
        sys.stderr.write(f"{err.message}\n")
        code = 2
    except SystemExit as err:  # typer.Exit / sys.exit inside commands
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    except Exception as err:  # noqa: BLE001 - the CLI's last line of defence
        code = _click_exit(err)
        if code is None:
            if os.environ.get("MEMSIM_DEBUG"):
                raise
            sys.stderr.write(f"internal error: {type(err).__name__}: {err}\n"
                             "This is a memsim bug; please report it (see README).\n")
            code = 1
    if argv is None:
        if _SKIP_FINAL_GC[0]:
            gc.freeze()  # see memsim.cli.app.skip_final_gc
        sys.exit(code)
    return code
