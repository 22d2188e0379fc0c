"""memsim.config — validated, frozen configuration models and their YAML loaders.

See docs/architecture.md ("memsim.config") for the contract and docs/config.md for every field.

Each public name is imported from the submodule that defines it on first use (PEP 562,
``_EXPORTS``), so a command that reads only a hardware file (``memsim replay``, ``memsim
trace``) never builds the scenario, strategy and sweep models (their pydantic schemas and
imports: ≈ 15 ms of a cold process, docs/benchmarks.md).
"""

from __future__ import annotations

import importlib

#: public name -> the submodule that defines it
_EXPORTS = {
    "memsim.config.base": ("DTYPES", "ConfigModel", "FieldError"),
    "memsim.config.hardware": ("Compute", "Dram", "Energy", "Hardware", "Level", "Memory",
                               "Refresh", "Systolic", "load_hardware"),
    "memsim.config.kinds": ("load_any",),
    "memsim.config.loader": ("apply_overrides", "detect_kind", "dump_yaml", "dumps_yaml",
                             "load_yaml", "parse_override", "set_path", "to_data",
                             "validate_data"),
    "memsim.config.presets": ("configs_dir", "hardware_presets", "preset_path"),
    "memsim.config.scenario": ("Background", "Engine", "Scenario", "Stream", "load_scenario"),
    "memsim.config.strategies": ("CacheOpts", "Compression", "CompressionSpec", "Prefetch",
                                 "Reuse", "Strategies", "Unroll"),
    "memsim.config.sweep": ("Sweep",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_WHERE)


def __getattr__(name: str):
    """``memsim.config.<name>``: import the defining submodule on first use (and cache it)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
