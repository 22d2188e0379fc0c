"""The outcome of a run: a summary and pandas DataFrames, saved as Parquet (DESIGN §5).

Conventions (also in docs/model.md): times in seconds (float), sizes in integer bytes.
``latency_s`` is the worst frame of the critical stream (smallest slack), p50/p99 and the
deadline are that stream's, ``slack_s`` is its ``deadline − worst latency``; ``energy_j`` and
``dram_bytes`` add up one frame (mean) of every stream; ``streams`` has each stream's figures.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from memsim.errors import InputError
from memsim.fileio import publish_mode

PS_PER_S = 1e12  # picoseconds per second (divide: exact for whole seconds and ms)

SUMMARY_KEYS = ("name", "latency_s", "latency_p50_s", "latency_p99_s", "deadline_s", "slack_s",
                "miss_rate", "met", "energy_j", "dram_bytes", "peak_activation_bytes",
                "compute_cycles")


@dataclass
class Result:
    """A run's results: ``summary`` dict and ``layers``/``frames``/``timeline``/``memory`` frames."""

    summary: dict
    layers: pd.DataFrame
    frames: pd.DataFrame
    timeline: pd.DataFrame
    memory: pd.DataFrame
    scenario: object = None
    resolved_config: dict = field(default_factory=dict)

    def worst_frame(self):
        """The frames-table row behind ``latency_s``: the critical stream's slowest frame
        (None when no frame ran)."""
        if self.frames.empty:
            return None
        crit = self.summary.get("critical_stream", 0)
        mine = self.frames[self.frames["stream"] == crit]
        mine = mine if len(mine) else self.frames
        return mine.loc[mine["latency_s"].idxmax()]

    def worst_frame_layers(self) -> pd.DataFrame:
        """Per-layer rows of the frame behind ``latency_s`` (see ``worst_frame``)."""
        worst = self.worst_frame()
        if worst is None:
            return self.layers.iloc[0:0]
        mask = (self.layers["stream"] == worst["stream"]) & (self.layers["frame"] == worst["frame"])
        return self.layers[mask]

    def to_json(self) -> dict:
        """The ``memsim run --json`` object (DESIGN §9)."""
        out = {k: self.summary.get(k) for k in SUMMARY_KEYS}
        out["results_dir"] = self.summary.get("results_dir")
        rows = []
        for _, r in self.worst_frame_layers().iterrows():
            rows.append({"name": r["name"], "op": r["op"], "start_s": float(r["start_s"]),
                         "end_s": float(r["end_s"]), "compute_s": float(r["compute_s"]),
                         "stall_s": float(r["stall_s"]), "dram_bytes": int(r["dram_bytes"]),
                         "bound": r["bound"]})
        out["layers"] = rows
        out["streams"] = self.summary.get("streams", [])
        return out

    def save(self, directory: str | Path) -> Path:
        """Write Parquet tables, ``summary.json`` and ``scenario.resolved.yaml`` atomically.

        An existing ``directory`` is replaced only when it holds nothing but memsim's own result
        files; anything else raises ``InputError`` before a byte is written.
        """
        directory = Path(directory)
        check_results_dir(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        publish_mode(tmp, directory=True)
        try:
            for name in ("layers", "frames", "timeline", "memory"):
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            summary = dict(self.summary, results_dir=str(directory))
            (tmp / "summary.json").write_text(json.dumps(_plain(summary), indent=2))
            if self.resolved_config:
                from ruamel.yaml import YAML

                yaml = YAML()
                yaml.default_flow_style = False
                with open(tmp / "scenario.resolved.yaml", "w") as fh:
                    yaml.dump(_plain(self.resolved_config), fh)
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.summary["results_dir"] = str(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Result":
        """Read a directory written by ``save``."""
        directory = Path(directory)
        tables = {name: pd.read_parquet(directory / f"{name}.parquet")
                  for name in ("layers", "frames", "timeline", "memory")}
        summary = json.loads((directory / "summary.json").read_text())
        resolved = {}
        path = directory / "scenario.resolved.yaml"
        if path.exists():
            from ruamel.yaml import YAML

            resolved = YAML(typ="safe").load(path.read_text()) or {}
        return cls(summary=summary, resolved_config=resolved, **tables)


RESULT_FILES = frozenset({"layers.parquet", "frames.parquet", "timeline.parquet",
                          "memory.parquet", "summary.json", "scenario.resolved.yaml", "report.html"})


def check_results_dir(directory: str | Path) -> None:
    """Raise ``InputError`` unless ``directory`` is absent, empty, or an earlier memsim result."""
    directory = Path(directory)
    if not directory.exists():
        return
    if not directory.is_dir():
        raise InputError("results directory is an existing file; choose a directory",
                         field="--out", path=directory)
    foreign = sorted(p.name for p in directory.iterdir() if p.name not in RESULT_FILES)
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise InputError(f"results directory holds files memsim did not write ({shown}); "
                         "choose an empty or new directory", field="--out", path=directory)


def _plain(obj):
    """JSON/YAML-safe plain Python values (numpy scalars, tuples, paths)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def percentile(values, q: float) -> float | None:
    """The q-th percentile (linear interpolation) or None for no values."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))
