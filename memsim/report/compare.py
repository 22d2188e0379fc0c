"""Hardware comparison: run one network on several boards, the verdict rows and the report.

``compare_boards`` builds one scenario per board (a single stream of ``network`` with the given
dtype, batch, frame count and deadline; frames back to back, default strategies) and simulates
it. A board that cannot run the workload (``InfeasibleError``: dtype not supported, arena larger
than memory, ...) becomes a row with ``met = False`` and the reason in ``note``, never a crash.

Throughput assumption (stated in the report): frames run one at a time, so the sustained rate
is ``fps = 1 / worst frame latency``; ``fps_per_dollar = fps / price_usd`` and
``fps_per_watt = fps / tdp_w`` (the board's TDP, an upper bound on its power).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from memsim.report.fmt import fmt_bytes, fmt_j, fmt_num, fmt_s, fmt_usd, num
from memsim.report.html import Figure, Table, render, text, write_atomic

MET, MISSED = "#2ca02c", "#d62728"
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
ROW_KEYS = ("hardware", "latency_s", "deadline_s", "met", "slack_s", "dram_bytes", "energy_j",
            "price_usd", "fps_per_dollar")


@dataclass
class CompareEntry:
    """One board of a comparison: its ``hardware`` name, source ``path``, model ``hw``, the
    ``result`` (None when it could not run), ``note`` (why not) and the ``deadline_s``."""

    hardware: str
    deadline_s: float | None
    path: str | None = None
    hw: object = None
    result: object = None
    note: str | None = None
    extra: dict = field(default_factory=dict)

    batch: int = 1

    @property
    def fps(self) -> float | None:
        """Sustained inferences (images, tokens) per second at the worst frame latency: a frame
        carries ``batch`` of them (None when it did not run)."""
        lat = num(self.result.summary.get("latency_s")) if self.result is not None else None
        return self.batch / lat if lat else None

    @property
    def price_usd(self) -> float | None:
        return num(getattr(self.hw, "price_usd", None))

    @property
    def tdp_w(self) -> float | None:
        return num(getattr(self.hw, "tdp_w", None))

    def row(self) -> dict:
        """The ``memsim compare --json`` row (DESIGN §9), plus ``note`` when the board could not run."""
        fps, price = self.fps, self.price_usd
        if self.result is None:
            out = {"hardware": self.hardware, "latency_s": None, "deadline_s": self.deadline_s,
                   "met": False, "slack_s": None, "dram_bytes": None, "energy_j": None,
                   "price_usd": price, "fps_per_dollar": None}
        else:
            s = self.result.summary
            out = {"hardware": self.hardware, "latency_s": num(s.get("latency_s")),
                   "deadline_s": num(s.get("deadline_s")) if s.get("deadline_s") is not None else self.deadline_s,
                   "met": bool(s.get("met")), "slack_s": num(s.get("slack_s")),
                   "dram_bytes": int(s["dram_bytes"]) if s.get("dram_bytes") is not None else None,
                   "energy_j": num(s.get("energy_j")), "price_usd": price,
                   "fps_per_dollar": fps / price if fps and price else None}
        if self.note:
            out["note"] = self.note
        return out


def compare_boards(network: str, hardware_paths, *, deadline: str, dtype: str = "int8",
                   batch: int = 1, frames: int = 1, seed: int = 0, progress=None) -> list[CompareEntry]:
    """Simulate ``network`` on every board in ``hardware_paths`` (YAML files) → entries in order.

    ``deadline`` is a time string ('33ms'). Bad files or options raise ``InputError``; boards
    that cannot run the workload give an entry with ``note``. ``progress(i, n, name)`` is called
    before each board.
    """
    from memsim.config import load_hardware, validate_data
    from memsim.config.scenario import Scenario
    from memsim.engine.run import simulate
    from memsim.errors import InfeasibleError

    from memsim import units
    from memsim.errors import InputError

    try:
        if units.parse_time(deadline) <= 0:
            raise ValueError("must be positive")
    except ValueError as err:
        raise InputError(str(err) if "(got" in str(err) else f"{err} (got {deadline!r})",
                         field="--deadline", path="command line") from None
    entries = []
    paths = [Path(p) for p in hardware_paths]
    for i, path in enumerate(paths):
        hw = load_hardware(path)
        if progress is not None:
            progress(i, len(paths), hw.name)
        data = {"name": f"{network} on {hw.name}", "hardware": str(path.resolve()), "seed": seed,
                "streams": [{"network": network, "dtype": dtype, "batch": batch, "frames": frames,
                             "deadline": deadline}]}
        scenario = validate_data(Scenario, data, "command line")
        deadline_s = scenario.streams[0].deadline_ps / 1e12
        entry = CompareEntry(hardware=hw.name, deadline_s=deadline_s, path=str(path), hw=hw,
                             batch=batch)
        try:
            hw.peak_macs_per_s(dtype)  # fails fast (InfeasibleError) when the dtype is not supported
            entry.result = simulate(scenario)
        except InfeasibleError as err:
            entry.note = err.problem if err.problem else str(err)
        entries.append(entry)
    return entries


# -- figures ----------------------------------------------------------------------------------
def _ran(entries):
    return [e for e in entries if e.result is not None]


#: assumed size of the plotting area (px) when labels are placed: the figure is 520 px high
#: (``Figure.fragment``) and at least this wide on a laptop screen; a wider page only spreads
#: the points further apart
PLOT_W_PX, PLOT_H_PX = 900, 340
LABEL_CHAR_PX, LABEL_H_PX, MARKER_PX = 6.6, 14.0, 7.0


def _log_range(values, pad: float = 0.12) -> list[float]:
    """A log10 axis range around ``values`` (plotly ranges of log axes are in log10 units)."""
    lo, hi = math.log10(min(values)), math.log10(max(values))
    span = max(hi - lo, 0.5)
    return [lo - pad * span, hi + pad * span]


def label_offsets(points, labels, width=PLOT_W_PX, height=PLOT_H_PX):
    """Pixel offsets ``(ax, ay)`` for one label per point so that no two label boxes overlap,
    no box covers a marker and every box stays inside the plot (greedy: each label takes the
    first free spot among positions at growing distance; the last candidate when none is free).

    ``points`` are pixel positions ``(x, y)`` (y grows downwards), ``labels`` the texts.
    """
    def box(cx, cy, w):
        return (cx - w / 2, cy - LABEL_H_PX / 2, cx + w / 2, cy + LABEL_H_PX / 2)

    def hits(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    markers = [(x - MARKER_PX, y - MARKER_PX, x + MARKER_PX, y + MARKER_PX) for x, y in points]
    placed, out = [], [None] * len(points)
    for i in sorted(range(len(points)), key=lambda k: points[k]):
        x, y = points[i]
        w = LABEL_CHAR_PX * len(labels[i]) + 6
        side = w / 2 + MARKER_PX + 4
        candidates = [(0, -18), (0, 18), (side, 0), (-side, 0), (side, -18), (-side, -18),
                      (side, 18), (-side, 18), (0, -36), (0, 36), (side, -36), (-side, -36),
                      (side, 36), (-side, 36), (0, -54), (0, 54)]
        choice = candidates[0]
        for dx, dy in candidates:
            b = box(x + dx, y + dy, w)
            if b[0] < 0 or b[2] > width or b[1] < 0 or b[3] > height:
                continue
            if any(hits(b, o) for o in placed) or any(hits(b, m) for m in markers):
                continue
            choice = (dx, dy)
            break
        placed.append(box(x + choice[0], y + choice[1], w))
        out[i] = choice
    return out


def latency_price_figure(entries) -> Figure:
    """Worst-frame latency against board price, with the deadline as a horizontal line; board
    names are placed so they never overlap (``label_offsets``)."""
    fig = go.Figure()
    notes = []
    placed = [e for e in _ran(entries) if e.price_usd is not None]
    for met, color, label in ((True, MET, "meets deadline"), (False, MISSED, "misses deadline")):
        part = [e for e in placed if bool(e.result.summary.get("met")) == met]
        if not part:
            continue
        fig.add_scatter(x=[e.price_usd for e in part], y=[e.result.summary["latency_s"] for e in part],
                        mode="markers", text=[text(e.hardware) for e in part],
                        marker={"color": color, "size": 12}, name=label,
                        hovertemplate="%{text}<br>$%{x}<br>%{y:.4s}s<extra></extra>")
    deadlines = sorted({e.deadline_s for e in entries if e.deadline_s})
    layout = {"xaxis": {"title": "price (USD)", "type": "log"},
              "yaxis": {"title": "worst frame latency (s)", "type": "log", "exponentformat": "SI"},
              "legend_title_text": ""}
    if placed:
        xs = [e.price_usd for e in placed]
        ys = [e.result.summary["latency_s"] for e in placed] + deadlines
        xr, yr = _log_range(xs), _log_range(ys)
        layout["xaxis"]["range"], layout["yaxis"]["range"] = xr, yr
        px = [((math.log10(e.price_usd) - xr[0]) / (xr[1] - xr[0]) * PLOT_W_PX,
               (yr[1] - math.log10(e.result.summary["latency_s"])) / (yr[1] - yr[0]) * PLOT_H_PX)
              for e in placed]
        names = [str(e.hardware) for e in placed]
        for e, (ax, ay) in zip(placed, label_offsets(px, names)):
            fig.add_annotation(x=math.log10(e.price_usd), y=math.log10(e.result.summary["latency_s"]),
                               text=text(e.hardware), ax=ax, ay=ay, showarrow=True, arrowhead=0,
                               arrowwidth=1, arrowcolor="#888888", standoff=7, font={"size": 11})
    no_price = [e.hardware for e in _ran(entries) if e.price_usd is None]
    if no_price:
        notes.append("No price in the hardware file, so not placed: " + ", ".join(no_price) + ".")
    failed = [e.hardware for e in entries if e.result is None]
    if failed:
        notes.append("Could not run the workload (see the verdict table): " + ", ".join(failed) + ".")
    for d in deadlines:
        # a log axis places annotations at log10 of the value (add_hline's own label would not)
        fig.add_hline(y=d, line_dash="dash", line_color=MISSED)
        fig.add_annotation(xref="x domain", x=0.005, xanchor="left", y=math.log10(d), yanchor="top",
                           text=f"deadline {fmt_s(d)}", showarrow=False, font={"color": MISSED})
    fig.update_layout(**layout)
    cap = ("Each board at its price and worst frame latency (both log scales). Boards below the "
           "dashed deadline line meet it; the cheapest such board is the buy.")
    return Figure("fig-latency-price", "Latency vs price", fig, cap, notes)


def breakdown_values(entries) -> tuple[list, dict[str, list[float]]]:
    """(entries that ran, {component: seconds per board}) for the worst frame of each board:
    compute of the busiest core and stall per level (0 where a board lacks the level)."""
    from memsim.report.run import worst_frame

    ran = _ran(entries)
    keys = ["compute"]
    for e in ran:
        for c in e.result.layers.columns:
            if c.startswith("stall_") and c.endswith("_s") and c != "stall_s":
                key = "stall " + c[len("stall_"):-2]
                if key not in keys:
                    keys.append(key)
    keys.append("stall (unattributed)")
    values = {k: [] for k in keys}
    for e in ran:
        layers, _ = worst_frame(e.result)
        values["compute"].append(float(layers["compute_s"].sum()))
        attributed = 0.0
        for k in keys[1:-1]:
            col = f"stall_{k[len('stall '):]}_s"
            v = float(layers[col].sum()) if col in layers else 0.0
            attributed += v
            values[k].append(v)
        values["stall (unattributed)"].append(max(0.0, float(layers["stall_s"].sum()) - attributed))
    if not any(x > 1e-15 for x in values["stall (unattributed)"]):
        del values["stall (unattributed)"]
    return ran, values


def breakdown_figure(entries) -> Figure:
    """Per board, fastest first: the worst frame's layer time on a log axis (boards differ by
    1000×) and, beside it, the share of that time spent computing and stalled at each level."""
    ran, values = breakdown_values(entries)
    totals = [sum(v[j] for v in values.values()) for j in range(len(ran))]
    order = sorted(range(len(ran)), key=lambda j: totals[j])
    boards = [text(ran[j].hardware) for j in order]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        column_widths=[0.45, 0.55],
                        subplot_titles=("worst frame, time in layers (log scale)",
                                        "where that time goes (% of it)"))
    fig.add_trace(go.Bar(y=boards, x=[totals[j] for j in order], orientation="h",
                         name="worst frame", showlegend=False,
                         marker_color=[MET if ran[j].result.summary.get("met") else MISSED for j in order],
                         hovertemplate="%{y}<br>%{x:.4s}s<extra></extra>"), row=1, col=1)
    for i, (k, v) in enumerate(values.items()):
        share = [100.0 * v[j] / totals[j] if totals[j] > 0 else 0.0 for j in order]
        fig.add_trace(go.Bar(y=boards, x=share, orientation="h", name=text(k),
                             marker_color=COLORS[i % len(COLORS)],
                             customdata=[v[j] for j in order],
                             hovertemplate="%{y}<br>%{x:.1f} % (%{customdata:.4s}s)<extra>"
                                           + text(k) + "</extra>"), row=1, col=2)
    for d in sorted({e.deadline_s for e in entries if e.deadline_s}):
        fig.add_vline(x=d, line_dash="dash", line_color=MISSED, row=1, col=1)
        fig.add_annotation(x=math.log10(d), xref="x", xanchor="left", yref="y domain", y=0.0,
                           yanchor="bottom", text=f" deadline {fmt_s(d)}", showarrow=False,
                           font={"color": MISSED})
    fig.update_layout(barmode="stack", legend_title_text="", height=max(420, 60 + 34 * len(ran)))
    scale = [t for t in totals if t > 0] + [e.deadline_s for e in entries if e.deadline_s]
    fig.update_xaxes(type="log", title_text="seconds", tickformat="~s", ticksuffix="s", row=1, col=1,
                     **({"range": _log_range(scale, 0.08)} if scale else {}))
    fig.update_xaxes(range=[0, 100], title_text="% of the worst frame's layer time", row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    cap = ("Boards fastest first. Left: the worst frame's time in layers (log scale, green meets "
           "the deadline, red misses it). Right: its split into compute of the busiest core and "
           "stall charged to each memory level (level names are each board's own); hover for "
           "seconds.")
    return Figure("fig-breakdown", "Per-board breakdown", fig, cap)


def efficiency_figure(entries) -> Figure:
    """Frames per second per dollar and per watt, one bar per board."""
    ran = _ran(entries)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("FPS per dollar", "FPS per watt (TDP)"))
    boards = [text(e.hardware) for e in ran]
    per_dollar = [e.fps / e.price_usd if e.price_usd else None for e in ran]
    per_watt = [e.fps / e.tdp_w if e.tdp_w else None for e in ran]
    colors = [MET if e.result.summary.get("met") else MISSED for e in ran]
    fig.add_trace(go.Bar(x=boards, y=per_dollar, marker_color=colors, name="FPS per dollar",
                         showlegend=False), row=1, col=1)
    fig.add_trace(go.Bar(x=boards, y=per_watt, marker_color=colors, name="FPS per watt",
                         showlegend=False), row=1, col=2)
    fig.update_yaxes(title_text="frames/s per USD", row=1, col=1)
    fig.update_yaxes(title_text="frames/s per W", row=1, col=2)
    notes = []
    missing = [e.hardware for e in ran if e.price_usd is None or e.tdp_w is None]
    if missing:
        notes.append("Missing price or TDP (no bar): " + ", ".join(missing) + ".")
    cap = ("FPS = 1 / worst frame latency (frames one at a time). Green boards meet the deadline, "
           "red ones miss it. Power is the board's TDP, an upper bound.")
    return Figure("fig-efficiency", "Frames per second per dollar and per watt", fig, cap, notes)


def verdict_table(entries) -> Table:
    """One row per board: latency, deadline, slack, DRAM, energy, price, FPS/$, FPS/W, verdict."""
    rows, classes = [], []
    for e in entries:
        r = e.row()
        fps = e.fps
        per_w = fps / e.tdp_w if fps and e.tdp_w else None
        verdict = "MET" if r["met"] else ("CANNOT RUN" if e.result is None else "MISSED")
        rows.append([e.hardware, (fmt_s(r["latency_s"]), r["latency_s"]), (fmt_s(r["deadline_s"]), r["deadline_s"]),
                     (fmt_s(r["slack_s"]), r["slack_s"]), (fmt_bytes(r["dram_bytes"]), r["dram_bytes"]),
                     (fmt_j(r["energy_j"]), r["energy_j"]), (fmt_usd(r["price_usd"]), r["price_usd"]),
                     (fmt_num(r["fps_per_dollar"]), r["fps_per_dollar"]), (fmt_num(per_w), per_w),
                     e.note or "", verdict])
        classes.append("met" if r["met"] else "missed")
    return Table("table-verdict", "Verdict", ["hardware", "worst latency", "deadline", "slack",
                                              "DRAM / frame", "energy / frame", "price", "FPS per $",
                                              "FPS per W", "note", "verdict"],
                 rows, classes, sortable=True, caption="Click a column header to sort.")


def compare_figures(entries) -> list[Figure]:
    """Every figure of the comparison report, in page order."""
    return [latency_price_figure(entries), breakdown_figure(entries), efficiency_figure(entries)]


def compare_html(entries, *, network: str = "", dtype: str = "", batch: int = 1, frames: int = 1) -> str:
    """The complete comparison page."""
    met = [e.hardware for e in entries if e.result is not None and e.result.summary.get("met")]
    deadlines = sorted({e.deadline_s for e in entries if e.deadline_s})
    facts = [("network", f"{network} ({dtype}, batch {batch})"),
             ("deadline", ", ".join(fmt_s(d) for d in deadlines) or "—"),
             ("frames per board", str(frames)), ("boards", str(len(entries))),
             ("boards meeting the deadline", ", ".join(met) or "none")]
    priced = [e for e in entries if e.result is not None and e.result.summary.get("met") and e.price_usd]
    if priced:
        best = min(priced, key=lambda e: e.price_usd)
        facts.append(("cheapest board meeting it", f"{best.hardware} ({fmt_usd(best.price_usd)})"))
    blocks = [verdict_table(entries)] + compare_figures(entries)
    assumptions = [
        "Each board runs the network alone, frames back to back, default strategies "
        "(docs/model.md); latency is the worst frame.",
        "FPS = 1 / worst frame latency; FPS per watt uses the board's TDP (upper bound on power).",
        "Prices and TDPs come from the hardware files (see each file's cited sources).",
    ]
    return render(f"memsim compare: {network}", subtitle=f"{len(entries)} boards", facts=facts,
                  blocks=blocks, assumptions=assumptions)


def write_compare_report(entries, path, *, network: str = "", dtype: str = "", batch: int = 1,
                         frames: int = 1) -> Path:
    """Write the comparison report for ``entries`` (``CompareEntry`` list) to ``path`` atomically."""
    return write_atomic(path, compare_html(entries, network=network, dtype=dtype, batch=batch,
                                           frames=frames))
