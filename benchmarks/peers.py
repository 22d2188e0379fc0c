"""memsim against SCALE-Sim 3.0.0 and ZigZag 3.9.1, whole process, same machine, interleaved.

    python benchmarks/peers.py --peers-venv /work/peers-venv [--repeats 1]
        [--memsim-repeats 1] [--networks resnet18 mobilenet_v2] [--tools memsim scalesim zigzag]
        [--hardware coral-edge-tpu] [--cached-hardware raspberry-pi-5|none]
        [--layers [NET=]N ...] [--keep DIR] [--json PATH]

The peers are never memsim dependencies: they live in a scratch venv named by ``--peers-venv``
(docs/benchmarks.md, "Peers side by side", says how it was made) whose python runs
``benchmarks/peers_drivers.py`` as a fresh process per (tool, network). Nothing is downloaded.

Inputs are generated from memsim's own zoo networks and one memsim hardware preset (a systolic
array over one on-chip scratchpad, default the Coral Edge TPU: 64x64 weight-stationary, 8 MiB
SRAM, a 500 MB/s host link):
- SCALE-Sim: the topology CSV from ``memsim.workloads.importers.scalesim_export`` (conv and
  matmul layers; pooling/elementwise are not array work), a config with the same array, dataflow
  and the scratchpad split 1/4 ifmap, 1/2 filter, 1/4 ofmap, bandwidth mode CALC (stall-free
  compute cycles plus the SRAM/DRAM bandwidth each layer needs), and the layout CSV v3 insists on.
- ZigZag: the network as ONNX (``onnx_export``, shapes only; ZigZag analyses Conv/Gemm nodes and
  treats the rest as dummies), an accelerator YAML of the same array (spatial unrolling K x C,
  weight-stationary; depthwise layers G x FX), a per-PE weight and partial-sum register, the
  scratchpad (size, bandwidth, latency, pJ/B) and the host link (bandwidth in bits per cycle,
  latency, pJ/B), and LOMA temporal-mapping search for minimal latency.
- memsim: ``memsim run SCENARIO --json --no-save`` on the preset itself: one 30 FPS frame, int8,
  greedy-by-size buffer plan, prefetch depth 1 — scratchpad residency and capacity, host-link
  latency, bandwidth and contention in the discrete-event engine, energy, deadline verdict.

Each child's wall time is measured around the process; its CPU time (user + system) and peak
RSS come from GNU ``/usr/bin/time`` (the table gives wall and CPU ratios: on a shared machine
the wall time grows with the load, the CPU time much less).
A second memsim row, ``memsim-cached``, runs the same network on ``--cached-hardware`` (default
the Raspberry Pi 5 preset: 4 cores, line-accurate L1/L2/L3 caches, LPDDR4X with refresh), to
time memsim when it simulates caches, which neither peer models.

``--layers N`` (or ``NET=N``) limits every tool to the first N array layers of that network
(memsim then runs the same topology CSV as its network); the table says so and gives seconds
per layer. SCALE-Sim on all of MobileNetV2 ran > 10 min and > 15 GiB here (its depthwise rows
split into ~7,000 single-channel layers), so the recorded run limits MobileNetV2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memsim.config import load_hardware, preset_path
from memsim.workloads.importers.onnx_export import export_onnx
from memsim.workloads.importers.scalesim import load_scalesim_csv
from memsim.workloads.importers.scalesim_export import format_scalesim_csv, scalesim_rows
from memsim.workloads.load import load_network

DRIVERS = Path(__file__).resolve().with_name("peers_drivers.py")
TOOLS = ("memsim", "memsim-cached", "scalesim", "zigzag")
TIME = "/usr/bin/time"  # GNU time (Debian package "time")
MODELS = {
    "memsim": "tiles through scratchpad residency + host link (latency, bandwidth, contention) "
              "in simpy; systolic compute cycles; energy; deadline verdict",
    "memsim-cached": "the same network on --cached-hardware: line-accurate multi-level caches "
                     "(sets, ways, LRU, write-backs), DRAM latency/bandwidth/refresh, contention "
                     "between cores, energy, deadline verdict",
    "scalesim": "cycle-by-cycle systolic array with double-buffered SRAMs; stall-free compute "
                "cycles + SRAM/DRAM bandwidth demand (CALC); no DRAM latency, no deadline",
    "zigzag": "analytical per-layer latency/energy for the best loop mapping found (LOMA); "
              "memory ports as bandwidth, no contention between layers, no deadline",
}

# Every section and key is mandatory in SCALE-Sim 3.0.0 (shared/notes/scalesim.md). With
# InterfaceBandwidth CALC and custom layouts off, Bandwidth and the [layout] bank figures are
# parsed but do not change the stall-free cycles; the request buffers are its example values.
SCALESIM_CFG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kib}
FilterSramSzkB: {filter_kib}
OfmapSramSzkB: {ofmap_kib}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: {dataflow}
Bandwidth: 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

# The Coral row runs `runtime: generic`: SCALE-Sim and ZigZag model the textbook array (one
# column per depthwise channel), and the cross-check compares that mechanism cycle for cycle;
# the preset's default runtime (edgetpu) packs depthwise channels as the real chip does.
SCENARIO = """name: peers-{net}
hardware: {hw}
{runtime}streams:
  - {{network: {network}, dtype: int8, frames: 1, period: 33.3 ms, deadline: 33.3 ms}}
strategies: {{reuse: {{planner: greedy-by-size}}, prefetch: {{depth: 1}}}}
seed: 0
"""


def array_params(hw) -> dict:
    """The figures every tool is configured with, from one memsim systolic preset."""
    comp, mem = hw.compute, hw.memory
    if comp.kind != "systolic" or len(mem.levels) != 1 or mem.levels[0].kind != "scratchpad":
        print(f"{hw.name}: peers.py needs a systolic preset over one scratchpad", file=sys.stderr)
        raise SystemExit(2)
    sram, dram, clock = mem.levels[0], mem.dram, comp.clock_hz
    access = hw.energy.access_pj_per_byte if hw.energy else {}
    return {
        "name": hw.name, "rows": comp.systolic.rows, "cols": comp.systolic.cols,
        "dataflow": comp.systolic.dataflow, "clock_hz": clock,
        "sram_bytes": sram.size_bytes,
        "sram_bits_per_cycle": max(8, int(sram.bandwidth_bytes_per_s * 8 / clock)),
        "sram_latency_cycles": max(1, round(sram.latency_ps * clock / 1e12)),
        "dram_bits_per_cycle": max(1, int(dram.bandwidth_bytes_per_s * 8 / clock)),
        "dram_latency_cycles": max(1, round(dram.latency_ps * clock / 1e12)),
        "sram_pj_per_byte": access.get(sram.name, 0.0), "dram_pj_per_byte": access.get("dram", 0.0),
        "mac_pj": (hw.energy.mac_pj.get("int8", 0.0) if hw.energy else 0.0),
    }


def scalesim_cfg(p: dict, name: str) -> str:
    """SCALE-Sim config text: same array and dataflow, scratchpad split 1/4, 1/2, 1/4 (KiB)."""
    kib = p["sram_bytes"] // 1024
    return SCALESIM_CFG.format(name=name, rows=p["rows"], cols=p["cols"], dataflow=p["dataflow"],
                               ifmap_kib=kib // 4, filter_kib=kib // 2, ofmap_kib=kib // 4)


def scalesim_layout(rows: list[tuple]) -> str:
    """The layout CSV SCALE-Sim 3.0.0 requires (parsed, unused with custom layouts off)."""
    return "".join(["header" + ",x" * 20 + ",\n"] + [f"{r[0]}" + ",1" * 20 + ",\n" for r in rows])


def _port(name: str, kind: str, bits: int, alloc: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": bits, "bandwidth_max": bits,
            "allocation": alloc}


def zigzag_accelerator(p: dict) -> dict:
    """ZigZag accelerator (sizes in bits, bandwidths in bits/cycle, costs in pJ per 8-bit word).

    Port allocations use ZigZag's data-movement names (fh: from higher level, tl: to lower,
    fl: from lower, th: to higher). The host link gets the whole bits per cycle below its
    bandwidth (500 MB/s at 480 MHz: 8.3 → 8); register energies are 0 (memsim has no registers
    in its energy model either).
    """
    reads, writes = ["I1, tl", "I2, tl", "O, tl", "O, th"], ["I1, fh", "I2, fh", "O, fh", "O, fl"]
    sram_port = dict(bandwidth_min=8, bandwidth_max=p["sram_bits_per_cycle"])
    return {"name": f"{p['name']} (memsim preset)", "memories": {
        "rf_w": {"size": 8, "r_cost": 0.0, "w_cost": 0.0, "area": 0, "latency": 1,
                 "operands": ["I2"], "served_dimensions": [],
                 "ports": [_port("r_port_1", "read", 8, ["I2, tl"]),
                           _port("w_port_1", "write", 8, ["I2, fh"])]},
        "rf_o": {"size": 32, "r_cost": 0.0, "w_cost": 0.0, "area": 0, "latency": 1,
                 "operands": ["O"], "served_dimensions": [],
                 "ports": [_port("r_port_1", "read", 32, ["O, tl"]),
                           _port("r_port_2", "read", 32, ["O, th"]),
                           _port("w_port_1", "write", 32, ["O, fh"]),
                           _port("w_port_2", "write", 32, ["O, fl"])]},
        "sram": {"size": p["sram_bytes"] * 8, "r_cost": p["sram_pj_per_byte"],
                 "w_cost": p["sram_pj_per_byte"], "area": 0, "latency": p["sram_latency_cycles"],
                 "operands": ["I1", "I2", "O"], "served_dimensions": ["D1", "D2"],
                 "ports": [{**_port("r_port_1", "read", 8, reads), **sram_port},
                           {**_port("w_port_1", "write", 8, writes), **sram_port}]},
        "dram": {"size": 1 << 40, "r_cost": p["dram_pj_per_byte"],
                 "w_cost": p["dram_pj_per_byte"], "area": 0, "latency": p["dram_latency_cycles"],
                 "operands": ["I1", "I2", "O"], "served_dimensions": ["D1", "D2"],
                 "ports": [_port("rw_port_1", "read_write", p["dram_bits_per_cycle"],
                                 reads + writes)]}},
        "operational_array": {"unit_energy": p["mac_pj"], "unit_area": 1.0,
                              "dimensions": ["D1", "D2"], "sizes": [p["cols"], p["rows"]],
                              "systolic_dimensions": ["D1", "D2"]}}


def zigzag_mapping(p: dict, depthwise: list[str]) -> list[dict]:
    """Weight-stationary spatial mapping: output channels across D1, input channels down D2.

    Depthwise layers (C = K = 1 per group) would use one PE that way; as a ZigZag user would,
    they get their channels (G) across D1 and the filter width down D2. SCALE-Sim and memsim
    run a depthwise layer channel after channel on R·S rows of one column instead, so ZigZag's
    depthwise latency is the optimistic one of the three.
    """
    links = {"O": "O", "W": "I2", "I": "I1"}
    dw = [{"name": n, "spatial_mapping": {"D1": [f"G, {p['cols']}"], "D2": [f"FX, {p['rows']}"]},
           "memory_operand_links": links} for n in depthwise]
    return [{"name": "default",
             "spatial_mapping": {"D1": [f"K, {p['cols']}"], "D2": [f"C, {p['rows']}"]},
             "memory_operand_links": links}] + dw


def write_inputs(net: str, hw_path: Path, cached: Path | None, p: dict, layers: int | None,
                 d: Path) -> dict:
    """Write every tool's inputs for ``net`` under ``d``; return the paths and layer count."""
    graph = load_network(net, dtype="int8")
    rows, _ = scalesim_rows(graph)
    rows = rows[:layers] if layers else rows
    topo = d / f"{net}.csv"
    topo.write_text(format_scalesim_csv(rows))
    (d / f"{net}.layout.csv").write_text(scalesim_layout(rows))
    (d / f"{net}.cfg").write_text(scalesim_cfg(p, net))
    if layers:  # every tool sees exactly the same first N array layers
        graph = load_scalesim_csv(topo, dtype="int8")
    export_onnx(graph, d / f"{net}.onnx")
    (d / "accelerator.yaml").write_text(json.dumps(zigzag_accelerator(p), indent=1))
    depthwise = [op.name for op in graph.ops if op.kind == "conv2d" and op.attrs["groups"] > 1
                 and op.attrs["groups"] == graph.tensors[op.inputs[0]].shape[1]]
    (d / f"{net}.mapping.yaml").write_text(json.dumps(zigzag_mapping(p, depthwise), indent=1))
    network = topo.name if layers else net  # relative to the scenario: --keep copies still run
    (d / f"{net}.memsim.yaml").write_text(SCENARIO.format(net=net, hw=hw_path, network=network,
                                                                runtime="runtime: generic\n"))
    if cached:
        (d / f"{net}.memsim-cached.yaml").write_text(
            SCENARIO.format(net=net, hw=cached, network=network, runtime=""))
    return {"rows": len(rows)}


def command(tool: str, net: str, d: Path, peers_python: Path) -> list[str]:
    """The whole-process command line of one (tool, network) run."""
    if tool.startswith("memsim"):
        exe = Path(sys.executable).with_name("memsim")
        head = [str(exe)] if exe.exists() else [sys.executable, "-m", "memsim"]
        return head + ["run", str(d / f"{net}.{tool}.yaml"), "--json", "--no-save"]
    out = tempfile.mkdtemp(prefix=f"{tool}-{net}-", dir=d)
    if tool == "scalesim":
        return [str(peers_python), "-W", "ignore::DeprecationWarning", str(DRIVERS), "scalesim",
                str(d / f"{net}.cfg"), str(d / f"{net}.csv"), str(d / f"{net}.layout.csv"), out]
    return [str(peers_python), str(DRIVERS), "zigzag", str(d / f"{net}.onnx"),
            str(d / "accelerator.yaml"), str(d / f"{net}.mapping.yaml"), out]


def run_child(cmd: list[str]) -> tuple[float, int, dict, float]:
    """(wall s, peak RSS bytes, parsed last JSON line, user + system CPU s) of one fresh process.

    CPU time and peak RSS come from GNU ``/usr/bin/time``, which forks the command itself: Linux
    carries a process's peak RSS across fork and exec, so a child forked from this script (which
    has memsim, numpy and onnx loaded) would report at least this script's RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        t0 = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%U %S %M", "-o", report.name, *cmd],
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
        user, system, rss_kib = report.read().split()[-3:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return wall, int(rss_kib) * 1024, json.loads(lines[-1]), float(user) + float(system)


def predicted_s(tool: str, res: dict, clock_hz: float) -> float:
    """Each tool's predicted latency of one inference, seconds."""
    if tool.startswith("memsim"):
        return res["latency_s"]
    if tool == "scalesim":
        return res["total_cycles"] / clock_hz
    return res["latency_cycles"] / clock_hz


def benchmark(args, p: dict, d: Path) -> tuple[dict, dict]:
    """Run every (repeat, network, tool) in interleaved order; samples per (net, tool)."""
    layers = {net: write_inputs(net, args.hw_path, args.cached_path, p, args.layers[net],
                                d)["rows"] for net in args.networks}
    peers_python = Path(args.peers_venv) / "bin" / "python"
    samples: dict = {}
    for rep in range(args.repeats):
        for net in args.networks:
            for tool in args.tools:
                for _ in range(args.memsim_repeats if tool.startswith("memsim") else 1):
                    wall, rss, res, cpu = run_child(command(tool, net, d, peers_python))
                    samples.setdefault((net, tool), []).append((wall, rss, res, cpu))
                    print(f"  [{rep + 1}/{args.repeats}] {net:13s} {tool:13s} {wall:8.2f} s "
                          f"{cpu:8.2f} s CPU {rss / 2**20:7.0f} MiB", flush=True)
    return samples, layers


def _median_wall(samples: dict, key, field: int = 0) -> float:
    """Median wall s (``field`` 0) or CPU s (``field`` 3) of one (network, tool)."""
    return statistics.median(x[field] for x in samples[key]) if key in samples else float("nan")


def _ratio(wall: float, base: float) -> str:
    return f"{wall / base:8.1f}x" if base == base else f"{'-':>9s}"  # NaN: that row did not run


def _cross_check(args, p: dict, samples: dict) -> None:
    """Print memsim's stall-free array-layer cycles next to SCALE-Sim's "Total Cycles"."""
    for net in args.networks:
        if (net, "memsim") not in samples or (net, "scalesim") not in samples:
            continue
        layers = samples[(net, "memsim")][-1][2]["layers"]
        ours = round(sum(x["compute_s"] for x in layers if x["op"] in ("conv2d", "matmul"))
                     * p["clock_hz"])
        theirs = samples[(net, "scalesim")][-1][2]["total_cycles"]
        verdict = "equal" if ours == theirs else f"differ by {ours - theirs:+,}"
        print(f"{net}: array-layer compute cycles memsim {ours:,}, SCALE-Sim {theirs:,} ({verdict})")


def report(args, p: dict, samples: dict, layers: dict) -> list[dict]:
    """Print the table of medians and ratios (tool wall / memsim wall); return its rows."""
    print(f"\n{p['name']}: {p['rows']}x{p['cols']} {p['dataflow']} @ {p['clock_hz'] / 1e6:.0f} MHz;"
          f" medians of whole-process runs ({args.repeats} per peer, "
          f"{args.repeats * args.memsim_repeats} per memsim row), interleaved")
    for net, n in args.layers.items():
        if n:
            print(f"{net}: FIRST {n} ARRAY LAYERS ONLY (every tool, the same layers)")
    print(f"{'network':13s} {'tool':13s} {'layers':>6s} {'wall s':>8s} {'s/layer':>8s} "
          f"{'x memsim':>9s} {'x cached':>9s} {'CPU s':>8s} {'x CPU':>8s} {'peak MiB':>9s} "
          f"{'pred. ms':>9s}")
    rows = []
    for net in args.networks:
        base = _median_wall(samples, (net, "memsim"))
        cached = _median_wall(samples, (net, "memsim-cached"))
        base_cpu = _median_wall(samples, (net, "memsim"), 3)
        for tool in args.tools:
            s = samples[(net, tool)]
            wall, cpu = _median_wall(samples, (net, tool)), _median_wall(samples, (net, tool), 3)
            rss = max(x[1] for x in s)
            pred = predicted_s(tool, s[-1][2], p["clock_hz"])
            rows.append({"network": net, "tool": tool, "layers": layers[net], "wall_s": wall,
                         "x_memsim": wall / base, "x_memsim_cached": wall / cached,
                         "cpu_s": cpu, "x_memsim_cpu": cpu / base_cpu,
                         "peak_rss_bytes": rss, "predicted_s": pred, "result": s[-1][2],
                         "walls_s": [x[0] for x in s], "cpus_s": [x[3] for x in s]})
            print(f"{net:13s} {tool:13s} {layers[net]:6d} {wall:8.2f} {wall / layers[net]:8.3f} "
                  f"{_ratio(wall, base)} {_ratio(wall, cached)} {cpu:8.2f} "
                  f"{_ratio(cpu, base_cpu)[1:]} {rss / 2**20:9.0f} {pred * 1e3:9.2f}")
    _cross_check(args, p, samples)
    print("\nwhat each tool modelled (pred. ms: its predicted latency of one inference):")
    for tool in args.tools:
        print(f"  {tool:13s} {MODELS[tool]}")
    return rows


def _layer_limits(ap, specs: list[str], networks: list[str]) -> dict[str, int | None]:
    """``--layers`` entries (``N`` or ``NET=N``) → first-N limit per network (None: whole)."""
    limits: dict[str, int | None] = dict.fromkeys(networks)
    for spec in specs:
        net, _, n = spec.rpartition("=")
        if not n.isdigit() or int(n) < 1 or (net and net not in limits):
            ap.error(f"--layers {spec}: expected N or NET=N with NET one of --networks")
        for key in ([net] if net else networks):
            limits[key] = int(n)
    return limits


def parse_args(argv):
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers-venv", required=True, help="venv with scalesim and zigzag-dse")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--memsim-repeats", type=int, default=1,
                    help="memsim runs per network in each repeat (they are cheap)")
    ap.add_argument("--networks", nargs="+", default=["resnet18", "mobilenet_v2"])
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    ap.add_argument("--hardware", default="coral-edge-tpu", help="memsim systolic preset")
    ap.add_argument("--cached-hardware", default="raspberry-pi-5",
                    help="preset with caches for the memsim-cached row ('none': skip it)")
    ap.add_argument("--layers", nargs="+", default=[], metavar="[NET=]N",
                    help="first N array layers only (all networks, or NET=N for one)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the inputs in this directory")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = ap.parse_args(argv)
    if not (Path(args.peers_venv) / "bin" / "python").exists():
        ap.error(f"--peers-venv {args.peers_venv}: no bin/python")
    args.hw_path = preset_path(args.hardware).resolve()
    args.layers = _layer_limits(ap, args.layers, args.networks)
    args.cached_path = None
    if args.cached_hardware != "none":
        args.cached_path = preset_path(args.cached_hardware).resolve()
    elif "memsim-cached" in args.tools:
        args.tools.remove("memsim-cached")
    return args


def main(argv: list[str]) -> None:
    """Generate the inputs, run the interleaved benchmark, print (and optionally save) it."""
    args = parse_args(argv)
    p = array_params(load_hardware(args.hw_path))
    d = Path(tempfile.mkdtemp(prefix="memsim-peers-"))
    try:
        samples, layers = benchmark(args, p, d)
        rows = report(args, p, samples, layers)
        if args.json:
            args.json.write_text(json.dumps({"array": p, "rows": rows}, indent=1))
    finally:
        if args.keep:
            shutil.copytree(d, args.keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("scalesim-*", "zigzag-*"))
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
