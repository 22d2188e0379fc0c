"""Hierarchical roofline (Williams, Waterman & Patterson, CACM 2009; the hierarchical form of
Yang et al., "Hierarchical Roofline Analysis", 2020): one compute roof and one bandwidth
ceiling per memory level, with each layer placed once per level.

Units: performance in MAC/s, operational intensity in MAC per byte moved at that level.
``attainable(level, oi) = min(peak_macs_per_s, bandwidth_bytes_per_s · oi)``.

Ceilings: a private level (``scope: core``) has one port per core, so its aggregate ceiling is
``bandwidth_bytes_per_s × cores``; a shared level and DRAM have a single aggregate bandwidth
(DRAM's ``bandwidth_bytes_per_s`` already covers all channels, docs/architecture.md).
A layer's bytes at a level come from the ``bytes_<level>`` columns of ``Result.layers``, its
attained rate is ``macs / (end_s − start_s)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd


def level_column(name: str) -> str:
    """The ``bytes_<key>`` column of ``Result.layers`` for a level name (same sanitising as the engine)."""
    return "bytes_" + re.sub(r"[^0-9A-Za-z_]+", "_", name)


@dataclass(frozen=True)
class Ceiling:
    """One bandwidth ceiling: ``name`` (level name, or ``"dram"``), aggregate
    ``bandwidth_bytes_per_s``, the layer-table ``column`` holding bytes at this level, ``scope``
    (core/shared/dram) and a display ``label`` (the DRAM's part name for DRAM)."""

    name: str
    bandwidth_bytes_per_s: float
    column: str
    scope: str
    label: str = ""


@dataclass(frozen=True)
class Roofline:
    """Compute roof ``peak_macs_per_s`` for ``dtype`` plus bandwidth ``ceilings`` (innermost first, DRAM last)."""

    dtype: str
    peak_macs_per_s: float
    ceilings: tuple[Ceiling, ...]

    def ceiling(self, name: str) -> Ceiling:
        """The ceiling of level ``name`` (KeyError when absent)."""
        for c in self.ceilings:
            if c.name == name:
                return c
        raise KeyError(f"no ceiling named {name!r} (have {', '.join(c.name for c in self.ceilings)})")

    def ridge(self, name: str) -> float:
        """Operational intensity (MAC/B) where level ``name``'s ceiling meets the compute roof."""
        return self.peak_macs_per_s / self.ceiling(name).bandwidth_bytes_per_s

    def attainable(self, name: str, intensity) -> np.ndarray:
        """Attainable MAC/s at operational intensity ``intensity`` (MAC/B) under level ``name``."""
        bw = self.ceiling(name).bandwidth_bytes_per_s
        return np.minimum(self.peak_macs_per_s, bw * np.asarray(intensity, dtype=float))


def hardware_roofline(hw, dtype: str) -> Roofline:
    """The hierarchical roofline of ``hw`` for ``dtype``.

    Raises ``memsim.errors.InfeasibleError`` (from ``hw.peak_macs_per_s``) when the hardware has no
    MAC rate for ``dtype``.
    """
    peak = float(hw.peak_macs_per_s(dtype))
    cores = int(hw.compute.cores)
    ceilings = []
    for level in hw.memory.levels:
        per_port = float(level.bandwidth_bytes_per_s)
        scope = getattr(level, "scope", "core")
        total = per_port * cores if scope == "core" else per_port
        label = f"{level.name} (×{cores} cores)" if scope == "core" else level.name
        ceilings.append(Ceiling(level.name, total, level_column(level.name), scope, label))
    dram = hw.memory.dram
    ceilings.append(Ceiling("dram", float(dram.bandwidth_bytes_per_s), "bytes_dram", "dram",
                            f"DRAM {dram.name}".strip()))
    return Roofline(dtype=dtype, peak_macs_per_s=peak, ceilings=tuple(ceilings))


def layer_points(layers: pd.DataFrame, roofline: Roofline) -> pd.DataFrame:
    """One row per (layer row, level) with bytes > 0, MACs > 0 and a positive duration.

    Columns: ``layer`` (name), ``op``, ``stream``, ``frame``, ``level`` (ceiling name), ``macs``,
    ``bytes``, ``intensity`` (MAC/B), ``attained_macs_per_s``, ``attainable_macs_per_s`` (the roof
    at that intensity and level), ``efficiency`` (attained / attainable, in [0, 1] for a physical
    run). Layers that move no bytes at a level have infinite intensity there and are left out for
    that level (they cannot be placed on a log axis); the table says which were left out by absence.
    """
    columns = ["layer", "op", "stream", "frame", "level", "macs", "bytes", "intensity",
               "attained_macs_per_s", "attainable_macs_per_s", "efficiency"]
    if layers.empty:
        return pd.DataFrame(columns=columns)
    macs = layers["macs"].to_numpy(dtype=float)
    duration = (layers["end_s"] - layers["start_s"]).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        attained = np.where(duration > 0, macs / duration, np.nan)
    frames = []
    for c in roofline.ceilings:
        if c.column not in layers.columns:
            continue
        nbytes = layers[c.column].to_numpy(dtype=float)
        keep = (nbytes > 0) & (macs > 0) & np.isfinite(attained)
        if not keep.any():
            continue
        oi = macs[keep] / nbytes[keep]
        roof = roofline.attainable(c.name, oi)
        part = pd.DataFrame({
            "layer": layers["name"].to_numpy()[keep],
            "op": layers["op"].to_numpy()[keep] if "op" in layers else "",
            "stream": layers["stream"].to_numpy()[keep] if "stream" in layers else 0,
            "frame": layers["frame"].to_numpy()[keep] if "frame" in layers else 0,
            "level": c.name, "macs": macs[keep], "bytes": nbytes[keep], "intensity": oi,
            "attained_macs_per_s": attained[keep], "attainable_macs_per_s": roof,
            "efficiency": attained[keep] / roof,
        })
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def roof_curve(roofline: Roofline, name: str, lo: float, hi: float, n: int = 64):
    """(intensity, attainable) arrays spanning [lo, hi] MAC/B logarithmically, with the ridge point
    included exactly so a plotted roof has its corner in the right place."""
    lo = max(lo, 1e-12)
    hi = max(hi, lo * 10)
    xs = np.geomspace(lo, hi, n)
    ridge = roofline.ridge(name)
    if lo < ridge < hi:
        xs = np.sort(np.append(xs, ridge))
    return xs, roofline.attainable(name, xs)


def intensity_range(points: pd.DataFrame, roofline: Roofline) -> tuple[float, float]:
    """A log-axis range covering all points and every ridge point, padded by a decade."""
    values = [roofline.ridge(c.name) for c in roofline.ceilings]
    if not points.empty:
        values += list(points["intensity"].to_numpy(dtype=float))
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if not values:
        return 1e-2, 1e4
    return 10 ** math.floor(math.log10(min(values)) - 1), 10 ** math.ceil(math.log10(max(values)) + 1)
