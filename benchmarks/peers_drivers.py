"""Peer drivers for ``benchmarks/peers.py``, run by the peers' scratch venv (not memsim's).

    PEERS_PYTHON -W ignore::DeprecationWarning peers_drivers.py scalesim CFG TOPO LAYOUT OUTDIR
    PEERS_PYTHON peers_drivers.py zigzag ONNX ACCELERATOR_YAML MAPPING_YAML OUTDIR

Each call is one whole process: it imports the peer, runs one network through the peer's
public Python API and prints one JSON line with what the peer predicted. Nothing of memsim is
imported here, and nothing of the peers is copied: only their documented entry points are called
(SCALE-Sim 3.0.0 ``scalesim.scale_sim.scalesim``; ZigZag 3.9.1
``zigzag.api.get_hardware_performance_zigzag``).
"""

from __future__ import annotations

import csv
import json
import sys
import warnings
from pathlib import Path


def scalesim_main(cfg: str, topo: str, layout: str, outdir: str) -> dict:
    """Run SCALE-Sim with traces off; sum its per-layer COMPUTE_REPORT."""
    warnings.simplefilter("ignore")
    from scalesim.scale_sim import scalesim

    sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout)
    sim.run_scale(top_path=outdir)
    (report,) = Path(outdir).glob("*/COMPUTE_REPORT.csv")
    with report.open() as f:
        rows = [{k.strip(): v.strip() for k, v in r.items() if k} for r in csv.DictReader(f)]
    return {"layers": len(rows),
            "total_cycles": sum(int(float(r["Total Cycles"])) for r in rows),
            "stall_cycles": sum(int(float(r["Stall Cycles"])) for r in rows)}


def zigzag_main(onnx_path: str, accelerator: str, mapping: str, outdir: str) -> dict:
    """Run ZigZag's LOMA mapping search for minimal latency; total energy and latency."""
    import logging

    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.WARNING)
    energy_pj, latency_cycles, cmes = get_hardware_performance_zigzag(
        onnx_path, accelerator, mapping, opt="latency", dump_folder=outdir,
        loma_show_progress_bar=False)
    return {"layers": len(cmes[0][1]) if cmes and isinstance(cmes[0][1], list) else None,
            "energy_pj": float(energy_pj), "latency_cycles": float(latency_cycles)}


def main(argv: list[str]) -> None:
    """Dispatch ``scalesim`` / ``zigzag`` and print the result as one JSON line."""
    tool, *args = argv
    result = {"scalesim": scalesim_main, "zigzag": zigzag_main}[tool](*args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
