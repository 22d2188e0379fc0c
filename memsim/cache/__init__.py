"""memsim.cache — set-associative cache hierarchies (numba), stack distance, trace replay.

See docs/architecture.md (memsim.cache) and docs/model.md ("Cache semantics").
"""

from memsim.cache.hierarchy import COUNTER_NAMES, CacheLevelSpec, Hierarchy
from memsim.cache.stackdist import hit_curve, reuse_distances, set_hit_curve

__all__ = ["CacheLevelSpec", "Hierarchy", "COUNTER_NAMES", "hit_curve", "set_hit_curve",
           "reuse_distances"]
