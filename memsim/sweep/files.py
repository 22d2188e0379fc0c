"""Contents of the user files a sweep point reads, for point ids and worker memo keys.

A resolved scenario refers to user files by path: a stream's ``network`` given as an ONNX,
SCALE-Sim CSV or YAML layer-list file and a ``measured`` compression ``source`` (``.onnx``,
``.npy``, ``.npz``) of ``strategies.compression.weights`` / ``.activations``. The config
validators make those paths absolute; zoo names, dtypes and quantities never are, and the
hardware is dumped inline (its contents are part of the resolved scenario). So the files of a
point are exactly the string leaves of its resolved dict that are absolute paths, and hashing
their bytes next to the resolved dict makes an edited file give new ids (no stale reuse).
"""

from __future__ import annotations

from pathlib import Path

from memsim.fileio import MISSING, file_digest, onnx_external_files  # noqa: F401 (re-exported)


def referenced_files(resolved) -> list[str]:
    """Sorted, unique absolute-path strings among the leaves of ``resolved`` (dicts, lists)."""
    found: set[str] = set()
    stack = [resolved]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, str) and Path(node).is_absolute():
            found.add(node)
    return sorted(found)


def file_digests(resolved, cache: dict | None = None) -> dict[str, str]:
    """``{path: file_digest(path)}`` for the ``referenced_files`` of ``resolved``. ``cache``
    (path → digest) is read and filled, so one expansion hashes each file once."""
    cache = {} if cache is None else cache
    out = {}
    for path in referenced_files(resolved):
        if path not in cache:
            cache[path] = file_digest(path)
        out[path] = cache[path]
    return out
