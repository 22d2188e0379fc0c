"""Planted instances: buffers cut out of a ``capacity x steps`` address-time rectangle.

Every byte of the rectangle belongs to exactly one buffer, so at every step the live buffers
cover all ``capacity`` bytes: the lower bound equals ``capacity`` and the planted offsets reach
it, so the optimum is known by construction (the "hard by construction" instances of issue
#16; MiniMalloc's evaluation, Moffitt ASPLOS 2023, uses the same idea of instances with a
known tight packing).

The rectangle is cut recursively: a piece is chosen (with probability proportional to its
area) and either cut in two by a straight line (a *guillotine* cut, in time or in address) or,
for ``kind="pinwheel"`` with probability ``pinwheel_p``, into five by the pinwheel pattern
(four rectangles around a centre one, the smallest layout no sequence of guillotine cuts
produces). Cuts in address land on multiples of ``granule`` bytes, so with ``granule=64`` the
planted sizes and offsets are multiples of 64 and a 64 B aligned plan can still reach the
capacity; ``slack`` then trims up to ``granule - 1`` bytes off each size at random (what the
alignment rounds back up), so an aligned planner has padding to undo.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from memsim.planning.buffers import Buffer

KINDS = ("guillotine", "pinwheel")


class Planted(NamedTuple):
    """A planted instance: its buffers, the offsets they were cut at, and the capacity (the
    optimum: no plan can be smaller, and the planted offsets reach it)."""

    buffers: list[Buffer]
    offsets: dict
    capacity: int


def planted_instance(n: int, seed: int, kind: str = "guillotine", capacity: int = 1 << 20,
                     steps: int | None = None, granule: int = 1, slack: bool = False,
                     pinwheel_p: float = 0.5) -> Planted:
    """Cut a ``capacity`` x ``steps`` rectangle (``steps`` defaults to ``4 n``) into ``n``
    buffers (``n >= 1``; a pinwheel adds four pieces at once, so the last cuts are guillotine
    when fewer than four remain). ``granule`` must divide ``capacity``. Deterministic for a
    given seed (``numpy.random.default_rng(seed)``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    steps = 4 * n if steps is None else steps
    if capacity % granule or capacity // granule < n or steps < n:
        raise ValueError("rectangle too small for n pieces at this granule")
    rng = np.random.default_rng(seed)
    # pieces as [t0, t1, a0, a1] in time steps and address granules
    pieces = [(0, steps, 0, capacity // granule)]
    while len(pieces) < n:
        area = np.array([(p[1] - p[0]) * (p[3] - p[2]) for p in pieces], dtype=np.float64)
        k = int(rng.choice(len(pieces), p=area / area.sum()))
        p = pieces[k]
        wheel = (kind == "pinwheel" and n - len(pieces) >= 4 and rng.random() < pinwheel_p)
        cut = _pinwheel(p, rng) if wheel else None
        if cut is None:
            cut = _guillotine(p, rng)
        if cut is None:
            continue  # a 1 x 1 piece: pick another
        pieces[k:k + 1] = cut
    pieces.sort()
    buffers, offsets = [], {}
    for i, (t0, t1, a0, a1) in enumerate(pieces):
        size = (a1 - a0) * granule
        if slack and granule > 1:
            size -= int(rng.integers(0, granule))
        buffers.append(Buffer(i, size, t0, t1))
        offsets[i] = a0 * granule
    return Planted(buffers, offsets, capacity)


def _guillotine(p, rng):
    """Cut piece ``p`` in two, across its longer side (relative to the other's spread) when
    both can be cut; None for a piece of one step and one granule."""
    t0, t1, a0, a1 = p
    can_t, can_a = t1 - t0 >= 2, a1 - a0 >= 2
    if not (can_t or can_a):
        return None
    in_time = can_t and (not can_a or rng.random() < 0.5)
    if in_time:
        c = int(rng.integers(t0 + 1, t1))
        return [(t0, c, a0, a1), (c, t1, a0, a1)]
    c = int(rng.integers(a0 + 1, a1))
    return [(t0, t1, a0, c), (t0, t1, c, a1)]


def _pinwheel(p, rng):
    """The five pieces of a pinwheel cut of ``p`` (needs three steps and three granules):
    interior cuts ``t0 < ta < tb < t1`` and ``a0 < aa < ab < a1``; None if ``p`` is too small."""
    t0, t1, a0, a1 = p
    if t1 - t0 < 3 or a1 - a0 < 3:
        return None
    ta, tb = sorted(_two_distinct(rng, t0 + 1, t1))
    aa, ab = sorted(_two_distinct(rng, a0 + 1, a1))
    return [(t0, tb, a0, aa), (tb, t1, a0, ab), (ta, t1, ab, a1), (t0, ta, aa, a1),
            (ta, tb, aa, ab)]


def _two_distinct(rng, lo, hi):
    """Two distinct integers in ``[lo, hi)`` (``hi - lo >= 2``) without materialising the range."""
    x = int(rng.integers(lo, hi))
    y = int(rng.integers(lo, hi - 1))
    return [x, y + (y >= x)]
