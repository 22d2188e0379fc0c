"""``build``, ``list_networks`` and ``load_network``: zoo names or files, by suffix."""

from __future__ import annotations

import inspect
from pathlib import Path

from memsim.errors import InputError
from memsim.workloads.ir import DTYPE_BITS, Graph
from memsim.workloads.importers.layerlist import load_layer_list
from memsim.workloads.importers.scalesim import load_scalesim_csv
from memsim.workloads.zoo import ZOO


def list_networks() -> list[dict]:
    """The zoo: ``[{"name", "description", "params": [parameter names]}]`` sorted by name.

    ``description`` is the builder's first docstring paragraph as plain text (no markup)."""
    rows = []
    for name, fn in sorted(ZOO.items()):
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
        doc = doc.replace("``", "")  # reStructuredText literals read as noise on a terminal
        extra = [p for p in inspect.signature(fn).parameters if p not in ("batch", "dtype")]
        rows.append({"name": name, "description": doc, "params": extra})
    return rows


def _check(batch, dtype, field_prefix=""):
    if dtype not in DTYPE_BITS:
        raise InputError(f"unknown dtype; accepted: {', '.join(DTYPE_BITS)} (got {dtype!r})",
                         field=f"{field_prefix}dtype")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise InputError(f"batch must be a positive integer (got {batch!r})",
                         field=f"{field_prefix}batch")


def build(name: str, batch: int = 1, dtype: str = "int8", **params) -> Graph:
    """Build the zoo network ``name`` (see :func:`list_networks`) for ``batch`` and ``dtype``.

    ``params`` are the network's own parameters (``resolution``, ``seq_len``, ``phase``,
    ``context`` ...); ``None`` values are ignored. Unknown names or parameters raise ``InputError``.
    """
    _check(batch, dtype)
    fn = ZOO.get(name)
    if fn is None:
        raise InputError(f"unknown network; built-in: {', '.join(sorted(ZOO))} (got {name!r})",
                         field="network")
    params = {k: v for k, v in params.items() if v is not None}
    accepted = set(inspect.signature(fn).parameters) - {"batch", "dtype"}
    bad = sorted(set(params) - accepted)
    if bad:
        raise InputError(f"network {name} takes {sorted(accepted) or 'no parameters'} "
                         f"(got {', '.join(bad)})", field=bad[0])
    try:
        return fn(batch=batch, dtype=dtype, **params)
    except (ValueError, TypeError) as err:
        # blame the parameter the builder names (resolution, seq_len, ...), else the network
        field = next((k for k in params if str(err).startswith(k)), "network")
        raise InputError(f"{name}: {err}", field=field) from None


def load_network(name_or_path, batch: int = 1, dtype: str = "int8", **params) -> Graph:
    """A zoo name, or a path ending in ``.onnx``, ``.csv`` (SCALE-Sim topology) or ``.yaml`` /
    ``.yml`` (layer list). ``params`` go to the zoo builder or the importer (``lenient`` for
    ONNX)."""
    text = str(name_or_path)
    suffix = Path(text).suffix.lower()
    if suffix not in (".onnx", ".csv", ".yaml", ".yml"):
        return build(text, batch, dtype, **params)
    _check(batch, dtype)
    path = Path(text)
    if not path.is_file():
        raise InputError("no such file", path=path)
    params = {k: v for k, v in params.items() if v is not None}
    if suffix == ".onnx":
        from memsim.workloads.importers.onnx_import import load_onnx  # onnx is optional

        return load_onnx(path, batch=batch, dtype=dtype, **params)
    if params:
        raise InputError(f"{suffix} workloads take no parameters (got {', '.join(params)})",
                         path=path)
    if suffix == ".csv":
        return load_scalesim_csv(path, batch=batch, dtype=dtype)
    return load_layer_list(path, batch=batch, dtype=dtype)
