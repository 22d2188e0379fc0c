"""Error types shared by every pipeline stage.

``InputError`` is the user's fault (bad YAML, unknown key, wrong unit, broken ONNX or CSV): the
CLI prints its one-line message on stderr and exits 2. Anything else escaping a command is our
fault: the CLI exits 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Location:
    """Where in a user file a problem was found (1-based line and column; 0 = unknown)."""

    path: str | Path | None = None
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.path is None:
            return "<input>"
        text = str(self.path)
        if self.line:
            text += f":{self.line}"
            if self.col:
                text += f":{self.col}"
        return text


class InputError(Exception):
    """Bad user input. ``str(err)`` is ``path:line:col: field: problem``.

    Parameters: ``problem`` (what is wrong, including ``(got X)`` where useful), ``field``
    (dotted field path, may be empty), ``path``/``line``/``col`` (the location).
    """

    def __init__(self, problem: str, *, field: str = "", path=None, line: int = 0, col: int = 0):
        self.problem = problem
        self.field = field
        self.location = Location(path, line, col)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The single-line message the CLI prints."""
        parts = [str(self.location)]
        if self.field:
            parts.append(self.field)
        parts.append(self.problem)
        return ": ".join(parts)

    def __str__(self) -> str:
        return self.message


class InfeasibleError(InputError):
    """The workload cannot run as configured (arena larger than memory, missing dtype, bad core).

    Still the user's input at fault, so exit code 2, but the message names the limit and the need.
    """
