"""Zero-slack reasoning of the ``best`` search (``_infer._cover_levels``) and its table of
failed states (``_memo``): exact against brute force on small instances with tight times,
and the hashing the table relies on."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.planning import Buffer, lower_bound, search, validate
from memsim.planning import _memo
from memsim.planning.buffers import as_arrays
from memsim.planning.planted import planted_instance
from test_planning import exact_optimum  # the brute-force oracle the planner tests share

COVER_MODES = [search.TIGHT_COVER_FEWEST, search.TIGHT_COVER_LEFTMOST,
               search.TIGHT_WELL_LEFTMOST, search.TIGHT_WELL_FEWEST]


@st.composite
def near_planted(draw):
    """A small planted instance (every time step tight at the capacity), sometimes with one
    buffer dropped (slack appears) or one random buffer added (the optimum may then exceed
    the lower bound, so tight times must be proved impossible, not only filled)."""
    n = draw(st.integers(2, 6))
    inst = planted_instance(n, draw(st.integers(0, 2**32 - 1)),
                            draw(st.sampled_from(["guillotine", "pinwheel"])),
                            capacity=draw(st.integers(n, 24)), steps=draw(st.integers(n, 12)),
                            pinwheel_p=0.8)
    bufs = list(inst.buffers)
    change = draw(st.sampled_from(["none", "drop", "add"]))
    if change == "drop" and len(bufs) > 2:
        bufs.pop(draw(st.integers(0, len(bufs) - 1)))
    elif change == "add" and len(bufs) < 7:
        a = draw(st.integers(0, 10))
        bufs.append(Buffer("extra", draw(st.integers(1, 12)), a, a + draw(st.integers(1, 4))))
    return bufs


def _check_exact(bufs, lanes, **kw):
    opt = exact_optimum(bufs)
    s, a, b = as_arrays(bufs)
    status, offs = search.solve(s, a, b, opt, time.perf_counter() + 60, lanes=lanes, **kw)
    assert status == search.FOUND
    validate(bufs, {x.id: int(o) for x, o in zip(bufs, offs)})
    assert int((offs + s).max()) <= opt
    assert search.solve(s, a, b, opt - 1, time.perf_counter() + 60, lanes=lanes,
                        **kw)[0] == search.EXHAUSTED


@settings(max_examples=60, deadline=None)
@given(near_planted(), st.sampled_from(COVER_MODES), st.sampled_from(["TWA", "Q", "TAW"]))
def test_cover_levels_branching_is_exact(bufs, mode, spec):
    """Each exact-cover mode alone (one complete DFS with its failed-state table) finds the
    optimum and proves one byte less impossible, on instances whose times are mostly tight."""
    _check_exact(bufs, (search.Lane((spec,), tight=mode),))


@settings(max_examples=25, deadline=None)
@given(near_planted())
def test_portfolio_with_a_shared_table_is_exact(bufs):
    """All lanes (restarting ones restarting every few nodes) share one table of failed
    states: a state one lane proved hopeless prunes the others, and nothing is lost."""
    lanes = search.LANES + (search.Lane(("Z",), restarts=True, tight=search.TIGHT_WELL_FEWEST),)
    _check_exact(bufs, lanes, unit_nodes=2, comp_unit=1)


def _hash_after(order, sizes, lo, hi, m):
    """Place buffers in ``order`` bottom up (each on the top of its sections) and return the
    Zobrist hashes, then check that removing them in reverse restores zero."""
    hs = np.zeros(2, dtype=np.uint64)
    top = np.zeros(m, dtype=np.int64)
    placed = []
    for c in order:
        o = int(top[lo[c]:hi[c]].max())
        _memo._flip(hs, c, o, sizes, lo, hi, top)
        top[lo[c]:hi[c]] = o + sizes[c]
        placed.append((c, o))
    final = hs.copy()
    for c, o in reversed(placed):
        undo = top.copy()
        undo[lo[c]:hi[c]] = o
        _memo._flip(hs, c, o, sizes, lo, hi, undo)
        top = undo
    assert (hs == 0).all()
    return tuple(int(x) for x in final)


def test_state_hash_ignores_how_blocks_were_stacked():
    """Two blocks over the same sections stacked either way round (different offsets, the
    same skyline and the same buffers left) hash alike; a different skyline does not."""
    sizes = np.array([3, 2, 2, 5, 4], dtype=np.int64)
    lo = np.array([0, 0, 1, 0, 0], dtype=np.int64)
    hi = np.array([2, 1, 2, 2, 1], dtype=np.int64)  # block A = {0}, block B = {1, 2}
    h1 = _hash_after([0, 1, 2], sizes, lo, hi, 2)
    h2 = _hash_after([1, 2, 0], sizes, lo, hi, 2)
    assert h1 == h2
    assert _hash_after([0, 1], sizes, lo, hi, 2) != h1
    assert _hash_after([0, 4], sizes, lo, hi, 2) != _hash_after([0, 1], sizes, lo, hi, 2)


def test_table_records_and_finds_states():
    tt = _memo.new_table(4)
    hs = np.array([12345, 678], dtype=np.uint64)
    assert not _memo._tt_has(tt, hs, 0, 0, 3)
    _memo._tt_put(tt, hs, 0, 0, 3)
    assert _memo._tt_has(tt, hs, 0, 0, 3)
    assert not _memo._tt_has(tt, hs, 1, 0, 3)  # another floor
    assert not _memo._tt_has(tt, hs, 0, 0, 2)  # another window


@pytest.mark.parametrize("mode", COVER_MODES)
def test_cover_modes_prove_small_planted_optima(mode):
    """Fully tight instances: every mode fits the capacity, and with one byte less the
    root's bound already fails."""
    for seed in range(6):
        inst = planted_instance(12, seed, "pinwheel", capacity=64, steps=24, pinwheel_p=1.0)
        s, a, b = as_arrays(inst.buffers)
        assert lower_bound(s, a, b) == 64
        lane = (search.Lane(("TWA",), tight=mode),)
        status, offs = search.solve(s, a, b, 64, time.perf_counter() + 60, lanes=lane)
        assert status == search.FOUND
        validate(inst.buffers, {x.id: int(o) for x, o in zip(inst.buffers, offs)})
        assert search.solve(s, a, b, 63, time.perf_counter() + 60, lanes=lane)[0] == \
            search.EXHAUSTED
