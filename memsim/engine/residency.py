"""What stays on chip between layers and frames when no cache decides it.

On hardware whose hierarchy has no caches (NPUs with scratchpads) or whose backing store is
read-only (MCU flash), a compiler places data in the largest on-chip memory (``backing_level``):

1. the activation arena, if it fits (with a read-only backing store it must: feasibility);
2. then the weights, if they fit in what is left (parameter caching), except on a read-only
   backing store: MCU runtimes execute weights in place from flash (TFLite Micro keeps them
   in the flatbuffer in flash), so they stay there;
3. then the states (KV caches), if they fit in what is left.

Resident lines are served by that memory instead of DRAM; everything else is streamed from DRAM
every time a tile needs it. When the activations are resident and the backing store is the
host's memory (writable DRAM or a host link, as on a USB or PCIe accelerator), every frame's
graph inputs must first be copied in from it and the graph outputs copied back (``host_io``):
the runtime's input and output DMA (e.g. the Edge TPU's USB transfers of each input tensor).
On an MCU (read-only flash backing) the input is produced into SRAM by the sensor driver and
nothing is charged. Streams are placed in order, sharing the capacity. Placement is all
or nothing per region (a region that does not fit entirely stays in DRAM): a simplification of
compilers that split a model between on-chip and off-chip parameters. The activation arena is
the exception when the backing store is writable: it is planned within the memory
(``activation_capacity``; ``planning.spill`` picks the tensors that spill with the least extra
traffic), only its on-chip part ``[0, onchip_bytes)`` is resident, and the spilled tensors'
lines are served by DRAM like any other non-resident line, so their traffic is charged by the
tiles that touch them.
"""

from __future__ import annotations

from memsim.planning.onchip import backing_level


def _onchip_span(plan, kind: str) -> tuple[int, int]:
    """The byte range of region ``kind`` that may be resident: for activations planned within a
    capacity, only the on-chip part below the spilled buffers."""
    lo, hi = plan.region(kind)
    onchip = getattr(plan, "onchip_bytes", None)
    if kind == "activation" and onchip is not None:
        hi = lo + onchip
    return lo, hi


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
            lo, hi = _onchip_span(plan, kind)
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


def host_io(hw, graph, plan, ranges) -> tuple[int, int]:
    """Bytes of graph inputs and outputs a stream moves over the DRAM link per frame, when its
    activation arena is resident on chip (``ranges`` from ``resident_ranges``) and the backing
    store is writable host memory; ``(0, 0)`` otherwise (then the layers' own tiles read the
    input from DRAM and write the output there)."""
    if backing_level(hw) is None or not hw.memory.dram.writable or not ranges:
        return 0, 0
    lo, hi = _onchip_span(plan, "activation")
    line = hw.memory.line_bytes
    span = (lo // line, -(-hi // line))
    if hi <= lo or span not in ranges:
        return 0, 0

    def onchip(t):  # a spilled graph input or output already lives in host memory
        return getattr(plan, "onchip_bytes", None) is None or plan.address(t) < hi

    in_bytes = sum(graph.tensors[t].nbytes for t in dict.fromkeys(graph.inputs) if onchip(t))
    out_bytes = sum(graph.tensors[t].nbytes for t in dict.fromkeys(graph.outputs) if onchip(t))
    return int(in_bytes), int(out_bytes)
