"""``memsim plan NETWORK | --instances CSV``: the activation arena a planner finds (DESIGN §9)."""

from __future__ import annotations

from pathlib import Path

import typer

from memsim.cli.app import app, emit_json


@app.command()
def plan(
    network: str | None = typer.Argument(None, help="zoo name or .onnx/.csv/.yaml network"),
    instances: Path | None = typer.Option(None, "--instances",
                                          help="MiniMalloc CSV: id,lower,upper,size"),
    algorithm: str = typer.Option("greedy-by-size", "--algorithm",
                                  help="none | greedy-by-size | greedy-by-breadth | best"),
    dtype: str = typer.Option("int8", "--dtype", help="network dtype"),
    batch: int = typer.Option(1, "--batch", help="network batch size"),
    alignment: int | None = typer.Option(None, "--alignment",
                                         help="offset alignment in bytes (64 for networks, 1 "
                                              "for instances)"),
    time_limit: float = typer.Option(10.0, "--time-limit", help="seconds for --algorithm best"),
    seed: int = typer.Option(0, "--seed", help="seed of the best search's restarts"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Plan activation buffers; print arena, lower bound and naive bytes and every buffer.

    Networks are planned with batch norm folded (as inference engines deploy them)."""
    from memsim.errors import InputError
    from memsim.planning import plan_buffers, plan_graph, read_instances, validate
    from memsim.planning.planner import ALGORITHMS

    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown planner (got {algorithm!r}; use {', '.join(ALGORITHMS)})",
                         field="--algorithm")
    if (network is None) == (instances is None):
        raise InputError("give exactly one of NETWORK or --instances CSV", field="network")
    if alignment is not None and alignment < 1:
        raise InputError(f"must be >= 1 (got {alignment})", field="--alignment")
    if time_limit < 0:
        raise InputError(f"must be >= 0 (got {time_limit})", field="--time-limit")
    if instances is not None:
        buffers = read_instances(instances)
        result = plan_buffers(buffers, algorithm, time_limit_s=time_limit,
                              alignment=alignment or 1, seed=seed)
        name = instances.name
        naive = result.naive_bytes
    else:
        from memsim.workloads import load_network

        try:
            graph = load_network(network, batch=batch, dtype=dtype)
        except (KeyError, ValueError) as err:
            raise InputError(f"{err} (got {network!r})", field="network") from None
        graph = graph.fold_batchnorm()
        mp = plan_graph(graph, algorithm, alignment=64 if alignment is None else alignment,
                        time_limit_s=time_limit, seed=seed)
        buffers, result, name, naive = mp.buffers, mp.plan, graph.name, mp.naive_bytes
    al = result.alignment
    validate([type(b)(b.id, -(-b.size // al) * al, b.start, b.end) for b in buffers], result)
    out = {"arena_bytes": result.arena_bytes, "lower_bound_bytes": result.lower_bound_bytes,
           "naive_bytes": naive, "algorithm": algorithm, "alignment": al,
           "seconds": result.seconds,
           "buffers": [{"id": str(b.id), "offset": result.offsets[b.id], "size": b.size,
                        "start": b.start, "end": b.end} for b in buffers]}
    if as_json:
        emit_json(out)
        return
    typer.echo(f"{name}: {algorithm}, alignment {al} B, {len(buffers)} buffers, "
               f"{result.seconds:.3f} s")
    typer.echo(f"  arena        {result.arena_bytes:>14,} B")
    typer.echo(f"  lower bound  {result.lower_bound_bytes:>14,} B")
    typer.echo(f"  naive        {naive:>14,} B")
