"""``memsim list networks`` and ``memsim show network NAME|PATH``."""

from __future__ import annotations

from typing import Optional

import typer

from memsim.cli.app import emit_json, list_app, show_app


@list_app.command("networks")
def list_networks_cmd(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the built-in networks and their parameters."""
    from memsim.workloads import list_networks

    rows = list_networks()
    if json_:
        emit_json({"networks": rows})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "parameters", "description")
    for r in rows:
        table.add_row(r["name"], ", ".join(r["params"]), r["description"])
    Console().print(table)


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
    from rich.table import Table

    from memsim.units import format_size

    table = Table("name", "op", "MACs", "params", "weights", "in", "out",
                  title=f"{g.name}: {g.params:,} params, {g.macs:,} MACs, batch {batch}, {dtype}")
    for r in layers:
        table.add_row(r["name"], r["op"], f"{r['macs']:,}", f"{r['params']:,}",
                      format_size(r["weight_bytes"]), format_size(r["input_bytes"]),
                      format_size(r["output_bytes"]))
    Console().print(table)
