"""``memsim precompile``: fill numba's on-disk cache with every kernel memsim runs.

memsim's hot loops are numba functions with ``cache=True``. Compiling them costs seconds per
kernel on a process's first call; numba (≥ 0.61) then keeps the machine code beside the module
in ``__pycache__``, keyed by the source file's *content* hash, the numba version and the CPU.
The package build runs this command on the build tree (``setup.py``), so a plain
``pip install .`` ships a warm cache and no kernel compiles at run time; after editing a
kernel, or on another CPU, run it again. ``--stats`` prints numba's own cache statistics
(hits and misses per compiled function) after the warm-up, as one JSON object. ``--aot DIR``
also compiles every kernel the warm-up called, for the argument types it called them with,
ahead of time into ``DIR`` (``memsim.cli.aot``; the build passes the package folder), so that
an installed copy runs them without importing numba (``memsim.jit``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from memsim.cli.app import app, emit_json

_NETWORK = "ds_cnn"  # the zoo's smallest CNN: every mapping and engine kernel, in well under 1 s
_SCENARIO = """name: precompile
hardware: {hw}
streams:
  - {{network: {net}, dtype: {dtype}, frames: 2, period: 10 s}}
strategies: {{reuse: {{planner: {planner}}}, prefetch: {{depth: 1}}}}
seed: 0
"""


def jit_cache_stats() -> dict:
    """numba's cache statistics of every memsim kernel this process compiled or loaded, and
    how its calls from Python ran: ``{"hits": n, "misses": n, "aot_calls": n, "jit_calls": n,
    "numba_imported": bool, "functions": {name: {...}}}``. A miss is a compilation at run time
    (nothing in numba's cache for that signature); an AOT call ran the installed ahead-of-time
    build (``memsim.jit``) and needs no numba at all."""
    from memsim import jit

    funcs = {}
    for name, kernel in jit.loaded_kernels().items():
        row = {"hits": 0, "misses": 0, "aot_calls": kernel.aot_calls,
               "jit_calls": kernel.jit_calls}
        if kernel._disp is not None:
            stats = kernel._disp.stats
            row["hits"] = int(sum(stats.cache_hits.values()))
            row["misses"] = int(sum(stats.cache_misses.values()))
        if any(row.values()):
            funcs[name] = row
    total = {k: sum(f[k] for f in funcs.values()) for k in ("hits", "misses", "aot_calls",
                                                           "jit_calls")}
    return {**total, "numba_imported": "numba" in sys.modules, "functions": funcs}


def _warm_engine(configs: Path, tmp: Path) -> None:
    """One tiny simulation per hardware preset (each cache geometry has its own kernel variant),
    with each planner (the greedy and branch-and-bound kernels)."""
    from memsim.config import load_hardware, load_scenario
    from memsim.engine.run import simulate

    for i, hw_path in enumerate(sorted((configs / "hardware").glob("*.yaml"))):
        hw = load_hardware(hw_path)
        dtype = "int8" if "int8" in hw.compute.macs_per_cycle else next(
            iter(hw.compute.macs_per_cycle))
        planner = ("greedy-by-size", "best", "greedy-by-breadth")[i % 3]
        path = tmp / f"s{i}.yaml"
        path.write_text(_SCENARIO.format(hw=hw_path.resolve(), net=_NETWORK, dtype=dtype,
                                         planner=planner))
        simulate(load_scenario(path))


def _warm_cache_tools(tmp: Path) -> None:
    """Trace replay in each counter mode, every specialised batch kernel, lackey parsing and the
    stack-distance hit curves."""
    import numpy as np

    from memsim.cache import CacheLevelSpec, Hierarchy, hit_curve, set_hit_curve
    from memsim.cache.kernel import _SPECIAL, _SPECIAL_LEVELS
    from memsim.cache.replay import replay
    from memsim.cache.trace import load_trace

    npz = tmp / "t.npz"
    np.savez(npz, addr=np.arange(0, 4096, 8, dtype=np.uint64), write=np.arange(512) % 3 == 0,
             size=np.int64(8))
    lackey = tmp / "t.lackey"
    lackey.write_text("I  04001000,3\n L 7ff000100,8\n S 7ff000140,8\n M 00601038,4\n")
    specs = [CacheLevelSpec("L1", 64, 8, 64, "lru", False),
             CacheLevelSpec("L2", 512, 16, 64, "lru", True)]
    for compat in ("default", "pycachesim", "cachegrind"):
        for trace in (load_trace(npz), load_trace(lackey)):
            replay(trace, Hierarchy(specs, compat=compat), flush=True)
    # every specialised batch kernel (LRU level 0 of each ``_SPECIAL`` width, 1-3 levels):
    # the presets above reach only some of them, user hierarchies (replay) any
    for ways in sorted({w for ws in _SPECIAL.values() for w in ws}):
        for nlev in _SPECIAL_LEVELS:
            specs = [CacheLevelSpec(f"L{i + 1}", 16 << i, ways if i == 0 else 16, 64, "lru",
                                    i > 0) for i in range(nlev)]
            replay(load_trace(npz), Hierarchy(specs, compat="pycachesim"), flush=True)
    lines = np.arange(1000, dtype=np.int64) % 97
    hit_curve(lines, np.arange(0, 128, 16))
    set_hit_curve(lines, 16, 8)


def _warm_search_tools() -> None:
    """The planner's branch and bound (a search that must prove a too-small arena infeasible)
    and the sweep's stack-distance passes."""
    import time

    import numpy as np

    from memsim.cache import CacheLevelSpec
    from memsim.planning.search import solve
    from memsim.sweep.stackdist import llc_counts, upper_pass

    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 64, 24) * 64
    starts = rng.integers(0, 20, 24)
    ends = starts + rng.integers(1, 8, 24)
    live = [sizes[(starts <= t) & (ends > t)].sum() for t in range(int(ends.max()))]
    solve(sizes, starts, ends, int(max(live)), time.perf_counter() + 5.0)
    solve(sizes, starts, ends, int(max(live)) - 64, time.perf_counter() + 5.0)
    lines = np.arange(600, dtype=np.int64) % 211
    tiles = [(lines, lines % 5 == 0), (lines[::-1], None)]
    specs = [CacheLevelSpec("L1", 4, 4, 64, "lru", False)]
    for upper in (upper_pass(specs, tiles), upper_pass([], tiles)):
        llc_counts(upper, 8, [2, 4, 8])


def warm(configs: Path) -> None:
    """Compile (or load) every kernel a ``run``, ``plan``, ``replay`` or sweep uses."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _warm_engine(configs, Path(tmp))
        _warm_cache_tools(Path(tmp))
    _warm_search_tools()


@app.command(hidden=True)
def precompile(
    configs: Path | None = typer.Option(None, "--configs",
                                        help="configs folder with hardware/ presets"),
    stats: bool = typer.Option(False, "--stats", help="print numba's cache statistics (JSON)"),
    aot: Path | None = typer.Option(None, "--aot", help="also compile the kernels the warm-up "
                                    "called ahead of time into this package folder"),
) -> None:
    """Compile every numba kernel into numba's on-disk cache (the build runs this)."""
    from memsim import jit
    from memsim.config.presets import configs_dir

    records = jit.start_recording() if aot is not None else None
    warm(configs or configs_dir())
    if aot is not None:
        from memsim.cli.aot import build_aot

        build_aot(records, aot)
    if stats:
        emit_json(jit_cache_stats())
