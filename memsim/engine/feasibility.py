"""Checks that a scenario can run as configured, before any simulation.

A workload that cannot run — a dtype the compute unit lacks, a core that does not exist, an
arena larger than the memory that must hold it — raises ``InfeasibleError`` naming the limit
and the need; nothing is silently clamped.
"""

from __future__ import annotations

from memsim.errors import InfeasibleError
from memsim.units import format_size


def check_dtypes(scenario, index: int, stream) -> None:
    """Raise ``InfeasibleError`` when the compute unit has no MAC rate for the stream's dtype."""
    hw = scenario.hardware
    if stream.dtype not in hw.compute.macs_per_cycle:
        have = ", ".join(sorted(hw.compute.macs_per_cycle))
        raise InfeasibleError(f"{hw.name} computes {have}, not {stream.dtype} (no "
                              f"macs_per_cycle entry for {stream.dtype})",
                              field=f"streams.{index}.dtype",
                              path=getattr(scenario, "source_path", None))


def check_feasible(scenario, graphs_and_plans) -> None:
    """Raise ``InfeasibleError`` when some stream cannot run on the scenario's hardware."""
    hw = scenario.hardware
    where = scenario.source_path
    for i, stream in enumerate(scenario.streams):
        field = f"streams.{i}"
        check_dtypes(scenario, i, stream)
        for core in stream.cores or ():
            if not 0 <= core < hw.compute.cores:
                raise InfeasibleError(f"core {core} does not exist: {hw.name} has cores 0..{hw.compute.cores - 1}",
                                      field=f"{field}.cores", path=where)
    _check_capacity(scenario, graphs_and_plans, where)


def _resident_bytes(graph, plan) -> tuple[int, int]:
    """(activation arena, weights + states) of one stream."""
    other = sum(plan.region_bytes(kind) for kind in ("weight", "state")) if hasattr(plan, "region_bytes") else 0
    return int(plan.arena_bytes), int(other)


def _workload_field(scenario, needs: list[int]) -> str:
    """The field behind the largest stream's footprint: its resolution, batch or network."""
    i = max(range(len(needs)), key=needs.__getitem__) if needs else 0
    stream = scenario.streams[i]
    for key in ("resolution", "context", "seq_len"):
        if getattr(stream, key, None) is not None:
            return f"streams.{i}.{key}"
    return f"streams.{i}.batch" if stream.batch > 1 else f"streams.{i}.network"


def _check_capacity(scenario, graphs_and_plans, where) -> None:
    hw = scenario.hardware
    arena = persistent = 0
    needs = []
    for graph, plan in graphs_and_plans:
        a, p = _resident_bytes(graph, plan)
        arena += a
        persistent += p
        needs.append(a + p)
    dram = hw.memory.dram
    if not dram.writable:
        # Read-only backing store (MCU flash): activations must fit the on-chip SRAM.
        sram = max((lvl.size_bytes for lvl in hw.memory.levels), default=0)
        if arena > sram:
            raise InfeasibleError(
                f"activation arena needs {format_size(arena)} but {hw.name}'s largest writable "
                f"memory holds {format_size(sram)} ({dram.name} is read-only)",
                field="strategies.reuse", path=where)
        total = persistent
    else:
        total = arena + persistent
    if dram.size_bytes and total > dram.size_bytes:
        # the workload, not the board, is what the user most likely mistyped: blame the stream
        raise InfeasibleError(
            f"the workload needs {format_size(total)} resident but {hw.name}'s {dram.name} holds "
            f"{format_size(dram.size_bytes)} (hardware.memory.dram.size)",
            field=_workload_field(scenario, needs), path=where)
