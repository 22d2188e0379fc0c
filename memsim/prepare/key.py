"""``prepare_key(scenario)``: the memo key of ``prepare(scenario)``, built from what it reads.

``prepare`` reads the streams (network, batch, dtype, network parameters; frames, cores and
timing fields are included too: cheap to include, and sweeps rarely share across them), the
strategies, the contents of the files those name, the hardware through
``memsim.mapping.MappingInputs`` (the only view of the hardware mapping has) and the arena
capacity the planner spills against and the one it splits layers against, with the time
weights of that choice (``memsim.planning.onchip``), the runtime settings of each
stream (with the whole hardware when a runtime other than ``generic`` acts), and the scenario
seed when the planner searches with it (``best``). Two scenarios with equal keys get equal
``Prepared`` records, so a sweep may reuse one for the other.
"""

from __future__ import annotations

import json

from memsim.fileio import file_digests
from memsim.mapping import MappingInputs
from memsim.planning.onchip import activation_capacity, split_capacity, split_costs
from memsim.runtime import settings_for

#: planners whose result depends on the seed
SEEDED_PLANNERS = ("best",)


def prepare_key(scenario, files: dict | None = None) -> str:
    """Canonical JSON of every input of ``prepare(scenario)``; ``files``: path → SHA-256
    already known (e.g. from a sweep's expansion; other files are hashed now, and ``files``
    is filled)."""
    streams = [s.model_dump(mode="json") for s in scenario.streams]
    strategies = scenario.strategies.model_dump(mode="json")
    seeded = scenario.strategies.reuse.planner in SEEDED_PLANNERS
    runtimes = [settings_for(s, scenario.hardware, scenario.runtime, scenario.unit)
                for s in scenario.streams]
    key = {"streams": streams, "strategies": strategies,
           "runtime": [[r.runtime, r.unit, r.threads, sorted(r.params.items())] for r in runtimes],
           # a runtime other than generic reads more of the hardware than mapping does (memory
           # ports, cores): then the whole description is part of the key
           "runtime_hardware": (None if all(r.profile().is_identity for r in runtimes)
                                else scenario.hardware.model_dump(mode="json")),
           "files": file_digests([streams, strategies], files),
           "hardware": MappingInputs.of(scenario.hardware).key(),
           "activation_capacity": activation_capacity(scenario.hardware),
           # the row split's capacity and, when a split may be chosen, the time weights it
           # compares the options with (MAC rate, DRAM bandwidth)
           "split_capacity": split_capacity(scenario.hardware),
           "split_costs": _split_costs(scenario),
           "seed": scenario.seed if seeded else None}
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def _split_costs(scenario) -> list | None:
    """The split's time weights per stream, or None when no split can be chosen (caches decide,
    or ``reuse.split: off``): then they are not read."""
    hw = scenario.hardware
    if split_capacity(hw) is None or scenario.strategies.reuse.split == "off":
        return None
    return [split_costs(hw, s.dtype) for s in scenario.streams]
