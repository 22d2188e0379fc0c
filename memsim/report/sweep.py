"""The sweep report: Pareto front, feasibility heatmap of slack, parallel coordinates and a
sortable table over a sweep's ``results.parquet`` (one row per design point).

Expected columns (the sweep store's contract, DESIGN §9): ``id``, swept values as dotted columns
(``hardware.memory.levels.L2.size``), run-summary metrics (``latency_s``, ``met``, ``slack_s``,
``dram_bytes``, ``energy_j``, ...), ``status``, ``error`` and ``pareto``. Columns that are missing
are tolerated: the figure that needs them is replaced by a note saying what is missing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from memsim.analysis.pareto import pareto_front
from memsim.report.fmt import fmt_num
from memsim.report.html import Figure, Table, render, text, write_atomic

#: rows shown in the HTML table; the Parquet file has them all
MAX_TABLE_ROWS = 5000
METRICS = ("latency_s", "latency_p99_s", "slack_s", "energy_j", "dram_bytes",
           "peak_activation_bytes", "miss_rate")
MET, MISSED, OTHER = "#2ca02c", "#d62728", "#9aa5b1"


def _get(spec, key, default=None):
    if spec is None:
        return default
    if isinstance(spec, dict):
        return spec.get(key, default)
    return getattr(spec, key, default)


def sweep_spec(df: pd.DataFrame, spec_info) -> dict:
    """Normalise ``spec_info`` (a dict, a ``memsim.config.Sweep`` or None) against ``df``.

    Returns ``{"name", "objectives" (metric → min/max, present columns only), "parameters"
    (swept dotted columns present in df), "heatmap" ((x, y) parameter pair or None)}``.
    Parameters default to the sweep's ``grid`` and ``zip`` keys, else every dotted column.
    """
    name = _get(spec_info, "name") or "sweep"
    objectives = dict(_get(spec_info, "objectives") or {})
    objectives = {k: v for k, v in objectives.items() if k in df.columns}
    if not objectives:
        objectives = {k: "min" for k in ("latency_s", "energy_j") if k in df.columns}
    params = list(_get(spec_info, "parameters") or [])
    if not params:
        params = list(_get(spec_info, "grid") or {}) + list(_get(spec_info, "zip") or {})
    if not params:
        params = [c for c in df.columns if "." in str(c)]
    params = [p for p in params if p in df.columns]
    if "seed" in df.columns and df["seed"].nunique() > 1 and "seed" not in params:
        params.append("seed")
    heat = _get(spec_info, "heatmap")
    if heat is None or len(heat) != 2 or any(h not in df.columns for h in heat):
        ranked = sorted(params, key=lambda p: -df[p].nunique(dropna=True))
        heat = tuple(ranked[:2]) if len(ranked) >= 2 else (tuple(ranked) * 2 if ranked else None)
    return {"name": str(name), "objectives": objectives, "parameters": params,
            "heatmap": tuple(heat) if heat else None}


def value_key(value):
    """Sort key of a swept value: numbers and unit strings ('512 KiB', '2 GHz') by magnitude."""
    if isinstance(value, (bool, np.bool_)):
        return (0, float(value), "")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value), "") if not math.isnan(float(value)) else (2, 0.0, "")
    if value is None:
        return (2, 0.0, "")
    s = str(value)
    from memsim import units

    for parse in (float, units.parse_size, units.parse_time, units.parse_frequency,
                  units.parse_bandwidth):
        try:
            return (0, float(parse(s)), s)
        except (ValueError, TypeError, ArithmeticError):
            continue
    return (1, 0.0, s)


def ordered_values(series: pd.Series) -> list:
    """Distinct values of ``series`` in increasing magnitude (units understood)."""
    return sorted(pd.unique(series.dropna()), key=value_key)


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    if "status" in df.columns:
        return df[df["status"].astype(str) == "ok"]
    return df


def _pareto_mask(df: pd.DataFrame, objectives: dict) -> pd.Series:
    if "pareto" in df.columns:
        return df["pareto"].fillna(False).astype(bool)
    mask = pd.Series(False, index=df.index)
    ok = _ok(df)
    if objectives and not ok.empty:
        mask.loc[pareto_front(ok, objectives)] = True
    return mask


def _point_text(df: pd.DataFrame, params: list[str]) -> list[str]:
    rows = []
    for _, r in df.iterrows():
        parts = [f"point {text(r['id'])}" if "id" in r else "point"]
        parts += [f"{text(p)} = {text(r[p])}" for p in params]
        rows.append("<br>".join(parts))
    return rows


def pareto_figure(df: pd.DataFrame, spec: dict) -> Figure | None:
    """All successful points on the first two objectives; the Pareto front highlighted."""
    objectives = list(spec["objectives"].items())
    if not objectives:
        return None
    ok = _ok(df)
    front = _pareto_mask(df, spec["objectives"]).loc[ok.index]
    x, dx = objectives[0]
    if len(objectives) > 1:
        y, dy = objectives[1]
    else:
        other = [(m, d) for m, d in (("slack_s", "max"), ("energy_j", "min"), ("dram_bytes", "min"))
                 if m in df.columns and m != x]
        if not other:
            return None
        y, dy = other[0]
    fig = go.Figure()
    for label, part, color, size in (("dominated", ok[~front], OTHER, 7), ("Pareto front", ok[front], MET, 11)):
        if part.empty:
            continue
        part = part.sort_values(x, kind="stable")
        fig.add_scatter(x=part[x].to_numpy(float), y=part[y].to_numpy(float),
                        mode="markers+lines" if label == "Pareto front" else "markers",
                        line={"shape": "hv" if dy == "min" else "linear", "color": color},
                        marker={"color": color, "size": size, "line": {"width": 1, "color": "#333"}},
                        name=label, hovertext=_point_text(part, spec["parameters"]))
    fig.update_layout(xaxis={"title": f"{x} ({dx})", "exponentformat": "SI"},
                      yaxis={"title": f"{y} ({dy})", "exponentformat": "SI"}, legend_title_text="")
    cap = (f"Every successful point on {x} vs {y}; the Pareto front over the objectives "
           f"{', '.join(f'{k} ({v})' for k, v in objectives)} is highlighted (no other point is at "
           "least as good in every objective and better in one).")
    notes = []
    if len(objectives) > 2:
        notes.append("The front is computed over all objectives but drawn on the first two, so "
                     "some front points may look dominated here.")
    return Figure("fig-pareto", "Pareto front", fig, cap, notes)


def heatmap_figure(df: pd.DataFrame, spec: dict) -> Figure | None:
    """Best slack over the remaining parameters, per pair of values of two swept parameters."""
    if spec["heatmap"] is None or "slack_s" not in df.columns:
        return None
    px, py = spec["heatmap"]
    ok = _ok(df)
    xs, ys = ordered_values(df[px]), ordered_values(df[py])
    z = np.full((len(ys), len(xs)), np.nan)
    count = np.zeros_like(z, dtype=int)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: i for i, v in enumerate(ys)}
    for (vx, vy), part in ok.groupby([px, py], sort=False, dropna=True):
        slack = pd.to_numeric(part["slack_s"], errors="coerce").dropna()
        if len(slack):
            z[yi[vy], xi[vx]] = float(slack.max())
            count[yi[vy], xi[vx]] = len(slack)
    finite = z[np.isfinite(z)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    labels = [[("" if not np.isfinite(v) else ("✓ " if v >= 0 else "✗ ") + fmt_num(v * 1e3, 3) + " ms")
               for v in row] for row in z]
    fig = go.Figure(go.Heatmap(x=[text(v) for v in xs], y=[text(v) for v in ys], z=z,
                               zmid=0.0, zmin=-bound, zmax=bound, colorscale="RdYlGn",
                               text=labels, texttemplate="%{text}",
                               colorbar={"title": "best slack (s)", "exponentformat": "SI"},
                               hovertemplate=f"{text(px)} = %{{x}}<br>{text(py)} = %{{y}}<br>"
                                             "best slack %{z:.4s}s<extra></extra>"))
    fig.update_layout(xaxis={"title": text(px), "type": "category"},
                      yaxis={"title": text(py), "type": "category"})
    cap = (f"Green cells meet the deadline. Each cell is the largest slack (deadline − worst frame "
           f"latency) over all points with that {px} and {py}, i.e. the best the other swept "
           "parameters can do there; empty cells have no successful point.")
    notes = [] if px != py else ["Only one parameter was swept; the map shows its values on both axes."]
    return Figure("fig-feasibility", "Feasibility: slack over two parameters", fig, cap, notes)


def parallel_figure(df: pd.DataFrame, spec: dict) -> Figure | None:
    """Parallel coordinates over swept parameters and metrics, coloured by slack."""
    ok = _ok(df)
    if ok.empty:
        return None
    dims = []
    for p in spec["parameters"]:
        values = ordered_values(df[p])
        codes = {v: i for i, v in enumerate(values)}
        col = ok[p].map(lambda v: codes.get(v, np.nan)).to_numpy(float)
        dims.append({"label": text(".".join(p.split(".")[-2:]) if len(p) > 24 else p), "values": col,
                     "tickvals": list(range(len(values))), "ticktext": [text(v) for v in values]})
    metrics = [m for m in METRICS if m in ok.columns and pd.to_numeric(ok[m], errors="coerce").notna().any()]
    for m in metrics:
        dims.append({"label": m, "values": pd.to_numeric(ok[m], errors="coerce").to_numpy(float)})
    if not dims:
        return None
    color_col = "slack_s" if "slack_s" in ok.columns else metrics[0] if metrics else None
    line = {"color": "#1f77b4"}
    if color_col is not None:
        c = pd.to_numeric(ok[color_col], errors="coerce").to_numpy(float)
        line = {"color": c, "colorscale": "RdYlGn" if color_col == "slack_s" else "Viridis",
                "showscale": True, "colorbar": {"title": color_col}}
        if color_col == "slack_s" and np.isfinite(c).any():
            bound = float(np.nanmax(np.abs(c))) or 1.0
            line.update(cmin=-bound, cmax=bound)
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    fig.update_layout(margin={"l": 80, "r": 80})
    cap = ("One line per successful point across the swept parameters (categorical axes in "
           f"increasing order) and the metrics; coloured by {color_col}. Drag along an axis to "
           "filter points.")
    return Figure("fig-parallel", "Parallel coordinates", fig, cap)


def points_table(df: pd.DataFrame, spec: dict) -> Table:
    """All points, sortable; the parameters first, then metrics, status and error."""
    mask = _pareto_mask(df, spec["objectives"])
    metrics = [m for m in ("met",) + METRICS if m in df.columns]
    cols = (["id"] if "id" in df.columns else []) + spec["parameters"] + metrics
    cols += [c for c in ("status", "error") if c in df.columns]
    shown = df.iloc[:MAX_TABLE_ROWS]
    rows, classes = [], []
    for idx, r in shown.iterrows():
        row = []
        for c in cols:
            v = r[c]
            if c in spec["parameters"]:
                key = value_key(v)
                row.append((str(v), key[1] if key[0] == 0 else ""))
            elif isinstance(v, (np.bool_, bool)):
                row.append(bool(v))
            elif isinstance(v, (np.integer,)):
                row.append(int(v))
            elif isinstance(v, (np.floating, float)):
                row.append(float(v))
            else:
                row.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        row.append(bool(mask.loc[idx]))
        rows.append(row)
        met = r.get("met")
        classes.append("" if met is None or (isinstance(met, float) and math.isnan(met))
                       else ("met" if bool(met) else "missed"))
    notes = []
    if len(df) > MAX_TABLE_ROWS:
        notes.append(f"Only the first {MAX_TABLE_ROWS} of {len(df)} points are listed; "
                     "results.parquet has them all.")
    return Table("table-points", "All points", cols + ["pareto"], rows, classes, sortable=True,
                 caption="Click a column header to sort.", notes=notes)


def sweep_figures(df: pd.DataFrame, spec_info) -> list[Figure]:
    """Every figure of the sweep report, in page order."""
    spec = sweep_spec(df, spec_info)
    figs = [pareto_figure(df, spec), heatmap_figure(df, spec), parallel_figure(df, spec)]
    return [f for f in figs if f is not None]


def sweep_html(df: pd.DataFrame, spec_info) -> str:
    """The complete sweep report page."""
    spec = sweep_spec(df, spec_info)
    ok = _ok(df)
    failed = len(df) - len(ok)
    met = int(ok["met"].astype(bool).sum()) if "met" in ok.columns else None
    facts = [("points", str(len(df))), ("succeeded", str(len(ok))), ("failed", str(failed)),
             ("swept parameters", ", ".join(spec["parameters"]) or "—"),
             ("objectives", ", ".join(f"{k} ({v})" for k, v in spec["objectives"].items()) or "—")]
    if met is not None:
        facts.append(("points meeting the deadline", f"{met} of {len(ok)}"))
    if "pareto" in df.columns or spec["objectives"]:
        facts.append(("Pareto-optimal points", str(int(_pareto_mask(df, spec["objectives"]).sum()))))
    blocks: list = sweep_figures(df, spec_info)
    missing = []
    if not spec["objectives"]:
        missing.append("no objective column is present, so there is no Pareto front")
    if "slack_s" not in df.columns or spec["heatmap"] is None:
        missing.append("no slack_s column or swept parameter, so there is no feasibility map")
    blocks.append(points_table(df, spec))
    assumptions = ["Failed points (status ≠ ok) appear only in the table.",
                   "Slack is deadline − worst frame latency; positive slack meets the deadline."]
    assumptions += [f"Left out: {m}." for m in missing]
    return render(f"memsim sweep: {spec['name']}", subtitle=f"{len(df)} design points",
                  facts=facts, blocks=blocks, assumptions=assumptions)


def write_sweep_report(results_df: pd.DataFrame, spec_info, path: str | Path) -> Path:
    """Write the sweep report for ``results_df`` (see module doc) to ``path`` atomically.

    ``spec_info``: a dict or ``memsim.config.Sweep`` with any of ``name``, ``objectives``
    (metric → min/max), ``parameters`` (dotted columns), ``grid``/``zip`` (their keys are the
    parameters), ``heatmap`` ((x, y) parameters of the feasibility map); None infers them.
    """
    return write_atomic(path, sweep_html(results_df, spec_info))
