"""memsim.mapping — tiled loop nests, dataflows, unrolling, layer fusion, compute cycles and
tile line streams. Reads the hardware through :class:`MappingInputs` only (``target.py``).

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
from memsim.mapping.fusion import apply_fusion, fusion_report
from memsim.mapping.layer import LayerMapping, Tile
from memsim.mapping.mapper import analytic_bytes, fetch_counts, map_graph, map_op
from memsim.mapping.target import MappingInputs, Target, target_of, tile_capacity

__all__ = [
    "GemmShape",
    "LayerMapping",
    "MappingInputs",
    "SimpleAddressMap",
    "Target",
    "Tile",
    "analytic_bytes",
    "apply_fusion",
    "compute_cycles_simd",
    "compute_cycles_systolic",
    "fetch_counts",
    "fusion_report",
    "lane_utilisation",
    "map_graph",
    "map_op",
    "scalesim_conv_shape",
    "scalesim_gemm_shape",
    "systolic_cycles",
    "target_of",
    "tile_capacity",
]
