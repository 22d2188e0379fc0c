"""Layer fusion (issue 8): a fused intermediate's DRAM round trip disappears exactly when the fused
working set fits the target level, and nothing changes when it does not."""

from __future__ import annotations

import pytest

from memsim.mapping.fusion import fusion_report
from memsim.workloads.builder import GraphBuilder
from strategies_helpers import LINE, dram_bytes, run, spm_hw, strategies


def chain():
    """x (1×256) → linear 256→256 (64 KiB int8 weights) → T (256 B) → relu → y."""
    b = GraphBuilder("chain", dtype="int8")
    t = b.linear(b.input("x", (1, 256)), 256, bias=False, name="fc")
    y = b.act(t, "relu", name="act")
    return b.finish([y]), t


def test_fusion_removes_exactly_the_intermediate_round_trip_when_it_fits():
    g, t = chain()
    hw = spm_hw(spm="1 MiB")                      # scratchpad only: every line is DRAM traffic
    _, plain, _ = run(g, hw)
    _, fused, ms = run(g, hw, strategies(reuse={"fusion": True}))
    rows = fusion_report(ms)
    assert [r["fused"] for r in rows] == [True]
    assert rows[0]["tensor"] == t and rows[0]["producer"] == "fc" and rows[0]["consumer"] == "act"
    t_bytes = g.tensors[t].nbytes                 # 256 B = 4 lines, written once and read once
    assert t_bytes % LINE == 0
    assert dram_bytes(plain) - dram_bytes(fused) == 2 * t_bytes
    assert rows[0]["working_set_bytes"] <= rows[0]["capacity_bytes"]


def test_fusion_changes_nothing_when_the_fused_working_set_does_not_fit():
    g, _ = chain()
    hw = spm_hw(spm="64 KiB")                     # 32 KiB per tile: the producer needs all 64 KiB
    _, plain, _ = run(g, hw)
    _, tried, ms = run(g, hw, strategies(reuse={"fusion": True}))
    rows = fusion_report(ms)
    assert [r["fused"] for r in rows] == [False]
    assert rows[0]["working_set_bytes"] > rows[0]["capacity_bytes"]
    assert "working set" in rows[0]["reason"]
    assert dram_bytes(tried) == dram_bytes(plain)


def test_intermediate_with_two_consumers_is_not_fused():
    b = GraphBuilder("fork", dtype="int8")
    x = b.input("x", (1, 64, 8, 8))
    t = b.act(x, "relu", name="r")
    y = b.add(b.act(t, "relu", name="a"), t, name="s")
    g = b.finish([y])
    hw = spm_hw()
    _, plain, _ = run(g, hw)
    _, tried, ms = run(g, hw, strategies(reuse={"fusion": True}))
    rows = {r["tensor"]: r for r in fusion_report(ms)}
    assert rows[t]["fused"] is False and "2 consumers" in rows[t]["reason"]
    # a → s is a clean pair (a's output has one consumer): fused, saving its round trip
    a_out = g.ops[1].outputs[0]
    assert rows[a_out]["fused"] is True
    assert dram_bytes(plain) - dram_bytes(tried) == 2 * g.tensors[a_out].nbytes


@pytest.mark.parametrize("fusion", [False, True])
def test_chain_of_three_fuses_both_pairs(fusion):
    b = GraphBuilder("c3", dtype="int8")
    x = b.input("x", (1, 64, 16, 16))
    t1 = b.act(x, "relu", name="a")
    t2 = b.act(t1, "relu", name="b")
    y = b.act(t2, "relu", name="c")
    g = b.finish([y])
    _, plain, _ = run(g, spm_hw())
    _, got, ms = run(g, spm_hw(), strategies(reuse={"fusion": fusion}))
    saved = 2 * (g.tensors[t1].nbytes + g.tensors[t2].nbytes) if fusion else 0
    assert dram_bytes(plain) - dram_bytes(got) == saved
