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

# the helpers live in the foundation (the prepare stage keys its memo by file contents too)
from memsim.fileio import (MISSING, file_digest, file_digests, onnx_external_files,  # noqa: F401
                           referenced_files)
