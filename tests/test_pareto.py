"""Pareto fronts: closed cases and hypothesis invariants against a brute-force definition."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.analysis.pareto import dominates, pareto_front, pareto_mask


def brute_front(rows, directions):
    out = []
    for i, a in enumerate(rows):
        if any(math.isnan(v) for v in a):
            continue
        if not any(dominates(b, a, directions) for j, b in enumerate(rows)
                   if j != i and not any(math.isnan(v) for v in b)):
            out.append(i)
    return out


def test_two_objectives_known_front():
    df = pd.DataFrame({"latency_s": [1.0, 2.0, 3.0, 1.5, 2.5],
                       "energy_j": [5.0, 3.0, 1.0, 4.0, 3.5]})
    # (2.5, 3.5) is dominated by (2.0, 3.0); the rest trade off
    assert pareto_front(df, {"latency_s": "min", "energy_j": "min"}) == [0, 1, 2, 3]


def test_max_direction_and_index_labels():
    df = pd.DataFrame({"fps": [10.0, 20.0, 15.0], "price": [50.0, 80.0, 90.0]},
                      index=["a", "b", "c"])
    assert pareto_front(df, {"fps": "max", "price": "min"}) == ["a", "b"]


def test_nan_rows_are_never_on_the_front():
    df = pd.DataFrame({"x": [np.nan, 2.0, 3.0], "y": [0.0, 2.0, 1.0]})
    assert pareto_front(df, {"x": "min", "y": "min"}) == [1, 2]


def test_duplicates_all_kept():
    df = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": [1.0, 1.0, 2.0]})
    assert pareto_front(df, {"x": "min", "y": "min"}) == [0, 1]


def test_empty_and_errors():
    df = pd.DataFrame({"x": [], "y": []})
    assert pareto_front(df, {"x": "min"}) == []
    with pytest.raises(KeyError):
        pareto_front(pd.DataFrame({"x": [1.0]}), {"nope": "min"})
    with pytest.raises(ValueError):
        pareto_front(pd.DataFrame({"x": [1.0]}), {"x": "smallest"})
    with pytest.raises(ValueError):
        pareto_front(pd.DataFrame({"x": [1.0]}), {})


def test_booleans_as_objective():
    df = pd.DataFrame({"met": [True, False, True], "latency_s": [2.0, 1.0, 3.0]})
    assert pareto_front(df, {"met": "max", "latency_s": "min"}) == [0, 1]


values = st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6, allow_nan=False),
                   st.just(float("nan")))


@st.composite
def tables(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    rows = [tuple(draw(values) for _ in range(k)) for _ in range(n)]
    directions = [draw(st.sampled_from(["min", "max"])) for _ in range(k)]
    return rows, directions


@settings(max_examples=100, deadline=None)
@given(tables())
def test_matches_brute_force(table):
    rows, directions = table
    cols = [f"c{i}" for i in range(len(directions))]
    df = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: [] for c in cols})
    front = pareto_front(df, dict(zip(cols, directions)))
    assert front == brute_front(rows, directions)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_front_invariants(table):
    rows, directions = table
    cols = [f"c{i}" for i in range(len(directions))]
    df = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame({c: [] for c in cols})
    objectives = dict(zip(cols, directions))
    front = pareto_front(df, objectives)
    valid = [i for i, r in enumerate(rows) if not any(math.isnan(v) for v in r)]
    # non-empty whenever some row is valid; members are mutually non-dominating
    assert bool(front) == bool(valid)
    for i in front:
        for j in front:
            assert not dominates(rows[i], rows[j], directions)
    # every valid row off the front is dominated by some front member
    for i in set(valid) - set(front):
        assert any(dominates(rows[j], rows[i], directions) for j in front)
    # invariant under row shuffling (as a set of labels)
    shuffled = df.sample(frac=1.0, random_state=1)
    assert sorted(pareto_front(shuffled, objectives)) == sorted(front)


def test_mask_on_matrix():
    m = np.array([[1, 2], [2, 1], [2, 2], [np.nan, 0]], dtype=float)
    assert pareto_mask(m).tolist() == [True, True, False, False]
