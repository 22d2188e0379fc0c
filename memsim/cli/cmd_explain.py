"""``memsim explain SCENARIO``: what each memory strategy buys, by one-at-a-time ablation.

From the scenario as written (the baseline), every strategy is turned off or changed on its own
and the scenario is simulated again; the table shows latency (worst frame and p99), DRAM bytes
per frame, peak activation memory and energy, with deltas against the baseline (DESIGN §9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json

METRICS = ("latency_s", "latency_p99_s", "dram_bytes", "peak_activation_bytes", "energy_j")


def _spec_text(spec) -> str:
    if spec.format == "none":
        return "none"
    keys = ("bits", "group", "scale_bits", "density", "encoding", "n", "m", "ratio", "codec")
    parts = [f"{k}={getattr(spec, k)}" for k in keys if getattr(spec, k, None) is not None]
    return f"{spec.format}({', '.join(parts)}) at {spec.at}"


def ablations(scenario) -> list[tuple[str, str, dict]]:
    """``(strategy, change, overrides)`` for each one-at-a-time change of ``scenario``'s
    strategies: every strategy in use turned off, every strategy not in use turned on with a
    representative setting (documented in docs/strategies.md)."""
    s = scenario.strategies
    out = []
    r = s.reuse
    if r.planner != "none":
        out.append(("reuse.planner", f"{r.planner} → none", {"strategies.reuse.planner": "none"}))
    else:
        out.append(("reuse.planner", "none → greedy-by-size",
                    {"strategies.reuse.planner": "greedy-by-size"}))
    out.append(("reuse.fusion", f"{str(r.fusion).lower()} → {str(not r.fusion).lower()}",
                {"strategies.reuse.fusion": not r.fusion}))
    out.append(("reuse.inplace", f"{str(r.inplace).lower()} → {str(not r.inplace).lower()}",
                {"strategies.reuse.inplace": not r.inplace}))
    if r.dataflow != "auto":
        out.append(("reuse.dataflow", f"{r.dataflow} → auto", {"strategies.reuse.dataflow": "auto"}))
    elif scenario.hardware.compute.kind == "simd":
        out.append(("reuse.dataflow", "auto → ws", {"strategies.reuse.dataflow": "ws"}))
    w = s.compression.weights
    if w.format != "none":
        out.append(("compression.weights", f"{_spec_text(w)} → none",
                    {"strategies.compression.weights": {"format": "none"}}))
    else:
        out.append(("compression.weights", "none → quant(bits=4, group=128, scale_bits=16) at core",
                    {"strategies.compression.weights": {"format": "quant", "bits": 4,
                                                        "group": 128, "scale_bits": 16}}))
    a = s.compression.activations
    if a.format != "none":
        out.append(("compression.activations", f"{_spec_text(a)} → none",
                    {"strategies.compression.activations": {"format": "none"}}))
    u = s.unroll
    if "temporal" in u.model_fields_set:
        if u.temporal != 1:
            out.append(("unroll.temporal", f"{u.temporal} → 1", {"strategies.unroll.temporal": 1}))
    else:
        out.append(("unroll.temporal", "unset → 8", {"strategies.unroll.temporal": 8}))
    if u.spatial is not None:
        out.append(("unroll.spatial", f"{u.spatial} → default (lanes on output channels)",
                    {"strategies.unroll.spatial": None}))
    else:
        out.append(("unroll.spatial", "default → auto", {"strategies.unroll.spatial": "auto"}))
    d = s.prefetch.depth
    out.append(("prefetch.depth", f"{d} → {0 if d else 1}", {"strategies.prefetch.depth": 0 if d else 1}))
    ss = s.cache.streaming_stores
    out.append(("cache.streaming_stores", f"{str(ss).lower()} → {str(not ss).lower()}",
                {"strategies.cache.streaming_stores": not ss}))
    return out


def _with_frames(scenario, frames: int | None):
    if not frames:
        return scenario
    streams = tuple(st.model_copy(update={"frames": min(st.frames, frames)})
                    for st in scenario.streams)
    return scenario.model_copy(update={"streams": streams})


def _row(summary: dict) -> dict:
    return {k: summary.get(k) for k in (*METRICS, "met")}


def explain(path, frames: int | None = None, only: list[str] | None = None) -> dict:
    """Run the baseline and every ablation of the scenario at ``path``; returns the explain JSON
    (``baseline``: run summary, ``ablations``: one row per change with absolute values and
    ``delta`` = ablation − baseline, ``fusion``: per layer pair decisions where fusion is on,
    ``compression``: per compressed tensor sizes and ratios)."""
    from memsim.config import load_scenario
    from memsim.engine.run import simulate
    from memsim.prepare import prepare

    base = _with_frames(load_scenario(path), frames)
    prepared = prepare(base)
    result = simulate(base, prepared=prepared)
    baseline = {k: v for k, v in result.to_json().items() if k != "layers"}
    rows = []
    for strategy, change, overrides in ablations(base):
        if only and not any(strategy.startswith(o) for o in only):
            continue
        sc = _with_frames(load_scenario(path, overrides=overrides), frames)
        summary = simulate(sc).summary
        row = {"strategy": strategy, "change": change, **_row(summary)}
        row["delta"] = {k: (None if summary.get(k) is None or baseline.get(k) is None
                            else summary[k] - baseline[k]) for k in METRICS}
        rows.append(row)
    return {"baseline": baseline, "ablations": rows, "fusion": _fusion_rows(path, base, prepared),
            "compression": _compression_rows(base, prepared)}


def _fusion_rows(path, base, prepared) -> list[dict]:
    """Fusion decisions per layer pair with fusion on (as configured, or as the ablation);
    ``prepared``: ``base`` prepared."""
    from memsim.config import load_scenario
    from memsim.mapping import fusion_report
    from memsim.prepare import prepare

    if not base.strategies.reuse.fusion:
        prepared = prepare(load_scenario(path, overrides={"strategies.reuse.fusion": True}))
    rows = []
    for i, stream in enumerate(prepared.streams):
        rows += [{"stream": i, **r} for r in fusion_report(stream.mappings)]
    return rows


def _compression_rows(base, prepared) -> list[dict]:
    from memsim.strategies.compression import compression_table

    rows = []
    comp = base.strategies.compression
    if comp.weights.format == "none" and comp.activations.format == "none":
        return rows
    for i, stream in enumerate(prepared.streams):
        rows += [{"stream": i, **r} for r in compression_table(stream.graph, base.strategies)]
    return rows


def _fmt(key, value) -> str:
    from memsim.cli.tables import joules, secs, size

    if value is None:
        return "—"
    if key.endswith("_s"):
        return secs(value)
    if key.endswith("_bytes"):
        return size(value)
    if key.endswith("_j"):
        return joules(value)
    return str(value)


def _delta(key, value, base) -> str:
    if value is None or base in (None, 0):
        return "—"
    return f"{100.0 * value / base:+.1f} %"


@app.command("explain")
def explain_command(
    scenario: Path = typer.Argument(..., help="Scenario YAML file."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1,
                                         help="Cap frames per stream (faster; default: all)."),
    only: Optional[list[str]] = typer.Option(None, "--only",
                                             help="Only ablations whose strategy starts with this."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON object (DESIGN §9)."),
):
    """One-at-a-time ablation: what each strategy of the scenario buys."""
    from rich.console import Console

    from memsim.cli.tables import Col, print_table

    out = explain(scenario, frames, list(only or []))
    if json_:
        emit_json(out)
        return
    b = out["baseline"]
    cols = [Col("strategy", "name"), Col("change", "wrap"), Col("latency"), Col("Δ"),
            Col("p99", optional=True), Col("DRAM"), Col("Δ"),
            Col("peak act.", optional=True), Col("energy")]
    rows = []
    for r in out["ablations"]:
        d = r["delta"]
        rows.append([r["strategy"], r["change"], _fmt("latency_s", r["latency_s"]),
                     _delta("latency_s", d["latency_s"], b["latency_s"]),
                     _fmt("latency_p99_s", r["latency_p99_s"]), _fmt("dram_bytes", r["dram_bytes"]),
                     _delta("dram_bytes", d["dram_bytes"], b["dram_bytes"]),
                     _fmt("peak_activation_bytes", r["peak_activation_bytes"]),
                     _fmt("energy_j", r["energy_j"])])
    console = Console()
    print_table(console, cols, rows, title=f"{b['name']}: strategies one at a time, DRAM per frame (baseline: "
                f"{_fmt('latency_s', b['latency_s'])}, {'met' if b['met'] else 'missed'})")
    fused = [f for f in out["fusion"] if f["fused"]]
    if out["fusion"]:
        console.print(f"fusion: {len(fused)} of {len(out['fusion'])} candidate layer pairs fit "
                      f"on chip")
