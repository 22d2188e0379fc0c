"""Graph memory plans: lifetimes, views, in place, regions, zoo acceptance and `memsim plan`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memsim.cli import main
from memsim.planning import Buffer, plan_graph, validate
from memsim.workloads import Graph, Op, Tensor, build

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "minimalloc"  # ../shared beside the repo


def _aligned(mp):
    al = mp.plan.alignment
    return [Buffer(b.id, -(-b.size // al) * al, b.start, b.end) for b in mp.buffers]


def small_graph() -> Graph:
    """x -> conv -> a -> relu (in place) -> b -> view v -> add(v, x2) -> y ; x2 = pool(a)."""
    t = {
        "x": Tensor("x", (1, 4, 4, 4), "int8", "input"),
        "w": Tensor("w", (4, 4, 1, 1), "int8", "weight"),
        "a": Tensor("a", (1, 4, 4, 4), "int8", "activation"),
        "b": Tensor("b", (1, 4, 4, 4), "int8", "activation"),
        "v": Tensor("v", (1, 64), "int8", "activation", alias_of="b"),
        "p": Tensor("p", (1, 64), "int8", "activation"),
        "y": Tensor("y", (1, 64), "int8", "output"),
        "kv": Tensor("kv", (128,), "int8", "state"),
    }
    ops = [
        Op("conv", "conv2d", ("x",), ("w",), ("a",)),
        Op("relu", "elementwise", ("a",), (), ("b",), inplace_ok=True),
        Op("flat", "reshape", ("b",), (), ("v",)),
        Op("copy", "elementwise", ("x",), (), ("p",)),
        Op("add", "elementwise", ("v", "p", "kv"), (), ("y",), inplace_ok=True),
    ]
    return Graph("small", t, ops, ("x",), ("y",))


def test_lifetimes_views_inplace_and_regions():
    g = small_graph()
    mp = plan_graph(g, "greedy-by-size", alignment=1)
    spans = {b.id: (b.start, b.end, b.size) for b in mp.buffers}
    # x: graph input, live from 0 to its last reader (copy, step 3)
    assert spans["x"] == (0, 4, 64)
    # a and b share a buffer (relu in place); view v extends it to the add (step 4)
    assert spans["a"] == (0, 5, 64)
    assert mp.address("b") == mp.address("a") == mp.address("v")
    # add is in place but its first input v is a view of a buffer that dies there: y joins it
    assert mp.address("y") == mp.address("a")
    assert spans["p"] == (3, 5, 64)
    validate(mp.buffers, mp.plan)
    assert mp.lower_bound_bytes == 192 == mp.arena_bytes  # x, a and p live at step 3
    # weights and states after the arena, page aligned, never overlapping
    w0, w1 = mp.region("weight")
    s0, s1 = mp.region("state")
    assert w0 % 4096 == 0 and w0 >= mp.arena_bytes and mp.address("w") == w0
    assert s0 >= w1 and mp.address("kv") == s0 and s1 - s0 >= 128
    # naive: no reuse and no in-place: x, a, b (+ view v), p, y each 64 B
    assert mp.naive_bytes == 64 * 5


def test_naive_counts_every_tensor_without_inplace():
    g = small_graph()
    mp = plan_graph(g, "greedy-by-size", alignment=1)
    none = plan_graph(g, "none", alignment=1)
    assert none.arena_bytes == none.naive_bytes == mp.naive_bytes
    assert len(none.buffers) == 5  # x, a, b(+v), p, y


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "mobilenet_v1",
                                  "mobilenet_v2", "vgg16", "alexnet"])
@pytest.mark.parametrize("alignment", [1, 64])
def test_greedy_by_size_reaches_lower_bound_on_chain_networks(name, alignment):
    g = build(name, 1, "int8").fold_batchnorm()
    mp = plan_graph(g, "greedy-by-size", alignment=alignment)
    validate(_aligned(mp), mp.plan)
    assert mp.arena_bytes == mp.lower_bound_bytes
    assert all(o % alignment == 0 for o in mp.plan.offsets.values())


def test_mobilenet_v2_int8_plans_to_executorch_arena():
    g = build("mobilenet_v2", 1, "int8").fold_batchnorm()
    mp = plan_graph(g, "greedy-by-size", alignment=1)
    assert mp.arena_bytes == 1_505_280  # 112*112*96 expand output + 56*56*96 depthwise output
    mp64 = plan_graph(g, "greedy-by-size", alignment=64)
    assert mp64.arena_bytes == 1_505_280  # both tensors are multiples of 64 B
    assert max(mp.live_bytes_per_step) == mp.arena_bytes
    assert max(mp.lower_bound_per_step) == mp.lower_bound_bytes


def test_best_reaches_lower_bound_where_greedy_does_not():
    g = build("person_detect", 1, "int8").fold_batchnorm()
    gbs = plan_graph(g, "greedy-by-size", alignment=64)
    best = plan_graph(g, "best", alignment=64, time_limit_s=10)
    validate(_aligned(best), best.plan)
    assert gbs.arena_bytes > gbs.lower_bound_bytes
    assert best.arena_bytes == best.lower_bound_bytes


def test_cli_plan_instances_json(capsys):
    code = main(["plan", "--instances", str(DATA / "input.12.csv"), "--algorithm", "best",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["arena_bytes"], out["lower_bound_bytes"], out["naive_bytes"]) == (12, 12, 20)
    bufs = [Buffer(b["id"], b["size"], b["start"], b["end"]) for b in out["buffers"]]
    validate(bufs, {b["id"]: b["offset"] for b in out["buffers"]})


def test_cli_plan_network_json(capsys):
    code = main(["plan", "mobilenet_v2", "--alignment", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["arena_bytes"] == 1_505_280
    assert out["lower_bound_bytes"] == 1_505_280 and out["naive_bytes"] > out["arena_bytes"]


def test_cli_plan_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lower,upper,size\na,0,3,-4\n")
    assert main(["plan", "--instances", str(bad)]) == 2
    assert "bad.csv:2" in capsys.readouterr().err
    assert main(["plan", "mobilenet_v2", "--algorithm", "magic"]) == 2
    assert main(["plan"]) == 2


def test_cli_plan_within_a_capacity_json(capsys):
    """``--capacity``: the on-chip part fits, spilled tensors sit above it, and least traffic
    moves fewer bytes than spilling the largest tensors first (both printed)."""
    code = main(["plan", "mobilenet_v2", "--capacity", "512KiB", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    cap = out["capacity"]
    assert cap["capacity_bytes"] == 524_288 and cap["onchip_bytes"] <= 524_288
    assert cap["spill"] == "least-traffic" and cap["spilled"]
    assert cap["spill_traffic_bytes"] < cap["largest-first_traffic_bytes"]
    bufs = [Buffer(b["id"], -(-b["size"] // 64) * 64, b["start"], b["end"])
            for b in out["buffers"]]
    validate(bufs, {b["id"]: b["offset"] for b in out["buffers"]})
    spilled = set(cap["spilled"])
    assert all((b["offset"] >= cap["onchip_bytes"]) == (b["id"] in spilled)
               for b in out["buffers"])


def test_cli_plan_capacity_bad_input(capsys):
    assert main(["plan", "mobilenet_v2", "--capacity", "512 parsecs"]) == 2
    assert "--capacity" in capsys.readouterr().err
    assert main(["plan", "mobilenet_v2", "--capacity", "1MiB", "--spill", "random"]) == 2
    assert main(["plan", "--instances", str(DATA / "input.12.csv"), "--capacity", "8"]) == 2
