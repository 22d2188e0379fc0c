"""A rich progress bar for long commands, shown only to a person watching a terminal.

``progress_bar(description, enabled=...)`` is a context manager yielding a callback
``update(done, total)`` (or None when no bar is shown). The bar goes to stderr and only when
both stdout and stderr are terminals and the command was not asked for ``--json``: a pipe, a
CI log or a JSON consumer sees nothing extra. It is transient (erased when done).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


def interactive() -> bool:
    """True when both stdout and stderr are terminals."""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


@contextmanager
def progress_bar(description: str, *, enabled: bool = True):
    """Yield ``update(done, total)`` driving a transient bar on stderr, or None (no bar)."""
    if not (enabled and interactive()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
