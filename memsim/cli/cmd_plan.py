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
    capacity: str | None = typer.Option(None, "--capacity",
                                        help="on-chip memory for the activations, e.g. 512KiB: "
                                             "tensors that do not fit spill to DRAM"),
    spill: str = typer.Option("least-traffic", "--spill",
                              help="least-traffic | largest-first (with --capacity); off: "
                                   "nothing may spill (a read-only backing store)"),
    split: str = typer.Option("auto", "--split",
                              help="auto: also split layers into row bands (with --capacity); "
                                   "off: spill only"),
    hardware: str = typer.Option("esp32-s3", "--hardware",
                                 help="hardware preset or file whose MAC rate and DRAM "
                                      "bandwidth weigh the options (with --capacity)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Plan activation buffers; print arena, lower bound and naive bytes and every buffer.

    Networks are planned with batch norm folded (as inference engines deploy them). With
    ``--capacity`` the buffers that do not fit spill to DRAM (least extra traffic, or the
    largest first) and the plan printed is that spill; every option (both spills, the row
    split, split + spill) is listed with its extra DRAM bytes, recomputed MACs, re-read weights
    and estimated time on ``--hardware``, and the least-time one is named."""
    from memsim.planning import plan_buffers, read_instances, validate

    cap = _check_options(network, instances, algorithm, alignment, time_limit, capacity, spill,
                         split)
    within = None
    if instances is not None:
        buffers = read_instances(instances)
        result = plan_buffers(buffers, algorithm, time_limit_s=time_limit,
                              alignment=alignment or 1, seed=seed)
        name = instances.name
        naive = result.naive_bytes
    else:
        buffers, result, name, naive, within = _plan_network(
            network, batch, dtype, algorithm, dict(
                alignment=64 if alignment is None else alignment, time_limit_s=time_limit,
                seed=seed, capacity=cap), spill, split, hardware)
    al = result.alignment
    validate([type(b)(b.id, -(-b.size // al) * al, b.start, b.end) for b in buffers], result)
    out = {"arena_bytes": result.arena_bytes, "lower_bound_bytes": result.lower_bound_bytes,
           "naive_bytes": naive, "algorithm": algorithm, "alignment": al,
           "seconds": result.seconds,
           "buffers": [{"id": str(b.id), "offset": result.offsets[b.id], "size": b.size,
                        "start": b.start, "end": b.end} for b in buffers]}
    if within is not None:
        out["capacity"] = within
    if as_json:
        emit_json(out)
        return
    _print_plan(name, algorithm, buffers, result, naive, within, spill)


def _check_options(network, instances, algorithm, alignment, time_limit, capacity, spill,
                   split):
    """Refuse bad options (exit 2, the option named); returns ``--capacity`` in bytes or None."""
    from memsim.errors import InputError
    from memsim.planning.capacity import SPLIT_MODES
    from memsim.planning.planner import ALGORITHMS
    from memsim.planning.spill import CHOOSERS
    from memsim.units import parse_size

    cap = None
    if capacity is not None:
        try:
            cap = parse_size(capacity)
        except ValueError as err:
            raise InputError(str(err), field="--capacity") from None
        if network is None:
            raise InputError("needs a NETWORK (spill traffic comes from its ops)",
                             field="--capacity")
    if spill not in (*CHOOSERS, "off"):
        raise InputError(f"unknown spill chooser (got {spill!r}; use {', '.join(CHOOSERS)} "
                         "or off)", field="--spill")
    if split not in SPLIT_MODES:
        raise InputError(f"unknown split mode (got {split!r}; use {', '.join(SPLIT_MODES)})",
                         field="--split")
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown planner (got {algorithm!r}; use {', '.join(ALGORITHMS)})",
                         field="--algorithm")
    if (network is None) == (instances is None):
        raise InputError("give exactly one of NETWORK or --instances CSV", field="network")
    if alignment is not None and alignment < 1:
        raise InputError(f"must be >= 1 (got {alignment})", field="--alignment")
    if time_limit < 0:
        raise InputError(f"must be >= 0 (got {time_limit})", field="--time-limit")
    return cap


def _plan_network(network, batch, dtype, algorithm, args: dict, spill: str, split: str,
                  hardware: str):
    """(buffers, plan, name, naive bytes, capacity record or None) of a network; with a
    capacity, every option (``planning.capacity``) is planned so they can be compared."""
    from memsim.errors import InputError
    from memsim.planning import plan_graph
    from memsim.workloads import load_network

    try:
        graph = load_network(network, batch=batch, dtype=dtype)
    except (KeyError, ValueError) as err:
        raise InputError(f"{err} (got {network!r})", field="network") from None
    graph = graph.fold_batchnorm()
    cap = args["capacity"]
    if cap is None or spill == "off":
        mp = plan_graph(graph, algorithm, **dict(args, capacity=None))
    else:
        mp = plan_graph(graph, algorithm, spill=spill, **args)
    within = None
    if cap is not None:
        within = _capacity_record(graph, mp, algorithm, args, spill, split, hardware)
    return mp.buffers, mp.plan, graph.name, mp.naive_bytes, within


def _capacity_record(graph, mp, algorithm, args, spill, split, hardware) -> dict:
    """The ``--capacity`` comparison: the printed spill plan, every option and the chosen one;
    no option fitting is bad input (``--capacity``)."""
    from memsim.config import load_hardware
    from memsim.config.presets import preset_path
    from memsim.errors import InputError
    from memsim.planning.capacity import best_option, capacity_options
    from memsim.planning.onchip import split_costs
    from memsim.planning.split import SplitCosts

    cap = args["capacity"]
    try:
        hw = load_hardware(preset_path(hardware))
    except (FileNotFoundError, ValueError) as err:
        raise InputError(f"{err} (got {hardware!r})", field="--hardware") from None
    costs = SplitCosts(*split_costs(hw, graph.attrs.get("dtype", "int8")))
    plan_args = {k: v for k, v in args.items() if k != "capacity"}
    options = []
    if mp.arena_bytes > cap:
        options = capacity_options(graph, cap, costs, spill_ok=spill != "off", split=split,
                                   algorithm=algorithm, **plan_args)
    chosen = best_option(options, costs) if options else None
    if mp.arena_bytes > cap and chosen is None:
        least = min(o.onchip_bytes for o in options) if options else mp.arena_bytes
        raise InputError(f"no option fits {cap:,} B on chip (spilling is off; the least "
                         f"arena found is {least:,} B)", field="--capacity")
    return {"capacity_bytes": cap, "spill": spill,
            "onchip_bytes": mp.arena_bytes if mp.onchip_bytes is None else mp.onchip_bytes,
            "spilled": [str(i) for i in mp.spilled],
            "spill_traffic_bytes": mp.spill_traffic_bytes,
            **{f"{o.name.split()[1]}_{k}": v for o in options if o.name.startswith("spill ")
               for k, v in (("traffic_bytes", o.spill_bytes), ("spilled", len(o.plan.spilled)))},
            "hardware": hw.name, "options": [o.record(costs) for o in options],
            "chosen": chosen.name if chosen else None}


def _print_plan(name, algorithm, buffers, result, naive, within, spill) -> None:
    """The plan's summary lines (and the capacity comparison) on stdout."""
    al = result.alignment
    typer.echo(f"{name}: {algorithm}, alignment {al} B, {len(buffers)} buffers, "
               f"{result.seconds:.3f} s")
    typer.echo(f"  arena        {result.arena_bytes:>14,} B")
    typer.echo(f"  lower bound  {result.lower_bound_bytes:>14,} B")
    typer.echo(f"  naive        {naive:>14,} B")
    if within is None:
        return
    typer.echo(f"  capacity     {within['capacity_bytes']:>14,} B: on chip "
               f"{within['onchip_bytes']:,} B, {len(within['spilled'])} buffers spilled "
               f"({spill})")
    if not within["options"]:
        return
    typer.echo(f"  options (extra per run; time on {within['hardware']}):")
    for o in within["options"]:
        mark = "*" if o["option"] == within["chosen"] else " "
        fits = "" if o["fits"] else "  does not fit"
        typer.echo(f"  {mark} {o['option']:<22} on chip {o['onchip_bytes']:>10,} B  "
                   f"DRAM {o['spill_traffic_bytes'] + o['extra_weight_bytes']:>11,} B  "
                   f"MACs +{o['extra_macs']:,}  {o['extra_seconds'] * 1e3:.2f} ms{fits}")
        for first, last, bands in o["segments"]:
            typer.echo(f"        {first} .. {last}: {bands} bands")
    typer.echo(f"  chosen: {within['chosen']} (least estimated time)")
