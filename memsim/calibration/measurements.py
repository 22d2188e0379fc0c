"""Read a measurements CSV for ``memsim calibrate``.

Header (any order): ``network,dtype,threads,latency_ms`` required; ``batch``, ``runtime``,
``unit`` (cpu|gpu|npu), ``resolution`` optional. ``network`` is a zoo name or a model file path
(relative to the CSV). ``threads`` may be empty (GPU/NPU rows: every core). Every problem is an
``InputError`` at ``file:line`` (exit 2), nothing is half-read.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from memsim.errors import InputError

REQUIRED = ("network", "dtype", "threads", "latency_ms")
OPTIONAL = ("batch", "runtime", "unit", "resolution")
#: A measurements file above this is not a handful of measurements.
MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class Measurement:
    """One measured latency and its context (``line``: where it is in the CSV)."""

    line: int
    network: str
    dtype: str
    threads: int | None
    latency_ms: float
    batch: int = 1
    runtime: str | None = None
    unit: str | None = None
    resolution: int | None = None


def read_measurements(path) -> list[Measurement]:
    """Every row of the CSV at ``path`` as a :class:`Measurement` (module docstring)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror})", path=path) from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"too large for a measurements CSV (got {len(raw)} bytes)", path=path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text (a CSV of measurements expected)", path=path,
                         line=1) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as err:
        raise InputError(f"malformed CSV ({err})", path=path, line=reader.line_num) from None
    if not rows:
        raise InputError(f"empty file (header {','.join(REQUIRED)} expected)", path=path, line=1)
    header = [h.strip() for h in rows[0]]
    _check_header(header, path)
    out = []
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(f"{len(cells)} fields, the header has {len(header)}", path=path,
                             line=n)
        out.append(_measurement(dict(zip(header, (c.strip() for c in cells))), n, path))
    if not out:
        raise InputError("no measurements after the header", path=path, line=2)
    return out


def _check_header(header: list[str], path) -> None:
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing:
        raise InputError(f"header lacks {', '.join(missing)} (required: {', '.join(REQUIRED)}; "
                         f"optional: {', '.join(OPTIONAL)}) (got {','.join(header)})",
                         path=path, line=1)
    if unknown:
        raise InputError(f"unknown column {unknown[0]!r} (columns: "
                         f"{', '.join(REQUIRED + OPTIONAL)})", path=path, line=1)
    if len(set(header)) != len(header):
        raise InputError("a column appears twice", path=path, line=1)


def _int(value: str, name: str, line: int, path, empty_ok: bool = False) -> int | None:
    if value == "" and empty_ok:
        return None
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"expected a whole number (got {value!r})", field=name, path=path,
                         line=line) from None
    if n < 1:
        raise InputError(f"must be at least 1 (got {n})", field=name, path=path, line=line)
    return n


def _measurement(r: dict, line: int, path) -> Measurement:
    from memsim.config.base import DTYPES
    from memsim.config.hardware import RUNTIMES, UNIT_KINDS

    try:
        latency = float(r["latency_ms"])
    except ValueError:
        raise InputError(f"expected a number of milliseconds (got {r['latency_ms']!r})",
                         field="latency_ms", path=path, line=line) from None
    if not latency > 0 or latency == float("inf"):
        raise InputError(f"must be a positive, finite latency (got {r['latency_ms']})",
                         field="latency_ms", path=path, line=line)
    if r["dtype"] not in DTYPES:
        raise InputError(f"unknown dtype {r['dtype']!r} (known: {', '.join(DTYPES)})",
                         field="dtype", path=path, line=line)
    for key, allowed in (("runtime", RUNTIMES), ("unit", UNIT_KINDS)):
        if r.get(key) and r[key] not in allowed:
            raise InputError(f"unknown {key} {r[key]!r} (known: {', '.join(allowed)})",
                             field=key, path=path, line=line)
    network = _network(r["network"], line, path)
    return Measurement(line, network, r["dtype"], _int(r["threads"], "threads", line, path, True),
                       latency, _int(r.get("batch") or "1", "batch", line, path),
                       r.get("runtime") or None, r.get("unit") or None,
                       _int(r.get("resolution") or "", "resolution", line, path, True))


def _network(value: str, line: int, path) -> str:
    """A zoo name as is, or a model file resolved against the CSV's folder."""
    from memsim.config.scenario import NETWORK_SUFFIXES
    from memsim.workloads import list_networks

    if not value:
        raise InputError("empty network", field="network", path=path, line=line)
    if value.lower().endswith(NETWORK_SUFFIXES) or "/" in value:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else Path(path).resolve().parent / p
        if not p.is_file():
            raise InputError(f"network file not found: {p}", field="network", path=path,
                             line=line)
        return str(p)
    names = [n["name"] for n in list_networks()]
    if value not in names:
        raise InputError(f"unknown network {value!r} (built-in: {', '.join(names)}; or a "
                         f"model file path)", field="network", path=path, line=line)
    return value
