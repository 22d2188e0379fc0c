"""memsim compare: JSON rows, infeasible boards as rows, and the comparison report's figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from memsim.cli.app import app
from memsim.config import load_hardware
from memsim.report.compare import CompareEntry, ROW_KEYS, write_compare_report
from memsim.report.html import text
from memsim.report.run import worst_frame
from test_report_helpers import PI5, ROOT, XSS, decode, make_result, report_figures, trace

HW = ROOT / "configs" / "hardware"


def entries():
    pi5 = load_hardware(PI5)
    pi4 = load_hardware(HW / "raspberry-pi-4.yaml")
    coral = load_hardware(HW / "coral-edge-tpu.yaml")
    fast = make_result(scale=1.0, seed=1)            # meets 10 ms
    slow = make_result(scale=8.0, seed=2)            # misses
    return [CompareEntry(pi5.name, 0.010, str(PI5), pi5, fast),
            CompareEntry(pi4.name, 0.010, None, pi4, slow),
            CompareEntry(coral.name, 0.010, None, coral, None, note="no MAC rate for dtype 'fp32' (has int8)")]


def test_rows_contract():
    rows = [e.row() for e in entries()]
    for r in rows:
        assert list(r)[:len(ROW_KEYS)] == list(ROW_KEYS)
    ok, miss, bad = rows
    assert ok["met"] is True and miss["met"] is False
    assert ok["fps_per_dollar"] == pytest.approx(1 / ok["latency_s"] / ok["price_usd"])
    assert ok["slack_s"] == pytest.approx(0.010 - ok["latency_s"])
    assert bad["met"] is False and bad["latency_s"] is None and "fp32" in bad["note"]
    assert "note" not in ok


def test_compare_report_figures(tmp_path):
    es = entries()
    html = write_compare_report(es, tmp_path / "c.html", network="mobilenet_v2", dtype="int8").read_text()
    figs = report_figures(html)
    assert set(figs) == {"fig-latency-price", "fig-breakdown", "fig-efficiency"}
    lp = figs["fig-latency-price"]
    met, missed = trace(lp, "meets deadline"), trace(lp, "misses deadline")
    assert decode(met["x"]).tolist() == [es[0].price_usd]
    assert np.allclose(decode(met["y"]), [es[0].result.summary["latency_s"]])
    assert np.allclose(decode(missed["y"]), [es[1].result.summary["latency_s"]])
    [line] = [s for s in lp["layout"]["shapes"] if s["type"] == "line"]
    assert line["y0"] == line["y1"] == pytest.approx(0.010)
    # breakdown: compute + stall per level sums to the worst frame's layer time, per board
    bd = figs["fig-breakdown"]
    assert bd["layout"]["barmode"] == "stack"
    parts = [t for t in bd["data"] if t["name"] != "worst frame"]
    seconds = sum(decode(t["customdata"]).astype(float) for t in parts)
    shares = sum(decode(t["x"]).astype(float) for t in parts)
    total = decode(trace(bd, "worst frame")["x"]).astype(float)
    for k, e in enumerate(es[:2]):           # fastest first: Pi 5 (fast) then Pi 4 (slow)
        layers, _ = worst_frame(e.result)
        span = float((layers["end_s"] - layers["start_s"]).sum())
        assert seconds[k] == pytest.approx(span) and total[k] == pytest.approx(span)
        assert shares[k] == pytest.approx(100.0)
    assert list(trace(bd, "compute")["y"]) == [es[0].hardware, es[1].hardware]
    eff = figs["fig-efficiency"]
    per_dollar, per_watt = trace(eff, "FPS per dollar"), trace(eff, "FPS per watt")
    assert np.allclose(decode(per_dollar["y"]), [e.fps / e.price_usd for e in es[:2]])
    assert np.allclose(decode(per_watt["y"]), [e.fps / e.tdp_w for e in es[:2]])
    assert "CANNOT RUN" in html and "Coral Edge TPU" in html


def test_hardware_names_escaped(tmp_path):
    es = entries()
    es[0].hardware = XSS
    html = write_compare_report(es, tmp_path / "c.html", network="<b>net</b>").read_text()
    assert XSS not in html and "<b>net</b>" not in html
    figs = report_figures(html)
    assert text(XSS) in list(trace(figs["fig-breakdown"], "compute")["y"])


def test_cli_infeasible_boards_are_rows(tmp_path):
    """fp32 on two int8-only accelerators: two rows with met=false and the reason, exit 0."""
    report = tmp_path / "cmp.html"
    res = CliRunner().invoke(app, ["compare", "--network", "mobilenet_v2", "--dtype", "fp32",
                                   "--deadline", "33ms", str(HW / "coral-edge-tpu.yaml"),
                                   str(HW / "hailo-8.yaml"), "--json", "--report", str(report)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out) == ["rows"]
    assert [r["hardware"] for r in out["rows"]] == ["Coral Edge TPU", "Hailo-8"]
    for r in out["rows"]:
        assert r["met"] is False and r["deadline_s"] == pytest.approx(0.033)
        assert "fp32" in r["note"] and r["latency_s"] is None
    assert "CANNOT RUN" in report.read_text()


def test_cli_fail_on_miss_and_bad_input(tmp_path):
    from memsim.cli import main

    args = ["compare", "--network", "mobilenet_v2", "--dtype", "fp32", "--deadline", "33ms",
            str(HW / "coral-edge-tpu.yaml"), "--json"]
    assert main(args + ["--fail-on-miss"]) == 3
    assert main(["compare", "--network", "mobilenet_v2", "--deadline", "33",
                 str(HW / "coral-edge-tpu.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncompute: {cores: 1}\n")
    report = tmp_path / "r.html"
    assert main(["compare", "--network", "mobilenet_v2", "--deadline", "33ms", str(bad),
                 "--report", str(report)]) == 2
    assert not report.exists()


def test_breakdown_is_log_scale_fastest_first(tmp_path):
    """Issue 17: on a linear axis only the slowest board (ESP32, 0.3 s) was visible."""
    es = entries()
    es[1].result = make_result(scale=1000.0, seed=2)       # ~1000x slower than the Pi 5
    figs = report_figures(write_compare_report(es, tmp_path / "c.html").read_text())
    bd = figs["fig-breakdown"]["layout"]
    assert bd["xaxis"]["type"] == "log"
    lo, hi = bd["xaxis"]["range"]
    totals = decode(trace(figs["fig-breakdown"], "worst frame")["x"]).astype(float)
    assert lo < np.log10(totals.min()) and np.log10(totals.max()) < hi
    assert list(totals) == sorted(totals)
    assert bd["xaxis2"]["range"] == [0, 100]
    texts = [a["text"] for a in bd["annotations"]]
    assert "new text" not in texts and any(t.strip() == "deadline 10 ms" for t in texts)


def test_latency_price_labels_never_overlap():
    """Issue 17: labels overlapped (Pi 4 / Coral, Pi 5 / RK3588); placed greedily, checked here."""
    from memsim.report.compare import LABEL_CHAR_PX, LABEL_H_PX, label_offsets

    pts = [(300, 100), (305, 102), (310, 98), (600, 200), (602, 200), (890, 330)]
    labels = ["Raspberry Pi 4", "Coral Edge TPU", "Rockchip RK3588 NPU", "Pi 5", "RK3588 CPU",
              "NVIDIA H100 SXM5 80GB"]
    offsets = label_offsets(pts, labels)
    boxes = []
    for (x, y), (dx, dy), t in zip(pts, offsets, labels):
        w = LABEL_CHAR_PX * len(t) + 6
        boxes.append((x + dx - w / 2, y + dy - LABEL_H_PX / 2, x + dx + w / 2, y + dy + LABEL_H_PX / 2))
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= 900 and 0 <= a[1] and a[3] <= 340, (labels[i], a)
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_latency_price_labels_are_annotations_on_log_axes(tmp_path):
    es = entries()
    figs = report_figures(write_compare_report(es, tmp_path / "c.html").read_text())
    lp = figs["fig-latency-price"]["layout"]
    assert lp["xaxis"]["type"] == "log" and lp["yaxis"]["type"] == "log"
    names = [a["text"] for a in lp["annotations"] if not a["text"].startswith("deadline")]
    assert sorted(names) == sorted(e.hardware for e in es if e.result is not None)
    [dl] = [a for a in lp["annotations"] if a["text"].startswith("deadline")]
    assert dl["y"] == pytest.approx(np.log10(0.010))       # log axes place labels at log10


def test_progress_bar_only_at_a_terminal_never_under_json(monkeypatch):
    """Issue 17: long runs show a bar on a terminal and nothing extra under --json or in a pipe."""
    import memsim.cli.progress as progress
    import memsim.report.compare as cmp

    calls = []
    real = cmp.compare_boards
    monkeypatch.setattr(cmp, "compare_boards", lambda *a, **k: calls.append(k["progress"]) or real(*a, **k))
    args = ["compare", "--network", "mobilenet_v2", "--deadline", "33ms", str(HW / "raspberry-pi-5.yaml")]
    res = CliRunner().invoke(app, [*args, "--json"])         # CliRunner: not a terminal
    assert res.exit_code == 0 and res.stderr == "" and calls == [None]
    json.loads(res.stdout)
    monkeypatch.setattr(progress, "interactive", lambda: True)
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0 and calls[-1] is None
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and callable(calls[-1])


def test_sweep_bar_hidden_under_json_and_in_pipes(monkeypatch):
    import memsim.cli.progress as progress
    import memsim.sweep.runner as runner

    seen = []
    summary = {"points": 0, "done": 0, "failed": 0, "skipped": 0, "results": "r.parquet",
               "pareto": [], "feasible": 0, "name": "s"}
    import memsim.cli.cmd_sweep as cmd_sweep

    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: seen.append(k["progress"]) or summary)
    monkeypatch.setattr(cmd_sweep, "print_front", lambda *a, **k: None)  # no results to read
    for tty, extra, want in ((False, [], False), (True, ["--json"], False), (True, [], True)):
        monkeypatch.setattr(progress, "interactive", lambda tty=tty: tty)
        spec = Path(__file__).resolve().parents[1] / "configs/sweeps/kws-mcu.yaml"
        res = CliRunner().invoke(app, ["sweep", str(spec), *extra])  # run_sweep is stubbed
        assert res.exit_code == 0, res.output
        assert seen[-1] is want
