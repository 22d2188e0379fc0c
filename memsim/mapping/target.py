"""What mapping reads of the hardware: the tile-target level, its capacity rule, the compute block.

:class:`MappingInputs` is the *only* view of a ``Hardware`` that :func:`memsim.mapping.map_op`,
:func:`memsim.mapping.map_graph` and layer fusion read. The sweep keys its memo of prepared
streams by it (``memsim.prepare.prepare_key``), so a hardware field the mapper starts to read
must first be added here — and then it is part of the key, and the sweep can never serve a
mapping computed for other hardware. DRAM, energy, price, latencies, bandwidths, associativity,
policies and the other levels' sizes are not part of it: the tile stream does not depend on them
(the per-level analytic figures of :func:`memsim.mapping.analytic_bytes` take the whole
``Hardware`` and are not used by the engine).

The target-level rule: tiles are sized for the innermost scratchpad if the hierarchy has one,
else for the innermost level (docs/model.md, "Mapping and compute"). A shared level's capacity
is divided among the cores. With prefetching (``strategies.prefetch.depth >= 1``) the next tile
is fetched while the current one computes, so two tiles share the room: double buffering halves
the capacity one tile may use (:func:`tile_capacity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from memsim.config import Compute


@dataclass(frozen=True)
class Target:
    """The level tiles are sized for: ``name``, ``kind`` (``cache``/``scratchpad``), ``scope``
    (``core``/``shared``) and ``size_bytes`` (the whole level)."""

    name: str
    kind: str
    scope: str
    size_bytes: int

    def capacity(self, cores: int) -> int:
        """Bytes per core: the whole level when private, an equal share when shared."""
        return level_capacity(self.size_bytes, self.scope, cores)

    @property
    def dma(self) -> bool:
        """True for a scratchpad: a tile's lines are bulk-moved before it computes."""
        return self.kind == "scratchpad"


def level_capacity(size_bytes: int, scope: str, cores: int) -> int:
    """Per-core bytes of a level: ``size_bytes`` when ``scope == "core"``, else its share."""
    return size_bytes if scope == "core" else size_bytes // max(1, cores)


def tile_capacity(capacity_bytes: int, prefetch_depth: int) -> int:
    """Bytes one tile may use of ``capacity_bytes``: half with double buffering (prefetch depth
    ≥ 1: the next tile arrives while this one computes), all of it without."""
    return capacity_bytes // 2 if prefetch_depth >= 1 else capacity_bytes


def target_of(hw) -> Target:
    """The tile-target level of ``hw``: the innermost scratchpad, else the innermost level."""
    levels = list(hw.memory.levels)
    pads = [lv for lv in levels if lv.kind == "scratchpad"]
    lv = pads[0] if pads else levels[0]
    return Target(lv.name, lv.kind, lv.scope, int(lv.size_bytes))


@dataclass(frozen=True)
class MappingInputs:
    """Everything mapping reads of a ``Hardware``: the whole ``compute`` block (lanes, array,
    clock for decompressor rates, registers, zero-skipping, loop overhead), the common cache
    ``line_bytes`` and the tile-target level."""

    compute: Compute
    line_bytes: int
    target: Target

    @classmethod
    def of(cls, hw) -> "MappingInputs":
        """The mapping view of ``hw`` (a ``memsim.config.Hardware``)."""
        return cls(hw.compute, int(hw.memory.line_bytes), target_of(hw))

    def usable_bytes(self, cores: int, prefetch_depth: int) -> int:
        """Bytes one tile may occupy in the target level on ``cores`` cores."""
        return tile_capacity(self.target.capacity(cores), prefetch_depth)

    def key(self) -> dict:
        """A JSON-able record of every field (for memo keys)."""
        return {"compute": self.compute.model_dump(mode="json"), "line_bytes": self.line_bytes,
                "target": [self.target.name, self.target.kind, self.target.scope,
                           self.target.size_bytes]}
