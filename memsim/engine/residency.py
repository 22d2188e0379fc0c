"""What stays on chip between layers and frames when no cache decides it.

On hardware whose hierarchy has no caches (NPUs with scratchpads) or whose backing store is
read-only (MCU flash), a compiler places data in the largest on-chip memory (``backing_level``):

1. the activation arena, if it fits (with a read-only backing store it must: feasibility);
2. then the weights, if they fit in what is left (parameter caching), except on a read-only
   backing store: MCU runtimes execute weights in place from flash (TFLite Micro keeps them
   in the flatbuffer in flash), so they stay there;
3. then the states (KV caches), if they fit in what is left.

Resident lines are served by that memory instead of DRAM; everything else is streamed from DRAM
every time a tile needs it. Streams are placed in order, sharing the capacity. Placement is all
or nothing per region (a region that does not fit entirely stays in DRAM): a simplification of
compilers that split a model between on-chip and off-chip parameters.
"""

from __future__ import annotations

from memsim.engine.system import backing_level


def resident_ranges(hw, plans) -> list[tuple[tuple[int, int], ...] | None]:
    """Per stream, the line ranges (relative to the stream's base) that are resident on chip."""
    name = backing_level(hw)
    if name is None:
        return [None] * len(plans)
    capacity = hw.memory.level(name).size_bytes
    line = hw.memory.line_bytes
    out = []
    for plan in plans:
        ranges = []
        for kind in ("activation", "weight", "state"):
            lo, hi = plan.region(kind)
            size = hi - lo
            if size <= 0:
                continue
            if kind == "weight" and not hw.memory.dram.writable:
                continue  # weights execute in place from flash
            if size <= capacity or (kind == "activation" and not hw.memory.dram.writable):
                capacity -= min(size, capacity)
                ranges.append((lo // line, -(-hi // line)))
        out.append(tuple(ranges))
    return out
