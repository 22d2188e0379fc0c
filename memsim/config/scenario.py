"""Scenario models (DESIGN §3): hardware + streams + background traffic + strategies + seed."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from memsim.config.base import (DTYPES, Bytes, BytesPerSecond, ConfigModel, FieldError, Name,
                                NonNegInt, Picoseconds, PosInt,
                                base_dir_context_get, resolve_user_file,
                                validate_in_source_dir)
from memsim.config.hardware import RUNTIME_UNITS, RUNTIMES, UNIT_KINDS, Hardware, load_hardware
from memsim.config.loader import apply_overrides, load_yaml, require_kind, validate_data
from memsim.config.networks import ZOO_NETWORKS
from memsim.config.strategies import Strategies

#: frames one stream may ask for: beyond this a run takes days (frames are simulated one by
#: one, ~1-100 ms of wall time each on a laptop: docs/benchmarks.md) and tail latencies have
#: long converged; `memsim run` prints a time estimate for long runs below it
MAX_FRAMES = 1_000_000

#: suffixes that make a stream's ``network`` a file path rather than a zoo name
NETWORK_SUFFIXES = (".onnx", ".csv", ".yaml", ".yml")
_ZOO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class Stream(ConfigModel):
    """One inference stream: ``frames`` frames of ``network`` arriving every ``period_ps``.

    ``network`` is a zoo name or a path (resolved against the scenario file, made absolute).
    ``deadline_ps`` is per frame from arrival to completion; ``jitter_ps`` is a uniform arrival
    jitter (seeded). ``cores`` lists the cores the stream may use (None: all); ``threads: N``
    runs it on N threads, on cores 0..N-1 unless ``cores`` says which (then N = len(cores)).
    ``seq_len``,
    ``phase``, ``context`` and ``resolution`` are passed to zoo builders that take them.
    """

    network: Name
    batch: PosInt = 1
    dtype: Literal[DTYPES] = "int8"  # type: ignore[valid-type]
    frames: PosInt = 1
    period_ps: Picoseconds | None = Field(None, alias="period")
    jitter_ps: Picoseconds = Field(0, alias="jitter")
    deadline_ps: Picoseconds | None = Field(None, alias="deadline")
    cores: tuple[Annotated[int, Field(ge=0, strict=True)], ...] | None = Field(None, min_length=1)
    threads: PosInt | None = None
    seq_len: PosInt | None = None
    phase: Literal["prefill", "decode"] | None = None
    context: PosInt | None = None
    resolution: PosInt | tuple[PosInt, PosInt] | None = None

    @field_validator("network")
    @classmethod
    def _network(cls, value: str):
        looks_like_path = value.lower().endswith(NETWORK_SUFFIXES) or "/" in value or "\\" in value
        if not looks_like_path:
            if not _ZOO_NAME.match(value):
                raise ValueError("expected a zoo network name (letters, digits, _ . -) or a "
                                 f"path ending in {', '.join(NETWORK_SUFFIXES)} (got {value!r})")
            names = list(ZOO_NETWORKS)
            if value not in names:
                close = difflib.get_close_matches(value, names, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise ValueError(f"unknown network {value!r}; {hint}built-in: {', '.join(names)}; "
                                 f"or a path ending in {', '.join(NETWORK_SUFFIXES)}")
            return value
        return str(resolve_user_file(value, "network file"))

    @model_validator(mode="after")
    def _times(self):
        if self.frames > MAX_FRAMES:
            raise FieldError(("frames",), f"at most {MAX_FRAMES:,} frames per stream (got "
                                          f"{self.frames:,}); simulating that many would take "
                                          "days, and tail latencies converge far sooner")
        if self.period_ps is not None and self.period_ps <= 0:
            raise FieldError(("period",), "must be positive")
        if self.deadline_ps is not None and self.deadline_ps <= 0:
            raise FieldError(("deadline",), "must be positive")
        if self.jitter_ps and self.period_ps is None:
            raise FieldError(("jitter",), "jitter needs a period (frames arrive back to back "
                                          "without one)")
        if self.cores is not None and len(set(self.cores)) != len(self.cores):
            raise FieldError(("cores",), f"cores must not repeat (got {list(self.cores)})")
        if (self.threads is not None and self.cores is not None
                and self.threads != len(self.cores)):
            raise FieldError(("threads",), f"threads {self.threads} but {len(self.cores)} cores "
                                           f"listed in cores (give one, or make them agree)")
        if self.phase is not None and self.seq_len is None and self.context is None:
            raise FieldError(("phase",), "phase needs seq_len or context (a transformer stream)")
        return self


class Background(ConfigModel):
    """Another DRAM user (ISP, display): ``burst_bytes`` requests averaging ``bandwidth``.

    ``pattern: constant`` issues bursts at a fixed interval; ``poisson`` at exponential
    inter-arrival times with the same mean (seeded).
    """

    bandwidth_bytes_per_s: BytesPerSecond = Field(alias="bandwidth")
    burst_bytes: Bytes = Field(4096, alias="burst")
    pattern: Literal["constant", "poisson"] = "constant"

    @field_validator("burst_bytes")
    @classmethod
    def _positive(cls, value):
        if value <= 0:
            raise ValueError(f"must be positive (got {value} B)")
        return value


#: the engine's event granularities (docs/model.md, "Event granularity")
GRANULARITIES = ("auto", "per-tile")


class Engine(ConfigModel):
    """How the engine simulates, never what: ``granularity: auto`` (the default) lets it take
    coarser events where they are exact — a layer whose state repeats is extrapolated period by
    period with the cache kernel still seeing every line, a frame that starts from the state of
    the one before is replayed (docs/model.md, "Event granularity"); ``per-tile`` forces one
    event chain per tile (the reference the fast paths are tested against)."""

    granularity: Literal[GRANULARITIES] = "auto"  # type: ignore[valid-type]


class Scenario(ConfigModel):
    """A deployment to simulate.

    ``hardware`` is given in YAML as a path (relative to the scenario file) or an inline mapping;
    the attribute is always the validated ``Hardware`` and ``hardware_path`` the resolved file (None
    when inline). ``source_path`` is the scenario file. Both paths are provenance: not dumped and
    ignored by ``==``; the dump inlines the hardware so that it is self-contained.

    ``unit`` picks the board's execution unit (``cpu | gpu | npu``; None: the preset's top-level
    one): ``hardware`` is then the board seen from that unit (``Hardware.for_unit``).
    ``runtime`` names the software stack (docs/model.md "Runtime model"; None: the preset's
    ``runtime`` for that unit, else ``generic``). ``engine`` says how finely the engine
    simulates (``Engine``; results do not depend on it beyond float round-off, so it is left
    out of dumps and sweep point ids).
    """

    _provenance: ClassVar[frozenset[str]] = frozenset({"hardware_path", "source_path"})

    name: Name
    hardware: Hardware
    hardware_path: Path | None = Field(None, exclude=True)
    streams: tuple[Stream, ...] = Field(min_length=1)
    background: tuple[Background, ...] = ()
    strategies: Strategies = Strategies()
    runtime: Literal[RUNTIMES] | None = None  # type: ignore[valid-type]
    unit: Literal[UNIT_KINDS] | None = None  # type: ignore[valid-type]
    # how, not what: left out of dumps (resolved scenarios, sweep point ids), since results do
    # not depend on it
    engine: Engine = Field(Engine(), exclude=True)
    seed: NonNegInt = 0
    source_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="wrap")
    @classmethod
    def _with_base_dir(cls, data, handler):
        return validate_in_source_dir(data, handler)

    @model_validator(mode="before")
    @classmethod
    def _hardware_path(cls, data):
        if isinstance(data, dict) and isinstance(data.get("hardware"), str):
            path = Path(data["hardware"]).expanduser()
            if not path.is_absolute():
                path = base_dir_context_get() / path
            data = {**data, "hardware_path": path.resolve()}
        elif isinstance(data, dict) and getattr(data.get("hardware"), "_memsim_source", None):
            data = {**data, "hardware_path": data["hardware"]._memsim_source}
        return data

    @field_validator("hardware", mode="before")
    @classmethod
    def _load_hardware(cls, value):
        if isinstance(value, str):
            path = Path(value).expanduser()
            if not path.is_absolute():
                path = base_dir_context_get() / path
            path = path.resolve()
            if not path.is_file():
                raise ValueError(f"hardware file not found: {path} (got {value!r})")
            return load_hardware(path)
        return value

    def dram_capacity_bytes_per_s(self) -> float:
        """The DRAM's bandwidth less the share refresh blocks it (``blocked / interval``)."""
        dram = self.hardware.memory.dram
        capacity = float(dram.bandwidth_bytes_per_s)
        refresh = getattr(dram, "refresh", None)
        if refresh is not None:
            capacity *= 1 - refresh.blocked_ps / refresh.interval_ps
        return capacity

    @model_validator(mode="after")
    def _offered_load(self):
        # Background users are open-loop (they issue at their rate whatever the queue): at or
        # above the DRAM's bandwidth, less refresh time, their queue grows without bound and no
        # frame would ever finish. The network itself is closed-loop and cannot overload it.
        dram = self.hardware.memory.dram
        capacity = self.dram_capacity_bytes_per_s()
        refresh = getattr(dram, "refresh", None)
        offered = 0.0
        for i, bg in enumerate(self.background):
            offered += float(bg.bandwidth_bytes_per_s)
            if offered >= capacity:
                raise FieldError(("background", i, "bandwidth"),
                                 f"background traffic saturates DRAM: {offered / 1e9:.4g} GB/s "
                                 f"offered in all, {dram.name} serves {capacity / 1e9:.4g} GB/s"
                                 + (" after refresh" if refresh is not None else "")
                                 + "; the network would never get a transfer through")
        return self

    @model_validator(mode="after")
    def _unit_runtime(self):
        if self.unit is not None:
            try:
                hw = self.hardware.for_unit(self.unit)
            except KeyError as exc:
                raise FieldError(("unit",), exc.args[0]) from None
            object.__setattr__(self, "hardware", hw)  # validated parts; frozen afterwards
        if self.hardware.dram_sustained_bytes_per_s is not None:
            # the unit runs at the DRAM bandwidth its cores sustain (Hardware.dram_sustained)
            object.__setattr__(self, "hardware", self.hardware.sustained_view())
        kind = self.hardware.unit_kind
        if self.runtime is not None and kind not in RUNTIME_UNITS[self.runtime]:
            raise FieldError(("runtime",), f"runtime {self.runtime!r} does not run on a {kind} "
                                           f"(it runs on: {', '.join(RUNTIME_UNITS[self.runtime])}"
                                           f"); choose another runtime or unit")
        return self

    @model_validator(mode="after")
    def _cores(self):
        n = self.hardware.compute.cores
        streams = list(self.streams)
        for i, stream in enumerate(self.streams):
            if stream.threads is not None and stream.threads > n:
                raise FieldError(("streams", i, "threads"),
                                 f"{stream.threads} threads but {self.hardware.name} has {n} "
                                 f"cores")
            if stream.threads is not None and stream.cores is None:
                streams[i] = stream.model_copy(update={"cores": tuple(range(stream.threads))})
            for core in stream.cores or ():
                if core >= n:
                    raise FieldError(("streams", i, "cores"),
                                     f"core {core} does not exist: {self.hardware.name} has {n} "
                                     f"cores (0..{n - 1}) (got {list(stream.cores)})")
        object.__setattr__(self, "streams", tuple(streams))
        return self


def load_scenario(path, overrides=None):
    """Load a scenario YAML (hardware path relative to it) → ``Scenario``.

    ``overrides``: ``["dotted.path=value", ...]`` or ``{dotted.path: value}`` applied to the raw
    data before validation (see ``apply_overrides``).
    """
    path = Path(path)
    data = load_yaml(path)
    require_kind(data, path, "scenario")
    if overrides:
        data = apply_overrides(data, overrides, base_dir=path.resolve().parent, path=path)
    return validate_data(Scenario, data, path, source_path=path.resolve())
