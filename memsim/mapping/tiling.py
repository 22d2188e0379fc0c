"""Loop orders per dataflow, the analytic traffic model, and the tile-size search.

Traffic model (compulsory plus re-fetch by loop order). Tiles are visited in a loop order (outer
to inner over the tiled dims). An operand's tile stays resident in the target level while only
dims it does not depend on change *inside* its innermost relevant tiled dim; it is fetched again
whenever a relevant dim changes, and once per iteration of every irrelevant tiled dim outside
that innermost relevant dim. So an operand moves ``mult · Σ_tiles |footprint|`` elements with
``mult = Π n_d`` over those outer irrelevant dims (the usual stationarity argument, e.g. Sze et
al., "Efficient Processing of Deep Neural Networks", 2020, ch. 5). Outputs are written at every
visit and read back (partial sums) on every visit but the first; an ``rw`` output is read on every
visit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from memsim.mapping.loops import (
    DimClasses,
    access_tile_sum,
    approx_footprint,
    classify_dims,
)


@dataclass(frozen=True)
class Operand:
    """One access of an op with its tensor's shape and bits per element.

    ``role``: ``input`` | ``weight`` | ``output``; ``base``: byte address of the tensor.
    """

    tensor: str
    access: object
    shape: tuple[int, ...]
    bits: float
    role: str
    base: int = 0
    line_bytes: int = 1  # cache line (transfer granule) the search rounds contiguous runs up to

    @cached_property
    def dims(self) -> frozenset:
        """Loop dims this operand's index depends on (computed once per operand)."""
        return frozenset(d for ax in self.access.index for d in ax.dims)

    @cached_property
    def axis_spans(self) -> tuple[tuple[tuple[tuple[str, int], ...], int], ...]:
        """Per tensor axis, its index terms as ``(dim, |coeff|)`` and the axis size: what
        ``footprint_bytes`` reads on every call of the tile search (computed once)."""
        return tuple((tuple((d, abs(c)) for d, c in ax.terms), size)
                     for ax, size in zip(self.access.index, self.shape))

    @cached_property
    def index_dims(self) -> tuple[str, ...]:
        """The dims of ``dims`` in a fixed order: the key of ``footprint_memo``."""
        return tuple(sorted(self.dims))

    @cached_property
    def footprint_memo(self) -> dict:
        """``footprint_bytes`` by tile extents of ``index_dims`` (filled by the tile search;
        the footprint depends on nothing else of the tile)."""
        return {}


def loop_orders(cls: DimClasses, dataflow: str) -> list[tuple[str, ...]]:
    """Candidate loop orders (outer → inner) for a dataflow.

    ``ws``: weights stationary, pixels innermost; ``os``: outputs stationary, reductions innermost
    (pixel/filter order free: both candidates); ``is``: inputs stationary, filters innermost.
    """
    g, f, p, r = cls.group, cls.filter, cls.pixel, cls.reduction
    if dataflow == "ws":
        return [g + f + r + p]
    if dataflow == "os":
        return [g + f + p + r, g + p + f + r]
    if dataflow == "is":
        return [g + p + r + f]
    raise ValueError(f"dataflow must be ws, os or is (got {dataflow!r})")


def n_tiles_of(dims: dict, tile: dict) -> dict:
    """Tiles per dim: ``ceil(D / t)``."""
    return {d: -(-dims[d] // tile[d]) for d in dims}


def fetch_multiplier(op_dims: frozenset, order: tuple, ntiles: dict) -> int:
    """How often an operand's distinct tiles are each fetched under ``order`` (see module doc)."""
    # the product of the irrelevant tiled dims outside the innermost relevant tiled dim (one
    # pass: ``outer`` accumulates irrelevant tile counts, each relevant dim takes the product)
    mult = outer = 1
    for d in order:
        n = ntiles[d]
        if n > 1:
            if d in op_dims:
                mult = outer
            else:
                outer *= n
    return mult


def extent_classes(dims: dict, tile: dict) -> list[tuple[dict, int]]:
    """Distinct tile extents and how many tiles have each: per dim the full tile (``D // t``
    times) and the remainder (once when ``D % t``), combined over dims."""
    per = []
    for d in dims:
        full, rem = divmod(dims[d], tile[d])
        opts = [(tile[d], full)] if full else []
        if rem:
            opts.append((rem, 1))
        per.append((d, opts))
    out = [({}, 1)]
    for d, opts in per:
        out = [({**ext, d: e}, cnt * c) for ext, cnt in out for e, c in opts]
    return out


def distinct_tiles(op_dims: frozenset, ntiles: dict) -> int:
    """Distinct footprints of an operand: product of tile counts of its dims."""
    return math.prod(ntiles[d] for d in op_dims)


@dataclass(frozen=True)
class OperandTraffic:
    """Analytic elements and bytes an operand moves between the target level and below."""

    tensor: str
    role: str
    read_elements: int
    write_elements: int
    bits: float

    @property
    def bytes(self) -> int:
        """Read plus write bytes (rounded up to whole bytes)."""
        return math.ceil((self.read_elements + self.write_elements) * self.bits / 8)


def analytic_traffic(operands, dims: dict, tile: dict, order: tuple, exact: bool = True
                     ) -> list[OperandTraffic]:
    """Per operand, the elements read/written between the target level and the level below.

    ``exact`` sums real (edge-clipped, padding-excluded) footprints per axis; otherwise a fast
    span estimate (the search's cost function).
    """
    nt = n_tiles_of(dims, tile)
    out = []
    for o in operands:
        mult = fetch_multiplier(o.dims, order, nt)
        if exact:
            s = access_tile_sum(o.access, o.shape, dims, tile)
        else:
            s = approx_footprint(o.access, o.shape, tile) * distinct_tiles(o.dims, nt)
        if o.role == "output":
            reads = mult * s if o.access.mode == "rw" else (mult - 1) * s
            out.append(OperandTraffic(o.tensor, o.role, reads, mult * s, o.bits))
        else:
            out.append(OperandTraffic(o.tensor, o.role, mult * s, 0, o.bits))
    return out


def footprint_bytes(o: Operand, tile: dict) -> int:
    """One full tile's footprint of operand ``o`` in bytes, rounded to whole lines.

    Per axis the index span ``Σ|c|·(t−1)+1`` (clipped to the axis); trailing axes covered in full
    merge into one contiguous run with the axis before them; each run is rounded up to whole
    ``line_bytes``, since memory moves whole lines (a tile one element wide along a contiguous
    axis still moves a full line per row). Remembered per operand and tile extents of the dims
    it reads (the tile search asks for the same footprints many times).
    """
    key = tuple([tile[d] for d in o.index_dims])
    memo = o.footprint_memo
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = _footprint(o, tile)
    return hit


def _footprint(o: Operand, tile: dict) -> int:
    spans = []
    for terms, size in o.axis_spans:
        span = 1
        for d, c in terms:
            span += c * (tile[d] - 1)
        spans.append(span if span < size else size)
    run, rows, i = 1, 1, len(spans) - 1
    shape = o.shape
    while i >= 0 and spans[i] == shape[i]:
        run *= spans[i]
        i -= 1
    if i >= 0:
        run *= spans[i]
        rows = math.prod(spans[:i])
    run_bytes = math.ceil(run * o.bits / 8)
    line = max(1, o.line_bytes)
    return rows * (-(-run_bytes // line) * line)


def working_set_bytes(operands, tile: dict) -> int:
    """Bytes one tile keeps resident: every operand's full-tile footprint in whole lines."""
    return sum(footprint_bytes(o, tile) for o in operands)


def _cost(operands, dims, tile, order):
    """Bytes between the target level and below (line-granular span estimate), the search's cost."""
    nt = n_tiles_of(dims, tile)
    total = 0
    for o in operands:
        mult = fetch_multiplier(o.dims, order, nt)
        moved = footprint_bytes(o, tile) * distinct_tiles(o.dims, nt)
        if o.role == "output":
            total += (2 * mult if o.access.mode == "rw" else 2 * mult - 1) * moved
        else:
            total += mult * moved
    return total


def _shrink(t: int, u: int) -> int:
    """Next smaller candidate tile: half, kept a multiple of the unroll ``u``; a tile never
    drops below ``u`` (it stays ``t`` when it cannot shrink)."""
    if u > 1:
        if t <= u:
            return t
        h = -(-(-(-t // 2)) // u) * u
        return h if h < t else max(u, t - u)
    return max(1, -(-t // 2))


def _cheapest_halving(tile: dict, candidates, unroll: dict, key):
    """The tile with one of ``candidates`` shrunk (see ``_shrink``) that minimises ``key``
    (first such dim on ties), or None when none of them can shrink."""
    best = None
    for d in candidates:
        smaller = _shrink(tile[d], unroll.get(d, 1))
        if smaller >= tile[d]:
            continue
        cand = {**tile, d: smaller}
        k = key(cand)
        if best is None or k < best[0]:
            best = (k, cand)
    return None if best is None else best[1]


def search_tile(operands, dims: dict, order: tuple, capacity_bytes: int, cores: int = 1,
                unroll: dict | None = None, parallel_dims: tuple = (),
                split_below_unroll: bool = False) -> dict:
    """Tile sizes minimising analytic traffic with the working set within ``capacity_bytes``.

    Greedy descent from the whole layer: while the tile does not fit, halve the dim whose halving
    costs least traffic; then split ``parallel_dims`` until there are at least ``cores`` tiles
    (where the layer allows); then try doubling each dim back while it fits and lowers traffic.
    Unrolled dims keep tiles that are multiples of their unroll factor (or the whole extent).
    ``split_below_unroll`` (GPU SMs, whose thousands of lanes make unroll-multiple tiles so large
    that a small layer has fewer of them than SMs): when the unroll-multiple split stops short
    of ``cores`` tiles, the parallel dims are split further, below their unroll factors (the
    mapper then spreads the lanes over the tile's own extents), so every SM gets a tile where
    the layer has that many output points — as a GPU runtime launches at least one thread
    block per SM where it can.
    """
    unroll = unroll or {}
    tile = dict(dims)

    def fits(t):
        return working_set_bytes(operands, t) <= capacity_bytes

    def cost(t):
        return _cost(operands, dims, t, order)

    def count(t):
        return math.prod(n_tiles_of(dims, t).values())

    while not fits(tile):
        cand = _cheapest_halving(tile, dims, unroll, lambda t: (cost(t), count(t)))
        if cand is None:
            break  # every dim is 1 (or its unroll factor): the smallest possible tile
        tile = cand
    if unroll and not fits(tile):
        # Tiles that are multiples of the unroll factors cannot fit (e.g. 1024 GPU lanes over one
        # dim): drop the constraint; lane utilisation is computed from the layer's dims anyway.
        return search_tile(operands, dims, order, capacity_bytes, cores, None, parallel_dims,
                           split_below_unroll)

    while count(tile) < cores:
        cand = _cheapest_halving(tile, parallel_dims, unroll, cost)
        if cand is None and split_below_unroll and unroll:
            cand = _cheapest_halving(tile, parallel_dims, {}, cost)
        if cand is None:
            break
        tile = cand

    improved = True
    while improved:
        improved = False
        base = cost(tile)
        for d in dims:
            if tile[d] >= dims[d]:
                continue
            cand = dict(tile)
            cand[d] = min(dims[d], tile[d] * 2)
            # accept growth that lowers traffic, or keeps it and cuts the tile count
            if fits(cand) and count(cand) >= min(cores, count(tile)) and \
                    cost(cand) <= base:
                tile, improved = cand, True
                break
    return tile


def best_mapping(operands, dims: dict, cls: DimClasses, dataflows, capacity_bytes: int,
                 cores: int = 1, unroll: dict | None = None, split_below_unroll: bool = False):
    """Best (dataflow, order, tile, traffic bytes) over the candidate dataflows and their orders
    (``split_below_unroll``: see :func:`search_tile`)."""
    parallel = cls.group + cls.filter + cls.pixel
    best = None
    for df in dataflows:
        for order in loop_orders(cls, df):
            tile = search_tile(operands, dims, order, capacity_bytes, cores, unroll, parallel,
                               split_below_unroll)
            cost = _cost(operands, dims, tile, order)
            if best is None or cost < best[3]:
                best = (df, order, tile, cost)
    return best


__all__ = [
    "Operand",
    "OperandTraffic",
    "analytic_traffic",
    "best_mapping",
    "classify_dims",
    "extent_classes",
    "fetch_multiplier",
    "loop_orders",
    "n_tiles_of",
    "search_tile",
    "working_set_bytes",
]
