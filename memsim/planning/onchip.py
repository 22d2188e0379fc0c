"""Which on-chip memory holds a stream's resident data, and the arena capacity it gives.

Read by planning (plan the activations within the capacity, spill the rest or split layers)
and by the engine (which lines are resident on chip); both depend on the hardware description
only.
"""

from __future__ import annotations


def backing_level(hw) -> str | None:
    """The on-chip memory that holds resident data, or None when caches manage everything.

    A read-only backing store (MCU flash) forces activations on chip: the largest level. A
    hierarchy without caches (an NPU's scratchpads) keeps what fits resident in its largest
    scratchpad, as accelerator compilers do (e.g. the Edge TPU compiler caches parameters in
    on-chip SRAM; Coral documentation, "Parameter data caching").
    """
    levels = list(hw.memory.levels)
    if not hw.memory.dram.writable:
        return max(levels, key=lambda lvl: lvl.size_bytes).name if levels else None
    if levels and not any(lvl.kind == "cache" for lvl in levels):
        return max(levels, key=lambda lvl: lvl.size_bytes).name
    return None


def activation_capacity(hw) -> int | None:
    """Bytes the activation arena is planned within (the backing level's size), or None:
    caches decide (no backing level), or the backing store is read-only so nothing can spill
    (the arena must then fit as a whole: feasibility)."""
    name = backing_level(hw)
    if name is None or not hw.memory.dram.writable:
        return None
    return int(hw.memory.level(name).size_bytes)


def split_capacity(hw) -> int | None:
    """Bytes the activations must fit on chip, by spilling or by splitting layers: the backing
    level's size, writable backing store or not (on MCU flash only a split can help), or None
    when caches decide."""
    name = backing_level(hw)
    return None if name is None else int(hw.memory.level(name).size_bytes)


def split_costs(hw, dtype: str) -> tuple[float, float]:
    """(seconds per MAC at the peak rate of ``dtype``, seconds per byte at the DRAM bandwidth):
    the weights of ``planning.split.SplitCosts`` on ``hw`` (1 s per MAC when it lacks the
    dtype: feasibility reports that)."""
    rate = hw.compute.peak_macs_per_s(dtype) if dtype in hw.compute.macs_per_cycle else 1.0
    return 1.0 / rate, 1.0 / float(hw.memory.dram.bandwidth_bytes_per_s)
