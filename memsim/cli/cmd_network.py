"""``memsim list networks`` and ``memsim show network NAME|PATH``."""

from __future__ import annotations

from typing import Optional

import typer

from memsim.cli.app import emit_json, list_app, show_app


@list_app.command("networks")
def list_networks_cmd(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the built-in networks: parameter and MAC counts (default input, batch 1), options.

    JSON: {"networks": [{"name", "description", "params": [option names], "parameters",
    "macs"}]} — ``parameters`` and ``macs`` are exact counts at the builder's defaults.
    """
    from memsim.workloads import list_networks, load_network

    rows = list_networks()
    for r in rows:
        g = load_network(r["name"])
        r["parameters"], r["macs"] = int(g.params), int(g.macs)
    if json_:
        emit_json({"networks": rows})
        return
    from rich.console import Console

    from memsim.cli.tables import Col, print_table

    cols = [Col("name", "name"), Col("params"), Col("MACs"), Col("description", "wrap")]
    table = [[r["name"], f"{r['parameters']:,}", f"{r['macs']:,}",
              r["description"] + (f" Options: {', '.join(r['params'])}." if r["params"] else "")]
             for r in rows]
    print_table(Console(), cols, table, title="built-in networks (counts at the default input, "
                "batch 1; memsim show network NAME for layers)")


@show_app.command("network")
def show_network_cmd(
    network: str = typer.Argument(..., help="Zoo name or a .onnx / .csv / .yaml file."),
    batch: int = typer.Option(1, "--batch", help="Batch size."),
    dtype: str = typer.Option("int8", "--dtype", help="Element type (int8, fp16, ...)."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Tokens (transformers)."),
    phase: Optional[str] = typer.Option(None, "--phase", help="LLM phase: prefill or decode."),
    context: Optional[int] = typer.Option(None, "--context", help="LLM decode context."),
    resolution: Optional[int] = typer.Option(None, "--resolution", help="Input resolution."),
    lenient: bool = typer.Option(False, "--lenient",
                                 help="ONNX: model unsupported ops as elementwise traffic."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (DESIGN §9)."),
) -> None:
    """Show a network's layers: MACs, parameters and bytes per layer."""
    from memsim.workloads import load_network

    params = dict(seq_len=seq_len, phase=phase, context=context, resolution=resolution)
    if lenient:
        params["lenient"] = True
    g = load_network(network, batch=batch, dtype=dtype, **params)
    layers = list(g.layers())
    if json_:
        emit_json({"name": g.name, "params": g.params, "macs": g.macs, "layers": layers})
        return
    from rich.console import Console

    from memsim.units import format_size

    from memsim.cli.tables import Col, print_table

    cols = [Col("name", "name"), Col("op", "name"), Col("MACs"), Col("params"),
            Col("weights", optional=True), Col("in", optional=True), Col("out", optional=True)]
    rows = [[r["name"], r["op"], f"{r['macs']:,}", f"{r['params']:,}",
             format_size(r["weight_bytes"]), format_size(r["input_bytes"]),
             format_size(r["output_bytes"])] for r in layers]
    print_table(Console(), cols, rows,
                title=f"{g.name}: {g.params:,} params, {g.macs:,} MACs, batch {batch}, {dtype}",
                caption="--json has every column (weight, input and output bytes)")
