"""Cold start: whole-process time of the commands a user types first (issue 15).

    python benchmarks/cold.py [--repeats 5] [--memsim PATH [PATH ...]] [--json PATH]

Times, as fresh processes one after another, interleaved round by round:
- ``memsim --help``;
- ``memsim run`` of ResNet-18 and of ResNet-50 (int8, one frame, 33.3 ms period and deadline,
  seed 0) on ``configs/hardware/raspberry-pi-5.yaml``, ``--no-save``;
- ``memsim replay`` of a tiled-GEMM trace (``benchmarks/replay.py``'s, N=48: 225,792 accesses)
  through its three-level LRU hierarchy in ``--compat pycachesim`` mode, ``--json``.

Per command: the median (and range) of ``--repeats`` runs of wall seconds (``perf_counter``
around the process), user CPU seconds and peak RSS of the child (GNU ``/usr/bin/time``). On a machine
shared with other jobs the wall time grows with the load while user CPU barely moves, so both
are printed. ``--memsim`` is the ``memsim`` executable to time (default: the one beside this
Python), or several (two installs, before and after a change), timed round-robin per command;
time the non-editable install users get (``pip install .``: compiled kernels shipped,
bytecode written at install time). ``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment so an editable checkout is timed with its bytecode cached, as a user's would be.
One warm-up round runs first (and is not counted): it fills the OS file cache and, in an
editable checkout, numba's kernel cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache import LEVELS  # noqa: E402  (the replay benchmark's hierarchy)
from replay import HW_YAML, LEVEL_YAML, matmul_trace  # noqa: E402

TIME = "/usr/bin/time"  # GNU time (Debian package "time")
SCENARIO = """name: {name}
hardware: {hw}
streams: [{{network: {net}, dtype: int8, frames: 1, period: 33.3 ms, deadline: 33.3 ms}}]
seed: 0
"""


def run_child(cmd: list[str], env: dict, tmp: Path) -> tuple[float, float, int]:
    """(wall s, user CPU s, peak RSS bytes) of one fresh process; raises when it fails.

    Measured by GNU ``/usr/bin/time``, not ``os.wait4`` here: Linux carries a process's peak
    RSS across fork and exec, so a child forked from this (numpy-sized) Python would report at
    least this process's RSS; ``time`` is a small C program and forks the command itself."""
    report = tmp / "time.txt"
    t0 = time.perf_counter()
    proc = subprocess.run([TIME, "-f", "%e %U %M", "-o", str(report), *cmd], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    _, user, rss_kib = report.read_text().split()[-3:]
    return wall, float(user), int(rss_kib) * 1024


def commands(memsim: str, tmp: Path) -> dict[str, list[str]]:
    """The timed command lines, with their inputs written into ``tmp``."""
    hw = ROOT / "configs" / "hardware" / "raspberry-pi-5.yaml"
    out = {"--help": [memsim, "--help"]}
    for net in ("resnet18", "resnet50"):
        path = tmp / f"{net}.yaml"
        path.write_text(SCENARIO.format(name=net, hw=hw, net=net))
        out[f"run {net}"] = [memsim, "run", str(path), "--no-save"]
    addr, write = matmul_trace(48, 24)
    npz, hw_path = tmp / "trace.npz", tmp / "replay-hw.yaml"
    np.savez(npz, addr=addr, write=write, size=np.int64(8))
    levels = "\n".join(LEVEL_YAML.format(name=n, kib=s // 1024, ways=w,
                                         scope="core" if i == 0 else "shared")
                       for i, (n, s, w) in enumerate(LEVELS))
    hw_path.write_text(HW_YAML.format(levels=levels))
    out["replay"] = [memsim, "replay", str(npz), "--hardware", str(hw_path), "--compat",
                     "pycachesim", "--json"]
    return out


def _stat(xs: list[float], scale: float = 1.0, digits: int = 2) -> str:
    return (f"{statistics.median(xs) * scale:.{digits}f} "
            f"({min(xs) * scale:.{digits}f}–{max(xs) * scale:.{digits}f})")


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memsim", nargs="+", default=[str(Path(sys.executable).with_name("memsim"))],
                    help="memsim executable(s) to time, interleaved (default: beside this Python)")
    ap.add_argument("--json", type=Path, help="also write the samples here")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {exe: {} for exe in args.memsim}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = {exe: commands(exe, Path(tmp)) for exe in args.memsim}
        for per_exe in cmds.values():  # warm-up round, not counted
            for cmd in per_exe.values():
                run_child(cmd, env, Path(tmp))
        for _ in range(args.repeats):
            for name in cmds[args.memsim[0]]:
                for exe in args.memsim:
                    wall, user, rss = run_child(cmds[exe][name], env, Path(tmp))
                    s = samples[exe].setdefault(name, {"wall_s": [], "user_s": [], "rss_bytes": []})
                    s["wall_s"].append(wall)
                    s["user_s"].append(user)
                    s["rss_bytes"].append(rss)
    load = os.getloadavg()[0]
    print(f"median (min–max) of {args.repeats}, interleaved; load average {load:.1f} at the end")
    for exe, per_exe in samples.items():
        print(f"\n{exe}")
        print(f"{'command':16s} {'wall s':>18s} {'user CPU s':>18s} {'peak RSS MiB':>20s}")
        for name, s in per_exe.items():
            print(f"{name:16s} {_stat(s['wall_s']):>18s} {_stat(s['user_s']):>18s} "
                  f"{_stat(s['rss_bytes'], 1 / 2**20, 0):>20s}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "samples": samples}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
