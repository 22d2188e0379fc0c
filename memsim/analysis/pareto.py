"""Pareto fronts over result tables (sweeps, hardware comparisons).

A row *dominates* another when it is at least as good in every objective and strictly better in
at least one ("good" is smaller for ``"min"``, larger for ``"max"``). The front is the set of
rows no other row dominates. Rows with a missing (NaN/None) objective value are never on the
front and never dominate anything: a failed sweep point has no measured trade-off.
Duplicated rows (equal in every objective) do not dominate each other, so all copies are kept.
"""

from __future__ import annotations

from typing import Literal, Mapping

import numpy as np
import pandas as pd

Direction = Literal["min", "max"]


def _objective_matrix(df: pd.DataFrame, objectives: Mapping[str, Direction]) -> np.ndarray:
    """Objective values as float64[n, k], sign-flipped so that smaller is always better."""
    if not objectives:
        raise ValueError("pareto_front needs at least one objective")
    columns = []
    for name, direction in objectives.items():
        if direction not in ("min", "max"):
            raise ValueError(f"objective {name!r}: direction must be 'min' or 'max' (got {direction!r})")
        if name not in df.columns:
            raise KeyError(f"objective {name!r} is not a column (have {', '.join(map(str, df.columns))})")
        values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
        columns.append(values if direction == "min" else -values)
    return np.column_stack(columns) if columns else np.empty((len(df), 0))


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of non-dominated rows of ``values`` (float[n, k], smaller is better).

    Rows holding any NaN are excluded. O(n·f·k) where f is the front size: candidates are
    visited in lexicographic order, so a row can only be dominated by a row visited before it.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    valid = np.flatnonzero(~np.isnan(values).any(axis=1))
    if valid.size == 0:
        return mask
    sub = values[valid]
    # lexicographic order: a dominating row is lexicographically <= the row it dominates
    order = np.lexsort(sub.T[::-1])
    front: list[int] = []  # positions into sub
    for i in order:
        row = sub[i]
        if front:
            f = sub[front]
            dominated = np.any(np.all(f <= row, axis=1) & np.any(f < row, axis=1))
            if dominated:
                continue
        front.append(i)
    mask[valid[front]] = True
    return mask


def pareto_front(df: pd.DataFrame, objectives: Mapping[str, Direction]) -> list:
    """Index labels of the rows of ``df`` on the Pareto front of ``objectives``.

    ``objectives`` maps column name → ``"min"`` or ``"max"``. The result keeps ``df``'s row
    order and holds ``df.index`` labels (positions when the index is a default RangeIndex).
    Raises ``KeyError`` for an unknown column and ``ValueError`` for a bad direction.
    """
    mask = pareto_mask(_objective_matrix(df, objectives))
    return list(df.index[mask])


def dominates(a, b, directions) -> bool:
    """True when objective vector ``a`` dominates ``b`` under ``directions`` ("min"/"max" each)."""
    better_or_equal = True
    strictly = False
    for x, y, d in zip(a, b, directions):
        if d == "max":
            x, y = -x, -y
        if x > y:
            better_or_equal = False
        elif x < y:
            strictly = True
    return better_or_equal and strictly
