"""Small file helpers shared by every stage that writes user-visible files."""

from __future__ import annotations

import os


def umask() -> int:
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(tmp_path, directory: bool = False) -> None:
    """Give a temporary file (0600) or directory (0700) the mode a plain ``open``/``mkdir``
    would have, before it is renamed into place."""
    os.chmod(tmp_path, (0o777 if directory else 0o666) & ~umask())
