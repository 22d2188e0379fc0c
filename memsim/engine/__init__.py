"""memsim.engine — the simpy run of a prepared scenario: ``simulate(scenario, *, prepared=None,
hierarchy=None, tile_memo=None, ...) -> Result``. See docs/architecture.md."""

from memsim.engine.result import Result
from memsim.engine.run import TileMemo, simulate

__all__ = ["Result", "TileMemo", "simulate"]
