"""A simple address map: every tensor its own aligned region, in graph order.

Used by ``memsim trace`` and tests when no memory plan is wanted (the planner's ``MemoryPlan``
offers the same ``address(tensor)`` method with real reuse). Views share their root's address.
"""

from __future__ import annotations


class SimpleAddressMap:
    """Consecutive ``alignment``-aligned tensors: activations/inputs/outputs first, then weights
    and states, each starting at a multiple of ``alignment`` bytes. ``tensor_bytes`` overrides
    sizes (compression)."""

    def __init__(self, graph, alignment: int = 64, tensor_bytes=None):
        self.graph = graph
        self.tensor_bytes = tensor_bytes
        self.offsets: dict[str, int] = {}
        cursor = 0
        order = [t for t in graph.tensors.values() if t.kind not in ("weight", "state")]
        order += [t for t in graph.tensors.values() if t.kind in ("weight", "state")]
        for t in order:
            if t.alias_of is not None:
                continue
            size = tensor_bytes(t) if tensor_bytes is not None else t.nbytes
            self.offsets[t.name] = cursor
            cursor += -(-max(int(size), 1) // alignment) * alignment
        self.total_bytes = cursor

    def address(self, tensor: str) -> int:
        """Byte address of ``tensor`` (views resolve to their root's)."""
        return self.offsets[self.graph.root(tensor)]
