"""``memsim precompile`` and the build hook: an installed memsim compiles no kernel at run time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """import json, sys
import memsim
memsim.simulate(sys.argv[1])
from memsim.cli.cmd_precompile import jit_cache_stats
print(json.dumps({"file": memsim.__file__, **jit_cache_stats()}))
"""
SCENARIO = """name: probe
hardware: {hw}
streams:
  - {{network: ds_cnn, dtype: int8, frames: 1}}
seed: 0
"""


def _name(req: str) -> str:
    return re.split(r"[<>=\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_build_requires_cover_the_runtime_dependencies():
    """The build runs memsim itself (``memsim precompile``), so its isolated environment needs
    every runtime dependency."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = {_name(r) for r in meta["build-system"]["requires"]}
    runtime = {_name(r) for r in meta["project"]["dependencies"]}
    assert runtime <= build, sorted(runtime - build)


def _probe(tmp_path: Path, env: dict | None = None) -> dict:
    scenario = tmp_path / "probe.yaml"
    scenario.write_text(SCENARIO.format(hw=ROOT / "configs/hardware/raspberry-pi-5.yaml"))
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    # cwd outside the repository: an installed (non-editable) memsim is the one imported
    out = subprocess.run([sys.executable, str(script), str(scenario)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _check_numba_cache(stats: dict) -> None:
    assert stats["misses"] == 0, stats["functions"]
    assert stats["hits"] >= 3, stats["functions"]
    names = " ".join(stats["functions"])
    assert "footprint_lines_kernel" in names and "batch" in names


def test_a_run_compiles_no_kernel(tmp_path):
    """No kernel compiles during a whole run (planner, mapping, cache hierarchy). An installed
    copy runs every kernel ahead-of-time compiled (setup.py runs ``memsim precompile --aot`` at
    build time): numba is never imported and no call goes to its JIT. A source checkout runs
    numba's JIT; it fills numba's cache on the first run, so there the second run is checked
    with numba's own statistics: all cache hits, no misses."""
    first = _probe(tmp_path)
    installed = not Path(first["file"]).resolve().is_relative_to(ROOT)
    if installed:
        assert not first["numba_imported"] and first["jit_calls"] == 0, first["functions"]
        assert first["aot_calls"] >= 3, first["functions"]
        names = " ".join(first["functions"])
        assert "footprint_lines_kernel" in names and "batch" in names
    else:
        _check_numba_cache(_probe(tmp_path))


def test_without_aot_a_run_loads_every_kernel_from_numba_cache(tmp_path):
    """The fallback (``MEMSIM_NO_AOT=1``, or a build without a C compiler) is numba's JIT with
    the cache the build (or the first run) filled: numba's statistics show only hits."""
    env = dict(os.environ, MEMSIM_NO_AOT="1")
    first = _probe(tmp_path, env)
    assert first["numba_imported"] and first["aot_calls"] == 0
    installed = not Path(first["file"]).resolve().is_relative_to(ROOT)
    _check_numba_cache(first if installed else _probe(tmp_path, env))


def test_precompile_leaves_no_kernel_uncompiled(tmp_path, capsys):
    """After ``memsim precompile`` (tiny runs on every preset, replay in every counter mode,
    the planner's search and the sweep's stack-distance passes) the same warm-up is all hits."""
    from memsim.cli import main

    assert main(["precompile", "--stats"]) == 0
    capsys.readouterr()
    out = subprocess.run([sys.executable, "-m", "memsim", "precompile", "--stats"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    stats = json.loads(out)
    assert stats["misses"] == 0, stats["functions"]
    assert any("_bnb" in n for n in stats["functions"])
    from memsim.cache.kernel import _SPECIAL, _SPECIAL_LEVELS  # every batch variant is warmed

    ways = {w for ws in _SPECIAL.values() for w in ws}
    batches = {n for n in stats["functions"] if ".batch[" in n}
    assert len(batches) == 1 + len(_SPECIAL) * len(_SPECIAL_LEVELS) and len(ways) == len(_SPECIAL)
    assert any("_mattson" in n for n in stats["functions"])


def test_presets_are_found_by_name_from_any_directory(tmp_path):
    """An installed copy carries the shipped configs (setup.py copies them into the package), a
    checkout reads its own ``configs/``: either way a preset resolves by name from a directory
    outside the repository, and the folder holds every shipped preset."""
    code = ("import json; from memsim.config.presets import configs_dir, preset_path; "
            "print(json.dumps([str(preset_path('raspberry-pi-5')), "
            "sorted(p.name for p in (configs_dir() / 'hardware').glob('*.yaml'))]))")
    env = {k: v for k, v in os.environ.items() if k != "MEMSIM_CONFIGS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    path, names = json.loads(out)
    assert Path(path).name == "raspberry-pi-5.yaml" and Path(path).is_file()
    assert names == sorted(p.name for p in (ROOT / "configs/hardware").glob("*.yaml"))
