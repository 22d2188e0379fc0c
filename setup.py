"""Build hook: ship memsim's compiled kernels inside the wheel.

memsim's kernels are numba functions (``memsim.jit.njit``). After setuptools copies the package
into the build tree, ``memsim precompile --aot`` runs there once: its warm-up fills numba's
on-disk cache (``__pycache__``, keyed by the source file's content hash, numba's version and
the CPU, so the installed copy hits it: the wheel is built on the machine it installs on), and
it then compiles every kernel the warm-up called, for the argument types it called them with,
ahead of time with ``numba.pycc`` into ``memsim/_aot*.so`` + ``memsim/_aot.json``; an installed
copy runs those without importing numba (issue 15: ≈ 0.7 s of every cold process). If the AOT
step fails (no C compiler, a pycc limitation) the build warns and goes on: the kernels then run
through numba's JIT and its warm cache; if the whole step fails, they compile on first use.
The hook also copies ``configs/`` into the package as ``memsim/_configs`` (the presets an
installed copy looks up by name). Set ``MEMSIM_NO_PRECOMPILE=1`` to skip the precompile step;
editable installs skip it.
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
        cmd = [sys.executable, "-m", "memsim", "precompile", "--configs", str(ROOT / "configs"),
               "--aot", str(lib / "memsim")]
        proc = subprocess.run(cmd, cwd=lib, env=env, check=False)
        if proc.returncode:
            print(f"warning: memsim precompile exited {proc.returncode}; kernels will run "
                  "through numba's JIT (compiled on first use if its cache is cold)",
                  file=sys.stderr)


setup(cmdclass={"build_py": BuildPyPrecompiled})
