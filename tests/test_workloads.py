"""Graph IR: dtype sizes, loop-nest semantics checked by executing the nests, views, folding."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.workloads import Affine, Tensor, build
from memsim.workloads.builder import GraphBuilder
from memsim.workloads.ir import DTYPE_BITS


def test_dtype_table_and_nbytes_round_up():
    assert DTYPE_BITS["int4"] == 4 and DTYPE_BITS["bf16"] == 16 and DTYPE_BITS["fp32"] == 32
    assert Tensor("t", (3, 3), "int4", "weight").nbytes == 5  # 36 bits -> 5 bytes
    assert Tensor("t", (2, 3), "fp16", "activation").nbytes == 12
    with pytest.raises(ValueError):
        Tensor("t", (1,), "int7", "weight")


def _run_mac_nest(op, arrays, out_shape):
    """Execute a MAC loop nest: out[w] += prod(reads); out-of-range reads are padding (0)."""
    dims = op.loops.dims
    grid = np.indices(tuple(dims.values())).reshape(len(dims), -1)
    point = dict(zip(dims, grid))
    out = np.zeros(out_shape)
    prod = np.ones(grid.shape[1])
    valid = np.ones(grid.shape[1], bool)
    widx = None
    for a in op.loops.accesses:
        idx = [ax.offset + sum(c * point[d] for d, c in ax.terms) * np.ones(grid.shape[1], int)
               for ax in a.index]
        if "w" in a.mode:
            widx = idx
            continue
        arr = arrays[a.tensor]
        ok = np.all([(i >= 0) & (i < n) for i, n in zip(idx, arr.shape)], axis=0)
        valid &= ok
        clipped = [np.clip(i, 0, n - 1) for i, n in zip(idx, arr.shape)]
        prod = prod * arr[tuple(clipped)]
    np.add.at(out, tuple(widx), np.where(valid, prod, 0.0))
    return out


def _conv_ref(x, w, stride, pads, dil, groups):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    pt, pl, pb, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    p = (h + pt + pb - dil * (r - 1) - 1) // stride + 1
    q = (wd + pl + pr - dil * (s - 1) - 1) // stride + 1
    out = np.zeros((n, k, p, q))
    kg = k // groups
    for ko in range(k):
        g = ko // kg
        for i in range(p):
            for j in range(q):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + dil * (r - 1) + 1:dil,
                           j * stride:j * stride + dil * (s - 1) + 1:dil]
                out[:, ko, i, j] = (patch * w[ko]).sum(axis=(1, 2, 3))
    return out


@settings(max_examples=25, deadline=None)
@given(c=st.sampled_from([2, 4]), groups=st.sampled_from([1, 2]), k=st.sampled_from([2, 4]),
       r=st.integers(1, 3), stride=st.integers(1, 2), dil=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 2)] * 4), h=st.integers(5, 7))
def test_conv_loop_nest_computes_the_convolution(c, groups, k, r, stride, dil, pads, h):
    b = GraphBuilder("t", "fp32")
    x = b.input("x", (1, c, h, h + 1))
    y = b.conv(x, k, r, stride, pads, dil, groups, name="conv")
    op = b.ops[-1]
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(b.shape(x))
    wv = rng.standard_normal(b.shape("conv.weight"))
    got = _run_mac_nest(op, {x: xv, "conv.weight": wv}, b.shape(y))
    np.testing.assert_allclose(got, _conv_ref(xv, wv, stride, pads, dil, groups), atol=1e-9)
    assert op.macs == op.loops.iterations
    assert op.loops.reduction_dims() == ("C", "R", "S")


def test_linear_and_einsum_nests():
    b = GraphBuilder("t", "fp32")
    x = b.input("x", (3, 5))
    y = b.linear(x, 4, bias=False, name="fc")
    q = b.input("q", (2, 3, 2, 4))  # (B, T, H, dh)
    kk = b.input("k", (2, 6, 2, 4))
    s = b.einsum("bmhk,bnhk->bhmn", q, kk, name="scores")
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(_run_mac_nest(b.ops[0], {x: xv, "fc.weight": wv}, (3, 4)), xv @ wv.T)
    qv, kv = rng.standard_normal((2, 3, 2, 4)), rng.standard_normal((2, 6, 2, 4))
    got = _run_mac_nest(b.ops[1], {q: qv, kk: kv}, b.shape(s))
    np.testing.assert_allclose(got, np.einsum("bmhk,bnhk->bhmn", qv, kv))
    assert b.ops[1].macs == 2 * 2 * 3 * 6 * 4 and b.ops[1].loops.reduction_dims() == ("K",)
    assert y == "fc"


def test_concat_writes_slices_with_offsets():
    b = GraphBuilder("t", "int8")
    a = b.input("a", (1, 3, 4, 4))
    c = b.input("c", (1, 5, 4, 4))
    b.concat([a, c], 1, name="cat")
    op = b.ops[-1]
    assert op.loops.dims == {"d0": 1, "d1": 8, "d2": 4, "d3": 4}
    assert op.loops.access("c").index[1] == Affine.of("d1", 1, -3)
    assert op.macs == 0 and op.input_bytes(b.finish(["cat"])) == 8 * 16


def test_views_alias_and_have_no_loops():
    g = build("resnet18")
    flat = g.op("flatten")
    assert flat.loops is None and g.tensors["flatten"].alias_of == "avgpool"
    assert g.root("flatten") == "avgpool"


def test_pool_elementwise_softmax_have_ops_not_macs():
    g = build("mobilenet_v2")
    for o in g.ops:
        if o.kind in ("pool", "elementwise", "softmax", "norm"):
            assert o.macs == 0
    pool = g.op("avgpool")
    assert pool.ops == 1280 * 7 * 7
    assert g.op("features.1.dw.relu6").ops == 2 * 32 * 112 * 112


def test_params_conventions():
    g = build("resnet18")
    assert g.op("stem.bn").params == 128  # scale and shift, no running statistics
    fc = g.op("fc")
    assert fc.params == 512 * 1000 + 1000 and fc.weight_bytes(g) == 512 * 1000 + 4 * 1000
    assert build("resnet18", dtype="fp16").op("fc").weight_bytes(g) > 0


def test_graph_structure_and_validate_every_zoo_network():
    from memsim.workloads import list_networks

    for row in list_networks():
        g = build(row["name"])
        g.validate()
        for t in g.inputs:
            assert g.producer(t) is None and g.consumers(t)
        assert sum(o.params for o in g.ops) == g.params
        assert all(g.tensors[w].kind == "weight" for o in g.ops for w in o.weights)
        for o in g.ops:
            if o.loops is not None and o.kind in ("conv2d", "matmul", "batch_matmul"):
                assert o.macs == math.prod(o.loops.dims.values())


def test_tied_lm_head_counts_once():
    g = build("gpt2", seq_len=4)
    head = g.op("lm_head")
    assert head.weights == ("embed_tokens.weight",) and head.params == 0
