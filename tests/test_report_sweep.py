"""Sweep report: Pareto front, feasibility heatmap, parallel coordinates and table vs the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from memsim.cli.app import app
from memsim.report import write_sweep_report
from memsim.report.sweep import ordered_values, sweep_spec
from test_report_helpers import decode, make_sweep_df, report_figures, trace

SPEC = {"name": "l2-vs-clock", "objectives": {"latency_s": "min", "energy_j": "min"},
        "grid": {"hardware.memory.levels.L2.size": [], "hardware.compute.clock": []}}


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    df = make_sweep_df()
    path = write_sweep_report(df, SPEC, tmp_path_factory.mktemp("sweep") / "sweep.html")
    html = path.read_text()
    return df, html, report_figures(html)


def test_values_sorted_by_magnitude():
    s = pd.Series(["1 MiB", "256 KiB", "2 MiB", "512 KiB", "1 MiB"])
    assert ordered_values(s) == ["256 KiB", "512 KiB", "1 MiB", "2 MiB"]
    assert ordered_values(pd.Series(["2.4 GHz", "800 MHz", "1.5 GHz"])) == ["800 MHz", "1.5 GHz", "2.4 GHz"]
    assert ordered_values(pd.Series([4, 1, 2])) == [1, 2, 4]


def test_spec_inferred_without_info():
    df = make_sweep_df()
    spec = sweep_spec(df, None)
    assert set(spec["parameters"]) == {"hardware.memory.levels.L2.size", "hardware.compute.clock"}
    assert spec["objectives"] == {"latency_s": "min", "energy_j": "min"}
    assert set(spec["heatmap"]) == set(spec["parameters"])


def test_pareto_figure_matches_pareto_column(sweep_page):
    df, _, figs = sweep_page
    fig = figs["fig-pareto"]
    ok = df[df["status"] == "ok"]
    front = ok[ok["pareto"]].sort_values("latency_s")
    rest = ok[~ok["pareto"]]
    f = trace(fig, "Pareto front")
    assert np.allclose(decode(f["x"]), front["latency_s"]) and np.allclose(decode(f["y"]), front["energy_j"])
    d = trace(fig, "dominated")
    assert sorted(decode(d["x"])) == pytest.approx(sorted(rest["latency_s"]))
    # failed points are not drawn
    assert len(decode(f["x"])) + len(decode(d["x"])) == len(ok)


def test_heatmap_is_best_slack_per_cell(sweep_page):
    df, _, figs = sweep_page
    [hm] = figs["fig-feasibility"]["data"]
    assert hm["type"] == "heatmap" and hm["zmid"] == 0
    xs, ys = list(hm["x"]), list(hm["y"])
    px = figs["fig-feasibility"]["layout"]["xaxis"]["title"]["text"]
    py = figs["fig-feasibility"]["layout"]["yaxis"]["title"]["text"]
    assert {px, py} == {"hardware.memory.levels.L2.size", "hardware.compute.clock"}
    z = decode(hm["z"])
    assert z.shape == (len(ys), len(xs))
    ok = df[df["status"] == "ok"]
    for i, vy in enumerate(ys):
        for j, vx in enumerate(xs):
            cell = ok[(ok[px] == vx) & (ok[py] == vy)]["slack_s"]
            if len(cell):
                assert z[i, j] == pytest.approx(cell.max())
            else:
                assert np.isnan(z[i, j])
    assert np.isnan(z).sum() == 1  # the failed point's cell


def test_parallel_coordinates(sweep_page):
    df, _, figs = sweep_page
    [pc] = figs["fig-parallel"]["data"]
    assert pc["type"] == "parcoords"
    ok = df[df["status"] == "ok"]
    dims = {d["label"]: d for d in pc["dimensions"]}
    assert np.allclose(decode(dims["latency_s"]["values"]), ok["latency_s"])
    size = dims["L2.size"]  # long dotted names keep their last two parts
    assert list(size["ticktext"]) == ["256 KiB", "512 KiB", "1 MiB", "2 MiB"]
    codes = decode(size["values"])
    assert [size["ticktext"][int(c)] for c in codes] == list(ok["hardware.memory.levels.L2.size"])
    assert np.allclose(decode(pc["line"]["color"]), ok["slack_s"])


def test_sortable_table_lists_every_point(sweep_page):
    df, html, _ = sweep_page
    assert 'class="data sortable"' in html
    for pid in df["id"]:
        assert f">{pid}</td>" in html
    assert "InfeasibleError: arena does not fit" in html


def test_cli_report_sweep_dir(tmp_path):
    d = tmp_path / "sw"
    d.mkdir()
    make_sweep_df().to_parquet(d / "results.parquet", index=False)
    (d / "spec.json").write_text(json.dumps({"name": "from-spec", "objectives": {"latency_s": "min", "dram_bytes": "min"}}))
    res = CliRunner().invoke(app, ["report", str(d), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["kind"] == "sweep" and out["report"] == str(d / "report.html")
    html = (d / "report.html").read_text()
    assert "memsim sweep: from-spec" in html
    figs = report_figures(html)
    assert figs["fig-pareto"]["layout"]["yaxis"]["title"]["text"] == "dram_bytes (min)"


def test_sweep_without_slack_or_objectives_still_reports(tmp_path):
    df = make_sweep_df().drop(columns=["slack_s", "energy_j", "pareto"])
    html = write_sweep_report(df, {"objectives": {"latency_s": "min"}}, tmp_path / "s.html").read_text()
    figs = report_figures(html)
    assert "fig-feasibility" not in figs
    assert "Left out: no slack_s column" in html
    # single objective: drawn against DRAM bytes, front computed from the data
    assert figs["fig-pareto"]["layout"]["yaxis"]["title"]["text"] == "dram_bytes (min)"
