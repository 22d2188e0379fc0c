"""Turn a finished ``Runner`` into a ``Result``: per-layer, per-frame, timeline and memory tables.

Per layer: ``compute_s`` is the busiest core's compute time; ``stall_s`` the rest of the
layer's span; the stall is split over resources in proportion to the waits each caused
(``stall_<level>_s``, latency floors charged to their level); ``bound`` is whichever of compute
or a resource took the largest share. Energy per layer: MACs × pJ/MAC of the dtype plus bytes
moved at each level × that level's pJ/B (DESIGN §3 `energy`).

The tables are built as rows (``engine.result.Table``) and the summary is computed from their
columns with numpy, so a run needs no pandas; the reductions are pandas' own (sums skip NaN,
the minimum skips NaN), so the figures are the ones pandas gave, bit for bit.
"""

from __future__ import annotations

import re

import numpy as np

from memsim.engine.result import PS_PER_S, Result, Table, percentile

FRAME_COLUMNS = ("stream", "frame", "arrival_s", "start_s", "end_s", "latency_s", "deadline_s",
                 "met")
TIMELINE_COLUMNS = ("resource", "start_s", "end_s", "label", "stream", "frame")
MEMORY_COLUMNS = ("stream", "step", "layer", "planned_bytes", "naive_bytes",
                  "lower_bound_bytes", "arena_bytes")


def _level_key(resource: str) -> str:
    """'latency:L2' -> 'L2'; 'dram' -> 'dram'; names sanitised for column names."""
    name = resource.split(":", 1)[1] if resource.startswith("latency:") else resource
    return re.sub(r"[^0-9A-Za-z_]+", "_", name)


def layer_table(runner, hw, dtype_of_stream: dict[int, str]) -> Table:
    """One row per (stream, frame, layer)."""
    level_names = [lvl.name for lvl in hw.memory.levels]
    keys = [_level_key(n) for n in level_names] + ["dram", "runtime"]
    rows = []
    for st in runner.layers:
        duration = (st.end_ps - st.start_ps) / PS_PER_S
        compute = max(st.compute_ps_by_core.values(), default=0) / PS_PER_S
        stall = max(0.0, duration - compute)
        waits = {}
        for res, ps in st.stall_ps_by_resource.items():
            key = _level_key(res)
            waits[key] = waits.get(key, 0) + ps
        total_wait = sum(waits.values())
        row = {"stream": st.stream, "frame": st.frame, "name": st.name, "op": st.op,
               "macs": int(st.macs), "start_s": st.start_ps / PS_PER_S, "end_s": st.end_ps / PS_PER_S,
               "compute_s": compute, "stall_s": stall, "compute_cycles": float(st.compute_cycles),
               "utilisation": float(st.utilisation), "tiles": st.tiles, "lines": st.lines}
        for key in keys:
            row[f"stall_{key}_s"] = stall * waits.get(key, 0) / total_wait if total_wait else 0.0
        for name, key in zip(level_names, keys):
            row[f"bytes_{key}"] = int(round(st.bytes_by_level.get(name, 0.0)))
            row[f"hits_{key}"] = int(st.hits_by_level.get(name, 0))
        dram = st.dram_read_bytes + st.dram_write_bytes
        row["bytes_dram"] = int(round(dram))
        row["dram_bytes"] = int(round(dram))
        row["dram_read_bytes"] = int(round(st.dram_read_bytes))
        row["dram_write_bytes"] = int(round(st.dram_write_bytes))
        row["bound"] = _bound(compute, waits, stall, total_wait, st.stall_ps_by_resource)
        row["energy_j"] = _energy(hw, dtype_of_stream.get(st.stream, "int8"), st, level_names)
        rows.append(row)
    return Table(rows)


def _bound(compute, waits, stall, total_wait, raw) -> str:
    if not total_wait or compute >= stall:
        return "compute"
    worst = max(raw.items(), key=lambda kv: kv[1])[0]
    key = _level_key(worst)
    return f"{key} latency" if worst.startswith("latency:") else key


def _energy(hw, dtype: str, st, level_names) -> float:
    """Joules of one layer: MACs, bytes per level and DRAM, plus static power over its span.

    NaN (unknown) when the hardware gives no energy figures or none for this dtype's MACs: a
    silent 0 would flatter the board. Levels without a figure cost 0 pJ/B (documented).
    """
    energy = hw.energy
    if energy is None or dtype not in energy.mac_pj:
        return float("nan")
    pj = st.macs * float(energy.mac_pj[dtype])
    per_byte = energy.access_pj_per_byte
    for name in level_names:
        pj += st.bytes_by_level.get(name, 0.0) * float(per_byte.get(name, 0.0))
    pj += (st.dram_read_bytes + st.dram_write_bytes) * float(per_byte.get("dram", 0.0))
    static = float(energy.static_w or 0.0) * (st.end_ps - st.start_ps) / PS_PER_S
    return pj / 1e12 + static


def frame_table(runner) -> Table:
    """One row per frame: arrival, start, end, latency, deadline, met."""
    rows = []
    for fr in runner.frames:
        latency = (fr.end_ps - fr.arrival_ps) / PS_PER_S
        deadline = fr.deadline_ps / PS_PER_S if fr.deadline_ps else None
        rows.append({"stream": fr.stream, "frame": fr.frame, "arrival_s": fr.arrival_ps / PS_PER_S,
                     "start_s": fr.start_ps / PS_PER_S, "end_s": fr.end_ps / PS_PER_S, "latency_s": latency,
                     "deadline_s": deadline if deadline is not None else np.nan,
                     "met": bool(deadline is None or latency <= deadline)})
    return Table(rows, FRAME_COLUMNS)


def timeline_table(runner) -> Table:
    """Busy intervals: per core, the compute span of each layer it worked on."""
    rows = []
    for st in runner.layers:
        for core, (start, end) in sorted(st.compute_span.items()):
            rows.append({"resource": f"core{core}", "start_s": start / PS_PER_S, "end_s": end / PS_PER_S,
                         "label": st.name, "stream": st.stream, "frame": st.frame})
    return Table(rows, TIMELINE_COLUMNS)


def memory_table(plans: list) -> Table:
    """Planned activation footprint over execution steps per stream, with naive and lower bound."""
    rows = []
    for stream, (plan, graph) in enumerate(plans):
        live = list(plan.live_bytes_per_step)
        names = [op.name for op in graph.ops]
        for step, planned in enumerate(live):
            rows.append({"stream": stream, "step": step,
                         "layer": names[step] if step < len(names) else "",
                         "planned_bytes": int(planned), "naive_bytes": int(plan.naive_bytes),
                         "lower_bound_bytes": int(plan.lower_bound_bytes),
                         "arena_bytes": int(plan.arena_bytes)})
    return Table(rows, MEMORY_COLUMNS)


def _nansum(values: np.ndarray):
    """Sum skipping NaN, as pandas' ``Series.sum`` does (NaN counted as 0, numpy's summation)."""
    if values.dtype.kind == "f":
        values = np.where(np.isnan(values), 0.0, values)
    return values.sum()


def _stream_summary(index: int, layers: Table, frames: Table) -> dict:
    """Latency, deadline, misses, DRAM and energy of one stream (per frame means)."""
    mine = frames.column("stream") == index
    lat = frames.column("latency_s", float)[mine]
    deadlines = frames.column("deadline_s", float)[mine]
    met = frames.column("met", bool)[mine]
    timed = ~np.isnan(deadlines)
    deadline = np.nanmin(deadlines) if timed.any() else None
    count = int(mine.sum())
    n = max(1, count)
    misses = int((~met).sum()) if deadline is not None else 0
    if len(layers):
        ly = layers.column("stream") == index
        energy_col, dram_col = layers.column("energy_j", float)[ly], layers.column("dram_bytes")[ly]
    else:
        energy_col = dram_col = np.zeros(0)
    energy = float(_nansum(energy_col)) / n if energy_col.size else float("nan")
    return {"stream": index, "frames": count,
            "latency_s": float(lat.max()) if lat.size else 0.0,
            "latency_p50_s": percentile(lat, 50), "latency_p99_s": percentile(lat, 99),
            "deadline_s": float(deadline) if deadline is not None else None,
            "slack_s": float(deadline - lat.max()) if deadline is not None and lat.size else None,
            "miss_rate": misses / count if deadline is not None and count else 0.0,
            "met": misses == 0,
            "dram_bytes": int(round(_nansum(dram_col) / n)) if dram_col.size else 0,
            "energy_j": energy if np.isfinite(energy) else None}


def summarise(name: str, layers: Table, frames: Table, plans: list,
              compute_cycles: float) -> dict:
    """The run summary (keys of DESIGN §9's run JSON and a few more).

    With several streams the latency, percentiles, deadline and slack are the *critical*
    stream's (the smallest slack, or the longest latency when no stream has a deadline);
    ``miss_rate`` is over all frames with a deadline, ``met`` requires every stream to meet its
    deadline, and ``dram_bytes``/``energy_j`` add up one frame of every stream. ``streams``
    holds the per-stream summaries.
    """
    streams = [_stream_summary(int(i), layers, frames) for i in np.unique(frames.column("stream"))]
    if not streams:
        streams = [_stream_summary(0, layers, frames)]
    timed = [s for s in streams if s["slack_s"] is not None]
    critical = (min(timed, key=lambda s: s["slack_s"]) if timed
                else max(streams, key=lambda s: s["latency_s"]))
    timed_frames = ~np.isnan(frames.column("deadline_s", float))
    n_timed = int(timed_frames.sum())
    misses = int((~frames.column("met", bool)[timed_frames]).sum()) if n_timed else 0
    energies = [s["energy_j"] for s in streams]
    return {
        "name": name,
        "latency_s": critical["latency_s"],
        "latency_p50_s": critical["latency_p50_s"],
        "latency_p99_s": critical["latency_p99_s"],
        "deadline_s": critical["deadline_s"],
        "slack_s": critical["slack_s"],
        "miss_rate": misses / n_timed if n_timed else 0.0,
        "met": misses == 0,
        "energy_j": None if any(e is None for e in energies) else float(sum(energies)),
        "dram_bytes": int(sum(s["dram_bytes"] for s in streams)),
        "peak_activation_bytes": int(sum(p.arena_bytes for p, _ in plans)),
        "lower_bound_activation_bytes": int(sum(p.lower_bound_bytes for p, _ in plans)),
        "naive_activation_bytes": int(sum(p.naive_bytes for p, _ in plans)),
        "compute_cycles": int(round(compute_cycles)),
        "frames": int(len(frames)),
        "critical_stream": int(critical["stream"]),
        "streams": streams,
    }


def build_result(name, runner, hw, plans, dtype_of_stream, scenario=None, resolved=None,
                 extra_summary=None, tables: bool = True) -> Result:
    """Assemble the ``Result`` of a finished run.

    ``tables=False`` (sweeps, which keep only the summary): the same summary, computed by
    ``summarise`` from the same layer and frame tables, but without the timeline and memory
    tables (left empty)."""
    layers = layer_table(runner, hw, dtype_of_stream)
    frames = frame_table(runner)
    first = layers.column("frame") == 0 if len(layers) else np.zeros(0, bool)
    cycles = layers.column("compute_cycles", float)[first] if first.any() else np.zeros(0)
    compute_cycles = float(_nansum(cycles)) if cycles.size else 0.0
    summary = summarise(name, layers, frames, plans, compute_cycles)
    summary.update(extra_summary or {})
    if not tables:
        return Result(summary=summary, layers=layers, frames=frames, timeline=Table(),
                      memory=Table(), scenario=scenario, resolved_config=resolved or {})
    return Result(summary=summary, layers=layers, frames=frames, timeline=timeline_table(runner),
                  memory=memory_table(plans), scenario=scenario, resolved_config=resolved or {})
