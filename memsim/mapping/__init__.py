"""memsim.mapping — tiled loop nests, dataflows, unrolling, compute cycles and tile line streams.

See docs/architecture.md (memsim.mapping) and docs/model.md ("Mapping and compute").
"""

from memsim.mapping.addresses import SimpleAddressMap
from memsim.mapping.compute import (
    GemmShape,
    compute_cycles_simd,
    compute_cycles_systolic,
    lane_utilisation,
    scalesim_conv_shape,
    scalesim_gemm_shape,
    systolic_cycles,
)
from memsim.mapping.mapper import LayerMapping, Tile, fetch_counts, map_graph, map_op

__all__ = [
    "GemmShape",
    "LayerMapping",
    "SimpleAddressMap",
    "Tile",
    "compute_cycles_simd",
    "compute_cycles_systolic",
    "fetch_counts",
    "lane_utilisation",
    "map_graph",
    "map_op",
    "scalesim_conv_shape",
    "scalesim_gemm_shape",
    "systolic_cycles",
]
