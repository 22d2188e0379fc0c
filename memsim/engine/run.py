"""``simulate(scenario) -> Result``: the engine run of one prepared scenario.

Stages before it (``memsim.prepare``): config → workload graph (batch-norm folded) → memory plan
→ mapping; here: the cache kernel, the simpy system, the streams' processes → ``Result``. Every
stream gets its own address space (streams are separate processes; they share caches and links
but not data). Randomness (frame jitter, background bursts, random replacement) comes from the
named seeds of ``Prepared.seeds``, so a run is reproducible on any executor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from memsim.cache import Hierarchy
from memsim.config import load_scenario
from memsim.engine.collect import build_result
from memsim.engine.fastpath import FastPath
from memsim.engine.preflight import check_prepared, prepare_checked
from memsim.engine.links import start_refresh
from memsim.engine.pipeline import LayerPlan, Runner
from memsim.engine.residency import host_io, resident_ranges
from memsim.engine.simkernel import Environment
from memsim.engine.system import System
from memsim.engine.traffic import background_process
from memsim.runtime import settings_for

# Streams live 2^34 lines (1 TiB at 64 B lines) apart, so they never alias in the caches.
STREAM_LINE_STRIDE = 1 << 34
# Tile line arrays kept between frames (re-generating a layer's tiles every frame is wasted
# work); layers beyond this budget are regenerated each frame.
TILE_MEMO_BUDGET_BYTES = 768 << 20


class TileMemo:
    """Remembers tiles of layers across frames within a byte budget shared by all layers."""

    def __init__(self, budget_bytes: int = TILE_MEMO_BUDGET_BYTES):
        self.budget = budget_bytes
        self.used = 0
        self._stored: dict[int, list] = {}

    def tiles(self, key: int, mapping):
        """A zero-argument callable yielding ``mapping``'s tiles, memoised when they fit."""
        def generate():
            stored = self._stored.get(key)
            if stored is not None:
                yield from stored
                return
            kept, size, overflow = [], 0, False
            for tile in mapping.tiles():
                if not overflow:
                    size += tile.lines.nbytes + (tile.writes.nbytes if tile.writes is not None else 0)
                    if self.used + size > self.budget:
                        overflow, kept = True, []
                    else:
                        kept.append(tile)
                yield tile
            if not overflow:
                self._stored[key] = kept
                self.used += size
        return generate


def simulate(scenario, *, prepared=None, hierarchy=None, tile_memo=None, progress=None,
             tables: bool = True, exact_refresh: bool = False):
    """Run a scenario (a ``Scenario`` or a path to one) and return its ``Result``.

    Inputs a caller may hand in instead of having them built (the sweep memoises them):
    ``prepared`` — ``memsim.prepare.prepare(scenario)`` (it must be that scenario's: same
    ``prepare_key``); ``hierarchy`` — an object standing in for the cache kernel
    ``memsim.cache.Hierarchy``: ``access(core, lines, writes) -> [L+1, 6]`` counts, and
    ``restart()``, called before the engine runs the scenario a second time (see below), to
    start over from its initial state; used only when the hardware has cache levels;
    ``tile_memo`` — a ``TileMemo`` keeping tile line arrays of ``prepared``'s mappings.

    ``progress``, if given, is called as ``progress(done_frames, total_frames)``.
    ``tables=False`` (sweeps): the same summary, layer and frame tables, without the timeline
    and memory tables and the resolved configuration. ``exact_refresh``: simulate every DRAM
    refresh window (the exact mode) instead of lazily; results are the same (docs/model.md,
    "DRAM refresh"): the lazy mode falls back to the exact one by itself when it must.
    """
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    if prepared is None:
        prepared = prepare_checked(scenario)  # every pre-run check, errors located
    else:
        check_prepared(scenario, prepared)
    inputs = _RunInputs(scenario, prepared, hierarchy, tile_memo or TileMemo(),
                        resident_ranges(scenario.hardware, [s.plan for s in prepared.streams]),
                        progress)
    runner, system = _run_with_refresh(inputs, exact_refresh)
    return _result(scenario, prepared, runner, system, tables)


class _RunInputs:
    """What one engine run of a scenario reads (built once; a second run reuses it)."""

    def __init__(self, scenario, prepared, hierarchy, tile_memo, resident, progress):
        self.scenario = scenario
        self.prepared = prepared
        self.hierarchy = hierarchy
        self.tile_memo = tile_memo
        self.resident = resident
        self.progress = progress
        self.runs = 0

    def cache_kernel(self):
        """The hierarchy of a run: the caller's stand-in (restarted on a second run) or a new
        ``Hierarchy`` seeded with the run's cache seed; None without cache levels."""
        hw = self.scenario.hardware
        self.runs += 1
        if not hw.memory.cache_levels():
            return None
        if self.hierarchy is not None:
            if self.runs > 1:
                self.hierarchy.restart()
            return self.hierarchy
        return Hierarchy.from_hardware(hw, seed=self.prepared.seeds.cache)


def _run_with_refresh(inputs: _RunInputs, exact: bool):
    """Run lazily refreshed, and again exactly when a lazy window could not be ordered."""
    if exact:
        return _run(inputs, False, [])
    built: list = []
    try:
        runner, system = _run(inputs, True, built)
        hazard = _refresh_hazard(system)
    except Exception:
        if not (built and _refresh_hazard(built[0])):
            raise
        hazard = True
    if hazard:
        # a lazily simulated refresh window met a simultaneous event: run again with every
        # window simulated (see SharedLink.refresh_lazily), so results never depend on it
        return _run(inputs, False, [])
    return runner, system


def _result(scenario, prepared, runner, system, tables: bool):
    hw = scenario.hardware
    background_bytes = sum(c.get("bytes", 0) for c in system.background_counters)
    extra = {"background_bytes": int(background_bytes), "events": int(runner.events_tiles),
             "fits_in_memory": True, "hardware": hw.name,
             **runtime_summary(hw, [settings_for(s, hw, scenario.runtime, scenario.unit)
                                    for s in scenario.streams])}
    dtypes = {i: s.dtype for i, s in enumerate(scenario.streams)}
    resolved = _resolved(scenario) if tables else {}
    return build_result(scenario.name, runner, hw, [(s.plan, s.graph) for s in prepared.streams],
                        dtypes, scenario=scenario, resolved=resolved, extra_summary=extra,
                        tables=tables)


def runtime_summary(hw, settings) -> dict:
    """Summary keys saying what was assumed: ``runtime``, ``unit``, ``threads`` (per stream)
    and ``calibrated`` (a description of the preset's calibration, or None)."""
    cal = getattr(hw, "calibration", None)
    used = cal is not None and any(rt.params for rt in settings)
    text = None
    if used:
        loo = f", leave-one-out median error {cal.loo_median_error:.2f}x" if cal.loo_median_error else ""
        text = f"{cal.runtime} on {cal.unit} fitted to {cal.rows} measurements{loo}"
    return {"runtime": settings[0].runtime if settings else None,
            "unit": settings[0].unit if settings else None,
            "threads": [rt.threads for rt in settings], "calibrated": text}


def _refresh_hazard(system) -> bool:
    return any(link.refresh_hazard for link in system.dram_links)


def _run(inputs: _RunInputs, lazy_refresh: bool, built: list):
    """Build the simulated system and run it; returns (runner, system).

    ``lazy_refresh``: DRAM refresh windows through ``SharedLink.refresh_lazily`` (a window no
    transfer sees costs nothing) instead of ``start_refresh`` (the exact mode); a link that met
    a case it cannot order exactly says so (``refresh_hazard``) and the caller runs again
    exactly. The system is appended to ``built`` as soon as it exists.
    """
    scenario, seeds = inputs.scenario, inputs.prepared.seeds
    hw = scenario.hardware
    env = Environment()
    system = System(env, hw, inputs.cache_kernel(), hw.compute.cores)
    built.append(system)
    runner = Runner(system, scenario.strategies.prefetch.depth, hw.compute.clock_hz)
    if _fast_path_applies(scenario, system.hierarchy):
        runner.fast = FastPath(system, system.hierarchy)
    for stream in scenario.streams:
        for core in (stream.cores or range(hw.compute.cores)):
            runner.shared_cores[core] = runner.shared_cores.get(core, 0) + 1
    stop = env.event()
    dones = []
    for index, (stream, prepared) in enumerate(zip(scenario.streams, inputs.prepared.streams)):
        layers = _layer_plans(hw, prepared, inputs.resident[index], inputs.tile_memo)
        cores = list(stream.cores) if stream.cores else list(range(hw.compute.cores))
        done = env.event()
        dones.append(done)
        rng = np.random.default_rng(seeds.streams[index])
        env.process(runner.stream(index, layers, cores, stream.frames, stream.period_ps,
                                  stream.jitter_ps or 0, stream.deadline_ps, rng,
                                  index * STREAM_LINE_STRIDE, done))
    _start_dram_users(env, system, scenario, np.random.default_rng(seeds.background), stop,
                      lazy_refresh)
    if inputs.progress is not None:
        total_frames = sum(s.frames for s in scenario.streams)
        runner.on_frame = lambda: inputs.progress(len(runner.frames), total_frames)
    env.run(until=env.all_of(dones))
    stop.succeed()
    return runner, system


def _fast_path_applies(scenario, hierarchy) -> bool:
    """Whether steady-state jumps (``memsim.engine.fastpath``) are exact for this run: the
    default granularity, one stream, no background traffic, no DRAM refresh, and the cache
    kernel a ``Hierarchy`` (whose state can be copied) or none."""
    return (scenario.engine.granularity == "auto" and len(scenario.streams) == 1
            and not scenario.background and scenario.hardware.memory.dram.refresh is None
            and (hierarchy is None or type(hierarchy) is Hierarchy))


def _layer_plans(hw, prepared, onchip, memo: TileMemo) -> list[LayerPlan]:
    """The engine's view of one prepared stream's layers (host copies on the first and last)."""
    layers = [LayerPlan(name=m.op.name, op=m.op.kind, macs=int(m.macs), target=m.target_level,
                        tiles=memo.tiles(m.memo_key, m), utilisation=float(m.utilisation),
                        extra_cycles_per_tile=float(m.extra_cycles_per_tile),
                        onchip_lines=onchip, fixed_ps=int(m.fixed_ps), n_tiles=int(m.n_tiles))
              for m in prepared.mappings]
    if layers:
        host_in, host_out = host_io(hw, prepared.graph, prepared.plan, onchip)
        layers[0].host_in_bytes = host_in
        layers[-1].host_out_bytes = host_out
    return layers


def _start_dram_users(env, system, scenario, rng, stop, lazy_refresh: bool = False) -> None:
    dram = scenario.hardware.memory.dram
    system.background_counters = []
    refresh = dram.refresh
    if refresh is not None:
        n = len(system.dram_links)
        for c, link in enumerate(system.dram_links):
            phase = refresh.interval_ps * c // n
            if lazy_refresh:
                link.refresh_lazily(refresh.interval_ps, refresh.blocked_ps, phase)
            else:
                start_refresh(env, link, refresh.interval_ps, refresh.blocked_ps, phase, stop)
    for bg in scenario.background:
        counter = {}
        system.background_counters.append(counter)
        env.process(background_process(env, system.dram, bg.bandwidth_bytes_per_s, bg.burst_bytes,
                                       bg.pattern, rng, stop, counter))


def _resolved(scenario) -> dict:
    try:
        return scenario.model_dump(by_alias=True, mode="json")
    except Exception:  # noqa: BLE001 - a resolved copy is a convenience, never a failure
        return {}
