"""Sweep specification (DESIGN §3): a base scenario and the dotted paths varied over it.

Only the description is validated here (every varied path must exist in, or be addable to, the
base scenario); expansion into points and execution belong to ``memsim.sweep``.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from memsim.config.base import (ConfigModel, FieldError, Name, NonNegInt, base_dir_context_get,
                                resolve_user_file, validate_in_source_dir)
from memsim.config.loader import apply_overrides, load_yaml, validate_data
from memsim.config.scenario import Scenario, load_scenario
from memsim.errors import InputError


#: metrics a sweep can optimise (columns of the compacted results): the run summary's numbers
#: plus the hardware's price and power
METRICS = ("latency_s", "latency_p50_s", "latency_p99_s", "slack_s", "miss_rate", "energy_j",
           "dram_bytes", "peak_activation_bytes", "compute_cycles", "lower_bound_activation_bytes",
           "naive_activation_bytes", "price_usd", "tdp_w", "fps_per_dollar", "met")

#: network/hardware file suffixes: such string values are paths, resolved against the sweep file
_PATH_SUFFIXES = (".yaml", ".yml", ".onnx", ".csv")


def plain_value(value):
    """YAML data as plain Python (ruamel's scalar subclasses become int/float/str/bool)."""
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def resolve_value(key: str, value):
    """A swept value as the base scenario should see it: a file path given for ``hardware`` or
    a stream's ``network`` is made absolute relative to the sweep file (the current base
    directory while validating); every other value is returned unchanged."""
    value = plain_value(value)
    last = key.rsplit(".", 1)[-1]
    if not isinstance(value, str) or last not in ("hardware", "network"):
        return value
    if last == "network" and not (value.lower().endswith(_PATH_SUFFIXES) or "/" in value):
        return value  # a zoo name
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base_dir_context_get() / path
    return str(path.resolve())


class Sweep(ConfigModel):
    """``base``: scenario path (relative to the sweep file); ``grid``: dotted path → values (all
    combinations); ``zip``: dotted path → values varied together (equal lengths); ``exclude``:
    partial points (dotted path → value) to skip; ``seeds``: seeds to run each point with;
    ``objectives``: metric name → ``min``/``max`` for the Pareto front."""

    _provenance: ClassVar[frozenset[str]] = frozenset({"source_path"})

    name: Name | None = None
    base: str
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    exclude: tuple[dict[str, Any], ...] = ()
    seeds: tuple[NonNegInt, ...] = (0,)
    objectives: dict[str, Literal["min", "max"]] = Field(
        default_factory=lambda: {"latency_s": "min"})
    source_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="wrap")
    @classmethod
    def _with_base_dir(cls, data, handler):
        return validate_in_source_dir(data, handler)

    @field_validator("base")
    @classmethod
    def _base(cls, value: str):
        path = resolve_user_file(value, "base scenario")
        load_scenario(path)  # the base itself must be valid (its own located errors)
        return str(path)

    @field_validator("grid", "zip")
    @classmethod
    def _lists(cls, value: dict[str, list]):
        for key, values in value.items():
            if not values:
                raise FieldError((key,), "needs at least one value (got an empty list)")
            if any(not part for part in key.split(".")):
                raise FieldError((key,), f"expected a dotted path such as "
                                         f"hardware.memory.levels.L2.size (got {key!r})")
            seen = []
            for i, item in enumerate(values):
                if item in seen:
                    raise FieldError((key, i), f"repeated value (got {item!r})")
                seen.append(item)
        return {key: [resolve_value(key, v) for v in values] for key, values in value.items()}

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, value):
        return tuple({k: resolve_value(k, v) for k, v in point.items()} for point in value)

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: dict[str, str]):
        for name in value:
            if name not in METRICS:
                close = difflib.get_close_matches(name, METRICS, n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(METRICS)}"
                raise FieldError((name,), f"unknown metric '{name}' ({hint})")
        if not value:
            raise FieldError((), "needs at least one objective (got none)")
        return value

    @model_validator(mode="after")
    def _shapes(self):
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise FieldError(("zip",), f"zip lists must have equal lengths (got "
                                       f"{sorted(lengths)})")
        both = set(self.grid) & set(self.zip)
        if both:
            raise FieldError(("zip", sorted(both)[0]), "a path is either in grid or in zip")
        if not self.seeds:
            raise FieldError(("seeds",), "needs at least one seed (got an empty list)")
        if len(set(self.seeds)) != len(self.seeds):
            raise FieldError(("seeds",), f"seeds must not repeat (got {list(self.seeds)})")
        if not self.grid and not self.zip:
            raise FieldError(("grid",), "a sweep needs grid or zip values")
        for i, point in enumerate(self.exclude):
            for key in point:
                if key not in self.grid and key not in self.zip:
                    raise FieldError(("exclude", i, key), "not a swept path")
        self._check_paths()
        return self

    def _check_paths(self) -> None:
        """Every value of every swept path must apply to the base scenario.

        Each value is set alone on the base scenario and the result validated, so a bad value
        is reported at its own line in the sweep file. A path below another swept path (e.g.
        ``hardware.memory.levels.L3.size`` while ``hardware`` is swept) is only checked for the
        values that the base accepts; the rest are checked point by point when the sweep runs.
        """
        base = Path(self.base)
        raw = load_yaml(base)
        swept = list(self.grid) + list(self.zip)
        checks = [("grid", key, i, {key: value}) for key, options in self.grid.items()
                  for i, value in enumerate(options)]
        zip_len = len(next(iter(self.zip.values()))) if self.zip else 0
        checks += [("zip", key, i, {k: v[i] for k, v in self.zip.items()})
                   for i in range(zip_len) for key in list(self.zip)[:1]]
        for table, key, i, values in checks:
            nested = any(k != other and k.startswith(other + ".") for k in values
                         for other in swept)
            data = copy.deepcopy(raw)
            try:
                ordered = dict(sorted(values.items(), key=lambda kv: kv[0].count(".")))
                data = apply_overrides(data, ordered, base_dir=base.parent, path=base)
                validate_data(Scenario, data, base, source_path=base)
            except InputError as err:
                if nested:
                    continue
                culprit = next((k for k in values if err.field == k or
                                err.field.startswith(k + ".")), key)
                where = f"{err.field}: " if err.field and err.field != culprit else ""
                problem = err.problem.split(" [from override")[0]
                raise FieldError((table, culprit, i), f"{where}{problem}") from None

    @property
    def points(self) -> int:
        """Number of points before ``exclude``: product of grid sizes × zip length × seeds."""
        count = 1
        for values in self.grid.values():
            count *= len(values)
        if self.zip:
            count *= len(next(iter(self.zip.values())))
        return count * len(self.seeds)
