"""Hardware description models (DESIGN §3, docs/architecture.md "memsim.config").

YAML keys follow DESIGN §3; attributes carry their unit (``size`` → ``size_bytes``). ``cycles``
latencies and ``B/cycle`` bandwidths are resolved against ``compute.clock``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_serializer, field_validator, model_validator

from memsim import units
from memsim.config.base import (DTYPES, Bytes, BytesPerSecond, ConfigModel, FieldError, Hertz,
                                Name, NonNegInt, Picojoules, PicojoulesPerByte, Picoseconds,
                                PosInt, StrictBool, _Unitless, clock_context, current_clock, peek_clock)
from memsim.config.loader import load_yaml, validate_data
from memsim.errors import InfeasibleError


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class Systolic(ConfigModel):
    """A systolic PE array: ``rows`` × ``cols`` MAC units with a dataflow (SCALE-Sim's os/ws/is)."""

    rows: PosInt
    cols: PosInt
    dataflow: Literal["os", "ws", "is"] = "os"


def _parse_cycles(value):
    """``loop_overhead``: ``N cycles`` (or a time, converted with the clock) → whole cycles."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number of cycles such as '2 cycles' (got {value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        cycles = units.parse_time_cycles(value)
        if cycles is None:
            clock = current_clock()
            ps = units.parse_time(value)
            if clock is None:
                raise ValueError(f"a time needs compute.clock to become cycles (got {value!r})")
            cycles = ps * clock / units.PS_PER_S
        if cycles != int(cycles):
            raise ValueError(f"expected a whole number of cycles (got {value!r})")
        return int(cycles)
    raise ValueError(f"expected a number of cycles such as '2 cycles' (got {value!r})")


class Compute(ConfigModel):
    """The compute units: ``cores`` identical cores at ``clock_hz``.

    ``macs_per_cycle`` is the peak per core per dtype; for ``kind: systolic`` a "core" is one PE
    array (``systolic``: rows × cols). ``loop_overhead_cycles`` is paid per innermost-loop iteration
    (divided by the temporal unroll); ``registers`` × ``register_bytes`` is the register file used
    for spill modelling; ``sparse`` says the hardware skips zero operands (2:4 on Ampere/Orin).
    """

    cores: PosInt
    clock_hz: Hertz = Field(alias="clock")
    kind: Literal["simd", "systolic"] = "simd"
    macs_per_cycle: dict[str, PosInt]
    systolic: Systolic | None = None
    loop_overhead_cycles: NonNegInt = Field(0, alias="loop_overhead")
    registers: PosInt | None = None
    register_bytes: Bytes | None = Field(None, alias="register_width")
    sparse: StrictBool = False

    @model_validator(mode="wrap")
    @classmethod
    def _with_clock(cls, data, handler):
        with clock_context(peek_clock(data) or current_clock()):
            return handler(data)

    @field_validator("loop_overhead_cycles", mode="before")
    @classmethod
    def _overhead(cls, value):
        if isinstance(value, _Unitless):
            raise ValueError(f"missing unit; expected a number of cycles such as '2 cycles' "
                             f"(got {value.value!r})")
        return _parse_cycles(value)

    @field_serializer("loop_overhead_cycles")
    def _render_overhead(self, value, info):
        return f"{value} cycles" if info.by_alias else value

    @field_validator("macs_per_cycle")
    @classmethod
    def _dtypes(cls, value: dict[str, int]):
        if not value:
            raise ValueError("needs at least one dtype, e.g. {int8: 32, fp32: 8}")
        for key in value:
            if key not in DTYPES:
                raise FieldError((key,), f"unknown dtype {key!r} (known: {', '.join(DTYPES)})")
        return value

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == "systolic" and self.systolic is None:
            raise FieldError(("systolic",), "kind: systolic needs systolic: {rows, cols, dataflow}")
        if self.kind != "systolic" and self.systolic is not None:
            raise FieldError(("systolic",), "systolic fields are only allowed with kind: systolic "
                                            f"(got kind: {self.kind})")
        return self

    def peak_macs_per_s(self, dtype: str) -> float:
        """Peak MAC/s of all cores together for ``dtype``; raises InfeasibleError if not supported."""
        if dtype not in self.macs_per_cycle:
            raise InfeasibleError(f"no MAC rate for dtype {dtype!r} (has "
                                  f"{', '.join(sorted(self.macs_per_cycle))})",
                                  field="compute.macs_per_cycle")
        return float(self.macs_per_cycle[dtype]) * self.cores * self.clock_hz


class Level(ConfigModel):
    """One on-chip memory level: a set-associative ``cache`` or a software-managed ``scratchpad``.

    ``bandwidth_bytes_per_s`` is per port (per core for ``scope: core``); ``latency_ps`` is the
    load-to-use latency; ``mshrs`` bounds outstanding misses (None: unbounded).
    """

    name: Name
    kind: Literal["cache", "scratchpad"]
    size_bytes: Bytes = Field(alias="size")
    line_bytes: Bytes | None = Field(None, alias="line")
    ways: PosInt | None = None
    policy: Literal["lru", "fifo", "random", "plru"] | None = None
    latency_ps: Picoseconds = Field(alias="latency")
    bandwidth_bytes_per_s: BytesPerSecond = Field(alias="bandwidth")
    scope: Literal["core", "shared"] = "core"
    mshrs: PosInt | None = None

    @model_validator(mode="before")
    @classmethod
    def _cache_defaults(cls, data):
        if isinstance(data, dict) and data.get("kind") == "cache" and data.get("policy") is None:
            data = {**data, "policy": "lru"}
        return data

    @model_validator(mode="after")
    def _geometry(self):
        if self.size_bytes <= 0:
            raise FieldError(("size",), f"must be positive (got {units.format_size(0)})")
        if self.kind == "scratchpad":
            for key, value in (("line", self.line_bytes), ("ways", self.ways),
                               ("policy", self.policy)):
                if value is not None:
                    raise FieldError((key,), f"only caches have '{key}' (this level is a "
                                             "scratchpad)")
            return self
        if self.line_bytes is None:
            raise FieldError(("line",), "a cache needs a line size, e.g. line: 64 B")
        if self.ways is None:
            raise FieldError(("ways",), "a cache needs ways (associativity), e.g. ways: 8")
        if not _is_pow2(self.line_bytes):
            raise FieldError(("line",), "line size must be a power of two "
                                        f"(got {units.format_size(self.line_bytes)})")
        lines, rest = divmod(self.size_bytes, self.line_bytes)
        if rest or lines == 0:
            raise FieldError(("size",), f"size must be a whole number of {self.line_bytes} B lines "
                                        f"(got {units.format_size(self.size_bytes)})")
        if self.ways > lines:
            raise FieldError(("ways",), f"more ways than lines ({lines}) (got {self.ways})")
        sets, rest = divmod(lines, self.ways)
        if rest or not _is_pow2(sets):
            raise FieldError(("ways",), "size / (line * ways) must be a power-of-two number of "
                                        f"sets (got {lines}/{self.ways} = {lines / self.ways:g})")
        return self

    @property
    def sets(self) -> int:
        """Number of sets, ``size / (line · ways)`` (1 for a scratchpad)."""
        if self.kind != "cache":
            return 1
        return self.size_bytes // (self.line_bytes * self.ways)


class Refresh(ConfigModel):
    """DRAM refresh: every ``interval_ps`` a channel is blocked for ``blocked_ps`` (tREFI/tRFC)."""

    interval_ps: Picoseconds = Field(alias="interval")
    blocked_ps: Picoseconds = Field(alias="blocked")

    @model_validator(mode="after")
    def _order(self):
        if self.interval_ps <= 0:
            raise FieldError(("interval",), "must be positive")
        if self.blocked_ps >= self.interval_ps:
            raise FieldError(("blocked",), "must be shorter than the refresh interval (got "
                                           f"{units.format_time(self.blocked_ps)})")
        return self


class Dram(ConfigModel):
    """Off-chip memory (or flash on an MCU): bandwidth of all channels together, latency, size.

    ``writable: false`` marks a read-only backing store (MCU flash): weights may live there, but
    activations must fit the on-chip memories.
    """

    name: Name = "dram"
    bandwidth_bytes_per_s: BytesPerSecond = Field(alias="bandwidth")
    latency_ps: Picoseconds = Field(alias="latency")
    channels: PosInt = 1
    size_bytes: Bytes | None = Field(None, alias="size")
    refresh: Refresh | None = None
    writable: StrictBool = True


class Memory(ConfigModel):
    """The hierarchy: ``levels`` innermost first, then ``dram``."""

    levels: tuple[Level, ...] = Field(min_length=1)
    dram: Dram

    @model_validator(mode="after")
    def _order(self):
        seen: set[str] = set()
        line = None
        for i, level in enumerate(self.levels):
            if level.name in seen or level.name.lower() == "dram":
                raise FieldError(("levels", i, "name"), f"level names must be unique and not 'dram' "
                                              f"(got {level.name!r})")
            seen.add(level.name)
            if level.kind == "cache":
                if line is not None and level.line_bytes != line:
                    raise FieldError(("levels", i, "line"), "all cache levels need the same line size "
                                                  f"({line} B) (got {level.line_bytes} B)")
                line = level.line_bytes
            if i and level.size_bytes < self.levels[i - 1].size_bytes:
                prev = self.levels[i - 1]
                raise FieldError(("levels", i, "size"), "levels go innermost first and must not shrink: "
                                              f"{level.name} is smaller than {prev.name} "
                                              f"({units.format_size(prev.size_bytes)}) "
                                              f"(got {units.format_size(level.size_bytes)})")
        return self

    def level(self, name: str) -> Level:
        """The level called ``name`` (KeyError if none)."""
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)

    def cache_levels(self) -> tuple[Level, ...]:
        """The ``kind: cache`` levels, innermost first."""
        return tuple(level for level in self.levels if level.kind == "cache")

    @property
    def line_bytes(self) -> int:
        """The common cache line size (64 B when there is no cache)."""
        caches = self.cache_levels()
        return caches[0].line_bytes if caches else 64


class Energy(ConfigModel):
    """Energy per MAC per dtype (pJ) and per byte moved at each level or ``dram`` (pJ/B)."""

    mac_pj: dict[str, Picojoules] = Field(default_factory=dict, alias="mac")
    access_pj_per_byte: dict[str, PicojoulesPerByte] = Field(default_factory=dict, alias="access")
    static_w: float | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _dict_units(cls, data):
        """Bare numbers inside the YAML ``mac``/``access`` mappings are missing units."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key in ("mac", "access"):
            value = out.get(key)
            if isinstance(value, _Unitless):
                out[key] = value.value  # not a mapping: pydantic reports the type
            elif isinstance(value, dict):
                out[key] = {k: _Unitless(v) if isinstance(v, (int, float))
                            and not isinstance(v, bool) else v for k, v in value.items()}
        return out

    @field_validator("mac_pj")
    @classmethod
    def _mac_dtypes(cls, value):
        for key in value:
            if key not in DTYPES:
                raise FieldError((key,), f"unknown dtype {key!r} (known: {', '.join(DTYPES)})")
        return value


#: cache lines the simulator holds state for, all levels and per-core copies together
MAX_SIMULATED_LINES = 1 << 26


#: Runtime names a scenario or preset may give (memsim.runtime.profiles.PROFILES; a test keeps
#: the two equal: config is a foundation stage and does not import the runtime stage).
RUNTIMES = ("generic", "ncnn", "xnnpack", "tflite-micro", "tensorrt", "edgetpu", "rknn")
#: Execution-unit kinds of a board.
UNIT_KINDS = ("cpu", "gpu", "npu")
#: The units each runtime runs on (memsim.runtime.profiles.PROFILES; kept equal by a test).
RUNTIME_UNITS = {"generic": UNIT_KINDS, "ncnn": ("cpu", "gpu"), "xnnpack": ("cpu",),
                 "tflite-micro": ("cpu",), "tensorrt": ("gpu",), "edgetpu": ("npu",),
                 "rknn": ("npu",)}
#: Calibrated runtime parameters ``memsim calibrate`` may write.
CALIBRATION_PARAMS = ("op_overhead_s", "barrier_s", "allcore_clock_fraction",
                      "efficiency_gemm", "efficiency_winograd",
                      "efficiency_direct", "efficiency_depthwise", "efficiency_elementwise")


class _ClockScoped(ConfigModel):
    """A model with a ``compute`` block: its clock is in force while the rest validates, so
    quantities in cycles (latencies, ``B/cycle``) convert with this unit's own clock."""

    @model_validator(mode="wrap")
    @classmethod
    def _with_clock(cls, data, handler):
        clock = peek_clock(data.get("compute")) if isinstance(data, dict) else None
        with clock_context(clock):
            return handler(data)


class Unit(_ClockScoped):
    """Another execution unit of the board (e.g. a Jetson's CPU cluster beside its GPU).

    It has its own ``compute`` and on-chip ``levels`` and shares the board's ``memory.dram``;
    ``runtime`` is the runtime assumed on it, ``name`` how reports call it, ``energy`` its own
    figures (None: unknown, never the other unit's), ``dram_sustained`` the DRAM bandwidth this
    unit sustains (see ``Hardware``).
    """

    name: Name | None = None
    runtime: Literal[RUNTIMES] | None = None  # type: ignore[valid-type]
    compute: Compute
    levels: tuple[Level, ...] = Field(min_length=1)
    energy: Energy | None = None
    dram_sustained_bytes_per_s: BytesPerSecond | None = Field(None, alias="dram_sustained")


class Calibration(ConfigModel):
    """Runtime parameters fitted to measurements by ``memsim calibrate`` (docs/model.md).

    ``params`` override the ``runtime``'s profile on ``unit`` (keys: ``CALIBRATION_PARAMS``);
    ``rows`` is how many measurements were fitted, ``loo_median_error`` the leave-one-out
    median error factor, ``dram_fraction`` the sustained share of the DRAM bandwidth the fit
    found (already applied to ``memory.dram.bandwidth``; informational).
    """

    runtime: Literal[RUNTIMES]  # type: ignore[valid-type]
    unit: Literal[UNIT_KINDS]  # type: ignore[valid-type]
    params: dict[str, float] = Field(default_factory=dict)
    rows: PosInt
    loo_median_error: float | None = Field(None, ge=1.0, allow_inf_nan=False)
    dram_fraction: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    source: str | None = None

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict):
        for key, v in value.items():
            if key not in CALIBRATION_PARAMS:
                raise FieldError((key,), f"unknown calibrated parameter {key!r} (known: "
                                         f"{', '.join(CALIBRATION_PARAMS)})")
            if not v > 0 and not (key.endswith("_s") and v == 0):
                raise FieldError((key,), f"must be positive (got {v})")
        return value


def _bandwidth_text(bps: float | None) -> str | None:
    """A validated bandwidth back as YAML text (unit fields take quantities with units)."""
    return None if bps is None else f"{bps!r} B/s"


class Hardware(_ClockScoped):
    """A complete hardware description (one preset file).

    ``dram_sustained``: the DRAM bandwidth the top-level unit's cores sustain together, from a
    board microbenchmark (STREAM-class; a board fact, cited in the preset), below the
    interface's peak ``memory.dram.bandwidth`` (controller efficiency, the unit's fabric port).
    A scenario simulates the unit it runs on at this bandwidth (``sustained_view``); None: the
    peak.
    """

    name: Name
    price_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    tdp_w: float | None = Field(None, gt=0, allow_inf_nan=False)
    compute: Compute
    memory: Memory
    energy: Energy | None = None
    unit: Literal[UNIT_KINDS] | None = None  # type: ignore[valid-type]
    runtime: Literal[RUNTIMES] | None = None  # type: ignore[valid-type]
    units: dict[Literal[UNIT_KINDS], Unit] = Field(default_factory=dict)  # type: ignore[valid-type]
    calibration: Calibration | None = None
    dram_sustained_bytes_per_s: BytesPerSecond | None = Field(None, alias="dram_sustained")

    @model_validator(mode="after")
    def _units(self):
        if self.unit_kind in self.units:
            raise FieldError(("units", self.unit_kind),
                             f"the top-level compute already is the {self.unit_kind} unit")
        for kind, u in self.units.items():
            try:
                Memory(levels=u.levels, dram=self.memory.dram)
            except ValueError as exc:
                raise FieldError(("units", kind, "levels"), str(exc)) from None
        return self

    @property
    def unit_kind(self) -> str:
        """The kind of the top-level unit: ``unit``, else npu for a systolic array, gpu for
        wide SIMD (more than 64 lanes per core: an SM), else cpu."""
        if self.unit is not None:
            return self.unit
        if self.compute.kind == "systolic":
            return "npu"
        return "gpu" if max(self.compute.macs_per_cycle.values(), default=0) > 64 else "cpu"

    def unit_kinds(self) -> tuple[str, ...]:
        """Every unit kind of the board, the top-level one first."""
        return (self.unit_kind, *self.units)

    def for_unit(self, kind: str) -> "Hardware":
        """The board seen from unit ``kind``: its compute and levels at the top level, the
        former top-level unit moved into ``units`` (so the swap round-trips); ``KeyError`` when
        the board has no such unit."""
        if kind == self.unit_kind:
            return self
        if kind not in self.units:
            raise KeyError(f"{self.name} has no {kind} unit (units: "
                           f"{', '.join(self.unit_kinds())})")
        u = self.units[kind]
        others = {k: v for k, v in self.units.items() if k != kind}
        others[self.unit_kind] = Unit(name=self.name, runtime=self.runtime, compute=self.compute,
                                      levels=self.memory.levels, energy=self.energy,
                                      dram_sustained=_bandwidth_text(self.dram_sustained_bytes_per_s))
        memory = self.memory.model_copy(update={"levels": u.levels})
        return self.model_copy(update={"name": u.name or f"{self.name} ({kind})",
                                       "compute": u.compute, "memory": memory,
                                       "energy": u.energy, "unit": kind, "runtime": u.runtime,
                                       "units": others,
                                       "dram_sustained_bytes_per_s": u.dram_sustained_bytes_per_s})

    def sustained_view(self) -> "Hardware":
        """The board with its DRAM at the top-level unit's sustained bandwidth
        (``dram_sustained``, never above the peak); itself when none is given."""
        bw = self.dram_sustained_bytes_per_s
        dram = self.memory.dram
        if bw is None or bw >= dram.bandwidth_bytes_per_s:
            return self
        memory = self.memory.model_copy(update={"dram": dram.model_copy(
            update={"bandwidth_bytes_per_s": bw})})
        return self.model_copy(update={"memory": memory})

    @model_validator(mode="after")
    def _energy_keys(self):
        if self.energy is not None:
            names = {level.name for level in self.memory.levels} | {"dram"}
            for key in self.energy.access_pj_per_byte:
                if key not in names:
                    raise FieldError(("energy", "access", key),
                                     f"no level named {key!r} (levels: {', '.join(sorted(names))})")
        return self

    @model_validator(mode="after")
    def _simulatable(self):
        # The cache model keeps ~3 int64 words per simulated line (tag, recency, index:
        # memsim.cache.hierarchy), one copy per core for scope: core; this cap keeps that state
        # under ~1.5 GiB so a typo (1 TiB L3) is a located error, not a MemoryError mid-run.
        total = 0
        for i, level in enumerate(self.memory.levels):
            if level.kind != "cache":
                continue
            copies = self.compute.cores if level.scope == "core" else 1
            total += level.size_bytes // level.line_bytes * copies
            if total > MAX_SIMULATED_LINES:
                raise FieldError(("memory", "levels", i, "size"),
                                 f"too large to simulate: the caches would hold {total:,} lines "
                                 f"in all (limit {MAX_SIMULATED_LINES:,}, e.g. "
                                 f"{units.format_size(MAX_SIMULATED_LINES * 64)} of 64 B lines) "
                                 f"(got {units.format_size(level.size_bytes)}"
                                 + (f" × {copies} cores)" if copies > 1 else ")"))
        return self

    def peak_macs_per_s(self, dtype: str) -> float:
        """Peak MAC/s of all cores for ``dtype`` (``macs_per_cycle[dtype] · cores · clock``)."""
        return self.compute.peak_macs_per_s(dtype)


def load_hardware(path):
    """Load and validate a hardware YAML file → ``Hardware``."""
    return validate_data(Hardware, load_yaml(path), path)
