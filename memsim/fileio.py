"""Small file helpers shared by every stage: modes of user-visible files, content digests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(tmp_path, directory: bool = False) -> None:
    """Give a temporary file (0600) or directory (0700) the mode a plain ``open``/``mkdir``
    would have, before it is renamed into place."""
    os.chmod(tmp_path, (0o777 if directory else 0o666) & ~umask())


#: digest of a path that cannot be read (validation already reported missing files; a file
#: removed after validation fails in its own point)
MISSING = "missing"


def _bytes_digest(path: Path) -> str | None:
    """SHA-256 hex of the file's bytes, or None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def _graph_tensors(graph):
    """Every TensorProto of an ONNX ``graph``: initializers and node attributes, subgraphs too."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g)
            for sub in attr.graphs:
                yield from _graph_tensors(sub)


def onnx_external_files(path) -> list[str]:
    """Sorted external-data locations an ``.onnx`` model names (relative to its folder); [] for
    other suffixes, models without external data and files that do not parse (the importer
    reports those when the point runs)."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        return []
    try:
        data = path.read_bytes()
        if b"location" not in data:  # every external tensor carries a "location" entry
            return []
        import onnx

        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - unreadable/unparsable: the bytes digest still covers it
        return []
    return sorted({e.value for t in _graph_tensors(model.graph) for e in t.external_data
                   if e.key == "location"})


def file_digest(path) -> str:
    """SHA-256 hex of ``path``'s bytes; for an ONNX model also over the bytes of each external-
    data file it names (``onnx.load`` reads those). ``MISSING`` when ``path`` cannot be read."""
    path = Path(path)
    own = _bytes_digest(path)
    if own is None:
        return MISSING
    external = onnx_external_files(path)
    if not external:
        return own
    digest = hashlib.sha256(own.encode())
    for name in external:
        digest.update(f"\0{name}\0{_bytes_digest(path.parent / name) or MISSING}".encode())
    return digest.hexdigest()


def referenced_files(resolved) -> list[str]:
    """Sorted, unique absolute-path strings among the leaves of ``resolved`` (dicts, lists):
    the user files a resolved scenario part names (config validators make those paths
    absolute; zoo names, dtypes and quantities never are)."""
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
