"""Buffers, plans, the validator, lower bound and the MiniMalloc instance CSV reader.

A *buffer* is a block of ``size`` bytes live over the half-open step interval ``[start, end)``.
A *plan* gives every buffer a byte offset in one arena; it is valid when no two buffers that are
live at the same time overlap in address. The lower bound of any plan is the largest total of
simultaneously live bytes; the naive footprint (no reuse) is the sum of all sizes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

from memsim.errors import InputError


@dataclass(frozen=True)
class Buffer:
    """One block to place: ``size`` bytes (>= 0) live on steps ``[start, end)`` (start < end)."""

    id: Hashable
    size: int
    start: int
    end: int


@dataclass
class Plan:
    """Offsets for a set of buffers.

    ``offsets`` maps buffer id -> byte offset; ``arena_bytes`` is ``max(offset + size)`` (0 when
    empty); ``lower_bound_bytes`` the largest live set; ``naive_bytes`` the sum of sizes (all
    three over the sizes the planner used, i.e. after alignment rounding); ``algorithm`` the
    planner's name; ``seconds`` the wall time it took; ``optimal`` is True when the arena equals
    the lower bound (so no plan can be smaller); ``alignment`` the offset alignment in bytes.
    """

    offsets: dict
    arena_bytes: int
    lower_bound_bytes: int
    naive_bytes: int
    algorithm: str
    seconds: float = 0.0
    alignment: int = 1
    stats: dict = field(default_factory=dict)

    @property
    def optimal(self) -> bool:
        """True when the arena equals the lower bound (no smaller plan exists)."""
        return self.arena_bytes == self.lower_bound_bytes


def as_arrays(buffers: Sequence[Buffer]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(sizes, starts, ends)`` as int64 arrays in the order of ``buffers``."""
    n = len(buffers)
    sizes = np.fromiter((b.size for b in buffers), dtype=np.int64, count=n)
    starts = np.fromiter((b.start for b in buffers), dtype=np.int64, count=n)
    ends = np.fromiter((b.end for b in buffers), dtype=np.int64, count=n)
    return sizes, starts, ends


def sections(starts, ends):
    """Section index ranges ``(lo, hi, m)`` of intervals over their distinct end points: buffer
    i covers sections ``[lo[i], hi[i])`` of the ``m`` between consecutive points."""
    points = np.unique(np.concatenate([starts, ends]))
    return (np.searchsorted(points, starts).astype(np.int64),
            np.searchsorted(points, ends).astype(np.int64), points.size - 1)


def section_totals(sizes, lo, hi, m: int) -> np.ndarray:
    """Bytes live in each of ``m`` sections (``int64``) for buffers covering ``[lo, hi)``."""
    delta = np.zeros(m + 1, dtype=np.int64)
    np.add.at(delta, lo, sizes)
    np.subtract.at(delta, hi, sizes)
    return np.cumsum(delta)[:m]


def live_profile(sizes, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """Live bytes over time: ``(points, live)`` where ``live[i]`` holds on ``[points[i], points[i+1])``.

    Vectorised sweep: +size at start, -size at end; frees at a point apply before allocations
    there because intervals are half-open.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    points = np.unique(np.concatenate([starts, ends]))
    lo, hi, m = sections(starts, ends)
    return points, np.append(section_totals(sizes, lo, hi, m), 0)


def lower_bound(sizes, starts, ends) -> int:
    """Largest total of simultaneously live bytes (no plan can use less)."""
    _, live = live_profile(sizes, starts, ends)
    return int(live.max()) if live.size else 0


def validate(buffers: Sequence[Buffer], plan: Plan | dict) -> None:
    """Raise ``ValueError`` unless every buffer has an offset >= 0 and no two buffers live at the
    same time overlap in address (zero-size buffers never conflict). Also checks that the plan's
    ``arena_bytes`` covers every buffer. Sweep over time with the live set sorted by offset:
    O(n log n + overlaps).
    """
    offsets = plan.offsets if isinstance(plan, Plan) else plan
    missing = [b.id for b in buffers if b.id not in offsets]
    if missing:
        raise ValueError(f"plan has no offset for buffers {missing[:5]}")
    n = len(buffers)
    if n == 0:
        return
    sizes, starts, ends = as_arrays(buffers)
    offs = np.fromiter((offsets[b.id] for b in buffers), dtype=np.int64, count=n)
    if (offs < 0).any():
        raise ValueError("negative offset in plan")
    if isinstance(plan, Plan) and n and int((offs + sizes).max()) > plan.arena_bytes:
        raise ValueError(f"buffer exceeds arena_bytes={plan.arena_bytes}")
    i, j = _first_conflict(offs, sizes, starts, ends)
    if i >= 0:
        a, b = buffers[i], buffers[j]
        raise ValueError(
            f"buffers {a.id!r} [{offs[i]}, {offs[i] + a.size}) live [{a.start}, {a.end}) and "
            f"{b.id!r} [{offs[j]}, {offs[j] + b.size}) live [{b.start}, {b.end}) overlap")


def _first_conflict(offs, sizes, starts, ends) -> tuple[int, int]:
    """Indices of one conflicting pair, or (-1, -1). Sorted by start; each new buffer is checked
    against the currently live ones (numpy per insertion, so O(n * live))."""
    order = np.lexsort((ends, starts))
    live: list[int] = []
    for k in order:
        if sizes[k] == 0:
            continue
        live = [x for x in live if ends[x] > starts[k]]
        if live:
            arr = np.asarray(live)
            hit = (offs[arr] < offs[k] + sizes[k]) & (offs[k] < offs[arr] + sizes[arr])
            if hit.any():
                return int(arr[np.argmax(hit)]), int(k)
        live.append(int(k))
    return -1, -1


def read_instances(path: str | Path) -> list[Buffer]:
    """Read a MiniMalloc instance CSV: header ``id,lower,upper,size`` (any column order, extra
    columns ignored), one buffer per row live on ``[lower, upper)``. Bad input raises
    ``InputError`` with ``path:row``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"cannot read instance file ({err.strerror})", path=path) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputError("empty instance file; expected header id,lower,upper,size", path=path, line=1)
    header = [h.strip().lower() for h in rows[0]]
    need = ("id", "lower", "upper", "size")
    for name in need:
        if name not in header:
            raise InputError(f"missing column {name!r} in header (got {','.join(header)})",
                             path=path, line=1)
    col = {name: header.index(name) for name in need}
    buffers: list[Buffer] = []
    seen: set[str] = set()
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputError(f"expected {len(header)} columns (got {len(row)})", path=path, line=lineno)
        bid = row[col["id"]].strip()
        values = {}
        for name in ("lower", "upper", "size"):
            raw = row[col[name]].strip()
            try:
                values[name] = int(raw)
            except ValueError:
                raise InputError(f"not an integer (got {raw!r})", field=name, path=path,
                                 line=lineno, col=col[name] + 1) from None
        if values["lower"] < 0 or values["size"] < 0:
            raise InputError(f"must be >= 0 (got lower={values['lower']}, size={values['size']})",
                             path=path, line=lineno)
        if values["upper"] <= values["lower"]:
            raise InputError(f"upper must exceed lower (got [{values['lower']}, {values['upper']}))",
                             field="upper", path=path, line=lineno, col=col["upper"] + 1)
        if bid in seen:
            raise InputError(f"duplicate id (got {bid!r})", field="id", path=path, line=lineno,
                             col=col["id"] + 1)
        seen.add(bid)
        buffers.append(Buffer(bid, values["size"], values["lower"], values["upper"]))
    return buffers
