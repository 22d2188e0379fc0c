"""``Hierarchy``: persistent multi-level, multi-core cache state driven by the numba kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memsim.cache import kernel as K
from memsim.cache.cachegrind import cg_access
from memsim.errors import InputError

COUNTER_NAMES = ("loads", "stores", "hits", "misses", "evictions", "writebacks")
COMPAT_MODES = ("default", "pycachesim", "cachegrind")
_I64, _BOOL, _U8 = np.dtype(np.int64), np.dtype(np.bool_), np.dtype(np.uint8)
_U64 = np.dtype(np.uint64)


@dataclass(frozen=True)
class CacheLevelSpec:
    """One cache level: ``sets`` × ``ways`` lines of ``line_bytes``; ``policy`` in
    lru|fifo|random|plru (plru needs a power-of-two ``ways``); ``shared`` = one instance for all
    cores, else one private instance per core."""

    name: str
    sets: int
    ways: int
    line_bytes: int = 64
    policy: str = "lru"
    shared: bool = False

    @property
    def size_bytes(self) -> int:
        """Capacity in bytes."""
        return self.sets * self.ways * self.line_bytes


def _check_spec(spec: CacheLevelSpec, i: int) -> None:
    field = f"memory.levels.{spec.name}"
    if spec.sets < 1 or spec.ways < 1 or spec.line_bytes < 1:
        raise InputError(f"sets, ways and line must be positive (got sets={spec.sets}, "
                         f"ways={spec.ways}, line={spec.line_bytes})", field=field)
    if spec.policy not in K.POLICIES:
        raise InputError(f"unknown policy (got {spec.policy!r}; use lru, fifo, random, plru)",
                         field=field + ".policy")
    if spec.policy == "plru" and (spec.ways & (spec.ways - 1) or spec.ways > 64):
        raise InputError(f"tree-PLRU needs a power-of-two number of ways ≤ 64 (got {spec.ways})",
                         field=field + ".ways")


class Hierarchy:
    """Set-associative cache hierarchy with state persisting across :meth:`access` calls.

    ``levels`` innermost first; each core has its own instance of every private level, and all
    cores share one instance of each shared level (a core's chain: its private levels, then the
    shared ones, in the listed order). ``compat``: ``"default"`` (DESIGN §9), ``"pycachesim"``
    (pycachesim 0.3.1's counters) or ``"cachegrind"`` (valgrind's rules, no dirty state; an extra
    private I1 with the geometry of level 0 serves instruction fetches from :meth:`access_spans`).
    ``seed`` seeds the random policy (xorshift64 per instance; deterministic).
    """

    def __init__(self, levels, cores: int = 1, compat: str = "default", seed: int = 0):
        levels = list(levels)
        if not levels:
            raise InputError("a cache hierarchy needs at least one cache level",
                             field="memory.levels")
        if compat not in COMPAT_MODES:
            raise InputError(f"unknown compat mode (got {compat!r}; use default, pycachesim, "
                             "cachegrind)", field="compat")
        if cores < 1:
            raise InputError(f"cores must be ≥ 1 (got {cores})", field="compute.cores")
        for i, spec in enumerate(levels):
            _check_spec(spec, i)
        lines = {s.line_bytes for s in levels}
        if len(lines) != 1:
            raise InputError(f"all cache levels must share one line size (got {sorted(lines)})",
                             field="memory.levels.line")
        seen_shared = False
        for spec in levels:
            if seen_shared and not spec.shared:
                raise InputError(f"a private level cannot sit behind a shared one (got "
                                 f"{spec.name!r} with scope core)",
                                 field=f"memory.levels.{spec.name}.scope")
            seen_shared |= spec.shared
        self.levels = levels
        self.cores = int(cores)
        self.compat = compat
        self.seed = int(seed)
        self.line_bytes = levels[0].line_bytes
        self.names = [s.name for s in levels]
        self._mode = K.MODE_PYCACHESIM if compat == "pycachesim" else K.MODE_DEFAULT
        self._cg = compat == "cachegrind"
        self._build()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_hardware(cls, hw, cores: int | None = None, seed: int = 0,
                      compat: str = "default") -> "Hierarchy":
        """Build from a ``memsim.config.Hardware``: its cache levels (scratchpads skipped),
        ``cores`` defaulting to ``hw.compute.cores``. ``ways == size/line`` is fully associative."""
        specs = []
        for lv in hw.memory.levels:
            if lv.kind != "cache":
                continue
            line = int(lv.line_bytes or 64)
            ways = int(lv.ways or 1)
            sets = int(lv.size_bytes) // (line * ways)
            if sets * line * ways != int(lv.size_bytes) or sets < 1:
                raise InputError(f"size must be a multiple of line × ways (got {lv.size_bytes} B, "
                                 f"{line} B lines, {ways} ways)", field=f"memory.levels.{lv.name}")
            specs.append(CacheLevelSpec(lv.name, sets, ways, line, lv.policy or "lru",
                                        lv.scope == "shared"))
        n = int(cores if cores is not None else hw.compute.cores)
        return cls(specs, cores=n, seed=seed, compat=compat)

    def _build(self) -> None:
        specs, owner_level, owner_core = [], [], []

        def add(spec: CacheLevelSpec) -> int:
            specs.append((spec.sets, spec.ways, spec.policy))
            return len(specs) - 1

        nlev = len(self.levels)
        chain = np.zeros((self.cores, nlev), dtype=np.int64)
        for lv, spec in enumerate(self.levels):
            if spec.shared:
                c = add(spec)
                chain[:, lv] = c
                owner_level.append(lv)
                owner_core.append(-1)
            else:
                for core in range(self.cores):
                    chain[core, lv] = add(spec)
                    owner_level.append(lv)
                    owner_core.append(core)
        self._ichain = None
        if self.compat == "cachegrind":
            # cachegrind's I1 (unified LL behind it); same geometry as the first level
            ichain = chain.copy()
            for core in range(self.cores):
                ichain[core, 0] = add(self.levels[0])
                owner_level.append(-1)
                owner_core.append(core)
            self._ichain = ichain
        self._chain = chain
        self._layout = K.state_layout(nlev, self.cores, specs)
        row0 = self._layout["rows"][0]  # level 0 of core 0 (all cores' level 0 are alike)
        self._batch = K.batch_kernel(row0[5], row0[1], nlev)
        self._out_shape = (nlev + 1, K.N_COUNTERS)
        self._owner_level = np.array(owner_level, dtype=np.int64)
        self._owner_core = np.array(owner_core, dtype=np.int64)
        # index of every tag in the state array, instance by instance, set by set, way by way
        idx = [np.add.outer(base + stride * np.arange(sets), 1 + np.arange(ways)).reshape(-1)
               for sets, ways, _m, base, stride, _p, _l in self._layout["rows"]]
        self._tag_idx = np.concatenate(idx).astype(np.int64)
        self._empty_u8 = np.zeros(0, dtype=np.uint8)
        self.reset()

    def reset(self) -> None:
        """Empty every cache (all lines invalid, clean) and zero the cumulative counters."""
        lay, nlev = self._layout, len(self.levels)
        st = np.zeros(lay["size"], dtype=np.int64)
        st[K.X_NLEV], st[K.X_CHAIN] = nlev, lay["chain0"]
        st[K.X_STATS], st[K.X_STACK] = lay["stats0"], lay["stack0"]
        st[lay["chain0"]:lay["stats0"]] = self._chain.reshape(-1)
        # splitmix64-style distinct non-zero seeds per instance (xorshift state must be ≠ 0)
        n = len(lay["rows"])
        seeds = (np.arange(n, dtype=np.uint64) + np.uint64(self.seed + 1)) \
            * np.uint64(0x9E3779B97F4A7C15)
        seeds[seeds == 0] = np.uint64(0x2545F4914F6CDD1D)
        for c, (sets, ways, mask, base, stride, pol, lmask) in enumerate(lay["rows"]):
            h = K.XH + c * K.HC
            st[h + K.H_SETS], st[h + K.H_WAYS], st[h + K.H_MASK] = sets, ways, mask
            st[h + K.H_BASE], st[h + K.H_STRIDE], st[h + K.H_POL] = base, stride, pol
            st[h + K.H_LMASK] = lmask
            st[h + K.H_RNG] = seeds[c:c + 1].view(np.int64)[0]
            if pol in (K.POL_FIFO, K.POL_LRU_PERM):
                st[base:base + sets * stride:stride] = K.perm_reset_word(ways)
            elif pol == K.POL_LRU_MAT:
                st[base:base + sets * stride:stride] = K.mat_reset_word(ways)
            elif pol in (K.POL_LRU, K.POL_FIFO_STAMP):  # distinct stamps below any clock value
                stamps = np.add.outer(base + 1 + ways + stride * np.arange(sets), np.arange(ways))
                st[stamps.reshape(-1)] = np.tile(np.arange(ways) - ways, sets)
        st[self._tag_idx] = -1
        self._st = st
        s0 = lay["stats0"]
        self._stats = st[s0:s0 + (nlev + 1) * K.N_COUNTERS].reshape(nlev + 1, K.N_COUNTERS)
        self._cg_stats = np.zeros((3, nlev + 1, K.N_COUNTERS), dtype=np.int64)

    @property
    def _tags(self) -> np.ndarray:
        """Line held by every way (-1 = invalid), instance by instance, set by set."""
        t = self._st[self._tag_idx]
        return np.where(t < 0, -1, t >> 1)

    # ------------------------------------------------------------------ access
    def _lines(self, lines) -> np.ndarray:
        arr = np.asarray(lines)
        if arr.dtype == np.uint64:
            arr = arr.view(np.int64)
        elif arr.dtype != np.int64:
            arr = arr.astype(np.int64)
        return np.ascontiguousarray(arr).reshape(-1)

    def _flags(self, flags, n: int) -> np.ndarray:
        if flags is None:
            return self._empty_u8
        arr = np.asarray(flags)
        if arr.shape[0] != n:
            raise ValueError(f"flag array has {arr.shape[0]} entries for {n} lines")
        if arr.dtype != np.bool_:
            arr = arr != 0
        return np.ascontiguousarray(arr.reshape(-1)).view(np.uint8)

    def access(self, core: int, lines, writes=None) -> np.ndarray:
        """Issue ``lines`` (line indices = addr // line_bytes, in order) from ``core``.

        ``writes`` (bool per line, None = all loads). Returns int64 ``[L+1, 6]``: per level
        (innermost first) loads, stores, hits, misses, evictions, writebacks caused by this
        batch; row ``L`` is memory (loads = lines read from DRAM, stores = lines written).
        """
        # fast path for what the engine passes (1-D int64/uint64 and bool arrays): numpy's
        # builtin dtypes are singletons, so identity tests are cheap; anything else is converted
        if type(lines) is not np.ndarray or lines.ndim != 1:
            lines = self._lines(lines)
        elif lines.dtype is _U64 and lines.flags.c_contiguous:
            lines = lines.view(_I64)  # what _lines makes of it
        elif lines.dtype is not _I64:
            lines = self._lines(lines)
        if writes is None:
            writes = self._empty_u8
        elif type(writes) is np.ndarray and writes.dtype is _BOOL and writes.ndim == 1 \
                and writes.shape[0] == lines.shape[0]:
            writes = writes.view(_U8)
        else:
            writes = self._flags(writes, lines.shape[0])
        if not 0 <= core < self.cores:
            raise IndexError(f"core {core} out of range (cores={self.cores})")
        if self._cg:
            out = np.zeros((len(self.levels) + 1, K.N_COUNTERS), dtype=np.int64)
            kinds = writes if writes.shape[0] else np.zeros(lines.shape[0], np.uint8)
            ones = np.ones(lines.shape[0], dtype=np.int64)
            cg = self._cg_run(core, lines, ones, kinds)
            out += cg[0] + cg[1]
            self._stats += out
            return out
        out = np.zeros(self._out_shape, _I64)
        self._batch(self._mode, core, lines, writes, out, self._st)
        return out

    def access_spans(self, core: int, first, nlines, kinds) -> np.ndarray:
        """Issue accesses that each cover ``nlines[i]`` consecutive lines from ``first[i]``.

        ``nlines`` None: every access covers one line (``prepare_spans`` gives None then).
        ``kinds``: 0 load, 1 store, 2 instruction fetch. Default and pycachesim modes touch every
        covered line (instruction fetches must be filtered out before; pycachesim counts one load
        or store per access at level 0, hits and misses per line); cachegrind mode counts each
        access once (a miss if any line misses). Returns ``[L+1, 6]`` counts for data accesses
        (cachegrind mode: see :meth:`cachegrind_counters` for the per-kind split).
        """
        first = self._lines(first)
        kinds = np.ascontiguousarray(np.asarray(kinds, dtype=np.uint8))
        if nlines is None:
            nl = None if self.compat != "cachegrind" else np.ones(first.shape[0], np.int64)
        else:
            nl = np.ascontiguousarray(np.asarray(nlines, dtype=np.int64))
        if self.compat == "cachegrind":
            if nl.size and (nl.min() < 1 or nl.max() > 2):
                raise InputError("cachegrind mode: an access may cover at most two lines "
                                 "(lines too small for the access sizes)", field="size")
            cg = self._cg_run(core, first, nl, kinds)
            out = cg[0] + cg[1]
            self._stats += out
            return out
        if kinds.size and kinds.max() > 1:
            raise ValueError("instruction fetches are only simulated in cachegrind mode")
        if nl is not None and nl.size and nl.min() < 1:
            raise ValueError("every access covers at least one line")
        if not 0 <= core < self.cores:
            raise IndexError(f"core {core} out of range (cores={self.cores})")
        if nl is None or (nl.size and nl.max() == 1):
            if kinds.shape[0] != first.shape[0]:
                raise ValueError(f"{kinds.shape[0]} kinds for {first.shape[0]} accesses")
            lines, writes = first, kinds
        else:
            idx = np.repeat(np.arange(first.shape[0]), nl)
            starts = np.cumsum(nl) - nl
            offs = np.arange(idx.shape[0], dtype=np.int64) - np.repeat(starts, nl)
            lines = first[idx] + offs
            writes = kinds[idx]
            if self._mode == K.MODE_PYCACHESIM:  # only an access's first line counts at level 0
                writes = writes | ((offs != 0).astype(np.uint8) * np.uint8(K.W_UNCOUNTED))
        out = np.zeros(self._out_shape, dtype=np.int64)
        self._batch(self._mode, core, lines, writes, out, self._st)
        return out

    def _cg_run(self, core, first, nl, kinds) -> np.ndarray:
        out = np.zeros((3, len(self.levels) + 1, K.N_COUNTERS), dtype=np.int64)
        cg_access(self._chain[core], self._ichain[core], first, nl, kinds, out, self._st)
        self._cg_stats += out
        return out

    def cachegrind_counters(self) -> dict:
        """Cumulative cachegrind-style counters (Ir, I1mr, ILmr, Dr, D1mr, DLmr, Dw, D1mw,
        DLmw); ``L`` is the last level. Only in cachegrind mode."""
        if self.compat != "cachegrind":
            raise ValueError("cachegrind counters need compat='cachegrind'")
        r, w, i = self._cg_stats
        ll = len(self.levels) - 1
        return {"Ir": int(i[0, 0]), "I1mr": int(i[0, 3]), "ILmr": int(i[ll, 3]),
                "Dr": int(r[0, 0]), "D1mr": int(r[0, 3]), "DLmr": int(r[ll, 3]),
                "Dw": int(w[0, 1]), "D1mw": int(w[0, 3]), "DLmw": int(w[ll, 3])}

    # ------------------------------------------------------------------ state
    def snapshot(self) -> np.ndarray:
        """A copy of the whole state (contents, replacement state, counters)."""
        return self._st.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        """Return to a state taken by :meth:`snapshot` (of this hierarchy)."""
        self._st[:] = snapshot

    def state_key(self) -> list:
        """The state that decides every future count, in a canonical form: two hierarchies
        with equal keys give equal counts for any access sequence. Per set of an LRU or FIFO
        instance the lines (with their dirty bits) in replacement order, most recent first — so
        the same lines held in other ways, or stamps counted from another clock, compare
        equal; tree-PLRU and random instances (whose victims depend on way positions and the
        generator) as stored, with their generator state. Cumulative counters are left out."""
        st, lay = self._st, self._layout
        parts = []
        for c, (sets, ways, _mask, base, stride, pol, lmask) in enumerate(lay["rows"]):
            h = K.XH + c * K.HC
            parts.append(st[h + K.H_RNG:h + K.H_RNG + 1].copy())
            block = st[base:base + sets * stride].reshape(sets, stride)
            tags = block[:, 1:1 + ways]
            if pol in (K.POL_FIFO, K.POL_LRU_PERM):  # nibble k: the way at recency k
                order = (block[:, :1] >> (4 * np.arange(ways, dtype=np.int64))) & 15
            elif pol == K.POL_LRU_MAT:  # row j: the ways j is more recent than
                rows = (block[:, :1] >> (8 * np.arange(ways, dtype=np.int64))) & lmask
                rank = np.zeros(rows.shape, np.int64)
                for bit in range(ways):
                    rank += (rows >> bit) & 1
                order = np.argsort(-rank, axis=1, kind="stable")
            elif pol in (K.POL_LRU, K.POL_FIFO_STAMP):  # per-way stamps after the tags
                order = np.argsort(-block[:, 1 + ways:1 + 2 * ways], axis=1, kind="stable")
            else:
                parts.append(block.copy())
                continue
            parts.append(np.take_along_axis(tags, order, axis=1))
        return parts

    # ------------------------------------------------------------------ flush / stats
    def flush(self, core: int | None = None) -> np.ndarray:
        """Write back dirty lines (they stay cached, clean); returns the ``[L+1, 6]`` counts.

        ``core=None`` flushes every instance level by level, innermost first (write-backs land
        in the next level and are flushed in turn); ``core=k`` flushes only k's private levels.
        """
        out = np.zeros((len(self.levels) + 1, K.N_COUNTERS), dtype=np.int64)
        if self.compat == "cachegrind":
            return out  # cachegrind keeps no dirty state
        insts, lvls, owners = [], [], []
        for c in range(len(self._owner_level)):
            lv, owner = int(self._owner_level[c]), int(self._owner_core[c])
            if lv < 0 or (core is not None and owner != core):
                continue
            insts.append(c)
            lvls.append(lv)
            owners.append(owner if owner >= 0 else 0)
        if not insts:
            return out
        order = np.argsort(np.array(lvls, dtype=np.int64), kind="stable")
        K.flush_instances(self._mode, np.array(insts, dtype=np.int64)[order],
                          np.array(lvls, dtype=np.int64)[order],
                          np.array(owners, dtype=np.int64)[order], out, self._st)
        self._stats += out
        return out

    def stats(self) -> np.ndarray:
        """Cumulative ``[L+1, 6]`` counts since construction or :meth:`reset`."""
        return self._stats.copy()

    def stats_dicts(self) -> list[dict]:
        """Cumulative counts as ``[{"name", "loads", ...}]`` per level plus ``"memory"``."""
        rows = []
        for name, row in zip(self.names + ["memory"], self._stats):
            rows.append({"name": name, **{k: int(v) for k, v in zip(COUNTER_NAMES, row)}})
        return rows
