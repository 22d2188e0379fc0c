"""memsim.config — validated, frozen configuration models and their YAML loaders.

See docs/architecture.md ("memsim.config") for the contract and docs/config.md for every field.
"""

from memsim.config.base import DTYPES, ConfigModel, FieldError
from memsim.config.hardware import (Compute, Dram, Energy, Hardware, Level, Memory, Refresh,
                                    Systolic, load_hardware)
from memsim.config.kinds import detect_kind, load_any
from memsim.config.loader import (apply_overrides, dump_yaml, dumps_yaml, load_yaml, parse_override,
                                  set_path, to_data, validate_data)
from memsim.config.presets import configs_dir, hardware_presets, preset_path
from memsim.config.scenario import Background, Engine, Scenario, Stream, load_scenario
from memsim.config.strategies import (CacheOpts, Compression, CompressionSpec, Prefetch, Reuse,
                                      Strategies, Unroll)
from memsim.config.sweep import Sweep

__all__ = [
    "DTYPES", "ConfigModel", "FieldError", "Compute", "Dram", "Energy", "Hardware", "Level",
    "Memory", "Refresh", "Systolic", "Background", "Engine", "Scenario", "Stream", "CacheOpts",
    "Compression", "CompressionSpec", "Prefetch", "Reuse", "Strategies", "Unroll", "Sweep",
    "apply_overrides", "detect_kind", "dump_yaml", "dumps_yaml", "load_any", "load_hardware",
    "load_scenario", "load_yaml", "parse_override", "set_path", "to_data", "validate_data",
    "configs_dir", "hardware_presets", "preset_path",
]
