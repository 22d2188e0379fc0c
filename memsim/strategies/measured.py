"""Measured compression: a real lossless codec over real tensors, block by block.

A memory-side compressor works on fixed-size blocks so that any block can be fetched and
expanded on its own (IBM MXT: 1 KiB blocks, Tremaine et al., IBM J. R&D 2001; linearly
compressed pages, Pekhimenko et al., MICRO 2013). We cut each tensor's raw bytes (as stored in
the source file) into ``block_bytes`` blocks (default 4 KiB), compress every block independently
and store it raw when the codec does not shrink it (a block is never larger than its raw bytes,
as a controller keeps an "uncompressed" flag per block). The tensor's ratio is
``raw bytes / Σ stored block bytes``.

Codecs: ``zlib`` (stdlib, level 6), ``zstd`` (package ``zstandard``, level 3), ``lz4`` (package
``lz4``, block mode). Sources: ONNX initializers (``.onnx``), one array (``.npy``, named after
the file stem) or named arrays (``.npz``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from memsim.errors import InputError
from memsim.fileio import file_digest


@dataclass(frozen=True)
class TensorRatio:
    """One tensor's measurement: raw and stored bytes, and ``ratio = raw / stored``."""

    name: str
    raw_bytes: int
    stored_bytes: int
    blocks: int

    @property
    def ratio(self) -> float:
        """Original / compressed (≥ 1)."""
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else 1.0


def _codec(name: str):
    if name == "zlib":
        return lambda b: zlib.compress(b, 6)
    if name == "zstd":
        try:
            import zstandard
        except ImportError:
            raise InputError("codec zstd needs the Python package 'zstandard' (pip install "
                             "zstandard)", field="strategies.compression.codec") from None
        comp = zstandard.ZstdCompressor(level=3)
        return comp.compress
    if name == "lz4":
        try:
            import lz4.block
        except ImportError:
            raise InputError("codec lz4 needs the Python package 'lz4' (pip install lz4)",
                             field="strategies.compression.codec") from None
        return lambda b: lz4.block.compress(b, store_size=False)
    raise InputError(f"unknown codec {name!r}; expected zlib, zstd or lz4",
                     field="strategies.compression.codec")


def load_tensors(path) -> dict[str, np.ndarray]:
    """Named arrays of a ``.onnx`` (initializers), ``.npy`` or ``.npz`` file."""
    path = Path(path)
    if path.suffix == ".npy":
        return {path.stem: np.load(path, allow_pickle=False)}
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if path.suffix == ".onnx":
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path), load_external_data=True)
        return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    raise InputError(f"expected an .onnx, .npy or .npz file (got {path.name!r})",
                     field="strategies.compression.source")


def measure_bytes(raw: bytes, codec: str, block_bytes: int = 4096) -> tuple[int, int]:
    """(stored bytes, blocks) of ``raw`` compressed block by block with ``codec``."""
    compress = _codec(codec)
    stored, blocks = 0, 0
    view = memoryview(raw)
    for start in range(0, len(raw), block_bytes):
        block = bytes(view[start:start + block_bytes])
        stored += min(len(block), len(compress(block)))
        blocks += 1
    return stored, blocks


@lru_cache(maxsize=32)
def _measure_file(path: str, digest: str, codec: str, block_bytes: int) -> tuple:
    # keyed by the file's content digest (not its mtime, which two quick edits can share)
    out = []
    for name, arr in load_tensors(path).items():
        raw = np.ascontiguousarray(arr).tobytes()
        if not raw:
            continue
        stored, blocks = measure_bytes(raw, codec, block_bytes)
        out.append(TensorRatio(name, len(raw), stored, blocks))
    return tuple(out)


def measure_source(path, codec: str, block_bytes: int = 4096) -> dict[str, TensorRatio]:
    """Per tensor of ``path``: its block-wise compression with ``codec`` (cached per file)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}", field="strategies.compression.source")
    res = _measure_file(str(p.resolve()), file_digest(p), codec, int(block_bytes))
    return {t.name: t for t in res}


def aggregate_ratio(ratios: dict[str, TensorRatio]) -> float:
    """Σ raw / Σ stored over all measured tensors (1.0 when there are none)."""
    raw = sum(t.raw_bytes for t in ratios.values())
    stored = sum(t.stored_bytes for t in ratios.values())
    return raw / stored if stored else 1.0


def ratio_for(spec, tensor_name: str) -> tuple[float, str]:
    """The ratio used for ``tensor_name`` under a ``measured`` spec, and where it came from:
    ``"measured"`` (a tensor of that name in the source) or ``"aggregate"`` (the source's
    overall ratio, for tensors the source does not hold, e.g. a zoo network)."""
    ratios = measure_source(spec.source, spec.codec, spec.block_bytes or 4096)
    hit = ratios.get(tensor_name)
    if hit is not None:
        return max(1.0, hit.ratio), "measured"
    return max(1.0, aggregate_ratio(ratios)), "aggregate"
