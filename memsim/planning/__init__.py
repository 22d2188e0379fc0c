"""memsim.planning — activation lifetimes and arena planners (the *reuse* strategy).

See docs/architecture.md (memsim.planning) and docs/planning.md.
"""

from memsim.planning.buffers import Buffer, Plan, lower_bound, read_instances, validate
from memsim.planning.graph import MemoryPlan, activation_buffers, plan_graph
from memsim.planning.planner import plan_buffers

__all__ = ["Buffer", "Plan", "MemoryPlan", "activation_buffers", "lower_bound", "plan_buffers",
           "plan_graph", "read_instances", "validate"]
