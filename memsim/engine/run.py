"""``simulate(scenario) -> Result``: the whole pipeline for one scenario.

config → workload graph (batch-norm folded) → memory plan → mapping → simpy run → Result.
Every stream gets its own address space (streams are separate processes; they share caches and
links but not data). Randomness (frame jitter, background bursts, random replacement) comes from
generators spawned from the scenario's seed, so a run is reproducible on any executor.
"""

from __future__ import annotations

from heapq import heappop
from pathlib import Path

import numpy as np
import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import EventPriority

from memsim.engine.collect import build_result
from memsim.engine.feasibility import check_feasible
from memsim.engine.links import start_refresh
from memsim.engine.pipeline import LayerPlan, Runner
from memsim.engine.residency import host_io, resident_ranges
from memsim.engine.system import System
from memsim.engine.traffic import background_process
from memsim.runtime import apply as runtime_apply, settings_for

# Streams live 2^34 lines (1 TiB at 64 B lines) apart, so they never alias in the caches.
STREAM_LINE_STRIDE = 1 << 34
# Tile line arrays kept between frames (re-generating a layer's tiles every frame is wasted
# work); layers beyond this budget are regenerated each frame.
TILE_MEMO_BUDGET_BYTES = 768 << 20
# DRAM refresh windows simulated lazily (SharedLink.refresh_lazily; identical results, with an
# exact re-run when a window cannot be ordered); False: every window through the process.
LAZY_REFRESH = True
# Stream fields passed to the network builder when set.
NETWORK_PARAMS = ("seq_len", "phase", "context", "resolution")


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


class Environment(simpy.Environment):
    """``simpy.Environment`` whose ``run(until=event)`` steps in one loop (no method call per
    event); events are processed in exactly the order, and with exactly the effects, of
    ``simpy.Environment.step``."""

    def run(self, until=None):
        if not isinstance(until, simpy.Event) or until.callbacks is None:
            return super().run(until)
        until.callbacks.append(StopSimulation.callback)
        queue = self._queue
        try:
            while True:
                try:
                    self._now, _, _, event = heappop(queue)
                except IndexError:
                    raise EmptySchedule from None
                callbacks, event.callbacks = event.callbacks, None
                try:
                    for callback in callbacks:
                        callback(event)
                except StopSimulation:
                    event.callbacks = callbacks[callbacks.index(callback) + 1:]
                    self.schedule(event, EventPriority(-1))
                    raise
                if not event._ok and not hasattr(event, "_defused"):
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            assert not until.triggered
            raise RuntimeError(f'No scheduled events left but "until" event was not '
                               f'triggered: {until}') from None


def prepare_stream(stream, hw, strategies, seed: int):
    """Graph, memory plan and layer plans of one stream."""
    from memsim.mapping import map_graph
    from memsim.planning import plan_graph
    from memsim.strategies import tensor_bytes_hook
    from memsim.workloads import load_network

    params = {k: getattr(stream, k, None) for k in NETWORK_PARAMS}
    params = {k: v for k, v in params.items() if v is not None}
    graph = load_network(stream.network, batch=stream.batch, dtype=stream.dtype, **params)
    graph = graph.fold_batchnorm()
    hook = tensor_bytes_hook(strategies)
    plan = plan_graph(graph, algorithm=strategies.reuse.planner,
                      alignment=strategies.reuse.alignment_bytes, tensor_bytes=hook,
                      inplace=strategies.reuse.inplace, seed=seed)
    mappings = map_graph(graph, hw, plan, strategies)
    return graph, plan, mappings


def simulate(scenario, *, progress=None, tables: bool = True):
    """Run a scenario (a ``Scenario`` or a path to one) and return its ``Result``.

    ``progress``, if given, is called as ``progress(done_frames, total_frames)``.
    ``tables=False`` (sweeps): the same summary, layer and frame tables, without the timeline
    and memory tables and the resolved configuration.
    """
    from memsim.config import load_scenario

    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    hw = scenario.hardware
    strategies = scenario.strategies
    seeds = np.random.SeedSequence(scenario.seed).spawn(3 + len(scenario.streams))
    prepared = [prepare_stream(s, hw, strategies, scenario.seed) for s in scenario.streams]
    # the runtime stage: what the software stack executes of each stream's mappings
    settings = [settings_for(s, hw, scenario.runtime, scenario.unit) for s in scenario.streams]
    prepared = [(g, p, runtime_apply(m, g, hw, rt))
                for rt, (g, p, m) in zip(settings, prepared)]
    check_feasible(scenario, [(g, p) for g, p, _ in prepared])

    resident = resident_ranges(hw, [p for _, p, _ in prepared])
    built: list = []
    try:
        runner, system = _run(scenario, prepared, resident, seeds, progress, LAZY_REFRESH, built)
        hazard = _refresh_hazard(system)
    except Exception:
        if not (built and _refresh_hazard(built[0])):
            raise
        hazard = True
    if hazard:
        # a lazily simulated refresh window met a simultaneous event: run again with every
        # window simulated (see SharedLink.refresh_lazily), so results never depend on it
        runner, system = _run(scenario, prepared, resident, seeds, progress, False, [])
    background_bytes = sum(c.get("bytes", 0) for c in system.background_counters)
    extra = {"background_bytes": int(background_bytes), "events": int(runner.events_tiles),
             "fits_in_memory": True, "hardware": hw.name, **runtime_summary(hw, settings)}
    dtypes = {i: s.dtype for i, s in enumerate(scenario.streams)}
    resolved = _resolved(scenario) if tables else {}
    return build_result(scenario.name, runner, hw, [(p, g) for g, p, _ in prepared], dtypes,
                        scenario=scenario, resolved=resolved, extra_summary=extra, tables=tables)


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


def _run(scenario, prepared, resident, seeds, progress, lazy_refresh: bool, built: list):
    """Build the simulated system for ``prepared`` streams and run it; returns (runner, system).

    ``lazy_refresh``: DRAM refresh windows through ``SharedLink.refresh_lazily`` (a window no
    transfer sees costs nothing) instead of the refresh process; a link that met a case it
    cannot order exactly says so (``refresh_hazard``) and the caller runs again without.
    The system is appended to ``built`` as soon as it exists.
    """
    from memsim.cache import Hierarchy

    hw = scenario.hardware
    strategies = scenario.strategies
    env = Environment()
    cache_seed = int(seeds[0].generate_state(1)[0])
    hierarchy = Hierarchy.from_hardware(hw, seed=cache_seed) if hw.memory.cache_levels() else None
    system = System(env, hw, hierarchy, hw.compute.cores)
    built.append(system)
    runner = Runner(system, strategies.prefetch.depth, hw.compute.clock_hz)
    memo = TileMemo()
    total_frames = sum(s.frames for s in scenario.streams)
    for stream in scenario.streams:
        for core in (stream.cores or range(hw.compute.cores)):
            runner.shared_cores[core] = runner.shared_cores.get(core, 0) + 1
    stop = env.event()
    dones = []
    for index, (stream, (graph, plan, mappings)) in enumerate(zip(scenario.streams, prepared)):
        onchip = resident[index]
        layers = [LayerPlan(name=m.op.name, op=m.op.kind, macs=int(m.macs), target=m.target_level,
                            tiles=memo.tiles(getattr(m, "memo_key", id(m)), m), utilisation=float(m.utilisation),
                            extra_cycles_per_tile=float(getattr(m, "extra_cycles_per_tile", 0.0)),
                            onchip_lines=onchip, fixed_ps=int(getattr(m, "fixed_ps", 0)))
                  for m in mappings]
        if layers:
            host_in, host_out = host_io(hw, graph, plan, onchip)
            layers[0].host_in_bytes = host_in
            layers[-1].host_out_bytes = host_out
        cores = list(stream.cores) if stream.cores else list(range(hw.compute.cores))
        done = env.event()
        dones.append(done)
        rng = np.random.default_rng(seeds[3 + index])
        env.process(runner.stream(index, layers, cores, stream.frames, stream.period_ps,
                                  stream.jitter_ps or 0, stream.deadline_ps, rng,
                                  index * STREAM_LINE_STRIDE, done))
    _start_dram_users(env, system, scenario, np.random.default_rng(seeds[1]), stop, lazy_refresh)
    if progress is not None:
        runner.on_frame = lambda: progress(len(runner.frames), total_frames)
    all_done = env.all_of(dones)
    env.run(until=all_done)
    stop.succeed()
    return runner, system


def _start_dram_users(env, system, scenario, rng, stop, lazy_refresh: bool = False) -> None:
    dram = scenario.hardware.memory.dram
    system.background_counters = []
    refresh = getattr(dram, "refresh", None)
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
