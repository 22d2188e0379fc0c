"""The run report: one offline HTML page explaining a single ``Result`` (DESIGN §6).

Figures (docs/reports.md describes how to read each): per-layer stacked latency, hierarchical
roofline, Gantt timeline per resource, activation memory over time, frame-latency histogram and
CDF with the deadline, traffic per level; tables: verdict per stream and the worst frame's layers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from memsim.analysis.roofline import hardware_roofline, intensity_range, layer_points, roof_curve
from memsim.report.fmt import binary_unit, fmt_bw, fmt_bytes, fmt_j, fmt_num, fmt_s, natural_key
from memsim.report.html import Figure, Table, render, text, write_atomic

#: most bars drawn in the Gantt chart; beyond it the earliest intervals are kept and a note says so
MAX_GANTT_BARS = 20000
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
MET, MISSED = "#2ca02c", "#d62728"


# -- what the result knows about its scenario ------------------------------------------------
def result_hardware(result):
    """The ``Hardware`` model of a result (from ``result.scenario`` or its resolved config), or None."""
    scenario = getattr(result, "scenario", None)
    hw = getattr(scenario, "hardware", None)
    if hw is not None:
        return hw
    raw = (getattr(result, "resolved_config", None) or {}).get("hardware")
    if isinstance(raw, dict):
        from memsim.config.hardware import Hardware

        try:
            return Hardware.model_validate(raw)
        except Exception:  # noqa: BLE001 - an old or hand-edited file: report without roofline
            return None
    return None


def stream_info(result) -> list[dict]:
    """Per stream: ``network``, ``dtype``, ``batch`` from the scenario or resolved config."""
    scenario = getattr(result, "scenario", None)
    if scenario is not None and getattr(scenario, "streams", None):
        return [{"network": s.network, "dtype": s.dtype, "batch": s.batch} for s in scenario.streams]
    streams = (getattr(result, "resolved_config", None) or {}).get("streams") or []
    return [{"network": s.get("network", "?"), "dtype": s.get("dtype", "int8"),
             "batch": s.get("batch", 1)} for s in streams if isinstance(s, dict)]


def _level_keys(result, hw) -> list[str]:
    """Level keys (``stall_<key>_s`` / ``bytes_<key>``) in hierarchy order, DRAM last."""
    from memsim.analysis.roofline import level_column

    cols = result.layers.columns
    found = [c[len("bytes_"):] for c in cols if c.startswith("bytes_")]
    found += [c[len("stall_"):-2] for c in cols if c.startswith("stall_") and c.endswith("_s")
              and c != "stall_s" and c[len("stall_"):-2] not in found]
    order = []
    if hw is not None:
        order = [level_column(lvl.name)[len("bytes_"):] for lvl in hw.memory.levels] + ["dram"]
    ranked = [k for k in order if k in found] + [k for k in found if k not in order and k != "dram"]
    if "dram" in found and "dram" not in ranked:
        ranked.append("dram")
    return ranked


def worst_frame(result) -> tuple[pd.DataFrame, dict]:
    """(layers of the slowest frame in execution order, {"stream", "frame", "latency_s"})."""
    frames = result.frames
    if frames.empty:
        return result.layers.iloc[0:0], {}
    row = frames.loc[frames["latency_s"].idxmax()]
    layers = result.layers
    mask = (layers["stream"] == row["stream"]) & (layers["frame"] == row["frame"])
    return (layers[mask].sort_values("start_s", kind="stable"),
            {"stream": int(row["stream"]), "frame": int(row["frame"]),
             "latency_s": float(row["latency_s"])})


def _layer_axis(fig, names, **where):
    idx = list(range(len(names)))
    fig.update_xaxes(tickmode="array", tickvals=idx, ticktext=[text(n) for n in names],
                     tickangle=-60, tickfont={"size": 9}, title_text="layer (execution order)", **where)
    return idx


# -- figures ----------------------------------------------------------------------------------
def latency_figure(result, hw) -> Figure:
    """Per-layer stacked latency of the worst frame: compute plus stall charged to each level."""
    layers, which = worst_frame(result)
    names = layers["name"].tolist()
    fig = go.Figure()
    idx = _layer_axis(fig, names)
    hover = [text(n) for n in names]
    fig.add_bar(x=idx, y=layers["compute_s"].to_numpy(float), name="compute", hovertext=hover,
                marker_color=COLORS[0])
    attributed = np.zeros(len(layers))
    for i, key in enumerate(_level_keys(result, hw)):
        col = f"stall_{key}_s"
        if col not in layers:
            continue
        values = layers[col].to_numpy(float)
        attributed += values
        fig.add_bar(x=idx, y=values, name=f"stall {text(key)}", hovertext=hover,
                    marker_color=COLORS[(i + 1) % len(COLORS)])
    notes = []
    rest = layers["stall_s"].to_numpy(float) - attributed
    if np.any(rest > 1e-15):
        fig.add_bar(x=idx, y=np.maximum(rest, 0.0), name="stall (unattributed)", hovertext=hover,
                    marker_color="#bbbbbb")
        notes.append("Some stall time was not attributed to a level by the engine (no recorded "
                     "waits); it is shown as 'stall (unattributed)'.")
    fig.update_layout(barmode="stack", yaxis_title="time (s)", yaxis_exponentformat="SI",
                      yaxis_ticksuffix="s", legend_title_text="", hovermode="x unified")
    cap = (f"Worst frame (stream {which.get('stream', 0)}, frame {which.get('frame', 0)}, "
           f"{fmt_s(which.get('latency_s'))}). Each bar is one layer: compute time of the busiest "
           "core plus the rest of the layer's span, split over the levels whose waits caused it.")
    return Figure("fig-layer-latency", "Per-layer latency: compute vs stall by level", fig, cap, notes)


def roofline_figure(result, hw) -> Figure | None:
    """Hierarchical roofline with the worst frame's layers as points, one colour per level."""
    if hw is None:
        return None
    layers, which = worst_frame(result)
    streams = stream_info(result)
    dtype = streams[which.get("stream", 0)]["dtype"] if streams else "int8"
    roof = hardware_roofline(hw, dtype)
    points = layer_points(layers, roof)
    lo, hi = intensity_range(points, roof)
    fig = go.Figure()
    for i, ceiling in enumerate(roof.ceilings):
        color = COLORS[i % len(COLORS)]
        xs, ys = roof_curve(roof, ceiling.name, lo, hi)
        fig.add_scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": 2},
                        name=f"roof {text(ceiling.label)}: {fmt_bw(ceiling.bandwidth_bytes_per_s)}",
                        legendgroup=ceiling.name, hoverinfo="skip")
        pts = points[points["level"] == ceiling.name]
        if pts.empty:
            continue
        hover = [f"{text(n)}<br>{text(op)}" for n, op in zip(pts["layer"], pts["op"])]
        fig.add_scatter(x=pts["intensity"].to_numpy(float), y=pts["attained_macs_per_s"].to_numpy(float),
                        mode="markers", marker={"color": color, "size": 8, "opacity": 0.8},
                        name=f"layers @ {text(ceiling.label)}", legendgroup=ceiling.name,
                        hovertext=hover,
                        hovertemplate="%{hovertext}<br>%{x:.3g} MAC/B<br>%{y:.3s}MAC/s<extra></extra>")
    fig.update_layout(xaxis={"type": "log", "title": "operational intensity (MAC per byte at the level)"},
                      yaxis={"type": "log", "title": "attained MAC/s", "exponentformat": "SI"},
                      legend_title_text="")
    cap = (f"Compute roof {fmt_num(roof.peak_macs_per_s)} MAC/s ({text(dtype)}); one bandwidth "
           "ceiling per level (private levels × cores). Each layer appears once per level at its "
           "MACs / bytes moved at that level; its height is MACs / layer time.")
    notes = []
    missing = set(layers["name"]) - set(points["layer"]) if not layers.empty else set()
    if missing:
        notes.append(f"{len(missing)} layer(s) without MACs or without traffic are not plotted "
                     "(no finite operational intensity).")
    return Figure("fig-roofline", "Hierarchical roofline", fig, cap, notes)


def gantt_figure(result) -> Figure:
    """Busy intervals per resource (cores) and frame spans per stream, on one time axis."""
    tl = result.timeline.sort_values("start_s", kind="stable")
    notes = []
    if len(tl) > MAX_GANTT_BARS:
        notes.append(f"Only the first {MAX_GANTT_BARS} of {len(tl)} busy intervals are drawn.")
        tl = tl.iloc[:MAX_GANTT_BARS]
    fig = go.Figure()
    for i, (stream, part) in enumerate(tl.groupby("stream", sort=True)):
        hover = [f"{text(lbl)}<br>frame {int(f)}" for lbl, f in zip(part["label"], part["frame"])]
        fig.add_bar(base=part["start_s"].to_numpy(float),
                    x=(part["end_s"] - part["start_s"]).to_numpy(float),
                    y=[text(r) for r in part["resource"]], orientation="h",
                    name=f"stream {int(stream)} compute", marker_color=COLORS[i % len(COLORS)],
                    hovertext=hover, hovertemplate="%{hovertext}<br>%{base:.4s}s + %{x:.4s}s<extra></extra>")
    frames = result.frames
    for met, color, label in ((True, MET, "frame met"), (False, MISSED, "frame missed")):
        part = frames[frames["met"] == met]
        if part.empty:
            continue
        fig.add_bar(base=part["arrival_s"].to_numpy(float),
                    x=(part["end_s"] - part["arrival_s"]).to_numpy(float),
                    y=[f"stream {int(s)} frames" for s in part["stream"]], orientation="h",
                    name=label, marker_color=color, opacity=0.7,
                    hovertext=[f"frame {int(f)}" for f in part["frame"]],
                    hovertemplate="%{hovertext}<br>arrival %{base:.4s}s, latency %{x:.4s}s<extra></extra>")
    rows = sorted({str(r) for r in tl["resource"]}, key=natural_key)
    rows += sorted({f"stream {int(s)} frames" for s in frames["stream"]}, key=natural_key)
    window = gantt_window(result)
    xaxis = {"title": "time (s)", "tickformat": "~s", "ticksuffix": "s"}
    if window is not None:
        xaxis["range"] = list(window)
    fig.update_layout(barmode="overlay", xaxis=xaxis, legend_title_text="",
                      yaxis={"title": "resource", "categoryorder": "array",
                             "categoryarray": [text(r) for r in rows], "autorange": "reversed"})
    _, which = worst_frame(result)
    cap = ("Each bar on a core row is the compute span of one layer on that core; bars on a "
           "'frames' row run from a frame's arrival to its completion (green met, red missed). "
           + (f"The axis opens on the worst frame (stream {which.get('stream', 0)}, frame "
              f"{which.get('frame', 0)}); zoom out (double-click) to see every frame."
              if window is not None else ""))
    return Figure("fig-gantt", "Timeline per resource", fig, cap, notes)


def gantt_window(result) -> tuple[float, float] | None:
    """The time window the timeline opens on: the worst frame from arrival to completion,
    padded by 2 % on each side (None without frames). Layers last micro- to milliseconds while
    a run spans seconds, so the whole run would show every layer bar as a hairline."""
    frames = result.frames
    if frames.empty:
        return None
    row = frames.loc[frames["latency_s"].idxmax()]
    start, end = float(row["arrival_s"]), float(row["end_s"])
    pad = 0.02 * max(end - start, 1e-12)
    return start - pad, end + pad


def memory_figure(result) -> Figure:
    """Planned activation footprint per execution step vs naive allocation and the lower bound,
    in the binary unit (KiB, MiB) the caption and every other table use."""
    mem = result.memory
    fig = go.Figure()
    streams = sorted(mem["stream"].unique()) if "stream" in mem else [0]
    columns = [c for c in ("planned_bytes", "naive_bytes", "lower_bound_bytes", "arena_bytes") if c in mem]
    unit, scale = binary_unit(mem[columns].to_numpy(float).max() if len(mem) and columns else 0)
    lines = (("planned_bytes", "planned live bytes", {"shape": "hv"}, 0),
             ("naive_bytes", "naive (no reuse)", {"dash": "dot"}, 3),
             ("lower_bound_bytes", "lower bound (largest live set)", {"dash": "dash"}, 2),
             ("arena_bytes", "planned arena", {"dash": "dashdot"}, 1))
    for i, stream in enumerate(streams):
        part = mem[mem["stream"] == stream] if "stream" in mem else mem
        steps = part["step"].to_numpy(int)
        hover = [text(n) for n in part["layer"]]
        suffix = f" (stream {int(stream)})" if len(streams) > 1 else ""
        for col, label, style, shift in lines:
            if col not in part:
                continue
            fig.add_scatter(x=steps, y=part[col].to_numpy(float) / scale, mode="lines",
                            line={**style, "color": COLORS[(i + shift) % len(COLORS)]},
                            name=f"{label}{suffix}", hovertext=hover,
                            hovertemplate=f"%{{hovertext}}<br>%{{y:.4g}} {unit}<extra></extra>")
    fig.update_layout(xaxis_title="execution step (layer)",
                      yaxis={"title": f"activation memory ({unit})", "rangemode": "tozero"},
                      legend_title_text="")
    s = result.summary
    cap = (f"Planned arena {fmt_bytes(s.get('peak_activation_bytes'))}, lower bound "
           f"{fmt_bytes(s.get('lower_bound_activation_bytes'))}, naive "
           f"{fmt_bytes(s.get('naive_activation_bytes'))}. The solid line is the activation memory "
           f"live at each step under the memory plan ({unit} = {scale:,} bytes).")
    return Figure("fig-memory", "Activation memory over time", fig, cap)


#: a deadline further right than this many × the worst latency is noted instead of drawn, so the
#: histogram's bars keep a readable width
DEADLINE_ON_SCALE = 1.5
#: histogram bins across the plotted latency range
HIST_BINS = 40


def latency_range(latencies, deadlines) -> tuple[float, float, list[float]]:
    """(x0, x1, deadlines drawn): a latency axis around the frames' latencies, padded so equal
    latencies still make a visible bar, stretched to a deadline only when it is near the worst
    frame (≤ ``DEADLINE_ON_SCALE`` × worst); deadlines further away are left off the axis."""
    lo, hi = float(np.min(latencies)), float(np.max(latencies))
    pad = max(0.15 * (hi - lo), 0.05 * abs(hi), 1e-12)
    x0, x1 = max(0.0, lo - pad), hi + pad
    shown = [d for d in deadlines if d <= DEADLINE_ON_SCALE * hi]
    if shown:
        x0, x1 = min(x0, min(shown) - pad), max(x1, max(shown) + pad)
    return max(0.0, x0), x1, shown


def latency_distribution_figure(result) -> Figure:
    """Histogram and empirical CDF of frame latencies with each stream's deadline."""
    frames = result.frames
    fig = make_subplots(rows=1, cols=2, subplot_titles=("histogram", "CDF"))
    deadlines = sorted({float(d) for d in frames["deadline_s"].dropna()}) if len(frames) else []
    notes = [] if deadlines else ["No stream has a deadline, so no deadline line is drawn."]
    if frames.empty:
        return Figure("fig-latency-distribution", "Frame latency distribution", fig,
                      "No frames were simulated.", notes)
    x0, x1, shown = latency_range(frames["latency_s"].to_numpy(float), deadlines)
    bins = {"start": x0, "end": x1, "size": (x1 - x0) / HIST_BINS}
    for i, (stream, part) in enumerate(frames.groupby("stream", sort=True)):
        lat = np.sort(part["latency_s"].to_numpy(float))
        color = COLORS[i % len(COLORS)]
        fig.add_trace(go.Histogram(x=lat, xbins=bins, autobinx=False, name=f"stream {int(stream)}",
                                   marker_color=color, opacity=0.75, legendgroup=str(stream)),
                      row=1, col=1)
        cdf = np.arange(1, len(lat) + 1) / max(1, len(lat))
        fig.add_trace(go.Scatter(x=lat, y=cdf, mode="lines+markers", line={"shape": "hv", "color": color},
                                 name=f"stream {int(stream)} CDF", legendgroup=str(stream)), row=1, col=2)
    for d in shown:
        fig.add_vline(x=d, line_dash="dash", line_color=MISSED, row=1, col=1)
        fig.add_vline(x=d, line_dash="dash", line_color=MISSED, row=1, col=2,
                      annotation_text=f"deadline {fmt_s(d)}", annotation_position="top left")
    worst = float(frames["latency_s"].max())
    for d in (d for d in deadlines if d not in shown):
        fig.add_annotation(xref="paper", yref="paper", x=1.0, y=1.12, xanchor="right",
                           showarrow=False, font={"color": MISSED},
                           text=f"deadline {fmt_s(d)} is off the axis ({d / worst:.3g}× the worst frame) →")
        notes.append(f"The deadline ({fmt_s(d)}) is {d / worst:.3g}× the worst frame latency, so "
                     "the axes zoom on the latencies and name the deadline instead of drawing it.")
    fig.update_layout(barmode="overlay", legend_title_text="")
    fig.update_xaxes(title_text="frame latency (s)", tickformat="~s", ticksuffix="s",
                     range=[x0, x1])
    fig.update_yaxes(title_text="frames", row=1, col=1)
    fig.update_yaxes(title_text="fraction of frames ≤ latency", range=[0, 1.05], row=1, col=2)
    s = result.summary
    cap = (f"{s.get('frames', len(frames))} frames; p50 {fmt_s(s.get('latency_p50_s'))}, p99 "
           f"{fmt_s(s.get('latency_p99_s'))}, worst {fmt_s(s.get('latency_s'))}. Latency runs "
           "from a frame's arrival to its completion; the dashed line is the deadline.")
    return Figure("fig-latency-distribution", "Frame latency distribution", fig, cap, notes)


def traffic_figure(result, hw) -> Figure:
    """Bytes moved at each level per layer of the worst frame (log scale)."""
    layers, _ = worst_frame(result)
    names = layers["name"].tolist()
    fig = go.Figure()
    idx = _layer_axis(fig, names)
    hover = [text(n) for n in names]
    n_frames = max(1, len(result.frames))
    for i, key in enumerate(_level_keys(result, hw)):
        col = f"bytes_{key}"
        if col not in layers:
            continue
        per_frame = float(result.layers[col].sum()) / n_frames
        fig.add_bar(x=idx, y=layers[col].to_numpy(float), hovertext=hover,
                    name=f"{text(key)}: {fmt_bytes(per_frame)} per frame",
                    marker_color=COLORS[(i + 1) % len(COLORS)])
    fig.update_layout(barmode="group", yaxis={"type": "log", "title": "bytes", "exponentformat": "SI"},
                      legend_title_text="")
    cap = ("Bytes moved at each level by each layer of the worst frame (log scale); the legend "
           "gives the mean per frame over all frames. Reuse in a level shows up as fewer bytes "
           "at the level outside it.")
    return Figure("fig-traffic", "Traffic per level", fig, cap)


# -- tables -----------------------------------------------------------------------------------
def verdict_table(result) -> Table:
    """One row per stream: frames, latencies, deadline, slack, miss rate and verdict."""
    streams = stream_info(result)
    rows, classes = [], []
    for stream, part in result.frames.groupby("stream", sort=True):
        lat = part["latency_s"].to_numpy(float)
        dl = part["deadline_s"].dropna()
        deadline = float(dl.min()) if len(dl) else None
        slack = deadline - float(lat.max()) if deadline is not None else None
        missed = int((~part["met"].astype(bool)).sum())
        info = streams[int(stream)] if int(stream) < len(streams) else {}
        met = missed == 0
        rows.append([int(stream), info.get("network", "?"), info.get("dtype", "?"), len(part),
                     (fmt_s(lat.max()), float(lat.max())), (fmt_s(np.percentile(lat, 50)), float(np.percentile(lat, 50))),
                     (fmt_s(np.percentile(lat, 99)), float(np.percentile(lat, 99))),
                     (fmt_s(deadline), deadline), (fmt_s(slack), slack),
                     (f"{100 * missed / len(part):.1f} %", missed / len(part)),
                     ("MET" if met else "MISSED") if deadline is not None else "no deadline"])
        classes.append("met" if met else "missed")
    return Table("table-verdict", "Verdict", ["stream", "network", "dtype", "frames", "worst latency",
                                              "p50", "p99", "deadline", "slack", "miss rate", "verdict"],
                 rows, classes)


def layer_table(result) -> Table:
    """The worst frame's layers (sortable)."""
    layers, _ = worst_frame(result)
    rows = []
    for _, r in layers.iterrows():
        rows.append([r["name"], r["op"], int(r["macs"]), (fmt_s(r["start_s"]), float(r["start_s"])),
                     (fmt_s(r["compute_s"]), float(r["compute_s"])), (fmt_s(r["stall_s"]), float(r["stall_s"])),
                     (fmt_bytes(r["dram_bytes"]), int(r["dram_bytes"])), r.get("bound", ""),
                     float(r["utilisation"]) if "utilisation" in r else None])
    return Table("table-layers", "Worst frame, per layer", ["layer", "op", "MACs", "start", "compute",
                                                              "stall", "DRAM bytes", "bound by",
                                                              "lane utilisation"],
                 rows, sortable=True, caption="Click a column header to sort.")


def run_figures(result) -> list[Figure]:
    """Every figure of the run report, in page order."""
    hw = result_hardware(result)
    figures = [latency_figure(result, hw), roofline_figure(result, hw), gantt_figure(result),
               memory_figure(result), latency_distribution_figure(result), traffic_figure(result, hw)]
    return [f for f in figures if f is not None]


def run_html(result) -> str:
    """The complete run report page."""
    s = result.summary
    hw = result_hardware(result)
    streams = stream_info(result)
    networks = ", ".join(sorted({str(x["network"]) for x in streams})) or "?"
    verdict = "MET" if s.get("met") else "MISSED"
    facts = [("verdict", verdict), ("hardware", str(s.get("hardware") or getattr(hw, "name", "?"))),
             ("network", networks), ("worst frame latency", fmt_s(s.get("latency_s"))),
             ("deadline", fmt_s(s.get("deadline_s"))), ("slack", fmt_s(s.get("slack_s"))),
             ("miss rate", f"{100 * float(s.get('miss_rate') or 0):.1f} % of {s.get('frames', len(result.frames))} frames"),
             ("DRAM traffic per frame", fmt_bytes(s.get("dram_bytes"))),
             ("energy per frame", fmt_j(s.get("energy_j"))),
             ("activation arena (lower bound)", f"{fmt_bytes(s.get('peak_activation_bytes'))} "
                                                f"({fmt_bytes(s.get('lower_bound_activation_bytes'))})")]
    blocks = [verdict_table(result)] + run_figures(result) + [layer_table(result)]
    assumptions = [
        "Per-layer figures show the slowest frame; the latency figures show every frame.",
        "A layer's stall is its span minus the busiest core's compute time, split over levels in "
        "proportion to the waits each level caused (engine model, docs/model.md).",
        "Roofline ceilings: a private (per-core) level's bandwidth × cores; shared levels and "
        "DRAM at their aggregate bandwidth; compute roof = macs_per_cycle × cores × clock.",
        "Energy and DRAM traffic are means per frame.",
    ]
    if hw is None:
        assumptions.append("The hardware description was not saved with this result, so the "
                           "roofline is omitted.")
    return render(f"memsim run: {s.get('name', '')}", subtitle=f"{networks} on {facts[1][1]}",
                  facts=facts, blocks=blocks, assumptions=assumptions)


def write_run_report(result, path: str | Path) -> Path:
    """Write the run report of ``result`` to ``path`` (atomically) and return the path."""
    return write_atomic(path, run_html(result))
