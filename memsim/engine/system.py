"""The simulated machine: ports per memory level, DRAM channels, cores and the cache kernel.

A tile's memory phase ("fetch") works in bulk, never one event per line:

1. the cache kernel says, for the tile's line array, how many lines each cache level served,
   how many went to DRAM, and which dirty lines were written back where;
2. those counts become one transfer per involved link: a level's port carries every line that
   reached the level (hits and the misses it forwarded and filled) plus the write-backs into it;
   DRAM carries line reads and write-backs; the tile's target level also carries the tile's
   analytic inner traffic (reuse inside the tile between the target and the core);
3. latency is exposed per Little's law: ``n`` lines served from a level with load-to-use latency
   ``t`` through ``m`` outstanding requests cost at least ``ceil(n/m)·t`` (Little, 1961; the
   memory-level-parallelism bound of Chou, Fahs & Abraham, ISCA 2004). The per-level floors add
   up (a conservative assumption: misses to different levels are not overlapped).

The memory phase ends when every transfer and the latency floor are done; the last one to finish
is the tile's bottleneck, and the compute unit's wait is charged to it as stall.
"""

from __future__ import annotations

import math

import numpy as np
import simpy
from simpy import Event, Timeout

from memsim.engine.links import LinkGroup, SharedLink
from memsim.planning.onchip import backing_level
from memsim.strategies.segments import MemorySegments

# Outstanding requests per cache level when a preset gives no `mshrs` (the DESIGN §3 example
# value; Cortex-A76 L1D tracks 20 outstanding misses, Arm TRM 100798 §A6).
DEFAULT_CACHE_MSHRS = 16
# Outstanding DRAM requests of a DMA engine feeding a scratchpad (estimate: typical NPU DMA
# queues hold 32-128 bursts).
DEFAULT_DMA_OUTSTANDING = 64


class TileCost:
    """What one tile's memory phase moved and where it waited (filled by ``System.fetch``):
    ``bytes_by_level`` and ``hits_by_level`` per level name, ``dram_read_bytes``,
    ``dram_write_bytes``, the Little's-law floor ``latency_ps`` and ``finished_at`` (resource
    name → when its part of the phase ended). A plain slotted class: one is made per tile."""

    __slots__ = ("bytes_by_level", "hits_by_level", "dram_read_bytes", "dram_write_bytes",
                 "latency_ps", "finished_at")

    def __init__(self):
        self.bytes_by_level: dict[str, float] = {}
        self.hits_by_level: dict[str, int] = {}
        self.dram_read_bytes = 0.0
        self.dram_write_bytes = 0.0
        self.latency_ps = 0
        self.finished_at: dict[str, float] = {}

    def bottleneck(self) -> str:
        """The resource that finished last ('latency:<level>' for a latency floor)."""
        best, latest = "none", None
        for name, at in self.finished_at.items():  # the first of equal maxima, as max() picks
            if latest is None or at > latest:
                best, latest = name, at
        return best


def _after(event, fn) -> None:
    """Call ``fn()`` once ``event`` has been processed (at once when it is None or already was)."""
    if event is None or event.processed:
        fn()
    else:
        event.callbacks.append(lambda _e: fn())


class FetchChain:
    """Events of one tile's memory phase: ``moved`` (transfers), ``floor`` (latency floor) and
    ``done`` (both)."""

    __slots__ = ("moved", "floor", "done", "_left")

    def __init__(self, env: simpy.Environment):
        # simpy.Event(env) is env.event() without the bound-class lookup
        self.moved = Event(env)
        self.floor = Event(env)
        self.done = Event(env)
        self._left = 2

    def moved_done(self) -> None:
        self.moved.succeed()
        self._part()

    def floor_done(self) -> None:
        self.floor.succeed()
        self._part()

    def _part(self) -> None:
        self._left -= 1
        if self._left == 0:
            self.done.succeed()


class System:
    """Links, cores and caches of one hardware description inside a simpy environment.

    ``hierarchy`` is a ``memsim.cache.Hierarchy`` (or None when the hardware has no caches).
    ``address_offsets`` are not applied here: callers pass line indices already offset.
    """

    def __init__(self, env: simpy.Environment, hw, hierarchy, cores: int):
        self.env = env
        self.hw = hw
        self.hierarchy = hierarchy
        self.n_cores = cores
        self.line_bytes = hw.memory.line_bytes
        self.levels = list(hw.memory.levels)
        self.cache_names = [lvl.name for lvl in self.levels if lvl.kind == "cache"]
        self.ports: dict[str, list[SharedLink]] = {}
        for lvl in self.levels:
            if lvl.scope == "shared":
                link = SharedLink(env, lvl.bandwidth_bytes_per_s, f"{lvl.name}")
                self.ports[lvl.name] = [link] * cores
            else:
                self.ports[lvl.name] = [SharedLink(env, lvl.bandwidth_bytes_per_s, f"{lvl.name}/core{c}")
                                        for c in range(cores)]
        dram = hw.memory.dram
        per_channel = dram.bandwidth_bytes_per_s / dram.channels
        self.dram_links = [SharedLink(env, per_channel, f"dram/ch{c}") for c in range(dram.channels)]
        self.dram = LinkGroup(self.dram_links, "dram")
        self.cores = [simpy.Resource(env, capacity=1) for _ in range(cores)]
        self._latency = {lvl.name: lvl.latency_ps for lvl in self.levels}
        self._explicit_mshrs = {lvl.name: lvl.mshrs for lvl in self.levels}
        self._mshrs = {lvl.name: (lvl.mshrs or DEFAULT_CACHE_MSHRS) for lvl in self.levels}
        self.backing = backing_level(hw)
        caches = [lvl for lvl in self.levels if lvl.kind == "cache"]
        self._dram_mshrs = (caches[-1].mshrs or DEFAULT_CACHE_MSHRS) if caches else DEFAULT_DMA_OUTSTANDING
        self.key_parts: list | None = None  # see plan()
        # (name, outstanding requests, latency) of every cache level, innermost first, and the
        # DRAM latency: what every tile's latency floor reads
        self._floor_levels = [(name, self._mshrs[name], self._latency[name])
                              for name in self.cache_names]
        self._dram_latency = hw.memory.dram.latency_ps
        # per core: (level name, its port) of every cache level, innermost first (plan())
        self._cache_ports = [[(name, self.ports[name][c]) for name in self.cache_names]
                             for c in range(cores)]

    def links(self) -> list[SharedLink]:
        """Every link of the system, each once, in a fixed order (ports, DRAM, codecs)."""
        seen, out = set(), []
        for group in list(self.ports.values()) + [self.dram_links,
                                                  list(self.__dict__.get("_codec_links", {}).values())]:
            for link in group:
                if id(link) not in seen:
                    seen.add(id(link))
                    out.append(link)
        return out

    def port_bandwidth(self, level: str) -> float:
        """Bandwidth of one port of ``level`` in bytes/s."""
        return self.ports[level][0].bandwidth_bytes_per_s

    def _cache_counts(self, core: int, lines: np.ndarray, writes: np.ndarray):
        """``_counts`` with caches, as Python ints: (hits list, accesses list, DRAM line reads,
        DRAM line writes)."""
        counts = self.hierarchy.access(core, lines, writes)
        if self.key_parts is not None:
            self.key_parts.append(counts.tobytes())
        rows = counts.tolist()
        n = len(self.cache_names)
        return ([row[2] for row in rows[:n]], [row[0] + row[1] for row in rows[:n]],
                rows[n][0], rows[n][1])

    def _counts(self, core: int, lines: np.ndarray, writes: np.ndarray):
        """Per cache level (hits, accesses) and DRAM (reads, writes) in lines."""
        if self.hierarchy is not None and self.cache_names:
            counts = self.hierarchy.access(core, lines, writes)
            if self.key_parts is not None:
                self.key_parts.append(counts.tobytes())
            n = len(self.cache_names)
            hits = counts[:n, 2]
            accesses = counts[:n, 0] + counts[:n, 1]
            return hits, accesses, int(counts[n, 0]), int(counts[n, 1])
        # No cache simulated: every line goes to memory.
        n_writes = int(np.count_nonzero(writes)) if writes is not None else 0
        if self.key_parts is not None:
            self.key_parts.append((int(lines.size), n_writes))
        zeros = np.zeros(len(self.cache_names), np.int64)
        return zeros, zeros, int(lines.size) - n_writes, n_writes

    def fetch(self, core: int, lines: np.ndarray, writes: np.ndarray | None, target: str | None,
              inner_bytes: float, dma: bool, mlp: int | None = None,
              onchip: tuple | None = None, prev: "FetchChain | None" = None,
              segments: MemorySegments | None = None
              ) -> tuple[simpy.Event, TileCost, "FetchChain"]:
        """Start a tile's memory phase on ``core``; returns (done event, cost record, chain).

        The phase lasts ``max(t0 + transfers, floor)``: data starts to flow after the latency
        ``t0`` of the deepest level the tile reaches, then the transfers share their links;
        ``floor`` is the Little's-law bound. A DRAM-bound stream thus takes
        ``latency + bytes/bandwidth`` and an MLP-bound one ``ceil(n/m)·latency``.
        ``prev`` (the previous tile's ``FetchChain`` on this core) pipelines fetches: this tile's
        latency overlaps the previous tile's transfers, its data follows them in order, and its
        Little's-law floor starts when the previous floor ends (the outstanding-request slots
        are shared), so a stream of tiles pays the first-access latency once.
        ``onchip`` (line ranges ``[lo, hi)``) marks lines resident on chip (see
        ``memsim.engine.residency``): their misses go to the on-chip ``backing`` level, not DRAM.

        ``segments`` (the tile's ``memsim.strategies.segments.MemorySegments``, None for ordinary
        lines) tags runs of lines with strategy effects below the caches: compression
        ``at: dram`` (DRAM moves ``dram_ratio`` of the plain bytes, and the plain bytes pass a
        shared decompressor link, so a decompressor slower than DRAM becomes the bound) and
        streaming stores (non-temporal output writes bypass the caches: no write-allocate fill,
        one full-line DRAM write each).
        """
        plan = self.plan(core, lines, writes, target, inner_bytes, dma, mlp, onchip, segments)
        cost, transfers, floor, floor_name, first = plan
        chain = FetchChain(self.env)
        self._schedule(chain, transfers, floor, floor_name, first, prev, cost)
        return chain.done, cost, chain

    def plan(self, core: int, lines: np.ndarray, writes: np.ndarray | None, target: str | None,
             inner_bytes: float, dma: bool, mlp: int | None = None, onchip: tuple | None = None,
             segments: MemorySegments | None = None):
        """The memory phase ``fetch`` starts, without starting it: the cache kernel sees the
        lines (its state advances) and the result is ``(cost, transfers, floor, floor name,
        first latency)``. While ``key_parts`` is a list, every count the kernel returns is
        appended to it (what the fast path compares tiles by)."""
        cost = TileCost()
        lines = np.asarray(lines)
        line = self.line_bytes
        codec: dict = {}
        if segments is None:
            if self.backing is not None and onchip or self.hierarchy is None \
                    or not self.cache_names:
                hits, accesses, dram_reads, dram_writes, backing_lines = self._run_counts(
                    core, lines, writes, onchip)
                hits, accesses = hits.tolist(), accesses.tolist()  # the same integers, as ints
            else:  # the common case: _run_counts → _counts, in Python ints
                hits, accesses, dram_reads, dram_writes = self._cache_counts(core, lines, writes)
                backing_lines = 0
            cost.dram_read_bytes = float(dram_reads) * line
            cost.dram_write_bytes = float(dram_writes) * line
        else:
            hits, accesses, dram_reads, backing_lines = self._segment_counts(
                core, lines, writes, onchip, segments, cost, codec)
            hits, accesses = hits.tolist(), accesses.tolist()  # the same integers, as ints
        transfers: list[tuple[str, object, float]] = []
        by_level, hits_by_level = cost.bytes_by_level, cost.hits_by_level
        for j, (name, port) in enumerate(self._cache_ports[core]):
            nbytes = float(accesses[j]) * line
            if name == target:
                nbytes += inner_bytes
            by_level[name] = nbytes
            hits_by_level[name] = hits[j]
            if nbytes > 0:
                transfers.append((name, port, nbytes))
        if target is not None and target not in self.cache_names:
            # A scratchpad: the DMA fills it with the tile's lines; the core reads it inner_bytes.
            nbytes = float(lines.size) * line + inner_bytes
            cost.bytes_by_level[target] = nbytes
            if nbytes > 0:
                transfers.append((target, self.ports[target][core], nbytes))
        if backing_lines and self.backing != target:
            nbytes = float(backing_lines) * line
            cost.bytes_by_level[self.backing] = cost.bytes_by_level.get(self.backing, 0.0) + nbytes
            transfers.append((self.backing, self.ports[self.backing][core], nbytes))
        if cost.dram_read_bytes or cost.dram_write_bytes:
            transfers.append(("dram", self.dram, cost.dram_read_bytes + cost.dram_write_bytes))
        for bps, nbytes in codec.items():
            if nbytes > 0:
                transfers.append(("decompress", self._codec_link(bps), nbytes))
        floor, worst = self._latency_floor(hits, dram_reads, mlp, dma, target)
        cost.latency_ps = floor
        return cost, transfers, floor, f"latency:{worst}", self._first_latency(hits, dram_reads)

    def _schedule(self, chain, transfers, floor: int, floor_name: str, first: int, prev, cost):
        """Start the floor after the previous tile's floor, and the transfers ``first`` ps from
        now but not before the previous tile's transfers finished (in-order, pipelined)."""
        env = self.env

        def floor_start():
            if floor <= 0:
                chain.floor_done()
                return

            def ended(_e):
                cost.finished_at[floor_name] = env.now
                chain.floor_done()
            timer = Timeout(env, floor)
            timer.memsim_owner = (chain, "floor")  # read by the fast path's state signature
            timer.callbacks.append(ended)

        def transfers_start():
            if not transfers:
                chain.moved_done()
                return
            left = [len(transfers)]

            def one_done(name):
                cost.finished_at[name] = env.now
                left[0] -= 1
                if left[0] == 0:
                    chain.moved_done()
            for name, link, nbytes in transfers:
                event = link.transfer(nbytes, tag=(chain, name))
                event.callbacks.append(lambda _e, n=name: one_done(n))

        _after(prev.floor if prev is not None else None, floor_start)
        gates = [2]

        def gate():
            gates[0] -= 1
            if gates[0] == 0:
                transfers_start()
        if first:
            timer = Timeout(env, first)
            timer.memsim_owner = (chain, "first")
            timer.callbacks.append(lambda _e: gate())
        else:
            gate()
        _after(prev.moved if prev is not None else None, gate)

    def _run_counts(self, core, lines, writes, onchip):
        """(hits, accesses, DRAM line reads, DRAM line writes, backing-store lines) of a batch."""
        if self.backing is not None and onchip:
            return self._split_counts(core, lines, writes, onchip)
        h, a, r, w = self._counts(core, lines, writes)
        return h, a, r, w, 0

    def _segment_counts(self, core, lines, writes, onchip, segments, cost, codec):
        """Cache counts run by run (in order, so the caches see the same sequence as one batch),
        each run's DRAM bytes scaled by its ratio and its plain bytes routed through its
        decompressor; streaming-store runs skip the caches. Adds DRAM bytes to ``cost`` and codec
        bytes to ``codec``; returns (hits, accesses, DRAM line reads, backing-store lines)."""
        if segments.total != lines.size:
            raise ValueError(f"tile segments cover {segments.total} lines, the tile has "
                             f"{lines.size}")
        line = self.line_bytes
        n = len(self.cache_names)
        hits = np.zeros(n, np.int64)
        accesses = np.zeros(n, np.int64)
        reads_total, backing_total, pos = 0, 0, 0

        def add(bps, nbytes):
            if bps and nbytes:
                codec[bps] = codec.get(bps, 0.0) + nbytes

        for run in segments.runs:
            sl = slice(pos, pos + run.n)
            pos += run.n
            w = writes[sl] if writes is not None else np.zeros(run.n, bool)
            ratio = run.dram_ratio
            if run.streaming and self.cache_names and w.all():
                # non-temporal stores: full lines straight to memory, no fill, no cache state
                if self.backing is not None and onchip:
                    backing_total += run.n
                else:
                    cost.dram_write_bytes += run.n * line * ratio
                    add(run.decompress_bps, run.n * line)
                continue
            h, a, r, wb, bk = self._run_counts(core, lines[sl], w, onchip)
            hits += h
            accesses += a
            reads_total += r
            backing_total += bk
            cost.dram_read_bytes += r * line * ratio
            add(run.decompress_bps, r * line)
            cost.dram_write_bytes += wb * line * segments.write_ratio
            add(segments.write_bps, wb * line)
        return hits, accesses, reads_total, backing_total

    def _codec_link(self, bytes_per_s: float) -> SharedLink:
        """The DRAM-side (de)compressor of this throughput, shared by all cores (created on
        first use: one unit per distinct throughput)."""
        links = self.__dict__.setdefault("_codec_links", {})
        link = links.get(bytes_per_s)
        if link is None:
            link = links[bytes_per_s] = SharedLink(self.env, bytes_per_s,
                                                   f"decompress@{bytes_per_s:.3g}B/s")
        return link

    def _split_counts(self, core, lines, writes, onchip):
        """``_counts`` for resident lines (backed on chip) and the rest (backed by DRAM/flash).

        The two groups go through the caches one after the other (resident first), each in its
        original order.
        """
        mask = np.zeros(lines.size, dtype=bool)
        for lo, hi in onchip:
            mask |= (lines >= np.uint64(lo)) & (lines < np.uint64(hi))
        if writes is None:
            writes = np.zeros(lines.size, dtype=bool)
        h1, a1, r1, w1 = self._counts(core, lines[mask], writes[mask])
        h2, a2, r2, w2 = self._counts(core, lines[~mask], writes[~mask])
        return h1 + h2, a1 + a2, r2, w2, r1 + w1

    def _first_latency(self, hits, dram_reads: int) -> int:
        """Latency of the deepest level that serves any of the tile's reads."""
        if dram_reads:
            return int(self._dram_latency)
        for j in range(len(self.cache_names) - 1, -1, -1):
            if hits[j]:
                return int(self._latency[self.cache_names[j]])
        return 0

    def _latency_floor(self, hits, dram_reads: int, mlp: int | None, dma: bool,
                       target: str | None) -> tuple[int, str]:
        """Little's-law floor ``Σ ceil(n/m)·t`` over levels, and the level contributing most."""
        total, worst, worst_ps = 0, "dram", -1
        for j, (name, mshrs, latency) in enumerate(self._floor_levels):
            n = int(hits[j])
            if n:
                m = mshrs if mlp is None else max(1, min(mshrs, mlp))
                part = math.ceil(n / m) * latency
                total += part
                if part > worst_ps:
                    worst, worst_ps = name, part
        if dram_reads:
            if dma and not self.cache_names:
                m = self._explicit_mshrs.get(target) or DEFAULT_DMA_OUTSTANDING
            else:
                m = self._dram_mshrs
            if mlp is not None and not dma:
                m = max(1, min(m, mlp))
            part = math.ceil(dram_reads / m) * self._dram_latency
            total += part
            if part > worst_ps:
                worst = "dram"
        return int(total), worst
