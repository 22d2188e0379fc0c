"""Running a point on prepared streams, with the real cache kernel or with replayed counts.

``run_prepared(scenario, prepared, hierarchy=None)`` is ``memsim.engine.run.simulate`` with the
graph/plan/mapping step done beforehand (the sweep worker memoises it) and, optionally, a
stand-in for the cache ``Hierarchy``. ``tests/test_sweep_reuse.py`` checks that it equals
``simulate`` bitwise.

Replay (see docs/sweeps.md, "Reusing cache counts"): when one stream runs on one core, the engine
calls ``hierarchy.access(core, lines, writes)`` once per tile in a fixed order — tile order within
a layer, layers in order, frames in order — whatever the timing. The per-call count arrays are
then a function of the tile stream and the cache geometry alone, so they can be computed once
(by the real kernel, or for the last-level cache by one-pass stack distances) and handed back
in order by ``ReplayHierarchy`` to every point that shares them, without re-simulating caches.
"""

from __future__ import annotations

import threading

import numpy as np

_LOCK = threading.Lock()


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


def cache_seed(scenario) -> int:
    """The seed ``simulate`` gives the cache kernel (random replacement) for ``scenario``."""
    seeds = np.random.SeedSequence(scenario.seed).spawn(3 + len(scenario.streams))
    return int(seeds[0].generate_state(1)[0])


def single_core(scenario) -> bool:
    """True when the hierarchy's access order cannot depend on timing: one stream on one core
    (the stream's ``cores`` lists one core, or the hardware has one)."""
    if len(scenario.streams) != 1:
        return False
    stream = scenario.streams[0]
    cores = stream.cores if stream.cores else range(scenario.hardware.compute.cores)
    return len(cores) == 1


def tile_sequence(scenario, prepared, tile_memo):
    """The engine's ``access`` calls of a single-core scenario: yields ``(lines, writes)``."""
    stream = scenario.streams[0]
    _, _, mappings = prepared[0]
    for _ in range(stream.frames):
        for m in mappings:
            for tile in tile_memo.tiles(id(m), m)():
                yield tile.lines, tile.writes


def kernel_counts(scenario, prepared, tile_memo):
    """Per-call count arrays from the real ``Hierarchy`` (any policy), and the call sizes."""
    from memsim.cache import Hierarchy

    hw = scenario.hardware
    hierarchy = Hierarchy.from_hardware(hw, seed=cache_seed(scenario))
    core = (scenario.streams[0].cores or (0,))[0]
    counts, sizes = [], []
    for lines, writes in tile_sequence(scenario, prepared, tile_memo):
        counts.append(hierarchy.access(core, lines, writes))
        sizes.append(lines.size)
    return counts, np.asarray(sizes, dtype=np.int64)


class _StandIn:
    """Takes the place of the ``Hierarchy`` class inside ``simulate``: ``from_hardware`` hands
    back the prepared stand-in (and notes that it was used)."""

    def __init__(self, hierarchy):
        self.hierarchy = hierarchy
        self.used = 0

    def from_hardware(self, hw, cores=None, seed=0, compat="default"):
        # the engine builds one hierarchy per run; it runs again (from the start) when a lazily
        # simulated refresh window could not be ordered exactly
        if self.used and hasattr(self.hierarchy, "restart"):
            self.hierarchy.restart()
        self.used += 1
        return self.hierarchy


def run_prepared(scenario, prepared, hierarchy=None, tile_memo=None, tables: bool = True):
    """``simulate(scenario)`` on already prepared streams (``[(graph, plan, mappings)]``, one
    per stream), with ``hierarchy`` in place of the cache kernel and ``tile_memo`` (an engine
    ``TileMemo``) keeping tile line arrays across points, when given.

    It runs the engine's own ``simulate`` with its ``prepare_stream``, ``Hierarchy`` and
    ``TileMemo`` swapped for the prepared ones while it runs (under a lock, restored after), so
    it can never drift from the engine. Returns ``(result, used)`` where ``used`` says whether
    the prepared streams and the stand-in hierarchy were really taken.
    """
    import memsim.cache as cache_mod
    import memsim.engine.run as run_mod

    calls = [0]

    def prepare_stream(stream, hw, strategies, seed):
        calls[0] += 1
        return prepared[calls[0] - 1]

    stand_in = _StandIn(hierarchy) if hierarchy is not None else None
    with _LOCK:
        saved = run_mod.prepare_stream, cache_mod.Hierarchy, run_mod.TileMemo
        try:
            run_mod.prepare_stream = prepare_stream
            if stand_in is not None:
                cache_mod.Hierarchy = stand_in
            if tile_memo is not None:
                run_mod.TileMemo = lambda *args, **kwargs: tile_memo
            result = run_mod.simulate(scenario, tables=tables)
        finally:
            run_mod.prepare_stream, cache_mod.Hierarchy, run_mod.TileMemo = saved
    used = {"prepared": calls[0] == len(prepared),
            "hierarchy": stand_in is not None and stand_in.used >= 1
            and getattr(hierarchy, "complete", True)}
    return result, used
