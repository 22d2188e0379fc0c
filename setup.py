"""Build hook: ship numba's compiled kernels inside the wheel.

memsim's kernels are numba functions cached on disk beside their modules. Without this hook a
fresh ``pip install .`` compiles them on the first ``memsim run`` (seconds per kernel). After
setuptools copies the package into the build tree, ``memsim precompile`` runs there once and
fills ``__pycache__`` with the compiled kernels; numba keys that cache by the source file's
content hash, its own version and the CPU, so the installed copy hits it (the wheel is built on
the machine it installs on). If the step fails, the build goes on and the kernels compile at
run time as before. The hook also copies ``configs/`` into the package as ``memsim/_configs``
(the presets an installed copy looks up by name). Set ``MEMSIM_NO_PRECOMPILE=1`` to skip it; editable installs skip it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyPrecompiled(build_py):
    """``build_py`` followed by ``memsim precompile`` on the build tree."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        lib = Path(self.build_lib).resolve()
        # the shipped presets and scenarios travel inside the package, so an installed copy
        # finds `--hardware raspberry-pi-5` from any directory (config.presets.configs_dir)
        shutil.copytree(ROOT / "configs", lib / "memsim" / "_configs", dirs_exist_ok=True)
        if os.environ.get("MEMSIM_NO_PRECOMPILE"):
            return
        # prepend, never replace: pip's isolated build environment reaches its packages through
        # PYTHONPATH (a sitecustomize there), and the precompile needs them (numba, pydantic...)
        path = os.pathsep.join(p for p in (str(lib), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path, NUMBA_CACHE_DIR="")
        cmd = [sys.executable, "-m", "memsim", "precompile", "--configs", str(ROOT / "configs")]
        proc = subprocess.run(cmd, cwd=lib, env=env, check=False)
        if proc.returncode:
            print(f"warning: memsim precompile exited {proc.returncode}; numba kernels will "
                  "compile on first use", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyPrecompiled})
