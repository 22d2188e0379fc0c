"""Where the shipped configs live, and lookup of hardware presets by name.

The ``configs/`` folder sits beside the ``memsim`` package in the repository (an editable
install); an installed wheel carries a copy as ``memsim/_configs`` (setup.py's build hook);
``MEMSIM_CONFIGS`` points elsewhere (a folder holding ``hardware/``, ``scenarios/``...).
"""

from __future__ import annotations

import os
from pathlib import Path

from memsim.errors import InputError


def configs_dir() -> Path:
    """The configs folder: ``$MEMSIM_CONFIGS`` if set, else ``<repo>/configs`` (editable or
    source checkout), else the copy an installed wheel carries (``memsim/_configs``), else
    ``./configs``."""
    env = os.environ.get("MEMSIM_CONFIGS")
    if env:
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parents[2] / "configs"
    if repo.is_dir():
        return repo
    shipped = Path(__file__).resolve().parents[1] / "_configs"
    if shipped.is_dir():
        return shipped
    return Path.cwd() / "configs"


def hardware_presets() -> list[Path]:
    """Every ``*.yaml`` in ``configs/hardware/``, sorted by file name."""
    folder = configs_dir() / "hardware"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def preset_path(name_or_path) -> Path:
    """A hardware file: an existing path, or a preset by stem (``raspberry-pi-5``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    stems = {p.stem: p for p in hardware_presets()}
    if str(name_or_path) in stems:
        return stems[str(name_or_path)]
    import difflib

    close = difflib.get_close_matches(str(name_or_path), list(stems), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise InputError(f"no such file or hardware preset{hint} (got {str(name_or_path)!r})",
                     path=str(name_or_path))
