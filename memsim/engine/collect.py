"""Turn a finished ``Runner`` into a ``Result``: per-layer, per-frame, timeline and memory tables.

Per layer: ``compute_s`` is the busiest core's compute time; ``stall_s`` the rest of the
layer's span; the stall is split over resources in proportion to the waits each caused
(``stall_<level>_s``, latency floors charged to their level); ``bound`` is whichever of compute
or a resource took the largest share. Energy per layer: MACs × pJ/MAC of the dtype plus bytes
moved at each level × that level's pJ/B (DESIGN §3 `energy`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from memsim.engine.result import PS, Result, percentile


def _level_key(resource: str) -> str:
    """'latency:L2' -> 'L2'; 'dram' -> 'dram'; names sanitised for column names."""
    name = resource.split(":", 1)[1] if resource.startswith("latency:") else resource
    return re.sub(r"[^0-9A-Za-z_]+", "_", name)


def layer_table(runner, hw, dtype_of_stream: dict[int, str]) -> pd.DataFrame:
    """One row per (stream, frame, layer)."""
    level_names = [lvl.name for lvl in hw.memory.levels]
    keys = [_level_key(n) for n in level_names] + ["dram"]
    rows = []
    for st in runner.layers:
        duration = (st.end_ps - st.start_ps) * PS
        compute = max(st.compute_ps_by_core.values(), default=0) * PS
        stall = max(0.0, duration - compute)
        waits = {}
        for res, ps in st.stall_ps_by_resource.items():
            key = _level_key(res)
            waits[key] = waits.get(key, 0) + ps
        total_wait = sum(waits.values())
        row = {"stream": st.stream, "frame": st.frame, "name": st.name, "op": st.op,
               "macs": int(st.macs), "start_s": st.start_ps * PS, "end_s": st.end_ps * PS,
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
    return pd.DataFrame(rows)


def _bound(compute, waits, stall, total_wait, raw) -> str:
    if not total_wait or compute >= stall:
        return "compute"
    worst = max(raw.items(), key=lambda kv: kv[1])[0]
    key = _level_key(worst)
    return f"{key} latency" if worst.startswith("latency:") else key


def _energy(hw, dtype: str, st, level_names) -> float:
    energy = getattr(hw, "energy", None)
    if energy is None:
        return float("nan")
    pj = st.macs * float(energy.mac_pj.get(dtype, 0.0))
    per_byte = energy.access_pj_per_byte
    for name in level_names:
        pj += st.bytes_by_level.get(name, 0.0) * float(per_byte.get(name, 0.0))
    pj += (st.dram_read_bytes + st.dram_write_bytes) * float(per_byte.get("dram", 0.0))
    return pj * 1e-12


def frame_table(runner) -> pd.DataFrame:
    """One row per frame: arrival, start, end, latency, deadline, met."""
    rows = []
    for fr in runner.frames:
        latency = (fr.end_ps - fr.arrival_ps) * PS
        deadline = fr.deadline_ps * PS if fr.deadline_ps else None
        rows.append({"stream": fr.stream, "frame": fr.frame, "arrival_s": fr.arrival_ps * PS,
                     "start_s": fr.start_ps * PS, "end_s": fr.end_ps * PS, "latency_s": latency,
                     "deadline_s": deadline if deadline is not None else np.nan,
                     "met": bool(deadline is None or latency <= deadline)})
    return pd.DataFrame(rows, columns=["stream", "frame", "arrival_s", "start_s", "end_s",
                                       "latency_s", "deadline_s", "met"])


def timeline_table(runner) -> pd.DataFrame:
    """Busy intervals: per core, the compute span of each layer it worked on."""
    rows = []
    for st in runner.layers:
        for core, (start, end) in sorted(st.compute_span.items()):
            rows.append({"resource": f"core{core}", "start_s": start * PS, "end_s": end * PS,
                         "label": st.name, "stream": st.stream, "frame": st.frame})
    return pd.DataFrame(rows, columns=["resource", "start_s", "end_s", "label", "stream", "frame"])


def memory_table(plans: list) -> pd.DataFrame:
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
    return pd.DataFrame(rows, columns=["stream", "step", "layer", "planned_bytes", "naive_bytes",
                                       "lower_bound_bytes", "arena_bytes"])


def summarise(name: str, layers: pd.DataFrame, frames: pd.DataFrame, plans: list,
              compute_cycles: float) -> dict:
    """The run summary (keys of DESIGN §9's run JSON and a few more)."""
    latencies = frames["latency_s"].to_numpy(float)
    with_deadline = frames[frames["deadline_s"].notna()]
    slack = None
    if not with_deadline.empty:
        per_stream = with_deadline.groupby("stream").agg(lat=("latency_s", "max"), dl=("deadline_s", "min"))
        slack = float((per_stream["dl"] - per_stream["lat"]).min())
    misses = int((~with_deadline["met"]).sum()) if not with_deadline.empty else 0
    n_frames = max(1, len(frames))
    deadline = float(with_deadline["deadline_s"].min()) if not with_deadline.empty else None
    energy = float(layers["energy_j"].sum()) / n_frames if "energy_j" in layers else float("nan")
    return {
        "name": name,
        "latency_s": float(latencies.max()) if latencies.size else 0.0,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "deadline_s": deadline,
        "slack_s": slack,
        "miss_rate": misses / len(with_deadline) if len(with_deadline) else 0.0,
        "met": misses == 0,
        "energy_j": energy if np.isfinite(energy) else None,
        "dram_bytes": int(round(layers["dram_bytes"].sum() / n_frames)) if len(layers) else 0,
        "peak_activation_bytes": int(sum(p.arena_bytes for p, _ in plans)),
        "lower_bound_activation_bytes": int(sum(p.lower_bound_bytes for p, _ in plans)),
        "naive_activation_bytes": int(sum(p.naive_bytes for p, _ in plans)),
        "compute_cycles": int(round(compute_cycles)),
        "frames": int(len(frames)),
    }


def build_result(name, runner, hw, plans, dtype_of_stream, scenario=None, resolved=None,
                 extra_summary=None) -> Result:
    """Assemble the ``Result`` of a finished run."""
    layers = layer_table(runner, hw, dtype_of_stream)
    frames = frame_table(runner)
    first = layers[layers["frame"] == 0] if len(layers) else layers
    compute_cycles = float(first["compute_cycles"].sum()) if len(first) else 0.0
    summary = summarise(name, layers, frames, plans, compute_cycles)
    summary.update(extra_summary or {})
    return Result(summary=summary, layers=layers, frames=frames, timeline=timeline_table(runner),
                  memory=memory_table(plans), scenario=scenario, resolved_config=resolved or {})
