"""The outcome of a run: a summary and four tables, saved as Parquet (DESIGN §5).

Conventions (also in docs/model.md): times in seconds (float), sizes in integer bytes.
``latency_s`` is the worst frame of the critical stream (smallest slack), p50/p99 and the
deadline are that stream's, ``slack_s`` is its ``deadline − worst latency``; ``energy_j`` and
``dram_bytes`` add up one frame (mean) of every stream; ``streams`` has each stream's figures.

The tables (``layers``, ``frames``, ``timeline``, ``memory``) are pandas DataFrames to every
reader, but a run keeps them as rows (:class:`Table`) and builds a DataFrame only when one is
read: importing pandas costs a third of a second, and ``memsim run --no-save`` (the summary, the
verdict, the slowest layers, ``--json``) never needs it. ``Table.column`` and
``Result.worst_frame_rows`` answer those without pandas.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from memsim.errors import InputError
from memsim.fileio import publish_mode

PS_PER_S = 1e12  # picoseconds per second (divide: exact for whole seconds and ms)

SUMMARY_KEYS = ("name", "latency_s", "latency_p50_s", "latency_p99_s", "deadline_s", "slack_s",
                "miss_rate", "met", "energy_j", "dram_bytes", "peak_activation_bytes",
                "compute_cycles")
TABLE_NAMES = ("layers", "frames", "timeline", "memory")


class Table:
    """One result table: row dicts until a DataFrame is asked for, or a DataFrame already.

    ``Table(rows)`` becomes ``pd.DataFrame(rows)``, ``Table(rows, columns)`` becomes
    ``pd.DataFrame(rows, columns=columns)`` and ``Table()`` an empty ``pd.DataFrame()`` — the
    same frames the engine built with pandas directly, so the tables are unchanged bit for bit.
    """

    def __init__(self, rows: list[dict] | None = None, columns=None, frame=None):
        self._rows, self._columns, self._frame = rows, columns, frame

    @classmethod
    def of(cls, value) -> "Table":
        """``value`` itself when it is a Table, else a Table over that DataFrame."""
        return value if isinstance(value, Table) else cls(frame=value)

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else len(self._rows or ())

    @property
    def built(self) -> bool:
        """Whether the DataFrame exists (built, or given)."""
        return self._frame is not None

    def frame(self):
        """The table as a pandas DataFrame (built once, on first use)."""
        if self._frame is None:
            import pandas as pd

            if self._rows is None:
                self._frame = pd.DataFrame()
            elif self._columns is None:
                self._frame = pd.DataFrame(self._rows)
            else:
                self._frame = pd.DataFrame(self._rows, columns=list(self._columns))
        return self._frame

    def rows(self) -> list[dict]:
        """The rows as dicts of plain Python values (in table order)."""
        if self._frame is not None:
            return self._frame.to_dict("records")
        return list(self._rows or ())

    def column(self, name: str, dtype=None) -> np.ndarray:
        """One column as a numpy array (``dtype`` as numpy would infer it from the values, or
        as given); the values the DataFrame's column holds."""
        if self._frame is not None:
            return self._frame[name].to_numpy(dtype)
        return np.array([r[name] for r in self._rows or ()], dtype=dtype)


def _table_property(name: str):
    def get(self):
        return self._tables[name].frame()

    def set_(self, value):
        self._tables[name] = Table.of(value)

    return property(get, set_, doc=f"The ``{name}`` table as a pandas DataFrame (built lazily).")


class Result:
    """A run's results: ``summary`` dict and ``layers``/``frames``/``timeline``/``memory`` tables
    (DataFrames, or :class:`Table` rows turned into DataFrames when first read)."""

    layers = _table_property("layers")
    frames = _table_property("frames")
    timeline = _table_property("timeline")
    memory = _table_property("memory")

    def __init__(self, summary: dict, layers, frames, timeline, memory, scenario=None,
                 resolved_config: dict | None = None):
        self.summary = summary
        self._tables = {"layers": Table.of(layers), "frames": Table.of(frames),
                        "timeline": Table.of(timeline), "memory": Table.of(memory)}
        self.scenario = scenario
        self.resolved_config = resolved_config if resolved_config is not None else {}

    def table(self, name: str) -> Table:
        """The :class:`Table` behind ``name`` (no pandas unless it is already a DataFrame)."""
        return self._tables[name]

    def worst_frame(self) -> dict | None:
        """The frames-table row behind ``latency_s`` (a dict): the critical stream's slowest
        frame, its first such frame on ties (None when no frame ran)."""
        frames = self._tables["frames"]
        if not len(frames):
            return None
        crit = self.summary.get("critical_stream", 0)
        stream = frames.column("stream")
        mine = np.flatnonzero(stream == crit)
        mine = mine if mine.size else np.arange(len(frames))
        latency = frames.column("latency_s", float)[mine]
        return frames.rows()[int(mine[int(np.nanargmax(latency))])]

    def worst_frame_rows(self) -> list[dict]:
        """Per-layer rows (dicts, in table order) of the frame behind ``latency_s``."""
        worst = self.worst_frame()
        layers = self._tables["layers"]
        if worst is None or not len(layers):
            return []
        mask = (layers.column("stream") == worst["stream"]) & \
            (layers.column("frame") == worst["frame"])
        rows = layers.rows()
        return [rows[i] for i in np.flatnonzero(mask)]

    def worst_frame_layers(self):
        """Per-layer rows of the frame behind ``latency_s`` as a DataFrame (see ``worst_frame``)."""
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
        for r in self.worst_frame_rows():
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
            for name in TABLE_NAMES:
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
        import pandas as pd

        tables = {name: pd.read_parquet(directory / f"{name}.parquet") for name in TABLE_NAMES}
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
