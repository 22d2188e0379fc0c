"""Planted instances (``memsim.planning.planted``): the generator tiles its rectangle exactly,
and the ``best`` search reaches the planted optimum on a subset under a fixed work budget
(work units, never the wall clock)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.planning import Buffer, lower_bound, plan_buffers, search, validate
from memsim.planning.buffers import as_arrays
from memsim.planning.planted import planted_instance


def _rounded(buffers, granule):
    return [Buffer(b.id, -(-b.size // granule) * granule, b.start, b.end) for b in buffers]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 120), st.integers(0, 2**32 - 1), st.sampled_from(["guillotine", "pinwheel"]),
       st.sampled_from([1, 64]))
def test_planted_pieces_tile_the_rectangle(n, seed, kind, granule):
    """n pieces, pairwise disjoint at their planted offsets, covering capacity x steps exactly:
    so the lower bound, and the optimum, is the capacity."""
    inst = planted_instance(n, seed, kind, capacity=granule * 4096, granule=granule,
                            slack=granule > 1)
    bufs = _rounded(inst.buffers, granule)
    assert len(bufs) == n
    validate(bufs, inst.offsets)
    s, a, b = as_arrays(bufs)
    assert int((s * (b - a)).sum()) == inst.capacity * 4 * n  # no byte-step left uncovered
    assert lower_bound(s, a, b) == inst.capacity
    assert all(inst.offsets[x.id] % granule == 0 and x.size % granule == 0 for x in bufs)
    raw = np.array([x.size for x in inst.buffers])
    assert (raw > 0).all() and (raw <= s).all() and (s - raw < granule).all()


def test_pinwheel_cuts_are_not_guillotine():
    """Five pieces from one pinwheel cut: no straight line (in time or in address) crosses the
    rectangle without cutting a piece, which is what makes them non-guillotine."""
    inst = planted_instance(5, 3, "pinwheel", capacity=60, steps=20, pinwheel_p=1.0)
    bufs = inst.buffers
    for t in range(1, 20):
        assert any(b.start < t < b.end for b in bufs)
    for addr in range(1, 60):
        assert any(inst.offsets[b.id] < addr < inst.offsets[b.id] + b.size for b in bufs)


def test_planted_is_deterministic_and_checks_its_arguments():
    one = planted_instance(80, 7, "pinwheel")
    assert one == planted_instance(80, 7, "pinwheel")
    assert one != planted_instance(80, 8, "pinwheel")
    with pytest.raises(ValueError):
        planted_instance(10, 0, "diagonal")
    with pytest.raises(ValueError):
        planted_instance(10, 0, capacity=100, granule=64)


@pytest.mark.parametrize("kind,n,seed", [("guillotine", 7, 0), ("pinwheel", 7, 1),
                                         ("pinwheel", 6, 2)])
def test_best_proves_small_planted_optima(kind, n, seed):
    """Small planted instances: ``best`` reaches the capacity, and the search proves that one
    byte less is impossible."""
    inst = planted_instance(n, seed, kind, capacity=40, steps=16)
    plan = plan_buffers(inst.buffers, "best", time_limit_s=30)
    validate(inst.buffers, plan)
    assert plan.arena_bytes == inst.capacity and plan.optimal
    s, a, b = as_arrays(inst.buffers)
    assert search.solve(s, a, b, inst.capacity - 1, time.perf_counter() + 60)[0] == \
        search.EXHAUSTED


# A subset of docs/benchmarks.md's planted table: guillotine 500/0 and pinwheel 300/0, which no
# MiniMalloc order alone (without zero-slack branching) fitted in 5 s, and the three that no
# portfolio before the flat-well lanes fitted in 30 s (pinwheel 300/2, 500/0, 500/1); the
# most any of them needs is 2.8e8 units (pinwheel 500/1).
FIXED_WORK = [("guillotine", 500, 0, 1), ("guillotine", 300, 1, 1), ("pinwheel", 100, 2, 1),
              ("pinwheel", 300, 0, 1), ("guillotine", 500, 1, 1), ("guillotine", 200, 0, 64),
              ("pinwheel", 200, 1, 64), ("pinwheel", 300, 2, 1), ("pinwheel", 500, 0, 64),
              ("pinwheel", 500, 1, 1)]


@pytest.mark.parametrize("kind,n,seed,granule", FIXED_WORK)
def test_search_reaches_planted_optima_within_fixed_work(kind, n, seed, granule):
    """The acceptance subset, without the clock: 1.5e9 work units (``search.node_cost`` per
    node; about 6 s of one core, five times what the hardest needs) must fit the planted
    capacity."""
    inst = planted_instance(n, seed, kind, granule=granule, slack=granule > 1)
    bufs = _rounded(inst.buffers, granule)
    s, a, b = as_arrays(bufs)
    status, offs = search.solve(s, a, b, inst.capacity, time.perf_counter() + 3600,
                                max_work=1.5e9)
    assert status == search.FOUND
    validate(bufs, {x.id: int(o) for x, o in zip(bufs, offs)})
    assert int((offs + s).max()) == inst.capacity
