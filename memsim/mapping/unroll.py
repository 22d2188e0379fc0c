"""Loop unrolling as the mapping applies it: temporal unroll U and spatial ``auto``.

Temporal unroll ``U`` of a SIMD inner loop (DESIGN §4; Hennessy & Patterson, "Computer
Architecture", 6th ed., §3.2 on unrolling and register pressure):

- loop overhead per iteration / U (``memsim.mapping.compute.compute_cycles_simd``);
- memory-level parallelism: each body issues ``loads_per_iteration · U`` independent loads, so
  at most ``min(mshrs, loads_per_iteration · U)`` misses are outstanding (the engine caps the
  tile's ``mlp`` by the level's MSHRs; Little's law then gives lines/latency per level). A
  scenario that leaves ``temporal`` unset keeps the hardware's own latency hiding (out-of-order
  window, prefetchers): no ``mlp`` cap beyond the MSHRs;
- registers: every unrolled copy keeps one vector register per load plus one accumulator, so
  ``live = U · (loads_per_iteration + 1)``; past ``compute.registers`` the excess is spilled:
  every body stores and reloads each spilled register (``2 · spilled · register_bytes`` bytes of
  extra traffic to the innermost level per body, ``iterations / U`` bodies).

Spatial ``auto`` picks per layer the factorisation of the SIMD lanes over one or two loop dims
with the best lane utilisation ``Π D/(ceil(D/u)·u)``; on a systolic array, the factorisation
of its PEs into rows × cols (a reconfigurable array, e.g. the flexible aspect ratios studied
with SCALE-Sim, Samajdar et al., ISPASS 2020) with the fewest stall-free cycles.
"""

from __future__ import annotations

from memsim.mapping.compute import lane_utilisation, systolic_cycles


def loads_per_iteration(operands) -> int:
    """Vector loads one inner-loop iteration issues: one per distinct read operand tensor."""
    return max(1, len({o.tensor for o in operands if o.role != "output"}))


def live_registers(loads: int, temporal: int) -> int:
    """Vector registers live in an unrolled body: ``U · (loads + 1)`` (operands + accumulator)."""
    return max(1, int(temporal)) * (loads + 1)


def spilled_registers(loads: int, temporal: int, registers: int | None) -> int:
    """Registers spilled per body: ``max(0, live − registers)`` (0 without a register count)."""
    if not registers:
        return 0
    return max(0, live_registers(loads, temporal) - int(registers))


def spill_bytes(iterations: float, temporal: int, spilled: int, register_bytes: int) -> float:
    """Extra innermost-level bytes: a store and a reload of each spilled register per body."""
    if spilled <= 0 or iterations <= 0:
        return 0.0
    return 2.0 * spilled * register_bytes * iterations / max(1, int(temporal))


def memory_parallelism(loads: int, temporal: int) -> int:
    """Outstanding loads an unrolled body exposes: ``loads · U`` (the engine caps it by MSHRs)."""
    return max(1, loads * max(1, int(temporal)))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def auto_spatial(dims: dict, lanes: int, prefer: str | None = None) -> dict:
    """The unroll ``{dim: factor}`` (one or two dims, factors multiplying to ``lanes``) with the
    best lane utilisation over ``dims``; ties prefer ``prefer`` alone, then one dim, then loop
    order."""
    names = [d for d, n in dims.items() if n > 1] or list(dims)[:1]
    cands = []
    for i, d in enumerate(names):
        cands.append(((0 if d == prefer else 1), 1, i, {d: lanes}))
    for i, d1 in enumerate(names):
        for j, d2 in enumerate(names):
            if j <= i:
                continue
            for u in _divisors(lanes):
                if 1 < u < lanes:
                    cands.append((1, 2, i * 64 + j, {d1: u, d2: lanes // u}))
    best = max(cands, key=lambda c: (round(lane_utilisation(dims, c[3], lanes), 12),
                                     -c[0], -c[1], -c[2]))
    return best[3]


def auto_array(shape, rows: int, cols: int, dataflow: str) -> tuple[int, int]:
    """The rows × cols factorisation of ``rows · cols`` PEs (both sides ≥ 1, kept to
    factorisations whose sides divide evenly) with the fewest stall-free cycles for ``shape``;
    ties keep the physical shape."""
    pes = rows * cols
    best = (systolic_cycles(shape, rows, cols, dataflow), 0, (rows, cols))
    for r in _divisors(pes):
        c = pes // r
        cyc = systolic_cycles(shape, r, c, dataflow)
        key = (cyc, 1, (r, c))
        if key[:2] < best[:2]:
            best = key
    return best[2]


def unrolled_iterations(work: float, lanes: int, utilisation: float) -> float:
    """Inner-loop iterations of ``work`` MACs/ops on ``lanes`` at ``utilisation``."""
    if work <= 0 or utilisation <= 0:
        return 0.0
    return work / (lanes * utilisation)


__all__ = [
    "auto_array",
    "auto_spatial",
    "live_registers",
    "loads_per_iteration",
    "memory_parallelism",
    "spill_bytes",
    "spilled_registers",
    "unrolled_iterations",
]
