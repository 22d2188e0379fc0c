"""Shared helpers for the strategy tests: small hardware, and a run of mapped layers through the
real engine (tile lines → cache kernel → links → DRAM), one frame, one stream."""

from __future__ import annotations

import numpy as np
import simpy

from memsim.cache import Hierarchy
from memsim.config.hardware import Hardware
from memsim.config.strategies import Strategies
from memsim.engine.pipeline import LayerPlan, Runner
from memsim.engine.system import System
from memsim.mapping import SimpleAddressMap, map_graph
from memsim.strategies import tensor_bytes_hook

LINE = 64


def spm_hw(spm="1 MiB", cores=1, dram_bw="10 GB/s", latency="100 ns", mpc=4096, mshrs=100_000,
           sparse=False, registers=None):
    """A scratchpad-only machine: every tile line is one DRAM line transfer (no caches)."""
    comp = {"cores": cores, "clock": "1 GHz", "kind": "simd",
            "macs_per_cycle": {"int8": mpc, "fp16": mpc, "fp32": mpc}, "sparse": sparse}
    if registers:
        comp["registers"] = registers
    return Hardware.model_validate({
        "name": "spm", "compute": comp,
        "memory": {"levels": [{"name": "SPM", "kind": "scratchpad", "size": spm,
                               "latency": "1 cycles", "bandwidth": "4096 B/cycle",
                               "mshrs": mshrs}],
                   "dram": {"bandwidth": dram_bw, "latency": latency}}})


def cache_hw(l1="8 KiB", mshrs=16, dram_bw="10 GB/s", latency="100 ns", mpc=4096, registers=None,
             register_width=None, loop_overhead=None):
    """One private L1 cache in front of DRAM."""
    comp = {"cores": 1, "clock": "1 GHz", "kind": "simd",
            "macs_per_cycle": {"int8": mpc, "fp32": mpc}}
    if registers:
        comp["registers"] = registers
    if register_width:
        comp["register_width"] = register_width
    if loop_overhead:
        comp["loop_overhead"] = loop_overhead
    return Hardware.model_validate({
        "name": "l1", "compute": comp,
        "memory": {"levels": [{"name": "L1", "kind": "cache", "size": l1, "line": "64 B",
                               "ways": 4, "latency": "4 cycles", "bandwidth": "64 B/cycle",
                               "scope": "core", "mshrs": mshrs}],
                   "dram": {"bandwidth": dram_bw, "latency": latency}}})


def strategies(**blocks) -> Strategies:
    """``Strategies`` from YAML-style blocks (aliases accepted)."""
    return Strategies.model_validate(blocks)


def map_with(graph, hw, strat):
    hook = tensor_bytes_hook(strat)
    am = SimpleAddressMap(graph, tensor_bytes=hook)
    return map_graph(graph, hw, am, strat, tensor_bytes=hook)


def run(graph, hw, strat=None, depth=None):
    """Map ``graph`` under ``strat`` and run one frame on core 0; returns (seconds, runner,
    mappings). DRAM bytes are ``Σ layer dram_read_bytes + dram_write_bytes``."""
    strat = strat or Strategies()
    mappings = map_with(graph, hw, strat)
    env = simpy.Environment()
    hier = Hierarchy.from_hardware(hw) if hw.memory.cache_levels() else None
    system = System(env, hw, hier, hw.compute.cores)
    runner = Runner(system, strat.prefetch.depth if depth is None else depth, hw.compute.clock_hz)
    layers = [LayerPlan(name=m.op.name, op=m.op.kind, macs=int(m.macs), target=m.target_level,
                        tiles=m.tiles, utilisation=float(m.utilisation),
                        extra_cycles_per_tile=float(m.extra_cycles_per_tile)) for m in mappings]
    done = env.event()
    env.process(runner.stream(0, layers, list(range(hw.compute.cores)), 1, None, 0, None,
                              np.random.default_rng(0), 0, done))
    env.run(until=done)
    return env.now * 1e-12, runner, mappings


def dram_bytes(runner) -> float:
    return sum(s.dram_read_bytes + s.dram_write_bytes for s in runner.layers)
