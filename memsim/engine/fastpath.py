"""Coarser events where they are exact: frame replay and steady-state jumps inside a layer.

**Frame replay** (``memsim.engine.framereplay``): a frame that starts, or reaches a layer
boundary, with the system at rest and the cache state the frame before was in at the same
point (``Hierarchy.state_key``) is that frame again from there on: its layer records are
copied, shifted in time, and its counters added.

**Steady-state jumps** (``LayerWarp``). A layer's tiles run as one event chain each (``memsim.engine.pipeline``). In a long layer of
alike tiles the whole simulated system soon repeats itself: at the moment the layer's first core
starts its ``k``-th tile, every pending event, link transfer and core buffer stands where it
stood ``W`` tiles earlier, shifted by a time ``P``. The fast path detects that and jumps ahead
by whole periods instead of simulating them:

1. **Checkpoints.** When the first core starts a tile, a checkpoint is scheduled at the same
   picosecond after every other event there (priority ``QUIET``), so the system is at rest.
   It takes the *state signature*: every scheduled event relative to now (what it is and
   whose — the core and which of its tiles in flight), every busy link's transfers (bytes left,
   weight, owner) and clock mark, and every core's buffers, waits and tiles in flight (each
   tile by its *key*: the cache kernel's counts for it plus every tile field the engine reads).
   Everything the future of the run depends on is in it, except the keys of the tiles still to
   come.
2. **Period.** When a signature equals an earlier checkpoint's, the run between them is a
   period: the fetch calls in it (core, key, in call order), its length in picoseconds and
   what it added to every counter (layer statistics, link counters, tiles).
3. **Verification.** The next periods' tiles are taken from the cores' hands and issued to the
   cache kernel in the period's call order — the order the per-tile engine would issue them in
   if the period repeats; each tile's key must equal its counterpart's. So the caches see
   every line, in order, exactly as per tile. On the first tile that differs the kernel state
   is restored (a copy of its state array taken before each chunk of periods) and the
   verified periods are issued again; the unused tiles go back to their hands.
4. **Jump.** For ``M`` verified periods: the clock, every scheduled event, link clock marks and
   the times cores wait from move by ``M·P``, every counter grows by ``M`` times the period's
   increment. Then the per-tile engine continues (and may find the next period).

If the state repeats and the tiles' keys repeat, the per-tile run would do the same again, so
the jump (like the replay) is exact: the same cache counts bit for bit, the same picoseconds; only float sums of
non-integer counters (compute cycles) may differ in the last bit. It applies when nothing else
can interleave: one stream, no background traffic, no DRAM refresh (a refresh window is
periodic in absolute time, not with the layer), the cache kernel a ``memsim.cache.Hierarchy``
(its state can be copied) or none. ``engine.granularity: per-tile`` turns it off.
"""

from __future__ import annotations

from collections import defaultdict

from memsim.engine.framereplay import FrameReplay, link_counters as _link_counters
from memsim.engine.links import _Timer
from memsim.engine.simkernel import BareEvent, schedule

#: heap priority of a checkpoint: after simpy's URGENT (0) and NORMAL (1) at the same time
QUIET = 2
#: earlier checkpoints a signature is compared with (periods of up to this many first-core tiles)
HISTORY = 24
#: signatures a layer may take without finding a period before it stops looking (each costs
#: about as much as a tile; layers on many cores seldom repeat exactly: their cores drift)
PATIENCE = 16
#: periods verified in the first chunk (chunks double; the kernel state is copied per chunk)
FIRST_CHUNK = 4
#: layers with fewer tiles per core are not worth a checkpoint
MIN_TILES_PER_CORE = 16
#: after this many layers on ``n`` cores in a row without a jump, later layers on ``n`` cores
#: are not tracked (keys and checkpoints cost ≈ 10 % of a tile each, and a layer's cores that
#: drift against each other drift in the next layer too: a Jetson's 16 SMs never repeat)
GIVE_UP = 8


class FastPath:
    """The fast path of one engine run: replays a frame, or the rest of one, that reaches the
    state the frame before was in at the same point (``memsim.engine.framereplay``), and
    hands a ``LayerWarp`` to every layer worth one."""

    def __init__(self, system, hierarchy):
        self.system = system
        self.hierarchy = hierarchy  # a memsim.cache.Hierarchy or None (no cache levels)
        self.frames = FrameReplay(system, hierarchy)
        self.jumps = 0
        self.tiles_jumped = 0
        self._misses: dict[int, int] = {}  # cores -> layers on them in a row without a jump

    @property
    def frames_replayed(self) -> int:
        return self.frames.frames_replayed

    # -- frames (memsim.engine.framereplay) ------------------------------------------------
    def frame_begin(self, runner):
        """At a frame's start: the recorded frame to replay instead (None: simulate it)."""
        return self.frames.frame_begin(runner)

    def layer_begin(self, runner, index: int):
        """Before layer ``index`` of a simulated frame: the record whose rest to replay."""
        return self.frames.layer_begin(runner, index) if index else None

    def replay(self, runner, rec, frame: int) -> int:
        return self.frames.replay(runner, rec, frame)

    def replay_rest(self, runner, rec, index: int, frame: int) -> int:
        return self.frames.replay_rest(runner, rec, index, frame)

    def frame_end(self, runner) -> None:
        self.frames.frame_end(runner)

    # -- layers ----------------------------------------------------------------------------
    def layer(self, runner, plan, stats, states):
        """A controller for one layer run on the cores of ``states`` (None: not worth it)."""
        if plan.n_tiles is not None and plan.n_tiles < MIN_TILES_PER_CORE * len(states):
            return None
        if self._misses.get(len(states), 0) >= GIVE_UP:
            return None
        return LayerWarp(self, runner, plan, stats, states)

    def layer_closed(self, warp: "LayerWarp") -> None:
        """A layer's controller stopped looking: count a layer without a jump on its cores."""
        n = len(warp.states)
        self._misses[n] = 0 if warp.jumped else self._misses.get(n, 0) + 1


class _Checkpoint:
    __slots__ = ("now", "pos", "stats", "links", "tiles_events")

    def __init__(self, now, pos, stats, links, tiles_events):
        self.now = now
        self.pos = pos
        self.stats = stats
        self.links = links
        self.tiles_events = tiles_events


class LayerWarp:
    """Checkpoints, period detection, verification and the jump for one layer run."""

    def __init__(self, fast: FastPath, runner, plan, stats, states):
        self.fast = fast
        self.runner = runner
        self.env = runner.env
        self.system = runner.system
        self.plan = plan
        self.stats = stats
        self.states = states
        self.calls: list = []      # (core position, key) of every fetch since tracking began
        self.history: dict = {}    # signature -> _Checkpoint
        self.armed = False
        self.active = True         # still looking for a period
        self.seen = 0              # signatures since the last jump
        self.jumped = False        # a jump happened in this layer
        self.onchip = plan.onchip_lines  # one stream: line offset 0

    # -- hooks the pipeline calls ----------------------------------------------------------
    def fetched(self, k: int, tile, parts) -> tuple:
        """Record core ``k``'s fetch of ``tile`` (``parts``: the kernel counts it produced);
        returns the tile's key."""
        key = (tuple(parts), _tile_fields(tile))
        self.calls.append((k, key))
        return key

    def arm(self) -> None:
        """The first core starts a tile: checkpoint at this picosecond once all else is done."""
        if self.armed or not self.active:
            return
        self.armed = True
        schedule(self.env, self.env.now, QUIET, BareEvent(self._checkpoint))

    def close(self) -> None:
        """Stop looking (the layer ended, or no period showed up)."""
        if self.active:
            self.fast.layer_closed(self)
        self.active = False
        self.calls = []
        self.history = {}

    # -- checkpoints -----------------------------------------------------------------------
    def _checkpoint(self, _event) -> None:
        self.armed = False
        if not self.active:
            return
        sig = self.signature()
        if sig is None:
            self.seen += 1
            if self.seen >= PATIENCE:
                self.close()
            return
        here = _Checkpoint(self.env.now, len(self.calls), _stats_copy(self.stats),
                           _link_counters(self.system.links()), self.runner.events_tiles)
        earlier = self.history.get(sig)
        if earlier is not None and self._jump(earlier, here):
            self.history = {}
            self.calls = []
            self.seen = 0
            return
        self.history[sig] = here
        if len(self.history) > HISTORY:
            del self.history[next(iter(self.history))]
        self.seen += 1
        if self.seen >= PATIENCE:
            self.close()

    def signature(self):
        """Everything the run's future depends on, relative to now (None: something the fast
        path does not know is pending)."""
        now = self.env.now
        chains: dict = {}
        cores = []
        for st in self.states:
            pend = []
            for seq, (tile, cost, done, chain, key) in enumerate(st.pending):
                if tile is None:
                    pend.append(None)
                    continue
                chains[chain] = (st.k, seq)
                pend.append((key, done.triggered, chain.moved.triggered, chain.floor.triggered,
                             _relative(cost.finished_at, now)))
            ready = tuple(None if it is None else (it[2], _relative(it[1].finished_at, now))
                          for it in st.ready)
            prev = st.prev
            if prev is None:
                prev_ref = None
            elif prev in chains:
                prev_ref = chains[prev]
            elif prev.moved.triggered and prev.floor.triggered:
                prev_ref = "done"
            else:
                return None
            cores.append((st.free, ready, tuple(pend), st.fetch_wait is not None,
                          None if st.compute_wait is None else now - st.waited_from,
                          (now - st.compute_start) if st.computing else None,
                          st.exhausted, prev_ref))
        links = self.system.links()
        heap = self._heap_signature(chains, now, links)
        busy = _busy_signature(links, chains, now)
        if heap is None or busy is None:
            return None
        return (tuple(cores), heap, busy)

    def _heap_signature(self, chains: dict, now: int, links: list):
        """Every scheduled event relative to now and whose it is (stale link timers left out,
        as they do nothing); None for an event of unknown origin."""
        index = {id(link): i for i, link in enumerate(links)}
        heap = []
        for at, prio, _eid, event in sorted(self.env._queue, key=_entry_order):
            owner = getattr(event, "memsim_owner", None)
            if owner is not None:
                if type(owner) is tuple:
                    ref = chains.get(owner[0])
                    if ref is None:
                        return None
                    heap.append((at - now, prio, ref, owner[1]))
                else:
                    heap.append((at - now, prio, "compute", owner.k))
            elif type(event) is _Timer:
                link = event.callbacks[0].__self__
                if event.version == link._version:
                    heap.append((at - now, prio, "timer", index[id(link)]))
            else:
                return None
        return tuple(heap)

    # -- the jump --------------------------------------------------------------------------
    def _jump(self, earlier: _Checkpoint, here: _Checkpoint) -> bool:
        period = here.now - earlier.now
        pattern = self.calls[earlier.pos:here.pos]
        if period <= 0 or not pattern or len(here.links) != len(earlier.links):
            return False
        periods = self._verify(pattern)
        if periods == 0:
            return False
        self._advance(periods, period, earlier, here)
        self.jumped = True
        self.fast.jumps += 1
        self.fast.tiles_jumped += periods * len(pattern)
        return True

    def _verify(self, pattern) -> int:
        """Issue the next periods' tiles in the pattern's order; the number of periods whose
        every tile matched (the kernel state is as after exactly those)."""
        limit = self._remaining_periods(pattern)
        if limit is not None and limit <= 0:
            return 0
        hier = self.fast.hierarchy
        hands = [st.work for st in self.states]
        done, chunk = 0, FIRST_CHUNK
        while limit is None or done < limit:
            if limit is not None:
                chunk = min(chunk, limit - done)
            saved = hier.snapshot() if hier is not None else None
            taken, ok = [], 0
            failed = False
            for _ in range(chunk):
                for k, key in pattern:
                    tile = next(hands[k], None)
                    if tile is None:
                        failed = True
                        break
                    taken.append((k, tile))
                    if self._key(k, tile) != key:
                        failed = True
                        break
                if failed:
                    break
                ok += 1
            if failed:
                kept = ok * len(pattern)
                if hier is not None:
                    hier.restore(saved)
                    for k, tile in taken[:kept]:
                        self._key(k, tile)
                back = defaultdict(list)
                for k, tile in taken[kept:]:
                    back[k].append(tile)
                for k, tiles in back.items():
                    hands[k].push_back(tiles)
                return done + ok
            done += chunk
            chunk *= 2
        return done

    def _remaining_periods(self, pattern) -> int | None:
        """Whole periods the layer's tiles still allow (None: the tile count is unknown)."""
        n = self.plan.n_tiles
        if n is None:
            return None
        per_core = defaultdict(int)
        for k, _ in pattern:
            per_core[k] += 1
        cores = len(self.states)
        limit = None
        for k, count in per_core.items():
            st = self.states[k]
            left = len(range(k, n, cores)) - st.work.taken
            m = max(0, left) // count
            limit = m if limit is None else min(limit, m)
        return limit

    def _key(self, k: int, tile):
        """``tile``'s key as core ``k``'s fetch would record it (the kernel sees its lines)."""
        system, st = self.system, self.states[k]
        hier = self.fast.hierarchy
        if hier is not None and tile.segments is None and self.onchip is None:
            parts = (hier.access(st.core, tile.lines, tile.writes).tobytes(),)
        else:
            system.key_parts = []
            system.plan(st.core, tile.lines, tile.writes, self.plan.target,
                        float(tile.inner_bytes), bool(tile.dma), tile.mlp, self.onchip,
                        tile.segments)
            parts = tuple(system.key_parts)
            system.key_parts = None
        return (parts, _tile_fields(tile))

    def _advance(self, periods: int, period: int, earlier: _Checkpoint, here: _Checkpoint):
        """Move the run ``periods`` periods ahead: clock, events, links, cores, counters."""
        shift = periods * period
        env = self.env
        env._now += shift
        env._queue[:] = [(at + shift, prio, eid, ev) for at, prio, eid, ev in env._queue]
        links = self.system.links()
        for link, a, b in zip(links, earlier.links, here.links):
            link._last += shift
            link.bytes += periods * (b[0] - a[0])
            link.busy_ps += periods * (b[1] - a[1])
            link.transfers += periods * (b[2] - a[2])
        for st in self.states:
            st.waited_from += shift
            st.compute_start += shift
            for entry in st.pending:
                if entry[1] is not None:
                    _shift_times(entry[1].finished_at, shift)
            for item in st.ready:
                if item is not None:
                    _shift_times(item[1].finished_at, shift)
        _stats_add(self.stats, earlier.stats, here.stats, periods)
        self.runner.events_tiles += periods * (here.tiles_events - earlier.tiles_events)


def _busy_signature(links: list, chains: dict, now: int):
    """Every busy link's transfers (bytes left, weight, owner) and clock mark; None when a link
    is blocked or refreshed, or a transfer's owner is unknown."""
    busy = []
    for i, link in enumerate(links):
        if link._refresh is not None or link._blocked:
            return None
        if not link._active:
            continue
        moving = []
        for tr in link._active:
            if tr.tag is None or tr.tag[0] not in chains:
                return None
            moving.append((tr.remaining, tr.weight, chains[tr.tag[0]], tr.tag[1]))
        busy.append((i, now - link._last, tuple(moving)))
    return tuple(busy)


def _entry_order(entry):
    return entry[0], entry[1], entry[2]


def _tile_fields(tile) -> tuple:
    """Every field of a tile the engine reads besides its lines' cache outcome."""
    return (int(tile.lines.size), float(tile.inner_bytes), bool(tile.dma), tile.mlp,
            float(tile.compute_cycles), tile.segments)


def _relative(times: dict, now: int) -> tuple:
    return tuple(sorted((name, now - t) for name, t in times.items()))


def _shift_times(times: dict, shift: int) -> None:
    for name in times:
        times[name] += shift


def _stats_copy(st) -> tuple:
    return (dict(st.compute_ps_by_core), dict(st.stall_ps_by_resource), dict(st.bytes_by_level),
            dict(st.hits_by_level), st.compute_cycles, st.dram_read_bytes, st.dram_write_bytes,
            st.tiles, st.lines)


_DICT_FIELDS = ("compute_ps_by_core", "stall_ps_by_resource", "bytes_by_level", "hits_by_level")
_SCALAR_FIELDS = ("compute_cycles", "dram_read_bytes", "dram_write_bytes", "tiles", "lines")


def _stats_add(st, a: tuple, b: tuple, periods: int) -> None:
    """Add ``periods`` times the increment from snapshot ``a`` to ``b`` to layer stats ``st``."""
    for i, name in enumerate(_DICT_FIELDS):
        target, before, after = getattr(st, name), a[i], b[i]
        for key, value in after.items():
            step = value - before.get(key, 0)
            if step:
                target[key] = target.get(key, 0) + periods * step
    for j, name in enumerate(_SCALAR_FIELDS):
        step = b[len(_DICT_FIELDS) + j] - a[len(_DICT_FIELDS) + j]
        if step:
            setattr(st, name, getattr(st, name) + periods * step)
