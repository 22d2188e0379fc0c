"""``memsim.jit``: numba kernels that an installed copy runs ahead-of-time compiled, numba-free.

Every hot loop of memsim is a plain Python function decorated with ``memsim.jit.njit`` (the
same options as ``numba.njit``). The decorator returns a ``Kernel``; calling it runs, in order:

1. the **ahead-of-time** (AOT) build of the same function for these argument types, when the
   package carries one: ``memsim/_aot_*.so``, extension modules that ``numba.pycc`` compiled
   at package build time (``setup.py`` → ``memsim precompile --aot``) from the very Python
   functions below, for every (kernel, argument types) pair the precompile warm-up called.
   Loading it imports neither numba nor llvmlite (≈ 0.7 s of a cold process, issue 15);
2. otherwise numba's JIT dispatcher, created on first need (``numba.njit(**options)`` of the
   same function, with numba's on-disk cache as before): editable installs, a build without a
   compiler, an argument type the warm-up never saw, or a kernel called from another kernel.

So there is one source of truth per kernel and the two paths compute the same thing: the AOT
functions are the same numba compilation (typing, lowering, error model) of the same
bytecode, only linked into a shared object instead of JIT memory. The table beside the module
(``_aot.json``) maps each kernel and argument-type key to its exported symbol, and records the
SHA-256 of every kernel source file and the build CPU: if any differs at run time (a source
edited after the build, a wheel copied to another CPU), the AOT module is ignored. Set
``MEMSIM_NO_AOT=1`` to ignore it on purpose.

Argument-type keys (``arg_key``) mirror ``numba.typeof`` exactly for the types kernels take:
ndarrays by dtype, ndim, layout (C, F or A) and writeability (numba types an unaligned array
as aligned, and so does the key); Python ``int`` (64-bit
range), ``bool`` and ``float``; numpy scalars by dtype. Anything else keys to a miss (JIT).

Kernels that need numba-only helpers at compile time (LLVM intrinsics) register a provider with
``numba_globals``: it runs once, when numba is first imported, and fills the module's globals.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parent
AOT_MODULE = "memsim._aot"  # prefix: one extension module per kernel module, _aot_<name>
AOT_TABLE = PACKAGE / "_aot.json"

_PROVIDERS: list = []  # (module globals, provider) pairs waiting for numba
_NUMBA: list = []  # [numba module] once imported
_RECORD: list | None = None  # precompile --aot: (kernel, arg key, numba signature) per call
# Python scalars key like the numpy scalars numba types them as (int64, boolean, float64)
_INT, _BOOL, _FLOAT = (np.dtype(t).str for t in (np.int64, np.bool_, np.float64))
_I64 = 1 << 63


def _arg(a):
    """numba-free image of ``numba.typeof(a)`` (None: a type the AOT table never holds):
    ``(dtype, ndim, layout, writeable)`` for an ndarray, the dtype's name for a scalar. Arrays
    key by the dtype object (hashing it is ≈ 5× cheaper than building ``dtype.str``); it only
    ever meets dtypes in that slot (a bare dtype would compare equal to None or a name)."""
    t = type(a)
    if t is np.ndarray:
        f = a.flags
        return (a.dtype, a.ndim, "C" if f.c_contiguous else "F" if f.f_contiguous else "A",
                f.writeable)
    if t is int:
        return _INT if -_I64 <= a < _I64 else None
    if t is bool:
        return _BOOL
    if t is float:
        return _FLOAT
    return a.dtype.str if isinstance(a, np.generic) else None


def arg_key(args) -> tuple:
    """The AOT table key of a call's arguments (one entry per argument, see ``_arg``)."""
    return tuple(map(_arg, args))


def key_to_json(key) -> list:
    """``arg_key`` as JSON values (dtype names)."""
    return [[x[0].str, *x[1:]] if isinstance(x, tuple) else x for x in key]


def key_from_json(items) -> tuple:
    """Inverse of ``key_to_json``."""
    return tuple((np.dtype(x[0]), *x[1:]) if isinstance(x, list) else x for x in items)


def kernel_name(py_func) -> str:
    """Stable name of a kernel: module, qualified name and (closures) the cell values, which
    numba compiles in as constants (``memsim.cache.kernel._make_batch`` variants)."""
    cells = py_func.__closure__ or ()
    free = ",".join(f"{n}={c.cell_contents!r}" for n, c in zip(py_func.__code__.co_freevars, cells))
    return f"{py_func.__module__}:{py_func.__qualname__}" + (f"[{free}]" if free else "")


def cpu_id() -> str:
    """The build machine's CPU as the AOT table records it: model name and feature flags
    (``/proc/cpuinfo``), else the platform's processor string."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()}|{platform.processor()}"
    keep = ("model name", "flags", "Features", "CPU implementer", "CPU part")
    lines = {ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip()
             for ln in info.splitlines() if ":" in ln and ln.split(":", 1)[0].strip() in keep}
    return platform.machine() + "|" + "|".join(f"{k}={lines[k]}" for k in sorted(lines))


def source_hashes(modules) -> dict[str, str]:
    """SHA-256 of each module's source file, by path relative to the package."""
    out = {}
    for name in sorted(modules):
        rel = Path(*name.split(".")[1:]).with_suffix(".py")
        out[str(rel)] = hashlib.sha256((PACKAGE / rel).read_bytes()).hexdigest()
    return out


@functools.cache
def aot_table() -> dict:
    """``{kernel name: {arg key: AOT function}}`` of the installed AOT module, or ``{}`` when
    there is none, ``MEMSIM_NO_AOT`` is set, a recording runs (``start_recording``), or it does
    not match these sources and this CPU."""
    if _RECORD is not None or os.environ.get("MEMSIM_NO_AOT") or not AOT_TABLE.is_file():
        return {}
    try:
        meta = json.loads(AOT_TABLE.read_text())
        if meta["cpu"] != cpu_id() or meta["sources"] != source_hashes(meta["modules"]):
            return {}
        mods = {m: importlib.import_module(m) for m in {row[2] for row in meta["kernels"]}}
    except (ImportError, OSError, ValueError, KeyError):
        return {}
    table: dict = {}
    for name, key, module, symbol in meta["kernels"]:
        table.setdefault(name, {})[key_from_json(key)] = getattr(mods[module], symbol)
    return table


def _numba():
    """numba, imported on first need; runs the registered ``numba_globals`` providers."""
    if not _NUMBA:
        import numba

        _NUMBA.append(numba)
        while _PROVIDERS:
            namespace, provider = _PROVIDERS.pop()
            namespace.update(provider())
    return _NUMBA[0]


def numba_globals(provider):
    """Register ``provider() -> {name: object}``: numba-only globals of the provider's module
    (intrinsics), set when numba is first imported, before any kernel of it compiles."""
    if _NUMBA:
        provider.__globals__.update(provider())
    else:
        _PROVIDERS.append((provider.__globals__, provider))
    return provider


class Kernel:
    """A kernel: the AOT function for these argument types if installed, else numba's JIT.

    numba sees a ``Kernel`` as its dispatcher (``_numba_type_``), so kernels call kernels as
    before, and ``targetoptions``/``py_func`` let numba inline ``inline="always"`` ones."""

    def __init__(self, py_func, options: dict):
        self.py_func = py_func
        self.targetoptions = dict(options)
        self.name = kernel_name(py_func)
        functools.update_wrapper(self, py_func, updated=())
        del self.__wrapped__  # numba must see the Kernel, not look through it
        self._aot: dict | None = None
        self._disp = None
        self.aot_calls = 0
        self.jit_calls = 0

    def __call__(self, *args):
        aot = self._aot
        if aot is None:
            aot = self._aot = aot_table().get(self.name, {})
        if aot:
            fn = aot.get(arg_key(args))
            if fn is not None:
                self.aot_calls += 1
                return fn(*args)
        self.jit_calls += 1
        disp = self.dispatcher
        out = disp(*args)
        if _RECORD is not None:
            types = tuple(disp.typeof_pyval(a) for a in args)
            _RECORD.append((self, arg_key(args), disp.overloads[types].signature))
        return out

    @property
    def dispatcher(self):
        """numba's ``CPUDispatcher`` of this kernel (imports numba; compiles lazily)."""
        if self._disp is None:
            self._disp = _numba().njit(**self.targetoptions)(self.py_func)
        return self._disp

    @property
    def _numba_type_(self):
        return self.dispatcher._numba_type_

    def __repr__(self) -> str:
        return f"<memsim kernel {self.name}>"


def njit(*args, **options):
    """``numba.njit`` with the same options, returning a ``Kernel`` (see module doc)."""
    if args and callable(args[0]):
        return Kernel(args[0], options)
    return lambda fn: Kernel(fn, options)


def _forget_aot() -> None:
    aot_table.cache_clear()
    for kernel in loaded_kernels().values():
        kernel._aot = None


def start_recording() -> list:
    """Record (kernel, arg key, numba signature) of every call from now on (build time); the
    calls all go to numba's JIT meanwhile (an AOT table already in place is ignored, or the
    build would record only what it lacks)."""
    global _RECORD
    _RECORD = []
    _forget_aot()
    return _RECORD


def stop_recording() -> None:
    """End ``start_recording``."""
    global _RECORD
    _RECORD = None
    _forget_aot()


def loaded_kernels() -> dict[str, Kernel]:
    """Every ``Kernel`` of the loaded memsim modules (incl. the cache kernel's per-geometry
    variants in ``_BATCH_KERNELS``), by name."""
    found = {}
    for name, mod in list(sys.modules.items()):
        if not name.startswith("memsim") or mod is None:
            continue
        for obj in list(vars(mod).values()):
            if isinstance(obj, Kernel):
                found[obj.name] = obj
            elif isinstance(obj, dict):
                for v in obj.values():
                    if isinstance(v, Kernel):
                        found[v.name] = v
    return found
