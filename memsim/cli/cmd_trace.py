"""``memsim trace NETWORK --hardware HW.yaml``: a layer's (or the network's) line trace as .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from memsim.cli.app import app, emit_json


@app.command()
def trace(
    network: str = typer.Argument(..., help="zoo name or .onnx / SCALE-Sim .csv / layer .yaml"),
    hardware: Path = typer.Option(..., "--hardware", help="hardware YAML"),
    layer: Optional[str] = typer.Option(None, "--layer", help="only this op (default: all)"),
    out: Optional[Path] = typer.Option(None, "--out", help="write addr/write arrays to this .npz"),
    batch: int = typer.Option(1, "--batch"),
    dtype: str = typer.Option("int8", "--dtype"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Generate the tile line trace (``memsim replay`` format: ``addr`` uint64 byte addresses of
    lines, ``write`` bool) and print per-layer mapping figures."""
    from memsim.config import load_hardware
    from memsim.errors import InputError
    from memsim.prepare import prepare_graph
    from memsim.workloads import load_network

    hw = load_hardware(hardware)
    graph = load_network(network, batch=batch, dtype=dtype).fold_batchnorm()  # as inference
    ops = [o for o in graph.ops if o.loops is not None]
    if layer is not None:
        ops = [o for o in ops if o.name == layer]
        if not ops:
            names = ", ".join(o.name for o in graph.ops[:8])
            raise InputError(f"no layer with loops called {layer!r} (first layers: {names}, ...)",
                             field="--layer")
    wanted = {op.name for op in ops}
    mappings = [m for m in prepare_graph(graph, hw).mappings if m.op.name in wanted]
    rows, addrs, writes = _trace(mappings, hw, keep=out is not None)
    if out is not None:
        _write_npz(out, addrs, writes)
    line = hw.memory.line_bytes
    summary = {"network": graph.name, "hardware": hw.name, "line_bytes": line,
               "lines": sum(r["lines"] for r in rows), "tiles": sum(r["tiles"] for r in rows),
               "out": str(out) if out is not None else None, "layers": rows}
    if as_json:
        emit_json(summary)
        return
    _print_table(f"{graph.name} on {hw.name}: {summary['tiles']:,} tiles, "
                 f"{summary['lines']:,} lines of {line} B", rows)


def _trace(mappings, hw, keep: bool):
    """Per-layer rows of ``mappings``' tile streams, and (``keep``) their byte addresses and
    write flags in order."""
    import numpy as np

    from memsim.mapping import analytic_bytes

    line = np.uint64(hw.memory.line_bytes)
    addrs, writes, rows = [], [], []
    for m in mappings:
        n_lines = n_tiles = 0
        for t in m.tiles():
            n_tiles += 1
            n_lines += t.lines.size
            if keep:
                addrs.append(t.lines * line)
                writes.append(t.writes)
        rows.append({"name": m.op.name, "op": m.op.kind, "target_level": m.target_level,
                     "dataflow": m.dataflow, "tile": m.tile, "tiles": n_tiles, "lines": n_lines,
                     "macs": m.op.macs, "compute_cycles": m.compute_cycles,
                     "utilisation": m.utilisation, "analytic_bytes": analytic_bytes(m, hw)})
    return rows, addrs, writes


def _write_npz(out: Path, addrs: list, writes: list) -> None:
    """``addr``/``write`` arrays to ``out``, atomically (a temporary file renamed into place)."""
    import os
    import tempfile

    import numpy as np

    from memsim.fileio import publish_mode

    addr = np.concatenate(addrs) if addrs else np.empty(0, np.uint64)
    wr = np.concatenate(writes) if writes else np.empty(0, bool)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
    publish_mode(tmp)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, addr=addr.astype(np.uint64), write=wr.astype(bool))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _print_table(title: str, rows: list) -> None:
    from rich.console import Console

    from memsim.cli.tables import Col, print_table

    cols = [Col("layer", "name"), Col("op", "name"), Col("level", "text"),
            Col("dataflow", "text", optional=True), Col("tiles"), Col("lines"),
            Col("cycles", optional=True), Col("util")]
    table = [[r["name"], r["op"], str(r["target_level"]), r["dataflow"], f"{r['tiles']:,}",
              f"{r['lines']:,}", f"{r['compute_cycles']:,.0f}", f"{r['utilisation']:.2f}"]
             for r in rows]
    print_table(Console(), cols, table, title=title)
