"""memsim.workloads: the workload graph IR, the built-in zoo and the importers.

See docs/architecture.md (contracts) and docs/workloads.md (conventions, formats).
"""

from memsim.workloads.ir import (
    DTYPE_BITS,
    Access,
    Affine,
    Graph,
    LoopNest,
    Op,
    Tensor,
    dtype_bits,
)
from memsim.workloads.load import build, list_networks, load_network

__all__ = [
    "DTYPE_BITS",
    "Access",
    "Affine",
    "Graph",
    "LoopNest",
    "Op",
    "Tensor",
    "build",
    "dtype_bits",
    "list_networks",
    "load_network",
]
