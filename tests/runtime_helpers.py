"""Shared fixtures of the runtime tests: a small 4-core CPU with line-accurate caches and a DRAM
fast enough that the runtime's mechanisms, not memory, set the numbers."""

from __future__ import annotations


def small_cpu(macs_per_cycle: dict | None = None) -> dict:
    """Raw hardware data: 4 cores at 1 GHz, 32 KiB L1 per core, 1 MiB shared L2, 1000 GB/s."""
    return {"name": "cpu", "compute": {"cores": 4, "clock": "1 GHz", "kind": "simd",
                                       "macs_per_cycle": macs_per_cycle or {"fp32": 4}},
            "memory": {"levels": [
                {"name": "L1", "kind": "cache", "size": "32 KiB", "line": "64 B", "ways": 8,
                 "latency": "1 cycles", "bandwidth": "64 B/cycle", "scope": "core"},
                {"name": "L2", "kind": "cache", "size": "1 MiB", "line": "64 B", "ways": 16,
                 "latency": "4 cycles", "bandwidth": "64 B/cycle", "scope": "shared"}],
                "dram": {"name": "fast", "bandwidth": "1000 GB/s", "latency": "1 ns"}}}
