"""Ahead-of-time kernels (issue 15): compile what the precompile warm-up ran into extensions.

``memsim precompile --aot DIR`` (the package build runs it on the build tree, ``setup.py``)
records every call from Python into a kernel during the warm-up (``memsim.jit.start_recording``:
the kernel, its argument-type key and numba's signature for it), then compiles exactly those
(kernel, signature) pairs with ``numba.pycc`` into ``DIR/_aot_<package>_<module>*.so`` (one
extension per kernel module) and writes the table
``DIR/_aot.json`` that ``memsim.jit.aot_table`` reads: one exported symbol per pair, the
SHA-256 of every kernel source and the CPU (``-march`` is this host's, like numba's own cache).
The table is written last and lists only the modules that compiled: whatever failed (or a
build without a C compiler) runs through numba's JIT.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from memsim import jit

#: modules compiled into the AOT functions besides the kernels' own (intrinsics, the shim)
_EXTRA_MODULES = ("memsim.jit", "memsim.cache._intrinsics")


def aot_entries(records) -> list:
    """Distinct (kernel, arg key, numba signature) of ``records``, in a stable order."""
    seen = {}
    for kernel, key, sig in records:
        seen.setdefault((kernel.name, repr(key)), (kernel, key, sig))
    return [seen[k] for k in sorted(seen)]


def _group(entries) -> dict:
    """Entries by kernel module, the planner's first (see ``build_aot``)."""
    groups: dict = {}
    for e in entries:
        groups.setdefault(e[0].py_func.__module__, []).append(e)
    return dict(sorted(groups.items(), key=lambda kv: (not kv[0].startswith("memsim.planning"),
                                                        kv[0])))


def build_aot(records, out_dir: Path) -> dict:
    """Compile ``records`` into one extension per kernel module
    (``out_dir/_aot_<package>_<module>*.so``) and write ``out_dir/_aot.json``; returns the
    table's metadata.

    One extension per module, each compiled on its own: a module that ``numba.pycc`` cannot
    compile stays on the JIT path (with a warning) instead of costing every kernel its AOT
    build. Measured with numba 0.68.1: compiling the planner's ``_bnb._run`` after the cache
    kernels in one pycc module fails to type (``No conversion from Literal[int](4) to
    Literal[int](0) for 'typ'``) although it compiles alone, under the JIT and first; so the
    planner's modules go first."""
    with warnings.catch_warnings():  # pending deprecation since numba 0.57; still ships in 0.68
        warnings.simplefilter("ignore")
        from numba.pycc import CC

    out_dir = Path(out_dir)
    table = out_dir / jit.AOT_TABLE.name
    table.unlink(missing_ok=True)
    base = jit.AOT_MODULE.rsplit(".", 1)[-1]
    for stale in out_dir.glob(f"{base}_*"):  # an earlier build's modules (in-tree build/)
        stale.unlink()
    package = jit.AOT_MODULE.rsplit(".", 1)[0] + "." if "." in jit.AOT_MODULE else ""
    kernels, n = [], 0
    for module, group in _group(aot_entries(records)).items():
        name = base + "_" + "_".join(p.strip("_") for p in module.split(".")[1:])
        cc = CC(name)
        cc.output_dir = str(out_dir)
        cc.target_cpu = "host"
        rows = []
        for kernel, key, sig in group:
            symbol = f"k{n:03d}"
            n += 1
            cc.export(symbol, sig)(kernel.py_func)
            rows.append([kernel.name, jit.key_to_json(key), package + name, symbol])
        try:
            cc.compile()
        except Exception as err:  # noqa: BLE001 - any pycc failure: this module stays on JIT
            print(f"warning: AOT compilation of {module} failed ({type(err).__name__}: "
                  f"{str(err).splitlines()[0] if str(err) else ''}); its kernels use numba's JIT",
                  file=sys.stderr)
            continue
        kernels += rows
    modules = sorted({k.py_func.__module__ for k in jit.loaded_kernels().values()}
                     | set(_EXTRA_MODULES))
    meta = {"cpu": jit.cpu_id(), "modules": modules, "sources": jit.source_hashes(modules),
            "kernels": kernels}
    table.write_text(json.dumps(meta, indent=0) + "\n")
    print(f"memsim precompile: {len(kernels)} of {n} kernel signatures compiled ahead of time "
          f"into {out_dir}", file=sys.stderr)
    return meta
