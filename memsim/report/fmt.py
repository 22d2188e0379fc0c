"""Human-readable numbers for report tables and captions (the figures keep raw SI values)."""

from __future__ import annotations

import math


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt_s(value) -> str:
    """Seconds as '12.3 ms' (— for missing)."""
    if not _finite(value):
        return "—"
    value = float(value)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-9:.4g} ns" if value else "0 s"


def fmt_bytes(value) -> str:
    """Bytes with binary prefixes: '1.5 MiB' (— for missing)."""
    if not _finite(value):
        return "—"
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.4g} {unit}"
        value /= 1024
    return f"{value:.4g} TiB"


def fmt_j(value) -> str:
    """Joules as '3.2 mJ' (— for missing)."""
    if not _finite(value):
        return "—"
    value = float(value)
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-12:.4g} pJ" if value else "0 J"


def fmt_num(value, digits: int = 4) -> str:
    """A plain number with ``digits`` significant digits (— for missing)."""
    if not _finite(value):
        return "—"
    return f"{float(value):.{digits}g}"


def fmt_usd(value) -> str:
    """Dollars: '$80' (— for missing)."""
    if not _finite(value):
        return "—"
    return f"${float(value):,.2f}".replace(".00", "")


def num(value):
    """``value`` as a float, or None when missing / not finite (for JSON and sort keys)."""
    return float(value) if _finite(value) else None


def fmt_bw(value) -> str:
    """Bandwidth in decimal units as vendors quote it: '17.07 GB/s' (— for missing)."""
    if not _finite(value):
        return "—"
    value = float(value)
    for unit, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g} B/s"


def binary_unit(max_bytes) -> tuple[str, int]:
    """The binary unit ('B', 'KiB', 'MiB', 'GiB') and its size in bytes for an axis whose
    largest value is ``max_bytes``, so the ticks read like the captions' ``fmt_bytes`` figures."""
    value = float(max_bytes) if _finite(max_bytes) else 0.0
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return unit, scale
    return "B", 1


def natural_key(label: str):
    """Sort key that orders 'core2' before 'core10' (digit runs compared as numbers)."""
    import re

    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.findall(r"\d+|\D+", str(label))]
