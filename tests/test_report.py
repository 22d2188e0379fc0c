"""Run report: figures embedded in the HTML checked against the Result they came from."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from memsim.analysis.roofline import hardware_roofline
from memsim.cli.app import app
from memsim.engine.result import Result
from memsim.report import write_report_from_dir, write_run_report
from memsim.report.html import text
from memsim.report.run import worst_frame
from test_report_helpers import XSS, decode, make_result, report_figures, trace

import plotly.offline


@pytest.fixture(scope="module")
def run_page(tmp_path_factory):
    result = make_result(layer_names=("conv1", XSS, "pw3", "pool4", "fc5"), frames=4)
    path = write_run_report(result, tmp_path_factory.mktemp("run") / "report.html")
    html = path.read_text()
    return result, html, report_figures(html)


def test_self_contained_single_plotlyjs(run_page):
    _, html, figs = run_page
    assert html.count(plotly.offline.get_plotlyjs()) == 1
    # no script or stylesheet is fetched from anywhere
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert set(figs) == {"fig-layer-latency", "fig-roofline", "fig-gantt", "fig-memory",
                         "fig-latency-distribution", "fig-traffic"}


def test_layer_latency_stacks_compute_and_stalls(run_page):
    result, _, figs = run_page
    fig = figs["fig-layer-latency"]
    layers, which = worst_frame(result)
    assert which["latency_s"] == pytest.approx(result.summary["latency_s"])
    assert fig["layout"]["barmode"] == "stack"
    assert [t["type"] for t in fig["data"]] == ["bar"] * 5
    assert np.allclose(decode(trace(fig, "compute")["y"]), layers["compute_s"])
    total = np.zeros(len(layers))
    for key in ("L1", "L2", "L3", "dram"):
        y = decode(trace(fig, f"stall {key}")["y"])
        assert np.allclose(y, layers[f"stall_{key}_s"])
        total += y
    assert np.allclose(total + decode(trace(fig, "compute")["y"]), layers["end_s"] - layers["start_s"])
    ticks = list(fig["layout"]["xaxis"]["ticktext"])
    assert ticks == [text(n) for n in layers["name"]]
    assert "&lt;img src=x onerror=alert(1)&gt;" in ticks


def test_roofline_points_and_ceilings(run_page):
    result, _, figs = run_page
    fig = figs["fig-roofline"]
    assert fig["layout"]["xaxis"]["type"] == "log" and fig["layout"]["yaxis"]["type"] == "log"
    roof = hardware_roofline(result.scenario.hardware, "int8")
    layers, _ = worst_frame(result)
    with_macs = layers[layers["macs"] > 0]
    for c in roof.ceilings:
        line = [t for t in fig["data"] if t["name"].startswith(f"roof {text(c.label)}")]
        assert len(line) == 1
        xs, ys = decode(line[0]["x"]), decode(line[0]["y"])
        assert np.allclose(ys, np.minimum(roof.peak_macs_per_s, c.bandwidth_bytes_per_s * xs))
        pts = trace(fig, f"layers @ {text(c.label)}")
        assert pts["mode"] == "markers"
        expect_x = (with_macs["macs"] / with_macs[c.column]).to_numpy()
        expect_y = (with_macs["macs"] / (with_macs["end_s"] - with_macs["start_s"])).to_numpy()
        assert np.allclose(decode(pts["x"]), expect_x)
        assert np.allclose(decode(pts["y"]), expect_y)


def test_gantt_bars_are_timeline_intervals(run_page):
    result, _, figs = run_page
    fig = figs["fig-gantt"]
    bars = trace(fig, "stream 0 compute")
    assert bars["type"] == "bar" and bars["orientation"] == "h"
    tl = result.timeline.sort_values("start_s", kind="stable")
    assert np.allclose(decode(bars["base"]), tl["start_s"])
    assert np.allclose(decode(bars["x"]), tl["end_s"] - tl["start_s"])
    assert sorted(set(decode(bars["y"]))) == ["core0", "core1", "core2", "core3"]
    names = [t["name"] for t in fig["data"]]
    frames = result.frames
    kinds = [n for n in names if n.startswith("frame ")]
    assert sorted(kinds) == sorted({"frame met" if m else "frame missed" for m in frames["met"]})
    spans = np.concatenate([decode(trace(fig, k)["x"]) for k in sorted(kinds)])
    assert np.allclose(np.sort(spans), np.sort(frames["latency_s"]))


def test_memory_lines(run_page):
    result, _, figs = run_page
    fig = figs["fig-memory"]
    mem = result.memory
    # the largest curve (naive) is a few MiB: the axis is in MiB, the unit of the caption
    assert fig["layout"]["yaxis"]["title"]["text"] == "activation memory (MiB)"
    assert mem["naive_bytes"].max() >= 2**20
    for name, col in (("planned live bytes", "planned_bytes"), ("naive (no reuse)", "naive_bytes"),
                      ("lower bound (largest live set)", "lower_bound_bytes")):
        assert np.allclose(decode(trace(fig, name)["y"]) * 2**20, mem[col])
    # the lower bound is the largest live set: it equals the planned maximum here
    assert decode(trace(fig, "planned live bytes")["y"]).max() * 2**20 == pytest.approx(
        mem["lower_bound_bytes"].iloc[0])


def test_memory_axis_says_mib_like_its_caption(tmp_path):
    """Issue 17: the axis said MB (SI ticks) where the caption says MiB; small plans in KiB."""
    result = make_result()
    result.memory[["planned_bytes", "naive_bytes", "lower_bound_bytes", "arena_bytes"]] //= 64
    fig = report_figures(write_run_report(result, tmp_path / "k.html").read_text())["fig-memory"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "activation memory (KiB)"
    result.memory[["planned_bytes", "naive_bytes", "lower_bound_bytes", "arena_bytes"]] *= 4096
    figs = report_figures(write_run_report(result, tmp_path / "r.html").read_text())
    fig = figs["fig-memory"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "activation memory (MiB)"
    assert "exponentformat" not in fig["layout"]["yaxis"] and "ticksuffix" not in fig["layout"]["yaxis"]
    y = decode(trace(fig, "planned live bytes")["y"])
    assert np.allclose(y * 2**20, result.memory["planned_bytes"])
    assert all("MiB" in t["hovertemplate"] for t in fig["data"])


def test_latency_histogram_cdf_and_deadline(run_page):
    result, _, figs = run_page
    fig = figs["fig-latency-distribution"]
    hist, cdf = trace(fig, "stream 0"), trace(fig, "stream 0 CDF")
    assert hist["type"] == "histogram" and cdf["type"] == "scatter"
    lat = np.sort(result.frames["latency_s"].to_numpy())
    assert np.allclose(decode(hist["x"]), lat)
    assert np.allclose(decode(cdf["x"]), lat)
    assert np.allclose(decode(cdf["y"]), np.arange(1, len(lat) + 1) / len(lat))
    lines = [s for s in fig["layout"]["shapes"] if s["type"] == "line"]
    assert len(lines) == 2 and all(s["x0"] == s["x1"] == pytest.approx(0.010) for s in lines)
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert "new text" not in texts and "deadline 10 ms" in texts
    x0, x1 = fig["layout"]["xaxis"]["range"]
    assert x0 <= lat.min() and max(lat.max(), 0.010) <= x1


def test_latency_histogram_zooms_on_frames_far_below_the_deadline(tmp_path):
    """Issue 17: every frame at 2.6 ms on a 0–35 ms axis (33 ms deadline) drew invisible bars
    and the deadline line of the histogram was labelled plotly's placeholder 'new text'."""
    result = make_result(frames=30, deadline_s=0.0333)
    result.frames["latency_s"] = 0.0026 + 1e-7 * (np.arange(30) % 3)   # 2.6 ms, three values
    lat = result.frames["latency_s"].to_numpy()
    fig = report_figures(write_run_report(result, tmp_path / "r.html").read_text())[
        "fig-latency-distribution"]
    layout = fig["layout"]
    for axis in ("xaxis", "xaxis2"):
        x0, x1 = layout[axis]["range"]
        assert x0 <= lat.min() and lat.max() <= x1
        assert x1 - x0 <= 2 * (lat.max() - lat.min()) + 0.2 * lat.max()  # zoomed on the data
    hist = trace(fig, "stream 0")
    assert hist["autobinx"] is False
    assert hist["xbins"]["size"] == pytest.approx((x1 - x0) / 40)     # each bar 1/40 of the axis
    texts = [a["text"] for a in layout["annotations"]]
    assert "new text" not in texts and all(t.strip() for t in texts)
    [note] = [t for t in texts if t.startswith("deadline")]
    assert "33.3 ms" in note and "off the axis" in note
    assert not [s for s in layout.get("shapes", []) if s["type"] == "line"]


def test_gantt_opens_on_the_worst_frame_with_cores_in_order(tmp_path):
    """Issue 17: layer bars a few µs long on a 1 s axis; rows core3, core1, core2, core0."""
    result = make_result(frames=5)
    cores = [f"core{c}" for c in (3, 1, 2, 0, 10)]
    result.timeline = result.timeline.assign(resource=[cores[i % 5] for i in range(len(result.timeline))])
    fig = report_figures(write_run_report(result, tmp_path / "r.html").read_text())["fig-gantt"]
    y = fig["layout"]["yaxis"]
    assert y["categoryorder"] == "array" and y["autorange"] == "reversed"
    assert list(y["categoryarray"]) == ["core0", "core1", "core2", "core3", "core10", "stream 0 frames"]
    worst = result.frames.loc[result.frames["latency_s"].idxmax()]
    x0, x1 = fig["layout"]["xaxis"]["range"]
    assert x0 < worst["arrival_s"] and worst["end_s"] < x1
    assert x1 - x0 == pytest.approx(1.04 * worst["latency_s"])
    assert fig["layout"]["xaxis"]["tickformat"] == "~s"


def test_traffic_per_level(run_page):
    result, _, figs = run_page
    fig = figs["fig-traffic"]
    layers, _ = worst_frame(result)
    assert fig["layout"]["yaxis"]["type"] == "log"
    for key in ("L1", "L2", "L3", "dram"):
        [t] = [t for t in fig["data"] if t["name"].startswith(f"{key}: ")]
        assert np.array_equal(decode(t["y"]), layers[f"bytes_{key}"])


def test_verdict_and_names_escaped_in_html(run_page):
    result, html, _ = run_page
    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Raspberry Pi 5" in html and "MET" in html


def test_report_from_saved_run_dir_uses_resolved_hardware(tmp_path):
    result = make_result(keep_scenario=False)
    run_dir = result.save(tmp_path / "run")
    out = write_report_from_dir(run_dir)
    assert out == run_dir / "report.html"
    figs = report_figures(out.read_text())
    assert "fig-roofline" in figs  # hardware rebuilt from scenario.resolved.yaml
    loaded = Result.load(run_dir)
    assert np.allclose(decode(trace(figs["fig-layer-latency"], "compute")["y"]),
                       worst_frame(loaded)[0]["compute_s"])


def test_cli_report_run_dir(tmp_path):
    run_dir = make_result().save(tmp_path / "run")
    out = tmp_path / "sub" / "r.html"
    out.parent.mkdir()  # report -o never creates folders (issue 17; see test_cli_output.py)
    res = CliRunner().invoke(app, ["report", str(run_dir), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"kind": "run", "report": str(out), "png": []}
    assert report_figures(out.read_text())
    # nothing left behind by the atomic write
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]


def test_cli_report_bad_dir_exit_2(tmp_path):
    from memsim.cli import main

    (tmp_path / "x.txt").write_text("hi")
    assert main(["report", str(tmp_path)]) == 2
    assert not (tmp_path / "report.html").exists()


def test_png_export(tmp_path):
    """Kaleido renders every figure with the system chromium (fails, not skips, without it)."""
    from memsim.report.png import export_png, find_browser
    from memsim.report.run import run_figures

    assert find_browser() is not None, "no chromium: apt-get install chromium"
    paths = export_png(run_figures(make_result())[:2], tmp_path / "png", width=600, height=400)
    assert [p.name for p in paths] == ["fig-layer-latency.png", "fig-roofline.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(x.name for x in (tmp_path / "png").iterdir()) == sorted(p.name for p in paths)


def test_png_no_browser_message(tmp_path, monkeypatch):
    from memsim.cli import main
    import memsim.report.png as png

    monkeypatch.setattr(png, "find_browser", lambda: None)
    run_dir = make_result().save(tmp_path / "run")
    assert main(["report", str(run_dir), "--png", str(tmp_path / "png")]) == 2
    assert not (run_dir / "report.html").exists()
    with pytest.raises(png.NoBrowserError, match="install Debian's chromium"):
        png.require_browser()


def test_end_to_end_real_simulation(tmp_path):
    """A real engine run of mobilenet_v2 on the Pi 5 preset: report figures match the Result."""
    from memsim.engine.run import simulate
    from test_report_helpers import make_scenario

    result = simulate(make_scenario(frames=1, deadline="33 ms"))
    figs = report_figures(write_run_report(result, tmp_path / "e2e.html").read_text())
    assert len(figs) == 6
    layers, _ = worst_frame(result)
    assert np.allclose(decode(trace(figs["fig-layer-latency"], "compute")["y"]), layers["compute_s"])
    lat = decode(trace(figs["fig-latency-distribution"], "stream 0 CDF")["x"])
    assert np.allclose(lat, np.sort(result.frames["latency_s"]))
