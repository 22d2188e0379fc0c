"""cachegrind mode: a lackey trace of a real program reproduces cachegrind's counters exactly.

Recipe from /work/shared/notes/cache-oracles.md: the same environment (``env -i
PATH=/usr/bin:/bin``) and the same stdout (``/dev/null``) for both valgrind runs, so the stack and
the program's accesses are identical; the same I1/D1/LL geometry on both sides.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from memsim.cache import CacheLevelSpec, Hierarchy
from memsim.cache.replay import replay
from memsim.cache.trace import load_trace

MATMUL_C = r"""
#include <stdio.h>
#define N 32
double a[N][N], b[N][N], c[N][N];
int main(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) { a[i][j] = i + j; b[i][j] = i - j; }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
            c[i][j] = s;
        }
    printf("%f\n", c[N - 1][N - 1]);
    return 0;
}
"""

COUNTERS = ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw")


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: this oracle test needs gcc and valgrind "
                    "(apt-get install gcc valgrind)")
    return path


def _run(cmd: str, cwd) -> None:
    # env -i and > /dev/null: identical conditions for lackey and cachegrind (oracle notes)
    proc = subprocess.run(["/bin/sh", "-c", f"env -i PATH=/usr/bin:/bin {cmd} > /dev/null"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"command failed ({proc.returncode}): {cmd}\n{proc.stderr[-2000:]}")
    return proc.stderr


def _cachegrind_counts(stderr: str) -> dict:
    """The nine counters from cachegrind's summary (valgrind 3.19 format)."""
    text = stderr.replace(",", "")
    found = {}
    for label, keys in (("I   refs", ("Ir",)), ("I1  misses", ("I1mr",)),
                        ("LLi misses", ("ILmr",)), ("D   refs", ("D", "Dr", "Dw")),
                        ("D1  misses", ("D1m", "D1mr", "D1mw")),
                        ("LLd misses", ("DLm", "DLmr", "DLmw"))):
        m = re.search(re.escape(label) + r":\s+(\d+)(?:\s+\(\s*(\d+) rd\s+\+\s+(\d+) wr\))?",
                      text)
        assert m, f"cachegrind summary line {label!r} not found in:\n{stderr[-1500:]}"
        for key, value in zip(keys, m.groups()):
            if value is not None:
                found[key] = int(value)
    return {k: found[k] for k in COUNTERS}


@pytest.mark.parametrize("opt,geometry", [
    ("-O0", ((4096, 2), (65536, 4))),
    ("-O2", ((8192, 4), (131072, 8))),
])
def test_lackey_replay_equals_cachegrind(tmp_path, opt, geometry):
    gcc, _ = _require("gcc"), _require("valgrind")
    (d1_size, d1_ways), (ll_size, ll_ways) = geometry
    src = tmp_path / "mm.c"
    src.write_text(MATMUL_C)
    subprocess.run([gcc, opt, "-o", str(tmp_path / "mm"), str(src)], check=True)
    geo = f"--I1={d1_size},{d1_ways},64 --D1={d1_size},{d1_ways},64 --LL={ll_size},{ll_ways},64"
    _run("valgrind --tool=lackey --trace-mem=yes --log-file=trace.txt ./mm", tmp_path)
    stderr = _run(f"valgrind --tool=cachegrind --cache-sim=yes {geo} "
                  "--cachegrind-out-file=/dev/null ./mm", tmp_path)
    expected = _cachegrind_counts(stderr)

    hier = Hierarchy([CacheLevelSpec("D1", d1_size // (64 * d1_ways), d1_ways, 64),
                      CacheLevelSpec("LL", ll_size // (64 * ll_ways), ll_ways, 64, shared=True)],
                     compat="cachegrind")
    result = replay(load_trace(tmp_path / "trace.txt"), hier)
    got = result["cachegrind"]
    diff = [f"  {k}: memsim {got[k]} cachegrind {expected[k]}"
            for k in COUNTERS if got[k] != expected[k]]
    assert got == expected, "memsim cachegrind mode vs cachegrind:\n" + "\n".join(diff)
    d1, ll = result["levels"]
    assert d1["misses"] == expected["D1mr"] + expected["D1mw"]
    assert ll["misses"] == expected["DLmr"] + expected["DLmw"]
    assert result["levels"][0]["writebacks"] == 0  # cachegrind keeps no dirty state
