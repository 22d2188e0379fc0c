"""``memsim explain``: one-at-a-time ablations of a scenario's strategies (DESIGN §9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memsim.cli import app
from memsim.cli.cmd_explain import ablations
from memsim.config import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "configs" / "scenarios"
KEYS = {"strategy", "change", "latency_s", "dram_bytes", "peak_activation_bytes", "energy_j"}


def explain_json(path, *args):
    res = CliRunner().invoke(app, ["explain", str(path), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_explain_json_baseline_and_ablations():
    path = SCENARIOS / "kws-stm32h743.yaml"
    out = explain_json(path, "--frames", "1")
    base = out["baseline"]
    assert base["name"] == "kws-stm32h743"
    assert {"latency_s", "latency_p99_s", "dram_bytes", "peak_activation_bytes"} <= set(base)
    rows = out["ablations"]
    assert [r["strategy"] for r in rows] == [a[0] for a in ablations(load_scenario(path))]
    for r in rows:
        assert KEYS <= set(r)
        for k, v in r["delta"].items():
            if v is not None:
                assert v == pytest.approx(r[k] - base[k])
    by = {r["strategy"]: r for r in rows}
    # planner best → none can only grow the arena; int4 weights can only shrink DRAM traffic
    assert by["reuse.planner"]["peak_activation_bytes"] >= base["peak_activation_bytes"]
    assert by["compression.weights"]["dram_bytes"] <= base["dram_bytes"]
    # every candidate pair of the fusion report names a reason
    assert out["fusion"] and all(f["reason"] for f in out["fusion"])


def test_ablations_turn_used_strategies_off_and_unused_on(tmp_path):
    text = (SCENARIOS / "front-camera-pi5.yaml").read_text()
    sc = load_scenario(SCENARIOS / "front-camera-pi5.yaml")
    rows = {a[0]: a for a in ablations(sc)}
    assert rows["compression.weights"][2] == {"strategies.compression.weights": {"format": "none"}}
    assert rows["prefetch.depth"][1] == "1 → 0"
    assert rows["cache.streaming_stores"][2] == {"strategies.cache.streaming_stores": True}
    assert "quant" in text


def test_explain_only_filter_and_table():
    path = SCENARIOS / "kws-stm32h743.yaml"
    out = explain_json(path, "--frames", "1", "--only", "prefetch")
    assert [r["strategy"] for r in out["ablations"]] == ["prefetch.depth"]
    res = CliRunner().invoke(app, ["explain", str(path), "--frames", "1", "--only", "reuse.fusion"])
    assert res.exit_code == 0 and "reuse.fusion" in res.stdout


def test_explain_bad_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhardware: nowhere.yaml\nstreams: []\n")
    from memsim.cli import main

    assert main(["explain", str(bad), "--json"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_every_shipped_scenario_runs_under_explain(name):
    out = explain_json(SCENARIOS / name, "--frames", "1")
    assert out["ablations"] and all(r["latency_s"] > 0 for r in out["ablations"])
