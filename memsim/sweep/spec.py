"""Sweep expansion: a validated ``Sweep`` → the list of points it describes.

A point is the base scenario with one value per swept path (``grid``: every combination, in the
order the paths are written, last path fastest; ``zip``: the i-th value of every zipped path
together) and one seed. ``exclude`` entries remove every point whose values match all of the
entry's paths (exact equality of the YAML values, after path resolution).

Each point is resolved in the parent process: the overrides are applied to the base scenario's
raw YAML and the result validated as a ``Scenario``. The point id is a hash of the resolved
scenario (every field, numbers in internal units), the SHA-256 of every file it reads (network
files, measured-compression sources; ``memsim.sweep.files``), the seed and the memsim version,
so the same physical point always maps to the same stored file and a changed base file, an
edited network file or a new memsim version never reuses stale results. Two combinations that
resolve to the same scenario (``512 KiB`` and ``0.5 MiB``) share one id: the point is computed
once and both rows show it. A point whose combination of values is invalid keeps its error
(``status = "invalid"``) and is stored as failed without running.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from memsim.config.loader import apply_overrides, load_yaml, plain_data, validate_data
from memsim.config.scenario import Scenario
from memsim.config.sweep import Sweep
from memsim.errors import InputError
from memsim.fileio import file_digests
from memsim.version import __version__


@dataclass
class Point:
    """One design point: swept ``values`` (dotted path → YAML value), ``seed``, its ``id``, the
    validated ``scenario`` (None when the combination is invalid, then ``error`` says why) and
    ``files``: ``{path: SHA-256}`` of the user files the point reads (part of the id)."""

    index: int
    values: dict
    seed: int
    id: str
    scenario: object = None
    error: str | None = None
    keys: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)


def load_sweep(path):
    """Load and validate a sweep file → ``memsim.config.Sweep`` (``InputError`` when bad)."""
    path = Path(path)
    return validate_data(Sweep, load_yaml(path), path, source_path=path.resolve())


def sweep_name(sweep) -> str:
    """The sweep's name: ``name`` in the file, else the file's stem."""
    if sweep.name:
        return sweep.name
    return Path(sweep.source_path).stem if sweep.source_path else "sweep"


def combinations(sweep) -> list[dict]:
    """Every combination of swept values (before seeds), ``exclude`` applied, in grid order."""
    grid_keys = list(sweep.grid)
    zip_keys = list(sweep.zip)
    zip_len = len(next(iter(sweep.zip.values()))) if sweep.zip else 1
    combos = []
    for values in itertools.product(*(sweep.grid[k] for k in grid_keys)):
        for j in range(zip_len):
            point = dict(zip(grid_keys, values))
            for k in zip_keys:
                point[k] = sweep.zip[k][j]
            if not any(all(_same(point.get(k), v) for k, v in ex.items())
                       for ex in sweep.exclude):
                combos.append(point)
    return combos


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def point_id(resolved: dict, seed: int, files: dict | None = None) -> str:
    """16 hex digits of SHA-256 over the resolved scenario, the seed, the memsim version and
    ``files`` (``{path: content digest}`` of the files the point reads; without any the text
    hashed is the same as for a point that reads no file, so zoo-only ids do not change)."""
    data = {"scenario": resolved, "seed": seed, "memsim": __version__}
    if files:
        data["files"] = files
    return hashlib.sha256(_canonical(data).encode()).hexdigest()[:16]


def _ordered(values: dict) -> list:
    # a parent path is set before the paths below it (``hardware`` before ``hardware.memory…``)
    return sorted(values.items(), key=lambda kv: kv[0].count("."))


def _base_raw(sweep, base: Path) -> dict:
    """The base scenario's raw YAML as plain data, its hardware file inlined unless swept
    (read once, not per point)."""
    raw = plain_data(load_yaml(base))
    if isinstance(raw.get("hardware"), str) and "hardware" not in value_columns(sweep):
        hw_path = Path(raw["hardware"]).expanduser()
        if not hw_path.is_absolute():
            hw_path = base.parent / hw_path
        raw["hardware"] = plain_data(load_yaml(hw_path.resolve()))
    return raw


def _point(index: int, raw: dict, base: Path, values: dict, seed: int, digests: dict) -> Point:
    """One point: ``raw`` with ``values`` and ``seed`` applied, validated and hashed together
    with the contents of the files it reads (``digests``: path → SHA-256 cache of the
    expansion). An invalid combination keeps its located problem; its id covers the swept
    values, the base data (hardware inlined) and the swept files' contents."""
    overrides = dict(_ordered(values))
    overrides["seed"] = seed
    try:
        data = apply_overrides(plain_data(raw), overrides, base_dir=base.parent, path=base)
        scenario = validate_data(Scenario, data, base, source_path=base)
    except InputError as err:
        problem = err.message.replace(str(base) + ": ", "", 1)
        files = file_digests(values, digests)
        pid = point_id({"invalid": values, "base": str(base), "raw": raw}, seed, files)
        return Point(index, values, seed, pid, None, problem, files=files)
    resolved = scenario.model_dump(mode="json")
    files = file_digests(resolved, digests)
    return Point(index, values, seed, point_id(resolved, seed, files), scenario, files=files)


def expand(sweep) -> list[Point]:
    """All points of ``sweep`` (combinations × seeds), resolved and hashed; ids cover the
    contents of the files each point reads, each file hashed once per call."""
    base = Path(sweep.base)
    raw = _base_raw(sweep, base)
    digests: dict = {}  # path → SHA-256, shared by every point of this expansion
    points: list[Point] = []
    for values in combinations(sweep):
        for seed in sweep.seeds:
            points.append(_point(len(points), raw, base, values, seed, digests))
    return points


def value_columns(sweep) -> list[str]:
    """The dotted swept paths, in file order (grid then zip); each is a results column."""
    return list(sweep.grid) + list(sweep.zip)


def column_value(value):
    """A swept value as a scalar column cell: mappings and lists as canonical JSON text."""
    if isinstance(value, (dict, list, tuple)):
        return _canonical(value)
    return value
