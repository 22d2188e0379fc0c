"""What ``memsim run`` prints: the verdict, each stream's figures and the slowest layers.

The verdict says MET / MISSED only when some stream has a deadline; without one it says so
("no deadline set") and prints latency only. With several streams every stream gets its own
row (frames, worst latency, deadline, slack, misses, verdict), so no figure mixes streams
without saying so. The layer table lists the ``top`` slowest layers (wall time of the layer in
the frame) of the critical stream's worst frame, slowest first.
"""

from __future__ import annotations

import numpy as np

from memsim.cli.tables import Col, joules, print_pairs, print_table, secs, size
from memsim.errors import InputError

#: layers listed by default (``--layers N`` / ``--layers all`` change it)
DEFAULT_LAYERS = 10


def parse_layers(text: str | None) -> int | None:
    """``--layers`` value: a count ≥ 0, or ``all`` (None = every layer)."""
    if text is None:
        return DEFAULT_LAYERS
    if text.strip().lower() == "all":
        return None
    if text.strip().isdigit():
        return int(text)
    raise InputError(f"expected a number of layers or 'all' (got {text!r})", field="--layers")


def verdict_markup(met: bool, has_deadline: bool) -> str:
    """MET / MISSED in colour, or a plain 'no deadline set' when nothing was checked."""
    if not has_deadline:
        return "no deadline set"
    return "[bold green]MET[/]" if met else "[bold red]MISSED[/]"


def _networks(result) -> list[str]:
    scenario = getattr(result, "scenario", None)
    if scenario is not None:
        return [str(s.network).rsplit("/", 1)[-1] for s in scenario.streams]
    streams = (result.resolved_config or {}).get("streams") or []
    return [str(s.get("network", "?")).rsplit("/", 1)[-1] for s in streams]


def _misses(stream: dict) -> str:
    if stream.get("deadline_s") is None:
        return "—"
    missed = int(round(stream["miss_rate"] * stream["frames"]))
    return f"{missed} of {stream['frames']}"


def _head_pairs(s: dict, streams: list[dict], nets: list[str],
                scenario=None) -> list[tuple[str, str]]:
    multi = len(streams) > 1
    crit = s.get("critical_stream", 0)
    tag = f" (stream {crit})" if multi else ""
    pairs = []
    if multi:
        net = nets[crit] if crit < len(nets) else "?"
        why = "least slack" if s.get("deadline_s") is not None else "longest latency"
        pairs.append(("critical stream", f"{crit}: {net} ({why})"))
    pairs += [(f"worst frame latency{tag}", secs(s.get("latency_s"))),
              (f"p50 / p99{tag}", f"{secs(s.get('latency_p50_s'))} / {secs(s.get('latency_p99_s'))}")]
    if s.get("deadline_s") is not None:
        pairs += [(f"deadline{tag}", secs(s["deadline_s"])), (f"slack{tag}", secs(s["slack_s"]))]
        timed = [x for x in streams if x.get("deadline_s") is not None]
        frames = sum(x["frames"] for x in timed)
        missed = sum(int(round(x["miss_rate"] * x["frames"])) for x in timed)
        scope = " (all streams)" if multi else ""
        pairs.append((f"deadline misses{scope}",
                      f"{missed} of {frames} frames ({100 * missed / max(frames, 1):.1f} %)"))
    else:
        pairs.append(("deadline", "none set (add deadline: to a stream)"))
    if s.get("runtime"):
        threads = ", ".join(str(t) for t in s.get("threads") or [])
        one = all(t == 1 for t in s.get("threads") or [])
        what = ("thread" if one else "threads") if s.get("unit") == "cpu" else \
            ("core" if one else "cores")
        pairs.append(("assumed", f"runtime {s['runtime']} on the {s.get('unit')} ({threads} "
                      f"{what}); " + (f"calibrated: {s['calibrated']}" if s.get("calibrated")
                                      else "uncalibrated")))
    if scenario is not None and scenario.background:
        offered = sum(float(bg.bandwidth_bytes_per_s) for bg in scenario.background)
        share = offered / scenario.dram_capacity_bytes_per_s()
        pairs.append(("background DRAM load", f"{offered / 1e9:.3g} GB/s, {100 * share:.0f} % "
                      "of DRAM" + (" (near saturation)" if share >= 0.8 else "")))
    per_frame = " (one frame of each stream)" if multi else ""
    pairs.append((f"DRAM traffic / frame{per_frame}", size(s.get("dram_bytes"))))
    pairs.append(("activation arena (lower bound)", f"{size(s.get('peak_activation_bytes'))} "
                  f"({size(s.get('lower_bound_activation_bytes'))})"))
    if s.get("energy_j") is not None:
        pairs.append((f"energy / frame{per_frame}", joules(s["energy_j"])))
    if s.get("results_dir"):
        pairs.append(("results", str(s["results_dir"])))
    return pairs


def print_streams(streams: list[dict], nets: list[str], console) -> None:
    """One row per stream: frames, worst and p99 latency, deadline, slack, misses, verdict."""
    cols = [Col("#", "name"), Col("network", "name"), Col("frames"), Col("worst"),
            Col("p99"), Col("deadline"), Col("slack"), Col("missed"), Col("verdict", "text")]
    rows = []
    for x in streams:
        i = x["stream"]
        rows.append([str(i), nets[i] if i < len(nets) else "?", str(x["frames"]),
                     secs(x["latency_s"]), secs(x["latency_p99_s"]), secs(x["deadline_s"]),
                     secs(x["slack_s"]), _misses(x),
                     _plain_verdict(x["met"], x.get("deadline_s") is not None)])
    print_table(console, cols, rows, title="per stream")


def _plain_verdict(met: bool, has_deadline: bool) -> str:
    return "—" if not has_deadline else ("MET" if met else "MISSED")


def print_layers(result, console, top: int | None = DEFAULT_LAYERS) -> None:
    """The ``top`` slowest layers of the critical stream's worst frame (None: all, in order).

    Works on the result's rows (``Result.worst_frame_rows``), so printing needs no pandas."""
    worst = result.worst_frame()
    if worst is None or top == 0:
        return
    stream, frame, latency = int(worst["stream"]), int(worst["frame"]), float(worst["latency_s"])
    ly = [dict(r, time_s=r["end_s"] - r["start_s"]) for r in result.worst_frame_rows()]
    # slowest first; Python's sort is stable under reverse=True, so ties keep table order
    shown = ly if top is None else sorted(ly, key=lambda r: r["time_s"], reverse=True)[:top]
    span = float(np.sum(np.array([r["time_s"] for r in ly], dtype=float))) or 1.0
    # time = compute + stall (engine.collect), so compute is left to --json and the report
    cols = [Col("layer", "name"), Col("op", "name"), Col("time"), Col("share"), Col("stall"),
            Col("DRAM"), Col("bound", "text")]
    rows = [[str(r["name"]), str(r["op"]), secs(r["time_s"]), f"{100 * r['time_s'] / span:.1f}%",
             secs(r["stall_s"]), size(r["dram_bytes"]), str(r["bound"])]
            for r in shown]
    multi = len(result.summary.get("streams") or []) > 1
    where = f"stream {stream} frame {frame}" if multi else f"frame {frame}"
    if top is None or top >= len(ly):
        title = f"all {len(ly)} layers of the worst frame ({where}, {secs(latency)})"
        caption = None
    else:
        title = f"slowest {len(shown)} of {len(ly)} layers, worst frame ({where}, {secs(latency)})"
        caption = "--layers all lists every layer in order; --json has them all"
    print_table(console, cols, rows, title=title, caption=caption)


def print_verdict(result, console, layers: int | None = DEFAULT_LAYERS) -> None:
    """The verdict block, the per-stream table (several streams) and the slowest layers."""
    s = result.summary
    streams = s.get("streams") or []
    nets = _networks(result)
    has_deadline = any(x.get("deadline_s") is not None for x in streams) or s.get("deadline_s") is not None
    from rich.markup import escape

    title = (f"{escape(str(s['name']))} on {escape(str(s.get('hardware', '?')))}: "
             f"{verdict_markup(s['met'], has_deadline)}")
    print_pairs(console, _head_pairs(s, streams, nets, getattr(result, "scenario", None)),
                title=title)
    if len(streams) > 1:
        console.print()
        print_streams(streams, nets, console)
    console.print()
    print_layers(result, console, layers)
