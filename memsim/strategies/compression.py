"""Compressed tensor sizes: how many bytes a tensor occupies in memory under a strategy.

``tensor_bytes_hook(strategies)`` returns ``None`` (plain dtype sizes) or a function
``tensor -> bytes`` used by the planner (addresses) and the mapping (lines touched), so a
smaller tensor is smaller in DRAM and in every cache.

Formats implemented here:
- ``none``: ``ceil(numel · dtype_bits / 8)``.
- ``quant``: ``bits`` per element, plus ``scale_bits`` per ``group`` elements when grouped
  (weight-only quantised kernels such as GPTQ/AWQ store one fp16 scale per group of 128:
  Frantar et al. 2022, Lin et al. 2023): ``ceil(numel · (bits + scale_bits/group) / 8)``.
"""

from __future__ import annotations

import math

from memsim.workloads.ir import dtype_bits

WEIGHT_KINDS = ("weight",)
ACTIVATION_KINDS = ("input", "activation", "output")


def compressed_bits_per_element(spec, dtype: str) -> float:
    """Average stored bits per element of a tensor of ``dtype`` under ``spec``."""
    fmt = getattr(spec, "format", "none") if spec is not None else "none"
    if fmt == "none":
        return float(dtype_bits(dtype))
    if fmt == "quant":
        bits = float(spec.bits)
        if getattr(spec, "group", None):
            bits += float(spec.scale_bits or 16) / float(spec.group)
        return bits
    if fmt == "ratio":
        return dtype_bits(dtype) / float(spec.ratio)
    raise NotImplementedError(f"compression format {fmt!r} is sized by memsim.strategies.formats")


def tensor_bytes_hook(strategies):
    """A ``tensor -> bytes`` function for the strategy, or None when nothing is compressed."""
    compression = getattr(strategies, "compression", None)
    if compression is None:
        return None
    weights = getattr(compression, "weights", None)
    activations = getattr(compression, "activations", None)
    if all(getattr(s, "format", "none") == "none" for s in (weights, activations)):
        return None

    def size(tensor) -> int:
        if tensor.kind in WEIGHT_KINDS:
            spec = weights
        elif tensor.kind in ACTIVATION_KINDS:
            spec = activations
        else:
            spec = None
        bits = compressed_bits_per_element(spec, tensor.dtype)
        return int(math.ceil(tensor.numel * bits / 8))

    return size
