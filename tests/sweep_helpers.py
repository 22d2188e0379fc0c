"""Shared fixtures of the sweep tests: a small real scenario and a cheap stand-in evaluator.

The stand-in (``fake_batch``) replaces the simulator in the store/executor/resume tests so that
they check the sweep machinery, not the engine; it derives deterministic metrics from the
resolved point, optionally sleeps (to give a SIGKILL something to interrupt) and records every
evaluation in a log file (to prove that no point is computed twice).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

HARDWARE = """\
name: tiny-board
price_usd: 10
compute: {cores: 2, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 16, fp32: 4}}
memory:
  levels:
    - {name: L1, kind: cache, size: 4 KiB, line: 64 B, ways: 4, policy: plru, latency: 2 cycles, bandwidth: 32 B/cycle, scope: core}
    - {name: L2, kind: cache, size: 32 KiB, line: 64 B, ways: 8, policy: lru, latency: 10 cycles, bandwidth: 16 B/cycle, scope: shared}
  dram: {name: LPDDR4, bandwidth: 4 GB/s, latency: 100 ns, channels: 1}
energy:
  mac: {int8: 0.2 pJ}
  access: {L1: 1 pJ/B, L2: 3 pJ/B, dram: 20 pJ/B}
"""

SCENARIO = """\
name: kws
hardware: tiny.yaml
streams:
  - {{network: ds_cnn, frames: {frames}, deadline: 2 ms, cores: {cores}}}
seed: 0
"""


def write_base(directory: Path, frames: int = 2, cores: str = "[0]") -> Path:
    """A tiny hardware file and a DS-CNN scenario in ``directory``; returns the scenario path."""
    directory = Path(directory)
    (directory / "tiny.yaml").write_text(HARDWARE)
    path = directory / "base.yaml"
    path.write_text(SCENARIO.format(frames=frames, cores=cores))
    return path


def write_sweep(directory: Path, body: str, name: str = "sweep.yaml") -> Path:
    path = Path(directory) / name
    path.write_text(body)
    return path


def fake_batch(tasks, options=None):
    """Stand-in evaluator: metrics from the point's hardware; ``FAKE_SLEEP`` seconds per point;
    appends each evaluated id to ``FAKE_LOG``; a DRAM bandwidth of exactly 1 GB/s raises."""
    rows = []
    log = os.environ.get("FAKE_LOG")
    for point_id, scenario in tasks:
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
        hw = scenario.hardware
        bw = hw.memory.dram.bandwidth_bytes_per_s
        if log:
            with open(log, "a") as fh:
                fh.write(point_id + "\n")
        if bw == 1e9:
            rows.append({"id": point_id, "status": "failed", "error": "ValueError: 1 GB/s",
                         "method": "fake", "seconds": 0.0})
            continue
        l2 = hw.memory.levels[1].size_bytes
        latency = 1e-3 * (4e9 / bw) + 1e-3 * (32768 / l2) + 1e-6 * scenario.seed
        rows.append({"id": point_id, "status": "ok", "error": None, "method": "fake",
                     "seconds": 0.0, "latency_s": latency, "energy_j": l2 * 1e-9,
                     "deadline_s": 2e-3, "met": latency <= 2e-3, "price_usd": hw.price_usd})
    return rows


LAYERS = """\
name: tiny-cnn
inputs: {{image: [1, 3, {size}, {size}]}}
layers:
  - {{name: c1, op: conv2d, out_channels: {channels}, kernel: 3, padding: 1}}
  - {{name: r1, op: relu}}
"""

FILE_SCENARIO = """\
name: tiny-file
hardware: tiny.yaml
streams:
  - {network: net.yaml, frames: 1, cores: [0]}
seed: 0
"""


def write_layer_network(directory: Path, size: int = 16, channels: int = 8) -> Path:
    """A two-layer YAML layer-list network ``net.yaml`` in ``directory``; returns its path."""
    path = Path(directory) / "net.yaml"
    path.write_text(LAYERS.format(size=size, channels=channels))
    return path


def write_file_base(directory: Path) -> Path:
    """``write_base``'s board plus a scenario whose network is the file ``net.yaml``; returns
    the scenario path (``file.yaml``)."""
    write_base(directory)
    write_layer_network(directory)
    path = Path(directory) / "file.yaml"
    path.write_text(FILE_SCENARIO)
    return path
