"""Evaluating sweep points in a worker process, reusing work between points.

``evaluate_batch(tasks, options)`` runs a list of ``(point_id, scenario)`` and returns one row
(dict) per point; a point that raises gets ``status = "failed"`` and its error text, and the
batch goes on. Three memos live in each worker process (LRU, bounded), keyed by exactly the
parts of the resolved point they depend on (docs/sweeps.md, "Reuse"):

1. *prepared streams* — ``memsim.prepare.prepare(scenario)`` (workload graph, memory plan and
   mappings per stream): keyed by ``memsim.prepare.prepare_key``, built from exactly what
   ``prepare`` reads — the streams, the strategies, the contents (SHA-256) of the files they
   name (a file edited between runs of a long-lived worker is never served from the memo), the
   hardware as ``memsim.mapping.MappingInputs`` (compute, line size, tile-target level) and the
   seed where the planner uses it. DRAM, energy, price, latencies, bandwidths, associativity,
   policies and the sizes of the other levels are not part of the key. The tile line arrays
   are kept with them; the point's own seeds are put on the memoised record.
2. *cache counts* — for single-core points the per-tile ``[L+1, 6]`` count arrays, keyed by the
   prepared key, the cache geometry, the frame count and (random policy only) the seed.
3. *upper pass* — for stack distances: the levels above an LRU last-level cache, once per
   (prepared key, upper geometry, frames); then one Mattson pass per LLC set count gives every
   LLC associativity in the batch.

``options["reuse"] = False`` runs every point through ``memsim.simulate`` (the baseline).
``options["files"]``: ``{path: SHA-256}`` of the task's files as hashed by the expansion
(``memsim.sweep.spec``); a file missing from it is hashed here.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from memsim.cache import Hierarchy
from memsim.engine.run import TileMemo, simulate
from memsim.errors import InputError
from memsim.prepare import Seeds, prepare, prepare_key
from memsim.sweep import replay, stackdist

#: memo sizes per worker process (entries)
PREPARED_ENTRIES = 4
COUNTS_ENTRIES = 32
UPPER_ENTRIES = 4
#: tile line arrays kept per prepared entry (bytes)
TILE_BUDGET_BYTES = 256 << 20

_PREPARED: OrderedDict = OrderedDict()
_COUNTS: OrderedDict = OrderedDict()
_UPPER: OrderedDict = OrderedDict()

#: run-summary metrics copied into every row
SUMMARY_METRICS = ("latency_s", "latency_p50_s", "latency_p99_s", "deadline_s", "slack_s",
                   "miss_rate", "met", "energy_j", "dram_bytes", "peak_activation_bytes",
                   "compute_cycles", "lower_bound_activation_bytes", "naive_activation_bytes",
                   "fits_in_memory", "frames", "hardware")


def _remember(memo: OrderedDict, key, value, limit: int):
    memo[key] = value
    memo.move_to_end(key)
    while len(memo) > limit:
        memo.popitem(last=False)
    return value


def prepared_key(scenario, files: dict | None = None) -> str:
    """Key of the memoised preparation: ``memsim.prepare.prepare_key`` (``files``: path →
    SHA-256 already known, e.g. from the expansion; other files are hashed now)."""
    return prepare_key(scenario, files)


_SPECS: dict = {}


def _cache_specs(scenario):
    # Hierarchy.from_hardware is the authority on how levels become cache specs; it reads
    # these fields of the levels (memoised: building a hierarchy allocates its whole state)
    key = tuple((lv.name, lv.kind, lv.size_bytes, lv.ways, lv.line_bytes, lv.policy, lv.scope)
                for lv in scenario.hardware.memory.levels)
    specs = _SPECS.get(key)
    if specs is None:
        specs = Hierarchy.from_hardware(scenario.hardware, cores=1).levels
        if len(_SPECS) > 256:
            _SPECS.clear()
        _SPECS[key] = specs
    return specs


def _prepared(scenario, files=None):
    """(key, (Prepared with this point's seeds, TileMemo)) from the memo or prepared now."""
    key = prepared_key(scenario, files)
    if key in _PREPARED:
        _PREPARED.move_to_end(key)
        prepared, memo = _PREPARED[key]
    else:
        prepared, memo = _remember(_PREPARED, key, (prepare(scenario), TileMemo(TILE_BUDGET_BYTES)),
                                   PREPARED_ENTRIES)
    # the key leaves out the seed where preparation does not read it; the run's seeds do
    seeds = Seeds.of(scenario.seed, len(scenario.streams))
    return key, (replace(prepared, seeds=seeds), memo)


def _counts(scenario, pkey, prepared, memo, llc_ways_wanted):
    """Replayed per-tile counts for a single-core point, and the method used."""
    specs = _cache_specs(scenario)
    geometry = [(s.name, s.sets, s.ways, s.line_bytes, s.policy, s.shared) for s in specs]
    random = any(s.policy == "random" for s in specs)
    frames = scenario.streams[0].frames
    seed = prepared.seeds.cache if random else None
    key = (pkey, tuple(geometry), frames, seed)
    if key in _COUNTS:
        _COUNTS.move_to_end(key)
        return _COUNTS[key]
    llc, upper = specs[-1], specs[:-1]
    if llc.policy == "lru" and all(s.policy in stackdist.POLICIES for s in upper):
        ukey = (pkey, tuple(geometry[:-1]), frames, llc.line_bytes)
        up = _UPPER.get(ukey)
        if up is None:
            tiles = replay.tile_sequence(scenario, prepared, memo)
            up = _remember(_UPPER, ukey, stackdist.upper_pass(upper, tiles), UPPER_ENTRIES)
        ways = sorted(set(llc_ways_wanted.get((ukey, llc.sets), ())) | {llc.ways})
        for w, arrays in stackdist.llc_counts(up, llc.sets, ways).items():
            geo = list(geometry)
            geo[-1] = (llc.name, llc.sets, w, llc.line_bytes, llc.policy, llc.shared)
            _remember(_COUNTS, (pkey, tuple(geo), frames, None), (arrays, up.sizes, "stackdist"),
                      COUNTS_ENTRIES)
        return _COUNTS[key]
    counts, sizes = replay.kernel_counts(scenario, prepared, memo)
    return _remember(_COUNTS, key, (counts, sizes, "replay"), COUNTS_ENTRIES)


def _llc_wanted(scenarios, files=None) -> dict:
    """For a batch: the LLC associativities wanted per (upper key, LLC sets); ``files`` as for
    ``prepared_key``."""
    wanted: dict = {}
    for scenario in scenarios:
        if scenario is None or not replay.single_core(scenario) \
                or not scenario.hardware.memory.cache_levels():
            continue
        try:
            specs = _cache_specs(scenario)
        except Exception:  # noqa: BLE001 - a bad geometry fails later, in its own point
            continue
        geometry = [(s.name, s.sets, s.ways, s.line_bytes, s.policy, s.shared) for s in specs]
        ukey = (prepared_key(scenario, files), tuple(geometry[:-1]), scenario.streams[0].frames,
                specs[-1].line_bytes)
        wanted.setdefault((ukey, specs[-1].sets), set()).add(specs[-1].ways)
    return wanted


def simulate_point(scenario, reuse: bool = True, llc_ways_wanted=None, tables: bool = True,
                   files=None):
    """One point's ``Result`` and the method that produced it: ``full`` (``memsim.simulate``),
    ``prepared`` (memoised graph/plan/mapping, real caches), ``replay`` (memoised cache counts
    from the kernel) or ``stackdist`` (LLC counts from stack distances). ``tables=False``:
    without the tables a sweep does not keep (``memsim.engine.run.simulate``). ``files``: known
    content digests of the point's files (``prepared_key``)."""
    if not reuse:
        return simulate(scenario, tables=tables), "full"  # what memsim.simulate runs
    pkey, (prepared, memo) = _prepared(scenario, files)
    if replay.single_core(scenario) and scenario.hardware.memory.cache_levels():
        try:
            counts, sizes, method = _counts(scenario, pkey, prepared, memo, llc_ways_wanted or {})
        except Exception:  # noqa: BLE001 - fall back to the real kernel inside the engine
            counts = None
        if counts is not None:
            stand_in = replay.ReplayHierarchy(counts, sizes)
            try:
                result = simulate(scenario, prepared=prepared, hierarchy=stand_in,
                                  tile_memo=memo, tables=tables)
                if stand_in.complete:
                    return result, method
            except replay.ReplayMismatch:
                pass
    return simulate(scenario, prepared=prepared, tile_memo=memo, tables=tables), "prepared"


def summary_row(result, scenario) -> dict:
    """The metrics of one point: run summary numbers, price, power, fps per dollar."""
    summary = result.summary
    row = {}
    for key in SUMMARY_METRICS:
        value = summary.get(key)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        row[key] = value
    hw = scenario.hardware
    row["price_usd"] = hw.price_usd
    row["tdp_w"] = hw.tdp_w
    latency = row.get("latency_s")
    row["fps_per_dollar"] = (1.0 / latency / hw.price_usd
                             if latency and hw.price_usd else None)
    return row


def evaluate_batch(tasks, options=None) -> list[dict]:
    """Run ``tasks`` (``[(point_id, scenario)]``) → one row per point, in order.

    Row keys: ``id``, ``status`` (``ok``/``failed``), ``error`` (text or None), ``method``,
    ``seconds`` (wall time of the point in the worker) and the metrics of ``summary_row``.
    ``options``: ``reuse`` (default True) and ``files`` (path → SHA-256 of the task's files).
    """
    options = options or {}
    reuse = bool(options.get("reuse", True))
    files = dict(options.get("files") or {})
    wanted = _llc_wanted([s for _, s in tasks], files) if reuse else {}
    rows = []
    for point_id, scenario in tasks:
        start = time.perf_counter()
        try:
            result, method = simulate_point(scenario, reuse, wanted, tables=False, files=files)
            row = {"id": point_id, "status": "ok", "error": None, "method": method,
                   **summary_row(result, scenario)}
        except Exception as err:  # noqa: BLE001 - a failing point is recorded, the sweep goes on
            text = err.message if isinstance(err, InputError) else \
                f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=6)}"
            row = {"id": point_id, "status": "failed", "error": text, "method": None}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    return rows
