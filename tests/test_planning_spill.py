"""Planning under a capacity (``memsim.planning.spill``, ``plan_graph(capacity=...)``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.planning import Buffer, lower_bound, plan_graph, validate
from memsim.planning.buffers import as_arrays
from memsim.planning.spill import choose_spills, plan_within, spill_traffic


def _chain():
    """x -> a -> b -> y (three ops); a also read by the last op (a skip)."""
    ops = [SimpleNamespace(inputs=("x",), outputs=("a",)),
           SimpleNamespace(inputs=("a",), outputs=("b",)),
           SimpleNamespace(inputs=("b", "a"), outputs=("y",))]
    graph = SimpleNamespace(ops=ops, inputs=("x",), outputs=("y",))
    members = {t: t for t in "xaby"}
    bufs = [Buffer("x", 100, 0, 1), Buffer("a", 100, 0, 3), Buffer("b", 100, 1, 3),
            Buffer("y", 300, 2, 3)]
    return graph, members, bufs


def test_spill_traffic_counts_writes_and_reads_less_the_host_copy():
    graph, members, bufs = _chain()
    cost = spill_traffic(graph, members, bufs)
    # x: read once, copied in anyway -> 0; a: 1 write + 2 reads; b: 1 + 1; y: 1 write - copy
    assert cost == {"x": 0, "a": 300, "b": 200, "y": 0}


def test_least_traffic_beats_largest_first_and_both_fit():
    graph, members, bufs = _chain()
    cost = spill_traffic(graph, members, bufs)
    # live: step 0 x+a = 200, step 1 a+b = 200, step 2 a+b+y = 500; capacity 250
    least = choose_spills(bufs, cost, 250, "least-traffic")
    largest = choose_spills(bufs, cost, 250, "largest-first")
    assert least == {"y"}          # free: the output is written to host memory directly
    assert largest == {"y"}        # y is also the largest here
    # capacity 150: every step must lose 50..350 bytes
    least = choose_spills(bufs, cost, 150, "least-traffic")
    largest = choose_spills(bufs, cost, 150, "largest-first")
    assert sum(cost[i] for i in least) == 200   # y (0) and b (200): a is dearer
    assert sum(cost[i] for i in largest) >= sum(cost[i] for i in least)
    for chooser in ("least-traffic", "largest-first"):
        sp = plan_within(bufs, cost, 150, chooser, "best", time_limit_s=5)
        kept = [b for b in bufs if b.id not in sp.spilled]
        validate(kept, sp.plan)
        assert sp.plan.arena_bytes <= 150
        assert sp.traffic_bytes == sum(cost[i] for i in sp.spilled)


def test_a_buffer_larger_than_the_capacity_always_spills():
    bufs = [Buffer("big", 1000, 0, 2), Buffer("s", 10, 0, 2)]
    assert choose_spills(bufs, {"big": 5, "s": 1}, 100) == {"big"}
    with pytest.raises(ValueError):
        choose_spills(bufs, {"big": 5, "s": 1}, 100, "random")


def test_plan_graph_within_capacity_lays_spills_above_the_onchip_part():
    from memsim.workloads import build

    g = build("mobilenet_v2", 1, "int8").fold_batchnorm()
    cap = 512 * 1024
    runs = {c: plan_graph(g, "greedy-by-size", capacity=cap, spill=c)
            for c in ("least-traffic", "largest-first")}
    for mp in runs.values():
        assert mp.onchip_bytes <= cap and mp.spilled
        validate([Buffer(b.id, -(-b.size // 64) * 64, b.start, b.end) for b in mp.buffers],
                 mp.plan)
        spilled = set(mp.spilled)
        for b in mp.buffers:  # kept below the on-chip part, spilled above it
            assert (mp.plan.offsets[b.id] >= mp.onchip_bytes) == (b.id in spilled)
        assert mp.region("activation") == (0, mp.plan.arena_bytes)
    least, largest = runs["least-traffic"], runs["largest-first"]
    assert least.spill_traffic_bytes < largest.spill_traffic_bytes
    assert plan_graph(g, "greedy-by-size", capacity=4 << 20).spilled == ()  # fits: no spill


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 10), st.integers(1, 5),
                          st.integers(0, 100)), min_size=1, max_size=12),
       st.integers(0, 80), st.sampled_from(["least-traffic", "largest-first"]),
       st.sampled_from(["greedy-by-size", "best"]))
def test_plans_within_any_capacity_are_valid(rows, capacity, chooser, algorithm):
    """Whatever the buffers and the capacity (even 0), the kept buffers plan within it, the
    choice alone already keeps every step within it, and the traffic adds up."""
    bufs = [Buffer(i, s, a, a + d) for i, (s, a, d, _) in enumerate(rows)]
    cost = {i: c for i, (_, _, _, c) in enumerate(rows)}
    chosen = choose_spills(bufs, cost, capacity, chooser)
    kept = [b for b in bufs if b.id not in chosen]
    if kept:
        s, a, b = as_arrays(kept)
        assert lower_bound(s, a, b) <= capacity
    sp = plan_within(bufs, cost, capacity, chooser, algorithm, time_limit_s=2)
    assert chosen <= set(sp.spilled)
    validate([b for b in bufs if b.id not in sp.spilled], sp.plan)
    assert sp.plan.arena_bytes <= capacity
    assert sp.traffic_bytes == sum(cost[i] for i in sp.spilled)
