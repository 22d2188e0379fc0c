"""``load_any(path)``: a hardware, scenario or sweep file, its kind detected from its keys."""

from __future__ import annotations

from pathlib import Path

from memsim.config.hardware import Hardware
from memsim.config.loader import detect_kind, load_yaml, require_mapping, validate_data
from memsim.config.scenario import Scenario
from memsim.config.sweep import Sweep
from memsim.errors import InputError


def load_any(path):
    """Load a hardware, scenario or sweep file, detecting the kind from its content."""
    path = Path(path)
    data = load_yaml(path)
    kind = detect_kind(data)
    if kind == "hardware":
        return validate_data(Hardware, data, path)
    if kind == "scenario":
        return validate_data(Scenario, data, path, source_path=path.resolve())
    if kind == "sweep":
        return validate_data(Sweep, data, path, source_path=path.resolve())
    require_mapping(data, path)
    keys = ", ".join(map(str, list(data)[:8])) or "none"
    raise InputError("cannot tell the kind of config: expected hardware (compute, memory), a "
                     f"scenario (streams) or a sweep (base, grid) (got keys: {keys})",
                     path=path, line=1, col=1)
