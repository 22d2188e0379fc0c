"""The sweep store: one Parquet file per point, compaction, the resolved sweep file.

Layout of a sweep's directory (``results/<sweep>/`` by default)::

    points/<id>.parquet     one row: the point's swept values, seed, metrics, status, error
    results.parquet         compaction: one row per point of the sweep, plus ``feasible``/``pareto``
    sweep.resolved.yaml     the validated sweep (paths absolute) that produced the results

A point file is written to a temporary name in ``points/`` and renamed into place
(``os.replace`` is atomic on POSIX), so a process killed at any moment leaves either the whole
point or nothing; stray temporaries (``.*.tmp``) are ignored and cleaned on the next open. A
stored point (``ok`` or ``failed``) is never recomputed: resume is the default.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

POINTS = "points"
RESULTS = "results.parquet"
RESOLVED = "sweep.resolved.yaml"


class Store:
    """A sweep's result directory (created on first write)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.points_dir = self.directory / POINTS
        # rows this Store wrote, as written: ``read`` takes them instead of reading the file
        # back (a Parquet round trip returns the same frame; compaction reads every point)
        self._written: dict[str, pd.DataFrame] = {}

    def path(self, point_id: str) -> Path:
        """The point file of ``point_id``."""
        return self.points_dir / f"{point_id}.parquet"

    def done_ids(self) -> set[str]:
        """Ids of every stored point (finished, ok or failed); removes stale temporaries."""
        if not self.points_dir.is_dir():
            return set()
        ids = set()
        for entry in os.scandir(self.points_dir):
            name = entry.name
            if name.endswith(".parquet") and not name.startswith("."):
                ids.add(name[:-len(".parquet")])
            elif name.startswith(".") and name.endswith(".tmp"):
                try:
                    os.unlink(entry.path)  # a write interrupted by a crash
                except OSError:
                    pass
        return ids

    def write(self, row: dict) -> Path:
        """Store one point row atomically (temp file + rename); returns its path."""
        self.points_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(row["id"])
        fd, tmp = tempfile.mkstemp(prefix=f".{row['id']}.", suffix=".tmp", dir=self.points_dir)
        os.close(fd)
        frame = pd.DataFrame([row])
        try:
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._written[row["id"]] = frame
        return target

    def read(self, ids) -> pd.DataFrame:
        """The stored rows of ``ids`` (missing ids are left out), one row each."""
        frames = []
        for pid in ids:
            path = self.path(pid)
            if path.is_file():
                written = self._written.get(pid)
                frames.append(written.copy() if written is not None else pd.read_parquet(path))
        if not frames:
            return pd.DataFrame()
        frames = [f.dropna(axis=1, how="all") for f in frames]
        return pd.concat(frames, ignore_index=True, sort=False)

    def write_results(self, table: pd.DataFrame, resolved_sweep_text: str) -> Path:
        """Write ``results.parquet`` and ``sweep.resolved.yaml`` atomically; returns the former."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / RESULTS
        _atomic(target, lambda tmp: table.to_parquet(tmp, index=False))
        _atomic(self.directory / RESOLVED,
                lambda tmp: Path(tmp).write_text(resolved_sweep_text, encoding="utf-8"))
        return target


def _atomic(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
