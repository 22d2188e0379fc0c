"""Crash safety and executors with real processes: SIGKILL and resume, Dask on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import write_base, write_sweep

from memsim.sweep.runner import run_sweep

TESTS = str(Path(__file__).parent)

KILL_SWEEP = """\
base: base.yaml
grid:
  hardware.memory.levels.L2.size: [16 KiB, 32 KiB, 64 KiB, 128 KiB]
  hardware.memory.dram.bandwidth: [2 GB/s, 4 GB/s, 8 GB/s, 16 GB/s, 32 GB/s]
seeds: [0, 1]
"""

SCRIPT = """\
import sys
from memsim.sweep.runner import run_sweep
run_sweep(sys.argv[1], sys.argv[2], workers=2, evaluator="sweep_helpers:fake_batch", chunk=1,
          progress=False)
"""


def test_sigkill_midway_then_resume(tmp_path):
    write_base(tmp_path)
    spec = write_sweep(tmp_path, KILL_SWEEP)
    out = tmp_path / "out"
    points_dir = out / "points"
    log = tmp_path / "evaluated.log"
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""),
               FAKE_SLEEP="0.15", FAKE_LOG=str(log))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(spec), str(out)], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if points_dir.is_dir() and len(list(points_dir.glob("*.parquet"))) >= 8:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-write
    finally:
        proc.wait(timeout=30)
        proc.stderr.close()
    stored = {p.name: p.read_bytes() for p in points_dir.glob("*.parquet")}
    assert 8 <= len(stored) < 40
    before = set(log.read_text().split())
    log.write_text("")
    os.environ["FAKE_LOG"] = str(log)
    try:
        sys.path.insert(0, TESTS)
        summary = run_sweep(spec, out, workers=0, evaluator="sweep_helpers:fake_batch",
                            progress=False)
    finally:
        del os.environ["FAKE_LOG"]
    second = log.read_text().split()
    assert summary["points"] == 40
    assert summary["skipped"] == len(stored) and summary["done"] == 40 - len(stored)
    assert len(second) == len(set(second)) == 40 - len(stored)
    assert not {n[:-len(".parquet")] for n in stored} & set(second)  # no stored point recomputed
    assert before | set(second) >= {n[:-len(".parquet")] for n in stored}
    for name, data in stored.items():  # untouched by the second run
        assert (points_dir / name).read_bytes() == data
    table = pd.read_parquet(summary["results"])
    assert len(table) == 40 and table["id"].is_unique and (table["status"] == "ok").all()
    assert sorted(p.name for p in points_dir.iterdir()) == sorted(f"{i}.parquet" for i in table["id"])


DASK_SWEEP = """\
base: base.yaml
grid:
  hardware.memory.levels.L2.size: [16 KiB, 64 KiB]
  hardware.memory.dram.bandwidth: [1 GB/s, 4 GB/s]
  strategies.prefetch.depth: [0, 1]
"""


def _metrics(path):
    table = pd.read_parquet(path)
    return table.drop(columns=["seconds"]).sort_values("id").reset_index(drop=True)


def test_dask_local_cluster_matches_local_and_survives_a_killed_worker(tmp_path):
    pytest.importorskip("distributed")
    from memsim.sweep.executors import DaskExecutor

    write_base(tmp_path, frames=1)
    spec = write_sweep(tmp_path, DASK_SWEEP)
    local = run_sweep(spec, tmp_path / "local", workers=1, progress=False)
    executor = DaskExecutor(local_workers=2)
    try:
        pids = list(executor.client.run(os.getpid).values())
        assert len(pids) == 2
        result = {}

        def go():
            result["summary"] = run_sweep(spec, tmp_path / "dask", executor=executor, chunk=1,
                                          progress=False)

        thread = threading.Thread(target=go)
        thread.start()
        points_dir = tmp_path / "dask" / "points"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and thread.is_alive():
            if points_dir.is_dir() and len(list(points_dir.glob("*.parquet"))) >= 1:
                break
            time.sleep(0.02)
        os.kill(pids[0], signal.SIGKILL)  # one worker dies mid-sweep (the nanny restarts it)
        thread.join(timeout=300)
        assert not thread.is_alive()
    finally:
        executor.close()
    summary = result["summary"]
    assert summary["done"] == 8 and summary["failed"] == 0
    pd.testing.assert_frame_equal(_metrics(local["results"]), _metrics(summary["results"]),
                                  check_exact=True)
