"""``best``'s search driver: a portfolio of branch-and-bound runs (``_bnb``) on each time group.

The kernel answers "does everything fit below capacity C?" for one priority order of the
buffers. How quickly it answers depends heavily on that order, and no single order is best on
every instance (MiniMalloc, Moffitt ASPLOS 2023, therefore round-robins three of them). Here a
group is searched by *lanes* advanced in turn, a slice of nodes at a time:

* three complete lanes, one per MiniMalloc default order (``TWA``, ``TAW``, ``WAT``), each a
  single depth-first search that is never restarted; being suspendable (the kernel's state is
  all arrays) they need no iterative deepening, and a lane that finishes its tree proves the
  capacity infeasible;
* three complete lanes that branch on the covers of zero-slack sections (``Lane.tight``);
* two restarting lanes for heavy-tailed runs (the second with zero-slack branching): Luby-scheduled restarts (Luby, Sinclair &
  Zuckerman 1993) over every spec, then seeded perturbations of them, with components split off
  inside the tree restarting on their own Luby schedule.

Key letters follow MiniMalloc's: ``T`` the largest total of (unplaced) bytes in a section the
buffer crosses, ``W`` lifetime width, ``A`` area (size x width), ``Z`` size; and ours: ``L``
the number of sections crossed, ``Q`` size x sections, ``S`` earliest start. Larger first,
ties by buffer index.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from memsim.planning._bnb import (BUDGET, EXHAUSTED, FOUND, INCOMPLETE, KEY_A, KEY_L, KEY_Q,
                                  KEY_S, KEY_T, KEY_W, KEY_Z, SearchState, _adjacency, _luby)
from memsim.planning._memo import new_table
from memsim.planning.buffers import sections

__all__ = ["BUDGET", "EXHAUSTED", "FOUND", "LANES", "Lane", "RESTARTING",
           "TIGHT_COVER_FEWEST", "TIGHT_COVER_LEFTMOST", "TIGHT_FEWEST",
           "TIGHT_LEFTMOST", "TIGHT_OFF", "TIGHT_WELL_FEWEST", "TIGHT_WELL_LEFTMOST", "components", "luby", "node_cost", "sections", "solve"]

_CODES = {"T": KEY_T, "W": KEY_W, "A": KEY_A, "Z": KEY_Z, "L": KEY_L, "Q": KEY_Q, "S": KEY_S}


class Lane(NamedTuple):
    """One lane of the portfolio: the priority specs it uses (strings of key letters),
    whether it restarts (Luby schedule, perturbed orders, component restarts) or runs one
    complete search with its first spec, and its zero-slack branching (``TIGHT_*``)."""

    specs: tuple[str, ...]
    restarts: bool = False
    tight: int = 0


#: ``Lane.tight``: how a lane branches where a section has no slack at the lowest point (see
#: ``_infer._tight_section``): not at all (MiniMalloc's branching), on the covers of the tight
#: section with the fewest of them, or of the leftmost (earliest) tight section.
TIGHT_OFF, TIGHT_FEWEST, TIGHT_LEFTMOST = 0, 1, 2
#: The same two choices after the exact-cover check of every level (``_infer._cover_levels``),
#: counting only the covers that lie on some covering chain.
TIGHT_COVER_FEWEST, TIGHT_COVER_LEFTMOST = 3, 4
#: And the same check branching on a tight section at any level whose covers are flat (a
#: "well" of the skyline, ``_infer._cover_levels``): leftmost in time, or fewest covers.
TIGHT_WELL_LEFTMOST, TIGHT_WELL_FEWEST = 5, 6

#: The portfolio. MiniMalloc's three default orders as complete lanes (its solver.h lists
#: "WAT", "TAW", "TWA"); two complete lanes with the exact-cover check of zero-slack sections
#: that branch on the flat well with the fewest usable covers (``TIGHT_WELL_FEWEST``), for
#: instances packed without waste (``planted.py``: alone, ``TWA`` fits 29 of the 30
#: alignment-1 planted instances within 0.3 s and ``Q`` the 30th, pinwheel 500/1, where no
#: earlier lane fitted 300/2, 500/0 or 500/1 in 30 s; on MiniMalloc's A-K they are slower
#: than the first three); a restarting lane over the seven orders session 1 tuned on A-K
#: (peak-sections-size first; ``Q`` = size x sections, ``S`` = earliest start), which finds
#: the tighter plans below 1 MiB on D (``RESTARTING``); and last a restarting lane with the
#: zero-slack branching for heavy tails. All lanes of a search share its table of failed
#: states (``_memo``).
RESTARTING = Lane(("TLZ", "Q", "LQT", "TZ", "LZ", "ZL", "SZ"), restarts=True)
LANES = (Lane(("TWA",)), Lane(("TAW",)), Lane(("WAT",)),
         Lane(("TWA",), tight=TIGHT_WELL_FEWEST), Lane(("Q",), tight=TIGHT_WELL_FEWEST),
         RESTARTING, Lane(("Q", "TWA", "TAW", "Z"), restarts=True, tight=TIGHT_WELL_FEWEST))


def luby(i: int) -> int:
    """The i-th term (i >= 1) of the Luby restart sequence 1,1,2,1,1,2,4,... (Luby, Sinclair &
    Zuckerman 1993: optimal universal restart schedule for Las Vegas algorithms); the kernel's
    own ``_luby`` schedules component restarts."""
    return int(_luby(i))


def key_values(sizes, lo, hi, widths) -> np.ndarray:
    """The static priority keys, one float64 row per key code (the ``T`` row stays zero: the
    kernel computes it from the current section totals)."""
    kval = np.zeros((7, sizes.size), dtype=np.float64)
    kval[KEY_W] = widths
    kval[KEY_A] = sizes.astype(np.float64) * widths
    kval[KEY_Z] = sizes
    kval[KEY_L] = hi - lo
    kval[KEY_Q] = sizes.astype(np.float64) * (hi - lo)
    kval[KEY_S] = -lo.astype(np.float64)
    return kval


def spec_codes(specs) -> np.ndarray:
    """Key-code rows (``-1`` padded) for spec strings such as ``"TWA"``."""
    width = max(len(s) for s in specs)
    out = np.full((len(specs), width), -1, dtype=np.int64)
    for r, spec in enumerate(specs):
        for q, letter in enumerate(spec):
            out[r, q] = _CODES[letter]
    return out


def components(starts, ends) -> list[np.ndarray]:
    """Index arrays of the time-disjoint groups of intervals ``[start, end)`` (connected
    components of the interval graph), in time order: a new group starts wherever no interval
    crosses the point."""
    order = np.argsort(starts, kind="mergesort")
    reach = np.maximum.accumulate(ends[order])
    cut = np.flatnonzero(starts[order][1:] >= reach[:-1]) + 1
    return [np.sort(g) for g in np.split(order, cut)]


def node_cost(lo, hi, m) -> int:
    """Work units charged per search node: ``n + m + sum(hi - lo)`` (what one node's
    evaluation scans), so work budgets mean about the same time on every instance."""
    return int(lo.size + m + int((hi - lo).sum()))


def solve(sizes, starts, ends, capacity: int, deadline: float, seed: int = 0,
          unit_nodes: int = 20000, comp_unit: int = 2000, max_work: float | None = None,
          lanes: tuple[Lane, ...] | None = None) -> tuple[int, np.ndarray | None]:
    """Search for offsets of all buffers within ``capacity`` until ``deadline``
    (``time.perf_counter`` value) or until ``max_work`` (node visits times ``node_cost``) is
    spent.

    Time-disjoint groups of buffers are independent, so each is solved on its own (a restart
    never throws away a group already solved), by the ``lanes`` portfolio (default ``LANES``);
    a restarting lane's run k lasts ``unit_nodes * luby(k)`` nodes and its components restart
    every ``comp_unit * luby(r)`` nodes. Returns ``(status, offsets)``: FOUND with offsets,
    EXHAUSTED (proved impossible: a search finished its tree) or BUDGET (clock or work ran out)
    with None. Zero-size buffers get offset 0. Deterministic for a given seed unless the clock
    stops it.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    pos = np.flatnonzero(sizes > 0)
    out = np.zeros(sizes.size, dtype=np.int64)
    if pos.size == 0:
        return FOUND, out
    work = [0.0, float("inf") if max_work is None else float(max_work)]  # spent, limit
    for gi, g in enumerate(components(starts[pos], ends[pos])):
        g = pos[g]
        status, offs = _solve_group(sizes[g], starts[g], ends[g], capacity, deadline,
                                    (seed, gi), unit_nodes, comp_unit, work, lanes or LANES)
        if status != FOUND:
            return status, None
        out[g] = offs
    return FOUND, out


class _LaneRun:
    """The current search of one lane and the nodes it may still spend before a restart."""

    def __init__(self, lane: Lane, problem: tuple, capacity: int, salt: int, unit_nodes: int,
                 comp_unit: int, table: np.ndarray):
        self.lane, self.problem, self.capacity, self.salt = lane, problem, capacity, salt
        self.table = table  # failed states, shared by every lane and restart of the group
        self.unit_nodes, self.comp_unit = unit_nodes, comp_unit
        self.specs = spec_codes(lane.specs)
        self.attempt = 0
        self.state: SearchState | None = None
        self.left = 0.0
        self.dead = False  # a complete lane whose tree ended without a proof (depth cap)

    def current(self) -> SearchState:
        """The lane's live search, (re)started when its run length is spent."""
        if self.state is None or self.left <= 0:
            s, lo, hi, m, ptr, adj, kval = self.problem
            k = self.attempt
            if self.lane.restarts:
                self.state = SearchState(s, lo, hi, m, ptr, adj, self.capacity, kval, self.specs,
                                         variant=k, comp_unit=self.comp_unit, noise=0.3,
                                         salt=self.salt, tight=self.lane.tight,
                                         table=self.table)
                self.left = float(self.unit_nodes * luby(k + 1))
            else:
                self.state = SearchState(s, lo, hi, m, ptr, adj, self.capacity, kval,
                                         self.specs[:1], tight=self.lane.tight,
                                         table=self.table)
                self.left = float("inf")
            self.attempt = k + 1
        return self.state


def _solve_group(s, a, b, capacity, deadline, seed, unit_nodes, comp_unit, work, lanes,
                 slice_nodes=5000):
    """Advance every lane in turn by ``slice_nodes`` on one time-connected group (sizes > 0)
    until one finds a plan or proves there is none; ``work`` is ``[spent, limit]``, updated in
    place. ``seed`` is a tuple that salts the perturbed orders of restarting lanes."""
    lo, hi, m = sections(a, b)
    ptr, adj = _adjacency(lo, hi)
    cost = node_cost(lo, hi, m)
    problem = (s, lo, hi, m, ptr, adj, key_values(s, lo, hi, (b - a).astype(np.float64)))
    runs = []
    table = new_table()
    for p, lane in enumerate(lanes):
        salt = int(np.random.SeedSequence([*seed, p]).generate_state(1, dtype=np.uint64)[0]
                   >> np.uint64(1))
        runs.append(_LaneRun(lane, problem, capacity, salt, unit_nodes, comp_unit, table))
    while True:
        if all(run.dead for run in runs):
            return BUDGET, None
        for run in runs:
            if run.dead:
                continue
            state = run.current()
            step = int(min(slice_nodes, run.left))
            before = int(state.sc[8])
            status = state.run(step)
            done = int(state.sc[8]) - before
            run.left -= step
            work[0] += done * cost
            if status == FOUND:
                return FOUND, state.offset.copy()
            if status == EXHAUSTED:
                return EXHAUSTED, None
            if status == INCOMPLETE:  # no proof: restart, or retire a complete lane
                run.left = 0
                run.dead = not run.lane.restarts
            if work[0] >= work[1] or time.perf_counter() >= deadline:
                return BUDGET, None
