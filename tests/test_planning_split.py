"""Row splitting under a capacity (``workloads.split``, ``planning.split``, ``planning.capacity``):
halo rows from the receptive field in closed form, the rewritten graph computing exactly what
the original does (a loop-nest interpreter as the oracle), the peak of a split against a hand
calculation, the option comparison, the engine charging the recomputed MACs, and bad input."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import memsim
from memsim.cli import main
from memsim.config import load_scenario
from memsim.planning import plan_graph
from memsim.planning.capacity import best_option, capacity_options
from memsim.planning.split import SplitCosts, choose_split, live_per_step, split_cost
from memsim.prepare import prepare
from memsim.workloads import load_network
from memsim.workloads.builder import GraphBuilder
from memsim.workloads.split import Segment, band_rows, needed_rows, split_graph

COSTS = SplitCosts(1e-9, 1e-8)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _chain(k: int, height: int = 32, channels: int = 2, stride: int = 1, dilation: int = 1,
           expand: int = 1):
    """``k`` 3x3 convs (padding ``dilation``), the first widening to ``expand`` x channels."""
    b = GraphBuilder("chain", "int8")
    x = b.input("x", (1, channels, height, 8))
    for i in range(k):
        out = channels * expand if i < k - 1 else channels
        x = b.conv(x, out, 3, stride=stride if i == 0 else 1, dilation=dilation,
                   pad=dilation, name=f"c{i}")
    return b.finish([x])


@pytest.mark.parametrize("k,bands", [(2, 2), (3, 4), (4, 3), (5, 2)])
def test_halo_rows_of_a_3x3_chain_are_two_per_layer_to_go_per_boundary(k, bands):
    """A chain of ``k`` 3x3 stride-1 convs split into B bands: layer ``i`` (0-based) computes
    ``H + 2(k-1-i)(B-1)`` rows in all (its band grows by ``k-1-i`` rows each side of an inner
    boundary), so the extra MACs are ``sum_i MACs_i / H x 2(k-1-i)(B-1)``."""
    g = _chain(k)
    seg = Segment(0, k - 1, bands)
    rows = band_rows(g, seg)
    for i in range(k):
        total = sum(hi - lo for lo, hi in (r[f"c{i}"] for r in rows))
        assert total == 32 + 2 * (k - 1 - i) * (bands - 1)
    for b, (lo, hi) in enumerate((b * 32 // bands, (b + 1) * 32 // bands) for b in range(bands)):
        for i in range(k):
            halo = k - 1 - i
            assert rows[b][f"c{i}"] == (max(0, lo - halo), min(32, hi + halo))
    extra = sum(op.macs // 32 * 2 * (k - 1 - i) * (bands - 1) for i, op in enumerate(g.ops))
    assert split_cost(g, seg).extra_macs == extra
    assert split_graph(g, [seg]).macs - g.macs == extra


def test_receptive_field_of_stride_and_dilation():
    """Output rows [a, b) read ``[s*a - pad, s*(b-1) - pad + d*(R-1) + 1)``, clipped."""
    g = _chain(1, stride=2)
    op = g.ops[0]  # 3x3, stride 2, pad 1: 32 -> 16 rows
    assert needed_rows(op, "x", (0, 4), 32) == (0, 8)
    assert needed_rows(op, "x", (4, 8), 32) == (7, 16)
    assert needed_rows(op, "x", (15, 16), 32) == (29, 32)
    g = _chain(1, dilation=2)
    op = g.ops[0]  # 3x3, dilation 2, pad 2
    assert needed_rows(op, "x", (10, 12), 32) == (8, 14)
    assert needed_rows(op, "x", (0, 1), 32) == (0, 3)


def _run(graph, seed=0):
    """Interpret every op's loop nest: conv2d sums input x weight over the reduction dims,
    elementwise add sums its inputs; an index outside a tensor is padding (skipped)."""
    rng = np.random.default_rng(seed)
    vals = {n: rng.integers(-3, 4, t.shape) for n, t in graph.tensors.items()
            if t.kind in ("input", "weight")}
    for op in graph.ops:
        for t in op.outputs:
            vals.setdefault(t, np.zeros(graph.tensors[t].shape, dtype=np.int64))
        dims = op.loops.dims
        reads = [a for a in op.loops.accesses if a.mode == "r"
                 and (op.kind != "conv2d" or len(a.index) == 4)]
        write = next(a for a in op.loops.accesses if "w" in a.mode)
        for point in itertools.product(*(range(n) for n in dims.values())):
            p = dict(zip(dims, point))
            idx = [tuple(ax.evaluate(p) for ax in a.index) for a in reads]
            ok = [all(0 <= i < s for i, s in zip(ix, vals[a.tensor].shape))
                  for a, ix in zip(reads, idx)]
            terms = [vals[a.tensor][ix] if good else 0 for a, ix, good in zip(reads, idx, ok)]
            w = tuple(ax.evaluate(p) for ax in write.index)
            vals[write.tensor][w] += np.prod(terms) if op.kind == "conv2d" else sum(terms)
    return {t: vals[t] for t in graph.outputs}


def _residual():
    """conv (stride 2) -> conv -> add(first conv's output): a residual inside the segment."""
    b = GraphBuilder("res", "int8")
    x = b.input("x", (1, 2, 12, 5))
    y = b.conv(x, 3, 3, stride=2, name="a")
    z = b.conv(y, 3, 3, dilation=2, pad=2, name="b")
    return b.finish([b.add(y, z, name="s")])


@pytest.mark.parametrize("graph,seg", [(_chain(3, height=10, channels=1), Segment(0, 2, 3)),
                                       (_residual(), Segment(0, 2, 4))])
def test_split_graph_computes_what_the_graph_computes(graph, seg):
    """The oracle: both graphs interpreted on the same inputs give the same outputs, so every
    band reads the right rows at the right offsets (padding included) and writes its rows."""
    split = split_graph(graph, [seg])
    split.validate()
    want, got = _run(graph), _run(split)
    assert all(np.array_equal(want[t], got[t]) for t in want)
    assert {op.attrs["band"] for op in split.ops} == set(range(seg.bands))


def test_peak_of_a_split_is_the_hand_calculation():
    """x (4 x 16 x 8 int8: 512 B) -> c0 (16 channels: 2,048 B) -> c1 (4 channels: 512 B).
    Unsplit, x + c0 = 2,560 B. In 3 bands of c1's rows (0-5, 5-10, 10-16) c0 computes rows
    [0,6), [4,11), [9,16): at most 7 rows of 128 B, so the peak is x + 896 + y = 1,920 B;
    within 2,000 B the chooser takes these 3 bands (2 bands need 9 rows: 2,176 B)."""
    g = _chain(2, height=16, channels=4, expand=4)
    assert plan_graph(g, alignment=1).lower_bound_bytes == 2560
    choice = choose_split(g, 2000, COSTS, alignment=1)
    assert choice.segments == (("c0", "c1", 3),)
    mp = plan_graph(choice.graph, alignment=1)
    assert mp.lower_bound_bytes == 1920 == int(live_per_step(choice.graph, 1).max())
    assert mp.arena_bytes <= 2000
    # c0 recomputes 4 rows (6 + 7 + 7 - 16) of 16 x 8 x 4 x 9 MACs; both weights (576 B
    # each) are read twice more; c0 reads x's rows [0,7), [3,12), [8,16): 8 extra of 32 B
    assert choice.cost.extra_macs == 4 * 16 * 8 * 4 * 9
    assert choice.cost.extra_weight_bytes == 2 * (16 * 4 * 9 + 4 * 16 * 9)
    assert choice.cost.extra_input_bytes == 8 * 32


def test_mobilenet_v2_at_512_kib_split_beats_spilling():
    """mobilenet_v2 int8 in 512 KiB: the split fits with ~1 % more MACs and a few tens of KiB
    of weights re-read, far below either spill's DRAM traffic (docs/planning.md)."""
    g = load_network("mobilenet_v2", dtype="int8").fold_batchnorm()
    opts = capacity_options(g, 512 * 1024, COSTS, alignment=64)
    by = {o.name: o for o in opts}
    split = by["split"]
    assert split.fits and split.plan.arena_bytes <= 512 * 1024 and not split.plan.spilled
    assert 0 < split.extra_macs < 0.02 * g.macs
    assert split.extra_weight_bytes < by["spill least-traffic"].spill_bytes / 100
    assert best_option(opts, COSTS).name == "split"
    assert split.graph.macs == g.macs + split.extra_macs


def _stm32(tmp_path, sram: str, split: str = "auto"):
    """The KWS scenario on an STM32H743 whose SRAM is ``sram``, running person_detect."""
    hw = (CONFIGS / "hardware" / "stm32h743.yaml").read_text().replace("size: 864 KiB",
                                                                        f"size: {sram}")
    (tmp_path / "hw.yaml").write_text(hw)
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nhardware: hw.yaml\nstreams:\n  - {network: person_detect, "
                    f"dtype: int8, frames: 1}}\nstrategies:\n  reuse: {{split: {split}}}\n"
                    "seed: 0\n")
    return path


def test_engine_runs_a_split_on_read_only_flash_and_charges_its_macs(tmp_path):
    """person_detect (55,296 B bound) on an STM32H743 with 48 KiB of SRAM: flash is read-only,
    so nothing can spill; the split fits, and the engine's layers carry the split graph's MACs:
    the network's plus the recomputed halos."""
    scenario = load_scenario(_stm32(tmp_path, "48 KiB"))
    stream = prepare(scenario).streams[0]
    graph = load_network("person_detect", dtype="int8").fold_batchnorm()
    extra = stream.graph.macs - graph.macs
    assert extra > 0 and stream.graph.attrs["split"]
    assert stream.plan.arena_bytes <= 48 * 1024
    seg = stream.graph.attrs["split"]
    assert all(isinstance(b, int) and b >= 2 for _, _, b in seg)
    result = memsim.simulate(scenario)
    assert int(result.layers["macs"].sum()) == graph.macs + extra


def test_split_off_on_read_only_flash_is_infeasible_with_a_located_message(tmp_path, capsys):
    path = _stm32(tmp_path, "48 KiB", split="off")
    assert main(["run", str(path), "--no-save"]) == 2
    err = capsys.readouterr().err
    assert "s.yaml:" in err and "strategies.reuse" in err


def test_cli_plan_lists_spill_and_split_options(capsys):
    code = main(["plan", "mobilenet_v2", "--capacity", "512KiB", "--json"])
    out = json.loads(capsys.readouterr().out)["capacity"]
    assert code == 0
    names = [o["option"] for o in out["options"]]
    assert names == ["spill least-traffic", "spill largest-first", "split"]
    split = out["options"][2]
    assert split["fits"] and split["extra_macs"] > 0 and split["segments"]
    assert out["chosen"] == "split" and out["hardware"] == "ESP32-S3"


def test_cli_plan_impossible_capacity_is_bad_input(capsys):
    """4 KiB without spilling: person_detect's 27,648 B input alone does not fit."""
    assert main(["plan", "person_detect", "--capacity", "4KiB", "--spill", "off"]) == 2
    err = capsys.readouterr().err
    assert "--capacity" in err and "no option fits" in err
    assert main(["plan", "person_detect", "--capacity", "4KiB", "--split", "maybe"]) == 2
    assert "--split" in capsys.readouterr().err


def test_invalid_segments_are_refused():
    g = _residual()
    with pytest.raises(ValueError, match="read after the segment"):
        split_graph(g, [Segment(0, 1, 2)])  # a's output is read by the add, outside
    with pytest.raises(ValueError, match="bands for"):
        split_graph(g, [Segment(0, 2, 7)])  # 6 output rows
