"""Strict unit strings → integers (bytes, picoseconds, Hz) and floats (bytes/s, pJ).

Every quantity in a memsim config is a string with its unit (DESIGN §3):

- sizes: ``64 KiB``, ``8 GiB``, ``1.5 MB``, ``512 B``. ``KiB/MiB/GiB/TiB`` are powers of two
  (IEC 80000-13), ``kB/MB/GB/TB`` powers of ten (SI). Bare ``KB`` is ambiguous and rejected.
- times: ``80 ns``, ``3.9 us`` (``µs`` too), ``33.3 ms``, ``1 s``, ``500 ps``, or ``4 cycles``
  resolved against a clock.
- frequencies: ``2.4 GHz``, ``480 MHz``, ``32 kHz``, ``1 Hz``.
- bandwidths: ``25.6 GB/s``, ``10 GiB/s``, ``64 B/cycle`` (resolved against a clock).
- energies: ``0.2 pJ``, ``3 nJ``; per byte ``20 pJ/B`` (``pJ/bit`` is multiplied by 8).

Parsing is exact: the number is read as a decimal and scaled with integer arithmetic, so
``1.5 MB`` is exactly 1 500 000 bytes. Sizes must come out as a whole number of bytes; times are
rounded to the nearest picosecond (memsim's time resolution). Negative, non-finite and unit-less
values are rejected with a ``ValueError`` whose message lists the accepted forms; the config
loader turns it into an ``InputError`` with a file location.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "parse_size", "parse_time", "parse_frequency", "parse_bandwidth", "parse_energy",
    "parse_energy_per_byte", "format_size", "format_time", "format_frequency",
    "format_bandwidth", "format_energy", "format_energy_per_byte",
    "SIZE_UNITS_IEC", "SIZE_UNITS_SI", "TIME_UNITS", "FREQUENCY_UNITS",
    "PS_PER_S",
]

PS_PER_S = 10**12

#: IEC binary prefixes (IEC 80000-13): powers of two.
SIZE_UNITS_IEC: dict[str, int] = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
#: SI decimal prefixes: powers of ten. ``B`` (one byte) lives here too.
SIZE_UNITS_SI: dict[str, int] = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SIZE_UNITS = {**SIZE_UNITS_SI, **SIZE_UNITS_IEC}

#: time units in picoseconds
TIME_UNITS: dict[str, int] = {"ps": 1, "ns": 10**3, "us": 10**6, "µs": 10**6, "μs": 10**6,
                              "ms": 10**9, "s": 10**12}
_CYCLE_UNITS = ("cycles", "cycle")

FREQUENCY_UNITS: dict[str, int] = {"Hz": 1, "kHz": 10**3, "MHz": 10**6, "GHz": 10**9}

# bandwidth unit → bytes per second
_BANDWIDTH_UNITS: dict[str, int] = {f"{u}/s": f for u, f in _SIZE_UNITS.items()}
_BANDWIDTH_CYCLE_UNITS = ("B/cycle", "B/cycles")

# energy unit → picojoules (as a Fraction, femtojoules are 1/1000 pJ)
_ENERGY_UNITS: dict[str, Fraction] = {
    "fJ": Fraction(1, 1000), "pJ": Fraction(1), "nJ": Fraction(10**3), "uJ": Fraction(10**6),
    "µJ": Fraction(10**6), "mJ": Fraction(10**9), "J": Fraction(10**12),
}
_ENERGY_PER_BYTE_UNITS: dict[str, Fraction] = {
    **{f"{u}/B": f for u, f in _ENERGY_UNITS.items()},
    **{f"{u}/bit": f * 8 for u, f in _ENERGY_UNITS.items()},
}

_NUMBER = r"[+-]?(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>[^\s\d.+-][^\s]*)?\s*$")
_NONFINITE_RE = re.compile(r"^\s*[+-]?(inf|infinity|nan)\b", re.IGNORECASE)

_SIZE_FORMS = ("a size such as '64 KiB', '1.5 MB' or '512 B' (binary units KiB MiB GiB TiB = "
               "powers of 2; decimal units kB MB GB TB = powers of 10; B = bytes)")
_TIME_FORMS = "a time such as '80 ns', '3.9 us', '33.3 ms', '1 s', '500 ps' or '4 cycles'"
_FREQ_FORMS = "a frequency such as '2.4 GHz', '480 MHz', '32 kHz' or '1 Hz'"
_BW_FORMS = ("a bandwidth such as '25.6 GB/s', '10 GiB/s', '800 MB/s' or '64 B/cycle' "
             "(units: B/s kB/s MB/s GB/s TB/s KiB/s MiB/s GiB/s TiB/s B/cycle)")
_ENERGY_FORMS = "an energy such as '0.2 pJ', '3 nJ' or '150 fJ' (units: fJ pJ nJ uJ mJ J)"
_EPB_FORMS = ("an energy per byte such as '20 pJ/B', '0.5 pJ/B' or '2 pJ/bit' "
              "(units: fJ/B pJ/B nJ/B, or per bit: pJ/bit ...)")


def _fail(text, forms: str, why: str = "") -> ValueError:
    shown = text if isinstance(text, str) else repr(text)
    why = f"{why}; " if why else ""
    return ValueError(f"{why}expected {forms} (got {shown!r})" if isinstance(text, str)
                      else f"{why}expected {forms} (got {shown})")


def _split(text, forms: str, units) -> tuple[Fraction, str]:
    """Split ``text`` into an exact non-negative number and a unit from ``units``."""
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, (int, float)):
            raise _fail(text, forms, "missing unit")
        raise _fail(text, forms, f"not a string but {type(text).__name__}")
    if _NONFINITE_RE.match(text):
        raise _fail(text, forms, "value must be finite")
    match = _QUANTITY_RE.match(text)
    if not match:
        raise _fail(text, forms)
    num, unit = match.group("num"), match.group("unit")
    if unit is None:
        raise _fail(text, forms, "missing unit")
    try:
        value = Fraction(Decimal(num.replace("_", "")))
    except (InvalidOperation, ValueError):  # pragma: no cover - the regex admits only decimals
        raise _fail(text, forms) from None
    if value < 0:
        raise _fail(text, forms, "value must not be negative")
    if unit not in units:
        hint = ""
        if unit in ("KB", "Kb", "kb"):
            hint = "'KB' is ambiguous: write KiB (1024 B) or kB (1000 B)"
        elif unit.startswith("KB/") or unit == "Kb/s":
            hint = "'KB/s' is ambiguous: write KiB/s or kB/s"
        elif (unit.split("/")[0][-1:] == "b" and any(c.isupper() for c in unit)
              and unit.lower() in {u.lower() for u in units}):  # Gb, Mib: bits, not a case typo
            right = next(u for u in units if u.lower() == unit.lower())
            hint = (f"'{unit}' reads as bits; memsim counts bytes: divide by 8 and write "
                    f"'{right}' (1 B = 8 b)")
        elif unit.lower() in {u.lower() for u in units}:
            right = next(u for u in units if u.lower() == unit.lower())
            hint = f"unit '{unit}' is spelt '{right}'"
        else:
            hint = f"unknown unit '{unit}'"
        raise _fail(text, forms, hint)
    return value, unit


def parse_size(text: str) -> int:
    """Parse a size (``64 KiB``, ``1.5 MB``) into an exact integer number of bytes (≥ 0)."""
    value, unit = _split(text, _SIZE_FORMS, _SIZE_UNITS)
    nbytes = value * _SIZE_UNITS[unit]
    if nbytes.denominator != 1:
        raise _fail(text, _SIZE_FORMS, "not a whole number of bytes")
    return int(nbytes)


def _check_clock(clock_hz, text, forms):
    if clock_hz is None:
        raise _fail(text, forms, "'cycles' need a clock (set compute.clock)")
    if isinstance(clock_hz, bool) or not isinstance(clock_hz, (int, float)) or not clock_hz > 0 \
            or not math.isfinite(clock_hz):
        raise ValueError(f"clock must be a positive number of Hz (got {clock_hz!r})")


def _round_half_up(value: Fraction) -> int:
    return int(math.floor(value + Fraction(1, 2)))


def parse_time(text: str, clock_hz: int | float | None = None) -> int:
    """Parse a time into integer picoseconds (rounded to the nearest ps).

    ``N cycles`` is ``N / clock_hz`` seconds and needs ``clock_hz``.
    """
    value, unit = _split(text, _TIME_FORMS, (*TIME_UNITS, *_CYCLE_UNITS))
    if unit in _CYCLE_UNITS:
        _check_clock(clock_hz, text, _TIME_FORMS)
        return _round_half_up(value * PS_PER_S / Fraction(clock_hz))
    return _round_half_up(value * TIME_UNITS[unit])


def parse_time_cycles(text: str) -> Fraction | None:
    """Return the number of cycles if ``text`` is a ``N cycles`` string, else ``None``.

    Lets a config keep ``4 cycles`` as written (the model re-renders it in cycles).
    """
    value, unit = _split(text, _TIME_FORMS, (*TIME_UNITS, *_CYCLE_UNITS))
    return value if unit in _CYCLE_UNITS else None


def parse_frequency(text: str) -> int:
    """Parse a frequency (``2.4 GHz``) into integer Hz (rounded to the nearest Hz)."""
    value, unit = _split(text, _FREQ_FORMS, FREQUENCY_UNITS)
    return _round_half_up(value * FREQUENCY_UNITS[unit])


def parse_bandwidth(text: str, clock_hz: int | float | None = None) -> float:
    """Parse a bandwidth into bytes per second (float).

    ``GB/s`` is 10⁹ B/s, ``GiB/s`` 2³⁰ B/s; ``N B/cycle`` is ``N * clock_hz`` and needs the clock.
    """
    value, unit = _split(text, _BW_FORMS, (*_BANDWIDTH_UNITS, *_BANDWIDTH_CYCLE_UNITS))
    if unit in _BANDWIDTH_CYCLE_UNITS:
        _check_clock(clock_hz, text, _BW_FORMS)
        return float(value * Fraction(clock_hz))
    return float(value * _BANDWIDTH_UNITS[unit])


def parse_bandwidth_per_cycle(text: str) -> Fraction | None:
    """Return bytes per cycle if ``text`` is a ``N B/cycle`` string, else ``None``."""
    value, unit = _split(text, _BW_FORMS, (*_BANDWIDTH_UNITS, *_BANDWIDTH_CYCLE_UNITS))
    return value if unit in _BANDWIDTH_CYCLE_UNITS else None


def parse_energy(text: str) -> float:
    """Parse an energy (``0.2 pJ``, ``3 nJ``) into picojoules (float)."""
    value, unit = _split(text, _ENERGY_FORMS, _ENERGY_UNITS)
    return float(value * _ENERGY_UNITS[unit])


def parse_energy_per_byte(text: str) -> float:
    """Parse an energy per byte (``20 pJ/B``; ``pJ/bit`` × 8) into picojoules per byte."""
    value, unit = _split(text, _EPB_FORMS, _ENERGY_PER_BYTE_UNITS)
    return float(value * _ENERGY_PER_BYTE_UNITS[unit])


# ----------------------------------------------------------------------------------- formatting

def _check_count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer (got {value!r})")
    return value


def _exact_int(value: int, units: list[tuple[str, int]]) -> str:
    """Render an integer with the largest unit that divides it exactly."""
    for name, factor in units:
        if value and value % factor == 0:
            return f"{value // factor} {name}"
    return f"{value} {units[-1][0]}"


def format_size(nbytes: int) -> str:
    """Render bytes exactly with the unit giving the smallest whole number (IEC first on ties).

    ``format_size(65536) == '64 KiB'``, ``format_size(1_500_000) == '1500 kB'``.
    """
    _check_count(nbytes, "size")
    if nbytes == 0:
        return "0 B"
    # the exact unit with the smallest number; IEC first on ties (2**k sizes read as KiB/MiB)
    options = [(nbytes // f, i, n) for i, (n, f) in
               enumerate([*sorted(SIZE_UNITS_IEC.items(), key=lambda kv: -kv[1]),
                          ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3), ("B", 1)])
               if nbytes % f == 0]
    number, _, name = min(options)
    return f"{number} {name}"


def format_time(ps: int) -> str:
    """Render integer picoseconds exactly with the largest unit that divides them (``'80 ns'``)."""
    _check_count(ps, "time")
    return _exact_int(ps, [("s", 10**12), ("ms", 10**9), ("us", 10**6), ("ns", 10**3),
                           ("ps", 1)])


def format_frequency(hz: int) -> str:
    """Render integer Hz exactly (``'2400 MHz'`` for 2.4e9)."""
    _check_count(hz, "frequency")
    return _exact_int(hz, [("GHz", 10**9), ("MHz", 10**6), ("kHz", 10**3), ("Hz", 1)])


def _format_float(value: float, units: list[tuple[str, Fraction]], what: str) -> str:
    """Render a float with the largest unit whose short decimal form parses back exactly."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite non-negative number (got {value!r})")
    value = float(value)
    # prefer the largest unit giving a number >= 1, and a short decimal that parses back exactly
    ordered = [u for u in units if Fraction(value) >= u[1]] + [u for u in units
                                                               if Fraction(value) < u[1]][::-1]
    for name, factor in ordered:
        text = repr(float(Fraction(value) / factor))
        if "e" in text:
            continue
        if float(Fraction(Decimal(text)) * factor) == value:
            return f"{text.removesuffix('.0')} {name}"
    # repr() of a float round-trips; its exponent form is accepted by the parser
    unit = next(n for n, f in units if f == 1)
    return f"{value!r} {unit}"


def format_bandwidth(bytes_per_s: float) -> str:
    """Render bytes/s as an SI bandwidth (``'25.6 GB/s'``) that parses back to the same float."""
    units = [(n, Fraction(f)) for n, f in
             [("TB/s", 10**12), ("GB/s", 10**9), ("MB/s", 10**6), ("kB/s", 10**3), ("B/s", 1)]]
    return _format_float(bytes_per_s, units, "bandwidth")


def format_energy(pj: float) -> str:
    """Render picojoules (``'0.2 pJ'``, ``'3 nJ'``) so that it parses back to the same float."""
    units = [("J", Fraction(10**12)), ("mJ", Fraction(10**9)), ("uJ", Fraction(10**6)),
             ("nJ", Fraction(10**3)), ("pJ", Fraction(1))]
    return _format_float(pj, units, "energy")


def format_energy_per_byte(pj_per_byte: float) -> str:
    """Render picojoules per byte (``'20 pJ/B'``) so that it parses back to the same float."""
    units = [("nJ/B", Fraction(10**3)), ("pJ/B", Fraction(1))]
    return _format_float(pj_per_byte, units, "energy per byte")
