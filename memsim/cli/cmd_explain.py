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


def energy_split(result) -> tuple[dict, dict]:
    """({level: bytes per frame}, {component: joules per frame}) of a ``Result``: the bytes moved
    at each level and what each part of the energy model (MACs, each level, DRAM, static power)
    contributes, per frame (the same terms as ``engine.collect._energy``)."""
    from memsim.analysis.roofline import level_column

    hw = result.scenario.hardware
    layers = result.layers
    n = max(1, len(result.frames))
    traffic = {lvl.name: float(layers[level_column(lvl.name)].sum()) / n
               for lvl in hw.memory.levels if level_column(lvl.name) in layers}
    traffic["dram"] = float(layers["dram_bytes"].sum()) / n
    energy = getattr(hw, "energy", None)
    dtypes = {s.dtype for s in result.scenario.streams}
    if energy is None or not dtypes <= set(energy.mac_pj) or len(dtypes) != 1:
        return traffic, {}
    pj = energy.access_pj_per_byte
    split = {"MACs": float(layers["macs"].sum()) / n * float(energy.mac_pj[dtypes.pop()]) / 1e12}
    split |= {name: b * float(pj.get(name, 0.0)) / 1e12 for name, b in traffic.items()}
    static = float(getattr(energy, "static_w", None) or 0.0)
    if static:
        split["static"] = static * float((layers["end_s"] - layers["start_s"]).sum()) / n
    return traffic, split


def _measure(path, frames, overrides) -> dict:
    """Simulate the scenario at ``path`` with ``overrides`` (None: the baseline); the explain
    figures of it. Module-level so a worker process can run it."""
    from memsim.config import load_scenario
    from memsim.engine.run import simulate

    scenario = _with_frames(load_scenario(path, overrides=overrides or None), frames)
    result = simulate(scenario)
    traffic, split = energy_split(result)
    out = {"traffic_bytes": traffic, "energy_split_j": split}
    if overrides is None:
        out["json"] = {k: v for k, v in result.to_json().items() if k != "layers"}
    else:
        out["summary"] = _row(result.summary)
    return out


def _run_all(path, frames, jobs, workers: int, progress=None) -> list[dict]:
    """``_measure`` every ``jobs`` entry (overrides), in order, on ``workers`` processes
    (0: in this process). Every run is seeded by its scenario, so the results do not depend on
    where it ran. ``progress(done, total)`` after each run."""
    if workers <= 0 or len(jobs) <= 1:
        out = []
        for i, job in enumerate(jobs):
            out.append(_measure(path, frames, job))
            if progress:
                progress(i + 1, len(jobs))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                      else "spawn")
    results: list = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
        futures = {pool.submit(_measure, path, frames, job): i for i, job in enumerate(jobs)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress:
                progress(done, len(jobs))
    return results


def why(row: dict, base: dict) -> str | None:
    """A sentence for an ablation whose energy moves against its latency (a buyer reads that
    as a mistake): which energy terms changed, in the energy model's own terms; else None."""
    d_lat, d_e = row["delta"].get("latency_s"), row["delta"].get("energy_j")
    if d_lat is None or d_e is None or not base.get("latency_s") or not base.get("energy_j"):
        return None
    if abs(d_lat) < 0.005 * base["latency_s"] or abs(d_e) < 0.005 * base["energy_j"] \
            or (d_lat > 0) == (d_e > 0):
        return None
    before, after = base.get("energy_split_j") or {}, row.get("energy_split_j") or {}
    terms = sorted(((after.get(k, 0.0) - before.get(k, 0.0), k) for k in set(before) | set(after)),
                   key=lambda t: -abs(t[0]))
    moved = []
    for dj, k in terms[:2]:
        if abs(dj) < 0.1 * abs(d_e):
            continue
        db = (row["traffic_bytes"].get(k, 0.0) - base["traffic_bytes"].get(k, 0.0)) if k in row["traffic_bytes"] else None
        what = f"{k} traffic {_signed_mib(db)}/frame" if db is not None else k
        moved.append(f"{what} ({1e3 * dj:+.3g} mJ)")
    static = "static" in before
    return (f"{row['strategy']}: energy {100 * d_e / base['energy_j']:+.1f} % while latency "
            f"{100 * d_lat / base['latency_s']:+.1f} % — " + (", ".join(moved) or "small changes spread over the levels")
            + ". Energy here is MACs plus bytes moved at each level"
            + (" plus static power × time" if static else " (this board has no static power figure, "
               "so a slower run is not charged for its extra time)") + ".")


def _signed_mib(b) -> str:
    return f"{b / 2**20:+.3g} MiB"


def explain(path, frames: int | None = None, only: list[str] | None = None, *,
            workers: int = 0, progress=None) -> dict:
    """Run the baseline and every ablation of the scenario at ``path``; returns the explain JSON
    (``baseline``: run summary plus ``traffic_bytes`` and ``energy_split_j`` per frame,
    ``ablations``: one row per change with absolute values, ``delta`` = ablation − baseline and
    ``why`` when energy moves against latency, ``fusion``: per layer pair decisions where fusion
    is on, ``compression``: per compressed tensor sizes and ratios). ``workers`` processes run
    the simulations (0: this process; results are identical either way)."""
    from memsim.config import load_scenario
    from memsim.prepare import prepare

    base = _with_frames(load_scenario(path), frames)
    changes = [a for a in ablations(base) if not only or any(a[0].startswith(o) for o in only)]
    measured = _run_all(path, frames, [None] + [o for _, _, o in changes], workers, progress)
    first = measured[0]
    baseline = {**first["json"], "traffic_bytes": first["traffic_bytes"],
                "energy_split_j": first["energy_split_j"]}
    rows = []
    for (strategy, change, _), m in zip(changes, measured[1:]):
        summary = m["summary"]
        row = {"strategy": strategy, "change": change, **summary,
               "traffic_bytes": m["traffic_bytes"], "energy_split_j": m["energy_split_j"]}
        row["delta"] = {k: (None if summary.get(k) is None or baseline.get(k) is None
                            else summary[k] - baseline[k]) for k in METRICS}
        row["why"] = why(row, baseline)
        rows.append(row)
    prepared = prepare(base)  # the fusion and compression rows read its mappings and graphs
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
    workers: Optional[int] = typer.Option(None, "--workers", min=0,
                                          help="Worker processes for the simulations (default: "
                                               "CPU count; 0 runs in this process)."),
):
    """One-at-a-time ablation: what each strategy of the scenario buys."""
    import os

    from rich.console import Console

    from memsim.cli.progress import progress_bar
    from memsim.cli.tables import Col, print_table

    n = (os.cpu_count() or 1) if workers is None else workers
    with progress_bar("simulating the baseline and each ablation", enabled=not json_) as bar:
        out = explain(scenario, frames, list(only or []), workers=n, progress=bar)
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
    for r in out["ablations"]:
        if r.get("why"):
            console.print(f"note: {r['why']}")
    fused = [f for f in out["fusion"] if f["fused"]]
    if out["fusion"]:
        console.print(f"fusion: {len(fused)} of {len(out['fusion'])} candidate layer pairs fit "
                      f"on chip")
