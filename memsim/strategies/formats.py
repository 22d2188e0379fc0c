"""Stored sizes of compressed tensors: quantisation, sparse encodings and fixed ratios.

Every function returns **bits** (exact, before rounding to bytes) for a tensor of ``numel``
elements; :func:`compressed_bytes` rounds up to whole bytes. Formulas and sources:

- ``quant``: ``numel · bits + ceil(numel / group) · scale_bits`` — one scale per group of
  ``group`` consecutive elements, as weight-only quantised kernels store them (GPTQ, Frantar et
  al. 2022; AWQ, Lin et al. 2023: one fp16 scale per group of 128). Per element this is the
  issue's ``bits + scale_bits/group`` when ``group`` divides ``numel``.
- ``sparse`` with ``nnz = ceil(density · numel)`` nonzeros of ``vb`` value bits each (``bits`` if
  given, else the dtype's), formats as Sparseloop models them (Wu et al., "Sparseloop: An
  Analytical Approach to Sparse Tensor Accelerator Modeling", MICRO 2022, Table II: bitmask
  "B", coordinate payload "CP", uncompressed offset pair "UOP", run length "RLE"):
  - ``bitmask``: one mask bit per element plus the nonzero values: ``numel + nnz · vb``.
  - ``csr``: UOP over rows plus CP within a row: ``(rows + 1) · ceil(log2(nnz + 1))`` offset bits
    plus ``nnz · (ceil(log2(cols)) + vb)`` coordinate and value bits; ``rows`` is the tensor's
    first axis (output channels of a conv/linear weight), ``cols = numel / rows``.
  - ``rle``: each nonzero carries the run of zeros before it in ``r = 5`` bits (Eyeriss's RLE:
    5-bit run, Chen et al., JSSC 2017). A run longer than ``2^r − 1`` needs an extra entry (a
    stored zero); with nonzeros spread independently at density ``d`` the expected entries are
    ``nnz / (1 − (1 − d)^(2^r))`` (geometric runs: Σ_k P(run ≥ k·2^r)). Bits:
    ``entries · (r + vb)``.
  - ``nm`` (structured N:M): ``nnz = numel · n / m`` values plus ``ceil(log2 m)`` metadata bits
    per nonzero — 2 bits per nonzero for 2:4, per NVIDIA's A100 whitepaper (2020, "Fine-grained
    structured sparsity": a 2-bit index per kept value).
- ``ratio``: ``numel · dtype_bits / ratio``.
- ``measured``: see :mod:`memsim.strategies.measured` (a real codec over real tensors).
"""

from __future__ import annotations

import math

from memsim.workloads.ir import dtype_bits

#: Run-length field width of the ``rle`` encoding (Eyeriss, Chen et al., JSSC 2017: 5 bits).
RLE_RUN_BITS = 5


def quant_bits(numel: int, bits: int, group: int | None = None, scale_bits: int | None = None
               ) -> int:
    """Bits of ``numel`` elements quantised to ``bits``, with one ``scale_bits`` scale per
    ``group`` elements when grouped."""
    total = numel * bits
    if group:
        total += -(-numel // group) * (scale_bits or 16)
    return total


def nonzeros(numel: int, density: float) -> int:
    """Stored nonzeros: ``ceil(density · numel)`` (at least one when the tensor is not empty)."""
    if numel <= 0:
        return 0
    return max(1, math.ceil(density * numel - 1e-9))


def bitmask_bits(numel: int, density: float, value_bits: int) -> int:
    """Bitmask encoding: ``numel`` mask bits + ``nnz · value_bits`` (Sparseloop "B")."""
    return numel + nonzeros(numel, density) * value_bits


def csr_bits(numel: int, density: float, value_bits: int, rows: int) -> int:
    """CSR = offset pairs over ``rows`` (UOP) + a coordinate per nonzero (CP) + values."""
    rows = max(1, rows)
    cols = max(1, numel // rows)
    nnz = nonzeros(numel, density)
    offset_bits = max(1, math.ceil(math.log2(nnz + 1)))
    coord_bits = max(1, math.ceil(math.log2(cols))) if cols > 1 else 1
    return (rows + 1) * offset_bits + nnz * (coord_bits + value_bits)


def rle_entries(numel: int, density: float, run_bits: int = RLE_RUN_BITS) -> float:
    """Expected RLE entries: ``nnz / (1 − (1 − d)^(2^run_bits))`` (overflow padding included)."""
    nnz = nonzeros(numel, density)
    q = (1.0 - density) ** (2 ** run_bits)
    return nnz / (1.0 - q) if q < 1.0 else float(numel)


def rle_bits(numel: int, density: float, value_bits: int, run_bits: int = RLE_RUN_BITS) -> int:
    """Run-length encoding: ``entries · (run_bits + value_bits)``, rounded up to whole bits."""
    # rounded to 1e-3 bit first: the expectation is a real number, float noise must not add a bit
    return math.ceil(round(rle_entries(numel, density, run_bits) * (run_bits + value_bits), 3))


def nm_bits(numel: int, n: int, m: int, value_bits: int) -> int:
    """N:M structured sparsity: ``n`` values and ``n · ceil(log2 m)`` index bits per ``m`` elements
    (a partial last group is padded to ``m``)."""
    groups = -(-numel // m)
    meta = max(1, math.ceil(math.log2(m))) if m > 1 else 0
    return groups * n * (value_bits + meta)


def sparse_bits(spec, numel: int, dtype: str, shape: tuple = ()) -> int:
    """Stored bits of a ``format: sparse`` tensor under ``spec``."""
    vb = spec.bits or dtype_bits(dtype)
    enc = spec.encoding or "bitmask"
    if enc == "nm":
        return nm_bits(numel, spec.n, spec.m, vb)
    d = spec.effective_density
    if enc == "bitmask":
        return bitmask_bits(numel, d, vb)
    if enc == "csr":
        rows = int(shape[0]) if len(shape) >= 2 else 1
        return csr_bits(numel, d, vb, rows)
    if enc == "rle":
        return rle_bits(numel, d, vb)
    raise ValueError(f"unknown sparse encoding {enc!r}")


def stored_bits(spec, numel: int, dtype: str, shape: tuple = (), measured_ratio=None) -> int:
    """Stored bits of a tensor (``numel`` elements of ``dtype``, ``shape``) under ``spec``.

    ``measured_ratio`` (original / compressed) is required for ``format: measured``.
    """
    fmt = getattr(spec, "format", "none") if spec is not None else "none"
    plain = numel * dtype_bits(dtype)
    if fmt == "none":
        return plain
    if fmt == "quant":
        return quant_bits(numel, spec.bits, spec.group, spec.scale_bits)
    if fmt == "sparse":
        return sparse_bits(spec, numel, dtype, tuple(shape))
    if fmt == "ratio":
        return math.ceil(plain / float(spec.ratio) - 1e-9)
    if fmt == "measured":
        if measured_ratio is None:
            raise ValueError("format: measured needs the measured ratio of the tensor")
        return math.ceil(plain / float(measured_ratio) - 1e-9)
    raise ValueError(f"unknown compression format {fmt!r}")


def compressed_bytes(spec, numel: int, dtype: str, shape: tuple = (), measured_ratio=None) -> int:
    """:func:`stored_bits` rounded up to whole bytes."""
    return -(-stored_bits(spec, numel, dtype, shape, measured_ratio) // 8)
