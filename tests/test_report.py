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
    assert np.array_equal(decode(trace(fig, "planned live bytes")["y"]), mem["planned_bytes"])
    assert np.array_equal(decode(trace(fig, "naive (no reuse)")["y"]), mem["naive_bytes"])
    assert np.array_equal(decode(trace(fig, "lower bound (largest live set)")["y"]), mem["lower_bound_bytes"])
    # every planned point is at least the lower bound is NOT required at each step, but the
    # lower bound is the largest live set: it equals the planned maximum here
    assert decode(trace(fig, "planned live bytes")["y"]).max() == mem["lower_bound_bytes"].iloc[0]


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
