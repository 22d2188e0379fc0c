"""``prepare_key(scenario)``: the memo key of ``prepare(scenario)``, built from what it reads.

``prepare`` reads the streams (network, batch, dtype, network parameters; frames, cores and
timing fields are included too: cheap to include, and sweeps rarely share across them), the
strategies, the contents of the files those name, the hardware through
``memsim.mapping.MappingInputs`` (the only view of the hardware mapping has) and the arena
capacity the planner spills against (``memsim.planning.onchip``), and the scenario
seed when the planner searches with it (``best``). Two scenarios with equal keys get equal
``Prepared`` records, so a sweep may reuse one for the other.
"""

from __future__ import annotations

import json

from memsim.fileio import file_digests
from memsim.mapping import MappingInputs
from memsim.planning.onchip import activation_capacity

#: planners whose result depends on the seed
SEEDED_PLANNERS = ("best",)


def prepare_key(scenario, files: dict | None = None) -> str:
    """Canonical JSON of every input of ``prepare(scenario)``; ``files``: path → SHA-256
    already known (e.g. from a sweep's expansion; other files are hashed now, and ``files``
    is filled)."""
    streams = [s.model_dump(mode="json") for s in scenario.streams]
    strategies = scenario.strategies.model_dump(mode="json")
    seeded = scenario.strategies.reuse.planner in SEEDED_PLANNERS
    key = {"streams": streams, "strategies": strategies,
           "files": file_digests([streams, strategies], files),
           "hardware": MappingInputs.of(scenario.hardware).key(),
           "activation_capacity": activation_capacity(scenario.hardware),
           "seed": scenario.seed if seeded else None}
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
