"""Replay a memory trace through a :class:`Hierarchy` (all accesses from core 0)."""

from __future__ import annotations

import time

import numpy as np

from memsim.cache.hierarchy import COUNTER_NAMES, Hierarchy
from memsim.cache.trace import INSTR, Trace, prepare_spans

CHUNK = 1 << 22  # accesses per kernel call: bounds the temporary line arrays


def replay(trace: Trace, hierarchy: Hierarchy, instructions: bool | None = None,
           flush: bool = False) -> dict:
    """Replay ``trace`` and return DESIGN §9's replay JSON object.

    Default and pycachesim modes: instruction fetches are dropped unless ``instructions`` is
    True (then they count as loads); a lackey modify is a load then a store of the same bytes;
    every line an access covers is touched. cachegrind mode: instruction fetches go through I1
    (kept unless ``instructions`` is False), a modify counts as one read, an access counts once.
    ``flush`` writes dirty lines back at the end (counted in ``writebacks`` and memory stores).
    The result adds a ``"memory"`` entry and, in cachegrind mode, cachegrind's nine counters.
    """
    t0 = time.perf_counter()
    line = hierarchy.line_bytes
    cg = hierarchy.compat == "cachegrind"
    if instructions is None:
        instructions = cg
    first, nl, kinds = prepare_spans(trace, line, instructions, cg)
    accesses = len(trace) if instructions else int(np.count_nonzero(trace.kind != INSTR))
    for start in range(0, first.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        hierarchy.access_spans(0, first[sl], None if nl is None else nl[sl], kinds[sl])
    if flush:
        hierarchy.flush()
    seconds = time.perf_counter() - t0
    rows = hierarchy.stats_dicts()
    result = {"accesses": accesses, "seconds": seconds, "levels": rows[:-1],
              "memory": {k: rows[-1][k] for k in ("loads", "stores")}}
    if cg:
        result["cachegrind"] = hierarchy.cachegrind_counters()
    return result


__all__ = ["replay", "COUNTER_NAMES"]
