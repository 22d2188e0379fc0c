"""What each command imports (issue 15, cold start): heavy packages only where they are needed.

Each case runs the command in a fresh interpreter (``python -c`` running ``memsim`` as
``__main__``) and reads ``sys.modules`` at exit, so the import graph is the real one, not a
parse of the source. Deterministic: the modules a command loads do not depend on timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
HW = ROOT / "configs" / "hardware"
LACKEY = Path(__file__).parent / "data" / "cache" / "tiny_lackey.txt"

PROBE = """import io, json, runpy, sys
from contextlib import redirect_stdout
sys.argv = ["memsim", *json.loads(sys.argv[1])]
code = 0
try:
    with redirect_stdout(io.StringIO()):
        runpy.run_module("memsim", run_name="__main__")
except SystemExit as exc:
    code = exc.code
with open(OUT, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""

#: never needed to simulate, replay or print: tables (pandas, pyarrow), figures and reports
#: (plotly, jinja2, kaleido), distributed sweeps (dask, distributed), ONNX import
REPORTING = ("pandas", "pyarrow", "plotly", "jinja2", "kaleido", "dask", "distributed", "onnx")


def _loaded(tmp_path, *argv) -> set[str]:
    """Top-level packages in ``sys.modules`` after ``memsim ARGV`` ran in a fresh process."""
    return {m.split(".")[0] for m in _modules(tmp_path, *argv)}


def _modules(tmp_path, *argv) -> set[str]:
    """Every module in ``sys.modules`` after ``memsim ARGV`` ran in a fresh process."""
    out = tmp_path / "modules.json"
    code = PROBE.replace("OUT", repr(str(out)))
    proc = subprocess.run([sys.executable, "-c", code, json.dumps([str(a) for a in argv])],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["code"] in (0, None), (data["code"], proc.stderr)
    return set(data["modules"])


def _aot_installed(tmp_path) -> bool:
    """Whether the memsim a fresh process imports (from ``tmp_path``) runs its kernels ahead of
    time (``memsim.jit``): an installed copy whose build compiled them; a checkout does not."""
    code = "import memsim.jit as j; print(int(bool(j.aot_table())))"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                          capture_output=True, text=True).stdout.strip() == "1"


def _installed(tmp_path) -> bool:
    code = "import memsim; print(memsim.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.strip()
    return not Path(out).resolve().is_relative_to(ROOT)


def _scenario(tmp_path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nhardware: {HW / 'raspberry-pi-5.yaml'}\n"
                    "streams: [{network: ds_cnn, frames: 1, deadline: 10 ms}]\nseed: 0\n")
    return path


def test_help_loads_no_numerics_and_no_config_models(tmp_path):
    mods = _loaded(tmp_path, "--help")
    heavy = {"numba", "llvmlite", "numpy", "pydantic", "simpy", *REPORTING} & mods
    assert not heavy, heavy


@pytest.mark.parametrize("json_flag", [False, True])
def test_run_no_save_loads_no_tables_or_reports(tmp_path, json_flag):
    argv = ["run", _scenario(tmp_path), "--no-save"] + (["--json"] if json_flag else [])
    mods = _loaded(tmp_path, *argv)
    assert {"simpy", "pydantic"} <= mods  # it did simulate
    assert ("numba" in mods) != _aot_installed(tmp_path)  # kernels: AOT, else numba's JIT
    assert not set(REPORTING) & mods, set(REPORTING) & mods


def test_run_that_saves_writes_parquet(tmp_path):
    mods = _loaded(tmp_path, "run", _scenario(tmp_path), "--out", tmp_path / "res")
    assert "pandas" in mods and (tmp_path / "res" / "layers.parquet").is_file()
    assert not {"plotly", "jinja2", "dask"} & mods


def test_replay_loads_neither_the_engine_nor_tables(tmp_path):
    npz = tmp_path / "t.npz"
    np.savez(npz, addr=np.arange(0, 64 * 500, 8, dtype=np.uint64),
             write=np.zeros(4000, bool), size=np.int64(8))
    for argv in (["replay", npz, "--hardware", HW / "raspberry-pi-5.yaml", "--json"],
                 ["replay", LACKEY, "--hardware", HW / "raspberry-pi-5.yaml"]):
        mods = _loaded(tmp_path, *argv)
        assert ("numba" in mods) != _aot_installed(tmp_path)
        assert not {"simpy", *REPORTING} & mods, {"simpy", *REPORTING} & mods


def test_replay_builds_only_the_hardware_config_models(tmp_path):
    """``memsim.config`` imports its submodules on first use, so replay (which reads only a
    hardware file) never builds the scenario, strategy and sweep models' pydantic schemas."""
    npz = tmp_path / "t.npz"
    np.savez(npz, addr=np.arange(0, 64 * 50, 8, dtype=np.uint64), size=np.int64(8))
    mods = _modules(tmp_path, "replay", npz, "--hardware", HW / "raspberry-pi-5.yaml", "--json")
    assert "memsim.config.hardware" in mods
    others = {"memsim.config.scenario", "memsim.config.strategies", "memsim.config.sweep",
              "memsim.config.kinds", "memsim.config.presets"}
    assert not others & mods, others & mods


def test_an_installed_copy_runs_and_replays_without_numba(tmp_path):
    """Issue 15: a non-editable install carries its kernels compiled ahead of time, so neither
    ``run`` nor ``replay`` imports numba or llvmlite (≈ 0.7 s of a cold process). A checkout
    (editable install) has no AOT module and runs numba's JIT instead."""
    npz = tmp_path / "t.npz"
    np.savez(npz, addr=np.arange(0, 64 * 500, 8, dtype=np.uint64),
             write=np.arange(4000) % 3 == 0, size=np.int64(8))
    runs = (["run", _scenario(tmp_path), "--no-save", "--json"],
            ["replay", npz, "--hardware", HW / "raspberry-pi-5.yaml", "--json"],
            ["replay", LACKEY, "--hardware", HW / "raspberry-pi-5.yaml", "--compat", "cachegrind"])
    installed = _installed(tmp_path)
    for argv in runs:
        mods = _loaded(tmp_path, *argv)
        if installed:
            assert not {"numba", "llvmlite"} & mods, argv
        else:
            assert "numba" in mods, argv
