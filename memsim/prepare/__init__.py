"""memsim.prepare — the stage between mapping and the engine: ``prepare(scenario) -> Prepared``.

Owns "prepare a scenario": per stream the workload graph (batch-norm folded), its memory plan and
its layer mappings, plus the run's named seeds. The engine, the sweep (which memoises it under
``prepare_key``), ``memsim explain`` and ``memsim trace`` all go through it. A later pass over
the mapped layers (the runtime model) plugs in as a ``StreamPass``. See docs/architecture.md.
"""

from memsim.prepare.key import prepare_key
from memsim.prepare.stage import (NETWORK_PARAMS, Prepared, PreparedStream, Seeds, StreamPass,
                                  load_stream_graph, prepare, prepare_graph,
                                  prepare_index, prepare_stream)

__all__ = ["NETWORK_PARAMS", "Prepared", "PreparedStream", "Seeds", "StreamPass",
           "load_stream_graph", "prepare", "prepare_graph", "prepare_index", "prepare_key",
           "prepare_stream"]
