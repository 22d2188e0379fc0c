"""Compressed tensors in the memory hierarchy: which tensors, how big, where they expand.

Tensor classes (``strategies.compression``): ``weights`` are learned tensors of ≥ 2 dims (biases
and norm scales — 1-D — stay in their dtype, as weight-only quantised kernels keep them);
``activations`` are inputs, intermediate activations, outputs and persistent states (KV cache).

Where the compressed form lives (``at``):

- ``core``: compressed through the whole hierarchy. ``tensor_bytes_hook`` returns the stored
  size, so the planner's addresses and the mapping's lines shrink: fewer bytes in DRAM *and*
  in every cache. The core expands values in registers at ``decompress_cycles_per_element``
  (:func:`decompress_cycles_per_element`), extra compute cycles per tile.
- ``dram``: a decompressor sits between DRAM and the last cache level; caches hold plain lines.
  ``tensor_bytes_hook`` returns the plain size; the tile stream tags the tensor's lines with
  ``dram_ratio = stored / plain`` (:func:`dram_ratio`) so the engine moves fewer DRAM bytes, and
  with the decompressor's throughput (:func:`decompressor_bytes_per_cycle`), a shared stage the
  plain bytes pass through.

Sizes: :mod:`memsim.strategies.formats` (formulas and sources) and
:mod:`memsim.strategies.measured` (real codecs).
"""

from __future__ import annotations

import math

from memsim.strategies.formats import compressed_bytes
from memsim.strategies.measured import ratio_for
from memsim.workloads.ir import dtype_bits

WEIGHT_KINDS = ("weight",)
ACTIVATION_KINDS = ("input", "activation", "output", "state")

#: Default expansion cost at the core when ``decompress_cycles_per_element`` is not given: one
#: vector unpack/convert instruction per register of ``lanes`` elements, i.e. ``1/lanes`` cycles
#: per element (assumption: e.g. an int4→int8 unpack is one shift+mask pair per 16-byte NEON
#: register issued on an otherwise idle port; llama.cpp's Q4 kernels do this in the dot loop).
#: Sparse formats on hardware with ``compute.sparse`` decode metadata in the datapath (Ampere
#: sparse tensor cores): 0 extra cycles.


def spec_for(strategies, tensor):
    """The ``CompressionSpec`` that applies to ``tensor`` (None when it stays plain);
    ``strategies`` a ``memsim.config.Strategies`` or None (nothing compressed)."""
    if strategies is None or tensor is None:
        return None
    comp = strategies.compression
    if tensor.kind in WEIGHT_KINDS:
        if len(tensor.shape) < 2:
            return None
        spec = comp.weights
    elif tensor.kind in ACTIVATION_KINDS:
        spec = comp.activations
    else:
        return None
    return None if spec is None or spec.format == "none" else spec


def _measured_ratio(spec, tensor):
    if spec.format != "measured":
        return None

    return ratio_for(spec, tensor.name)[0]


def stored_bytes(spec, tensor) -> int:
    """Bytes ``tensor`` occupies in its compressed form under ``spec`` (plain when None)."""
    if spec is None:
        return int(tensor.nbytes)
    return compressed_bytes(spec, tensor.numel, tensor.dtype, tuple(tensor.shape),
                            _measured_ratio(spec, tensor))


def compressed_bits_per_element(spec, dtype: str) -> float:
    """Average stored bits per element for shape-independent formats (none, quant, ratio, nm);
    other formats depend on the tensor (see :func:`stored_bytes`)."""
    fmt = getattr(spec, "format", "none") if spec is not None else "none"
    if fmt == "none":
        return float(dtype_bits(dtype))
    if fmt == "quant":
        bits = float(spec.bits)
        if spec.group:
            bits += float(spec.scale_bits or 16) / float(spec.group)
        return bits
    if fmt == "ratio":
        return dtype_bits(dtype) / float(spec.ratio)
    if fmt == "sparse" and spec.encoding == "nm":
        vb = spec.bits or dtype_bits(dtype)
        return spec.n * (vb + math.ceil(math.log2(spec.m))) / spec.m
    raise ValueError(f"format {fmt!r} depends on the tensor: use stored_bytes(spec, tensor)")


def tensor_bytes_hook(strategies):
    """A ``tensor -> bytes`` function giving each tensor's size *in the cache hierarchy*
    (compressed for ``at: core``, plain for ``at: dram``), or None when nothing is compressed
    (``strategies`` None included)."""
    if strategies is None:
        return None
    comp = strategies.compression
    if all(s.format == "none" for s in (comp.weights, comp.activations)):
        return None
    memo: dict = {}

    def size(tensor) -> int:
        spec = spec_for(strategies, tensor)
        if spec is None or spec.at == "dram":
            return int(tensor.nbytes)
        key = (tensor.name, tensor.shape, tensor.dtype, tensor.kind)
        got = memo.get(key)
        if got is None:
            got = memo[key] = stored_bytes(spec, tensor)
        return got

    return size


def dram_ratio(strategies, tensor) -> float:
    """DRAM bytes per plain byte for ``tensor``: ``stored / plain`` under an ``at: dram`` spec,
    else 1 (``at: core`` tensors are already small in the lines themselves)."""
    spec = spec_for(strategies, tensor)
    if spec is None or spec.at != "dram" or tensor.nbytes == 0:
        return 1.0
    return min(1.0, stored_bytes(spec, tensor) / tensor.nbytes)


def decompressor_bytes_per_cycle(strategies, tensor) -> float | None:
    """Throughput (plain bytes per compute cycle) of the DRAM-side decompressor ``tensor`` passes
    through, or None (no decompressor, or one sized to keep up with DRAM — the default, as
    memory-side codecs are provisioned for the channel rate)."""
    spec = spec_for(strategies, tensor)
    if spec is None or spec.at != "dram":
        return None
    return spec.decompress_bytes_per_cycle


def decompress_cycles_per_element(strategies, tensor, lanes: int, sparse_hw: bool) -> float:
    """Cycles per element the core spends expanding ``tensor`` (``at: core``), else 0."""
    spec = spec_for(strategies, tensor)
    if spec is None or spec.at != "core":
        return 0.0
    if spec.decompress_cycles_per_element is not None:
        return float(spec.decompress_cycles_per_element)
    if spec.format == "sparse" and sparse_hw:
        return 0.0
    return 1.0 / max(1, lanes)


def density_of(strategies, tensor) -> float:
    """Fraction of nonzeros of ``tensor`` under a sparse spec (1.0 otherwise)."""
    spec = spec_for(strategies, tensor)
    if spec is None or spec.format != "sparse":
        return 1.0
    return float(spec.effective_density)


def compression_table(graph, strategies) -> list[dict]:
    """Per compressed tensor: class, format, location, plain and stored bytes and the ratio
    (``source``: formula, measured or aggregate) — what ``memsim explain`` reports."""
    rows = []
    for t in graph.tensors.values():
        if t.alias_of is not None:
            continue
        spec = spec_for(strategies, t)
        if spec is None:
            continue
        stored = stored_bytes(spec, t)
        how = "formula"
        if spec.format == "measured":
            how = ratio_for(spec, t.name)[1]
        rows.append({"tensor": t.name, "class": "weights" if t.kind in WEIGHT_KINDS else
                     "activations", "format": spec.format, "at": spec.at,
                     "plain_bytes": int(t.nbytes), "stored_bytes": int(stored),
                     "ratio": (t.nbytes / stored) if stored else 1.0, "source": how})
    return rows
