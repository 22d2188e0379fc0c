"""``prepare(scenario) -> Prepared``: workloads → planning → mapping (→ passes) for every stream.

Seam for later passes (the runtime model): a ``StreamPass`` is called as
``pass_(scenario, index, prepared_stream) -> PreparedStream`` after mapping, in order, for every
stream; it derives new frozen records (``dataclasses.replace`` on the mappings, e.g. setting
``LayerMapping.extra_cycles_per_tile``) instead of editing them, since the sweep keeps
``Prepared`` objects across points. A pass that reads a config field ``prepare_key`` does not
yet cover must add it there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from memsim.config import Strategies
from memsim.mapping import LayerMapping, MappingInputs, map_graph
from memsim.planning import plan_graph
from memsim.planning.capacity import best_option, capacity_options
from memsim.planning.onchip import activation_capacity, split_capacity, split_costs
from memsim.planning.split import SplitCosts
from memsim.runtime import graph_pass, runtime_pass
from memsim.strategies import tensor_bytes_hook
from memsim.workloads import load_network

#: Stream fields passed to the network builder when set.
NETWORK_PARAMS = ("seq_len", "phase", "context", "resolution")
#: Children spawned from the scenario seed before the per-stream ones: 0 cache kernel,
#: 1 background traffic, 2 reserved (never used; kept so that every seed, and so every result,
#: stays what it was when it was spawned).
_SHARED_SEEDS = 3


@dataclass(frozen=True)
class Seeds:
    """The run's named seeds, spawned from ``scenario.seed`` in a fixed layout
    (``SeedSequence(seed).spawn(3 + streams)``): ``cache`` (int seed of the cache kernel's
    random replacement), ``background`` (background traffic) and ``streams`` (one per stream:
    frame jitter)."""

    cache: int
    background: np.random.SeedSequence
    streams: tuple

    @classmethod
    def of(cls, seed: int, n_streams: int) -> "Seeds":
        """The seeds of a scenario with ``seed`` and ``n_streams`` streams."""
        spawned = np.random.SeedSequence(seed).spawn(_SHARED_SEEDS + n_streams)
        return cls(int(spawned[0].generate_state(1)[0]), spawned[1],
                   tuple(spawned[_SHARED_SEEDS:]))


@dataclass(frozen=True)
class PreparedStream:
    """One stream ready for the engine: its ``graph`` (batch-norm folded), memory ``plan``
    (``memsim.planning.MemoryPlan``) and ``mappings`` (one ``LayerMapping`` per op with loops,
    in execution order)."""

    graph: object
    plan: object
    mappings: tuple

    def with_mappings(self, mappings: Sequence[LayerMapping]) -> "PreparedStream":
        """This stream with ``mappings`` in place of its own (for passes)."""
        return replace(self, mappings=tuple(mappings))


@dataclass(frozen=True)
class Prepared:
    """A scenario ready for the engine: ``streams`` (one ``PreparedStream`` per scenario
    stream, in order) and ``seeds``. Frozen; shared read-only across sweep points."""

    streams: tuple
    seeds: Seeds


#: a pass over one prepared stream: ``(scenario, stream index, stream) -> stream``
StreamPass = Callable[[object, int, PreparedStream], PreparedStream]


def load_stream_graph(stream):
    """The workload graph of one scenario stream, batch-norm folded (as inference runs it)."""
    params = {k: getattr(stream, k) for k in NETWORK_PARAMS if getattr(stream, k) is not None}
    graph = load_network(stream.network, batch=stream.batch, dtype=stream.dtype, **params)
    return graph.fold_batchnorm()


def prepare_stream(stream, hw, strategies, seed: int) -> PreparedStream:
    """Graph, memory plan and mappings of one stream on ``hw`` under ``strategies``; ``seed``
    is the scenario seed (the ``best`` planner's search)."""
    return prepare_graph(load_stream_graph(stream), hw, strategies, seed)


def prepare_graph(graph, hw, strategies=None, seed: int = 0) -> PreparedStream:
    """Memory plan and mappings of a loaded ``graph`` on ``hw`` (``strategies`` None: every
    default) — what ``prepare_stream`` does after loading the network."""
    strategies = strategies if strategies is not None else Strategies()
    graph, plan = plan_stream_graph(graph, hw, strategies, seed)
    mappings = map_graph(graph, MappingInputs.of(hw), plan, strategies)
    return PreparedStream(graph, plan, tuple(mappings))


def plan_stream_graph(graph, hw, strategies, seed: int = 0):
    """(graph, memory plan) of a stream on ``hw``: planned within the scratchpad capacity
    (spilling) as before, unless its arena exceeds the backing level and ``reuse.split`` is
    ``auto``: then the option of least estimated extra time among the configured spill and
    the row split (``planning.capacity``) — the graph comes back split when that wins."""
    reuse = strategies.reuse
    args = dict(algorithm=reuse.planner, alignment=reuse.alignment_bytes,
                tensor_bytes=tensor_bytes_hook(strategies), inplace=reuse.inplace, seed=seed)
    spill_cap = activation_capacity(hw)
    plan = plan_graph(graph, capacity=spill_cap, spill=reuse.spill, **args)
    limit = split_capacity(hw)
    if reuse.split == "off" or limit is None or (not plan.spilled and plan.arena_bytes <= limit):
        return graph, plan
    costs = SplitCosts(*split_costs(hw, _dtype(graph)))
    options = capacity_options(graph, limit, costs, spill_ok=spill_cap is not None,
                               choosers=(reuse.spill,), **args)
    best = best_option(options, costs)
    return (graph, plan) if best is None else (best.graph, best.plan)


def _dtype(graph) -> str:
    """The stream's dtype: the builder's ``attrs["dtype"]``, else the first input's."""
    if "dtype" in graph.attrs:
        return graph.attrs["dtype"]
    first = graph.inputs[0] if graph.inputs else next(iter(graph.tensors))
    return graph.tensors[first].dtype


def prepare_index(scenario, index: int, passes: Sequence[StreamPass] = ()) -> PreparedStream:
    """Stream ``index`` of ``scenario`` prepared — its graph at the widths its runtime stores
    (``memsim.runtime.graph_pass``) —, then run through the runtime stage
    (``memsim.runtime.runtime_pass``: what the scenario's runtime executes) and ``passes``."""
    stream = scenario.streams[index]
    graph = graph_pass(scenario, index, load_stream_graph(stream))
    prepared = prepare_graph(graph, scenario.hardware, scenario.strategies, scenario.seed)
    for pass_ in (runtime_pass, *passes):
        prepared = pass_(scenario, index, prepared)
    return prepared


def prepare(scenario, *, passes: Sequence[StreamPass] = ()) -> Prepared:
    """Prepare every stream of ``scenario`` (a validated ``Scenario``) with ``prepare_index``.
    Reads exactly what ``prepare_key`` covers."""
    streams = tuple(prepare_index(scenario, i, passes) for i in range(len(scenario.streams)))
    return Prepared(streams, Seeds.of(scenario.seed, len(scenario.streams)))
