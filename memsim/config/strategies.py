"""The ``strategies`` block of a scenario (DESIGN §3/§4, issue 8): compression, reuse, unrolling,
prefetch and cache options. These models only describe the choice; memsim.strategies models it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from memsim.config.base import (Bytes, ConfigModel, FieldError, NonNegInt, PosInt, StrictBool,
                                resolve_user_file)

Fraction01 = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

#: which fields each compression format accepts (besides ``format`` and ``at``)
_FORMAT_FIELDS = {
    "none": set(),
    "quant": {"bits", "group", "scale_bits"},
    "sparse": {"density", "encoding", "n", "m", "bits"},
    "ratio": {"ratio"},
    "measured": {"codec", "block_bytes", "source"},
}
_DECOMPRESS = {"decompress_bytes_per_cycle", "decompress_cycles_per_element"}


class CompressionSpec(ConfigModel):
    """How one tensor class (weights or activations) is stored.

    - ``none``: plain dtype.
    - ``quant``: ``bits`` (1–16) per element, plus ``scale_bits`` per ``group`` elements when
      grouped (weight-only quantisation with group scales).
    - ``sparse``: ``density`` (fraction of nonzeros) with ``encoding`` bitmask | csr | rle | nm
      (``nm`` = N:M structured, e.g. n: 2, m: 4; density defaults to n/m); ``bits`` optionally
      quantises the nonzero values.
    - ``ratio``: a fixed compression factor ``ratio`` = original / compressed (≥ 1).
    - ``measured``: a real lossless ``codec`` (zlib | zstd | lz4) over the tensors in ``source``
      (``.onnx``/``.npy``/``.npz``; a path relative to the scenario), block by block
      (``block_bytes``, default 4 KiB).

    ``at: dram`` puts a decompressor between DRAM and the last cache level (caches hold plain
    lines; throughput ``decompress_bytes_per_cycle``); ``at: core`` keeps data compressed through
    the whole hierarchy and expands it in registers (``decompress_cycles_per_element``).
    Default ``at``: ``core`` for quant/sparse, ``dram`` for ratio/measured. A decompression cost
    left at None is chosen (and documented) by memsim.strategies.
    """

    format: Literal["none", "quant", "sparse", "ratio", "measured"] = "none"
    bits: Annotated[int, Field(ge=1, le=16, strict=True)] | None = None
    group: PosInt | None = None
    scale_bits: Annotated[int, Field(ge=1, le=32, strict=True)] | None = None
    density: Fraction01 | None = None
    encoding: Literal["bitmask", "csr", "rle", "nm"] | None = None
    n: PosInt | None = None
    m: PosInt | None = None
    ratio: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    codec: Literal["zlib", "zstd", "lz4"] | None = None
    block_bytes: Bytes | None = Field(None, alias="block")
    source: str | None = None
    at: Literal["dram", "core"] | None = None
    decompress_bytes_per_cycle: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    decompress_cycles_per_element: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data):
        if not isinstance(data, dict):
            return data
        fmt = data.get("format", "none")
        extra = {}
        if data.get("at") is None and fmt != "none":
            extra["at"] = "dram" if fmt in ("ratio", "measured") else "core"
        if fmt == "sparse" and data.get("encoding") is None:
            extra["encoding"] = "bitmask"
        if fmt == "measured" and data.get("block") is None and data.get("block_bytes") is None:
            extra["block_bytes"] = 4096
        return {**data, **extra} if extra else data

    @field_validator("source")
    @classmethod
    def _source(cls, value):
        if value is None:
            return value
        path = resolve_user_file(value)
        if path.suffix not in (".onnx", ".npy", ".npz"):
            raise ValueError(f"expected an .onnx, .npy or .npz file (got {value!r})")
        return str(path)

    @model_validator(mode="after")
    def _consistent(self):
        fmt = self.format
        allowed = _FORMAT_FIELDS[fmt] | (_DECOMPRESS if fmt != "none" else set())
        for name in (*_FORMAT_FIELDS["quant"], *_FORMAT_FIELDS["sparse"], "ratio", "codec",
                     "block_bytes", "source", *_DECOMPRESS):
            if getattr(self, name) is not None and name not in allowed:
                alias = type(self).model_fields[name].alias or name
                raise FieldError((alias,), f"not used by format: {fmt} (fields for {fmt}: "
                                           f"{', '.join(sorted(allowed)) or 'none'})")
        if fmt == "none" and self.at is not None:
            raise FieldError(("at",), "format: none has nothing to decompress")
        if fmt == "quant":
            if self.bits is None:
                raise FieldError(("bits",), "format: quant needs bits (1-16)")
            if (self.group is None) != (self.scale_bits is None):
                raise FieldError(("group" if self.group is None else "scale_bits",),
                                 "group scales need both group and scale_bits")
        if fmt == "sparse":
            if self.encoding == "nm":
                if self.n is None or self.m is None:
                    raise FieldError(("n" if self.n is None else "m",),
                                     "encoding: nm needs n and m (e.g. n: 2, m: 4)")
                if self.n > self.m:
                    raise FieldError(("n",), f"n must not exceed m ({self.m}) (got {self.n})")
                if self.density is not None and abs(self.density - self.n / self.m) > 1e-12:
                    raise FieldError(("density",), f"with encoding: nm the density is n/m = "
                                                   f"{self.n / self.m:g} (got {self.density})")
            else:
                if self.n is not None or self.m is not None:
                    raise FieldError(("n" if self.n is not None else "m",),
                                     "n and m are only used by encoding: nm")
                if self.density is None:
                    raise FieldError(("density",), "format: sparse needs density (0 < d <= 1)")
        if fmt == "ratio" and self.ratio is None:
            raise FieldError(("ratio",), "format: ratio needs ratio (original / compressed >= 1)")
        if fmt == "measured":
            if self.codec is None:
                raise FieldError(("codec",), "format: measured needs codec (zlib, zstd or lz4)")
            if self.source is None:
                raise FieldError(("source",), "format: measured needs source (.onnx/.npy/.npz)")
            if self.block_bytes is not None and self.block_bytes <= 0:
                raise FieldError(("block",), "must be positive")
        if self.at == "dram" and self.decompress_cycles_per_element is not None:
            raise FieldError(("decompress_cycles_per_element",),
                             "at: dram uses decompress_bytes_per_cycle (a decompressor's "
                             "throughput)")
        if self.at == "core" and self.decompress_bytes_per_cycle is not None:
            raise FieldError(("decompress_bytes_per_cycle",),
                             "at: core uses decompress_cycles_per_element")
        return self

    @property
    def effective_density(self) -> float | None:
        """Density of nonzeros for sparse formats (n/m for N:M), else None."""
        if self.format != "sparse":
            return None
        if self.encoding == "nm" and self.density is None:
            return self.n / self.m
        return self.density


class Compression(ConfigModel):
    """Compression per tensor class."""

    weights: CompressionSpec = CompressionSpec()
    activations: CompressionSpec = CompressionSpec()


class Reuse(ConfigModel):
    """Buffer reuse: the activation planner, layer fusion, alignment, dataflow and in-place ops."""

    planner: Literal["none", "greedy-by-size", "greedy-by-breadth", "best"] = "greedy-by-size"
    fusion: StrictBool = False
    alignment_bytes: Bytes = Field(64, alias="alignment")
    dataflow: Literal["auto", "ws", "os", "is"] = "auto"
    inplace: StrictBool = True
    #: which activations spill to DRAM when the arena exceeds a writable-backed scratchpad
    #: (planning.spill): the least extra traffic, or the largest tensors first
    spill: Literal["least-traffic", "largest-first"] = "least-traffic"
    #: when the activations exceed the backing level (a scratchpad, or the SRAM in front of
    #: read-only flash), also consider splitting layers into row bands (planning.split) and run
    #: the option (spill, split, split + spill) of least estimated extra time: auto; off: spill
    #: only (with a read-only backing store the arena must then fit as it is)
    split: Literal["auto", "off"] = "auto"

    @field_validator("alignment_bytes")
    @classmethod
    def _pow2(cls, value):
        if value <= 0 or value & (value - 1):
            raise ValueError(f"alignment must be a power of two (got {value} B)")
        return value


class Unroll(ConfigModel):
    """Loop unrolling: ``spatial`` factors per loop dim (or ``auto``), ``temporal`` factor U.

    ``temporal`` unset (None) keeps the hardware's own latency hiding (its MSHRs, out-of-order
    execution, prefetchers) and the loop overhead of a non-unrolled loop; an explicit U divides
    the loop overhead by U and caps memory-level parallelism at loads per iteration × U.
    ``spatial`` unset: SIMD lanes over the output-channel loop for units up to 64 lanes (CPU
    vector widths), ``auto`` for wider ones (GPU SMs).
    """

    spatial: dict[str, PosInt] | Literal["auto"] | None = None
    temporal: PosInt | None = None

    @field_validator("spatial", mode="before")
    @classmethod
    def _spatial(cls, value):
        if value is not None and not isinstance(value, dict) and value != "auto":
            raise ValueError("expected 'auto' or loop dims to factors such as {K: 16, C: 4} "
                             f"(got {value!r})")
        return value


class Prefetch(ConfigModel):
    """Tiles in flight ahead of compute (0: none; 1: double buffering)."""

    depth: NonNegInt = 1


class CacheOpts(ConfigModel):
    """Cache options: non-temporal output stores that bypass write-allocate."""

    streaming_stores: StrictBool = False


class Strategies(ConfigModel):
    """All memory strategies of a scenario; every part has defaults."""

    compression: Compression = Compression()
    reuse: Reuse = Reuse()
    unroll: Unroll = Unroll()
    prefetch: Prefetch = Prefetch()
    cache: CacheOpts = CacheOpts()
