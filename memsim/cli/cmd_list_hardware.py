"""``memsim list hardware``: the shipped hardware presets (configs/hardware, or $MEMSIM_CONFIGS)."""

from __future__ import annotations

import typer

from memsim.cli.app import emit_json, list_app


def hardware_rows() -> list[dict]:
    """One summary row per preset file; a broken preset raises its located InputError."""
    from memsim.config import hardware_presets, load_hardware

    rows = []
    for path in hardware_presets():
        hw = load_hardware(path)
        macs = hw.compute.macs_per_cycle
        peak = {d: (hw.peak_macs_per_s(d) if d in macs else None) for d in ("int8", "fp32")}
        rows.append({
            "name": hw.name,
            "file": str(path),
            "preset": path.stem,
            "kind": hw.compute.kind,
            "cores": hw.compute.cores,
            "clock_hz": hw.compute.clock_hz,
            "peak_int8_macs_per_s": peak["int8"],
            "peak_fp32_macs_per_s": peak["fp32"],
            "levels": [{"name": lv.name, "kind": lv.kind, "size_bytes": lv.size_bytes,
                        "scope": lv.scope} for lv in hw.memory.levels],
            "dram_bandwidth_bytes_per_s": hw.memory.dram.bandwidth_bytes_per_s,
            "dram_size_bytes": hw.memory.dram.size_bytes,
            "price_usd": hw.price_usd,
            "tdp_w": hw.tdp_w,
        })
    return rows


def _si(value, unit: str) -> str:
    if value is None:
        return "-"
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


@list_app.command("hardware")
def list_hardware(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """List hardware presets: cores, clock, peak int8/fp32 MAC/s, caches, DRAM bandwidth, price.

    JSON: {"configs_dir", "hardware": [{"name", "file", "preset", "kind", "cores", "clock_hz",
    "peak_int8_macs_per_s", "peak_fp32_macs_per_s", "levels": [{"name", "kind", "size_bytes",
    "scope"}], "dram_bandwidth_bytes_per_s", "dram_size_bytes", "price_usd", "tdp_w"}]}.
    """
    from memsim.config import configs_dir
    from memsim.units import format_size

    rows = hardware_rows()
    if as_json:
        emit_json({"configs_dir": str(configs_dir()), "hardware": rows})
        return
    from rich.console import Console

    from memsim.cli.tables import Col, print_table

    # preset names are what users type: never shortened; the long name goes first when narrow
    cols = [Col("preset", "text"), Col("name", "name", optional=True), Col("cores"),
            Col("clock", optional=True), Col("int8 MAC/s"), Col("fp32 MAC/s", optional=True),
            Col("on-chip levels", "wrap"), Col("DRAM BW"), Col("price")]
    table = []
    for r in rows:
        levels = "\n".join(f"{lv['name']} {format_size(lv['size_bytes'])}" for lv in r["levels"])
        price = f"${r['price_usd']:,.0f}" if r["price_usd"] is not None else "-"
        table.append([r["preset"], r["name"], str(r["cores"]), _si(r["clock_hz"], "Hz"),
                      _si(r["peak_int8_macs_per_s"], ""), _si(r["peak_fp32_macs_per_s"], ""),
                      levels, _si(r["dram_bandwidth_bytes_per_s"], "B/s"), price])
    print_table(Console(), cols, table, title=f"hardware presets in {configs_dir() / 'hardware'}",
                caption="--json has every figure (names, clocks, fp32 peaks, scopes, TDP)")
