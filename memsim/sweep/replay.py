"""Replayed cache counts: a stand-in for the cache kernel that hands back recorded counts.

The sweep worker runs a point as ``memsim.engine.simulate(scenario, prepared=...,
hierarchy=ReplayHierarchy(...), tile_memo=...)`` with the memoised ``memsim.prepare.Prepared``;
``tests/test_sweep_reuse.py`` checks that it equals ``simulate(scenario)`` bitwise.

Replay (see docs/sweeps.md, "Reusing cache counts"): when one stream runs on one core, the engine
calls ``hierarchy.access(core, lines, writes)`` once per tile in a fixed order — tile order within
a layer, layers in order, frames in order — whatever the timing. The per-call count arrays are
then a function of the tile stream and the cache geometry alone, so they can be computed once
(by the real kernel, or for the last-level cache by one-pass stack distances) and handed back
in order by ``ReplayHierarchy`` to every point that shares them, without re-simulating caches.
"""

from __future__ import annotations

import numpy as np

from memsim.cache import Hierarchy


class ReplayMismatch(RuntimeError):
    """The engine asked for an access the recorded sequence does not hold (caller falls back)."""


class ReplayHierarchy:
    """Stands in for ``memsim.cache.Hierarchy``: returns precomputed ``[L+1, 6]`` count arrays,
    one per ``access`` call, in order. ``sizes[i]`` is the line count of call ``i``; a call with
    another size (or more calls than recorded) raises ``ReplayMismatch``."""

    def __init__(self, counts: list, sizes: np.ndarray):
        self._counts = counts
        self._sizes = sizes
        self._next = 0

    def access(self, core, lines, writes=None) -> np.ndarray:
        i = self._next
        if i >= len(self._counts) or int(np.asarray(lines).size) != int(self._sizes[i]):
            raise ReplayMismatch(f"access {i}: not the recorded sequence")
        self._next = i + 1
        return self._counts[i].copy()

    def restart(self) -> None:
        """Replay from the first call again (the engine started the run over)."""
        self._next = 0

    @property
    def complete(self) -> bool:
        """True when every recorded call was replayed."""
        return self._next == len(self._counts)


def single_core(scenario) -> bool:
    """True when the hierarchy's access order cannot depend on timing: one stream on one core
    (the stream's ``cores`` lists one core, or the hardware has one)."""
    if len(scenario.streams) != 1:
        return False
    stream = scenario.streams[0]
    cores = stream.cores if stream.cores else range(scenario.hardware.compute.cores)
    return len(cores) == 1


def tile_sequence(scenario, prepared, tile_memo):
    """The engine's ``access`` calls of a single-core scenario (``prepared``: its
    ``memsim.prepare.Prepared``, ``tile_memo`` the engine ``TileMemo`` the run will use):
    yields ``(lines, writes)``."""
    stream = scenario.streams[0]
    mappings = prepared.streams[0].mappings
    for _ in range(stream.frames):
        for m in mappings:
            for tile in tile_memo.tiles(id(m), m)():
                yield tile.lines, tile.writes


def kernel_counts(scenario, prepared, tile_memo):
    """Per-call count arrays from the real ``Hierarchy`` (any policy), and the call sizes."""
    hierarchy = Hierarchy.from_hardware(scenario.hardware, seed=prepared.seeds.cache)
    core = (scenario.streams[0].cores or (0,))[0]
    counts, sizes = [], []
    for lines, writes in tile_sequence(scenario, prepared, tile_memo):
        counts.append(hierarchy.access(core, lines, writes))
        sizes.append(lines.size)
    return counts, np.asarray(sizes, dtype=np.int64)
