"""memsim.runtime — what the software stack executes, between mapping and engine.

``apply(mappings, graph, hardware, settings) -> mappings`` is the stage's one entry point
(``runtime_pass`` wraps it as the prepare stage's first pass; ``graph_pass`` retypes a stream's
tensors to the widths its runtime stores before the memory plan, ``precision``)
(docs/architecture.md "memsim.runtime", docs/model.md "Runtime model"); ``settings_for(stream,
hardware, runtime, unit)`` builds a stream's :class:`RuntimeSettings`. The pure pieces:
``algorithms`` (convolution algorithms and their counts), ``overheads`` (fixed costs, barriers,
GPU waves), ``profiles`` (the runtimes' mechanism parameters and their sources), ``calibrate``
(fitting a profile's free parameters to measurements).
"""

from memsim.runtime.apply import (Decision, RuntimeLayer, RuntimeSettings, apply, fused_ops,
                                  graph_pass, runtime_pass, settings_for)
from memsim.runtime.profiles import KERNELS, PROFILES, RuntimeProfile, get_profile

__all__ = ["Decision", "RuntimeLayer", "RuntimeSettings", "apply", "fused_ops", "graph_pass",
           "runtime_pass",
           "settings_for",
           "KERNELS", "PROFILES", "RuntimeProfile", "get_profile"]
