"""Per-line-run memory attributes a tile's line stream carries to the engine.

A tile's lines are a few runs in access order (input reads, weight reads, partial-sum reads,
output writes). Strategies change how some runs travel below the caches:

- ``dram_ratio``: DRAM bytes per plain byte (compression ``at: dram``: the DRAM holds the
  compressed form, the caches plain lines);
- ``decompress_bps``: the run's plain bytes pass a DRAM-side (de)compressor of this throughput
  (bytes/s) shared by every core;
- ``streaming``: non-temporal output stores that bypass write-allocate: the lines go straight to
  DRAM as full-line writes, never entering (or being read into) a cache.

The mapping puts a tile's :class:`MemorySegments` in ``Tile.segments`` (None when every run is
plain); the engine's pipeline passes it to ``System.fetch(..., segments=...)`` explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    """``n`` consecutive lines of a tile with their below-cache attributes."""

    n: int
    dram_ratio: float = 1.0
    decompress_bps: float | None = None
    streaming: bool = False

    def plain(self) -> bool:
        """True when nothing differs from an ordinary run."""
        return self.dram_ratio == 1.0 and self.decompress_bps is None and not self.streaming


@dataclass(frozen=True)
class MemorySegments:
    """Runs covering a tile's lines in order, plus how dirty write-backs are stored in DRAM.

    ``write_ratio`` / ``write_bps``: DRAM bytes per plain byte and compressor throughput for
    write-backs (only activations are ever dirty, so the activation class decides).
    """

    runs: tuple
    write_ratio: float = 1.0
    write_bps: float | None = None

    @property
    def total(self) -> int:
        """Lines covered."""
        return sum(r.n for r in self.runs)

    def plain(self) -> bool:
        """True when no run and no write-back differs from ordinary cached lines."""
        return all(r.plain() for r in self.runs) and self.write_ratio == 1.0 and \
            self.write_bps is None


def merge_runs(runs) -> tuple:
    """Adjacent runs with equal attributes merged; empty runs dropped."""
    out: list[Run] = []
    for r in runs:
        if r.n <= 0:
            continue
        if out and (out[-1].dram_ratio, out[-1].decompress_bps, out[-1].streaming) == \
                (r.dram_ratio, r.decompress_bps, r.streaming):
            out[-1] = Run(out[-1].n + r.n, r.dram_ratio, r.decompress_bps, r.streaming)
        else:
            out.append(r)
    return tuple(out)
