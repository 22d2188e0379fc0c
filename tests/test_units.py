"""memsim.units: strict parsing, exact integers, round trips; pint as the conversion oracle."""

import math
from decimal import Decimal

import pint
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim import units as u

UREG = pint.UnitRegistry()


@pytest.mark.parametrize("text, expected", [
    ("64 KiB", 65536), ("8 GiB", 8 * 2**30), ("1.5 MB", 1_500_000), ("512 B", 512),
    ("1 kB", 1000), ("2 MiB", 2 * 2**20), ("1 TiB", 2**40), ("3 TB", 3 * 10**12), ("0 B", 0),
    ("64KiB", 65536), ("  4 KiB ", 4096), ("0.5 KiB", 512), ("1e3 B", 1000), ("1_024 B", 1024),
])
def test_parse_size(text, expected):
    assert u.parse_size(text) == expected
    assert isinstance(u.parse_size(text), int)


@pytest.mark.parametrize("text, why", [
    ("64 KB", "ambiguous"), ("64 Kb", "ambiguous"), ("-1 MiB", "negative"), ("banana", ""),
    ("64", "missing unit"), ("inf B", "finite"), ("nan KiB", "finite"), ("1.5 B", "whole"),
    ("64 kib", "spelt 'KiB'"), ("64 bytes", "unknown unit"), ("", ""), ("KiB", ""),
    ("1 2 KiB", ""), ("64 KiB/s", "unknown unit"),
])
def test_parse_size_rejects(text, why):
    with pytest.raises(ValueError) as info:
        u.parse_size(text)
    message = str(info.value)
    assert why in message
    assert "KiB" in message and "kB" in message  # the accepted forms are shown
    assert repr(text) in message


@pytest.mark.parametrize("value", [64, 1.5, None, True, [1]])
def test_non_strings_rejected(value):
    with pytest.raises(ValueError, match="expected a size"):
        u.parse_size(value)


@pytest.mark.parametrize("text, clock, expected", [
    ("80 ns", None, 80_000), ("3.9 us", None, 3_900_000), ("3.9 µs", None, 3_900_000),
    ("33.3 ms", None, 33_300_000_000), ("1 s", None, 10**12), ("500 ps", None, 500),
    ("4 cycles", 2_000_000_000, 2000), ("1 cycle", 10**9, 1000),
    ("4 cycles", 2_400_000_000, 1667),  # 1666.67 ps rounds to the nearest picosecond
    ("0.4 ps", None, 0), ("0.5 ps", None, 1),
])
def test_parse_time(text, clock, expected):
    assert u.parse_time(text, clock) == expected


def test_cycles_need_a_clock():
    with pytest.raises(ValueError, match="need a clock"):
        u.parse_time("4 cycles")
    with pytest.raises(ValueError, match="need a clock"):
        u.parse_bandwidth("64 B/cycle")
    with pytest.raises(ValueError, match="clock must be"):
        u.parse_time("4 cycles", -1)


@pytest.mark.parametrize("text", ["-1 ns", "80", "80 nsec", "inf s", "1 cycles/s", "80 NS"])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError, match="expected a time"):
        u.parse_time(text, 10**9)


def test_frequency_bandwidth_energy():
    assert u.parse_frequency("2.4 GHz") == 2_400_000_000
    assert u.parse_frequency("480 MHz") == 480_000_000
    assert u.parse_bandwidth("25.6 GB/s") == 25.6e9
    assert u.parse_bandwidth("10 GiB/s") == 10 * 2**30
    assert u.parse_bandwidth("64 B/cycle", 2_400_000_000) == 64 * 2.4e9
    assert u.parse_energy("0.2 pJ") == 0.2
    assert u.parse_energy("3 nJ") == 3000.0
    assert u.parse_energy("150 fJ") == 0.15
    assert u.parse_energy_per_byte("20 pJ/B") == 20.0
    assert u.parse_energy_per_byte("2 pJ/bit") == 16.0
    for bad, fn in [("64 KB/s", u.parse_bandwidth), ("2.4 Ghz", u.parse_frequency),
                    ("-1 pJ", u.parse_energy), ("20 pJ", u.parse_energy_per_byte),
                    ("banana GB/s", u.parse_bandwidth), ("1 GHz", u.parse_bandwidth)]:
        with pytest.raises(ValueError, match="expected"):
            fn(bad)


# --- pint as the oracle for conversions ------------------------------------------------------

_PINT_SIZE = {"B": "byte", "kB": "kilobyte", "MB": "megabyte", "GB": "gigabyte",
              "KiB": "kibibyte", "MiB": "mebibyte", "GiB": "gibibyte", "TiB": "tebibyte"}
_PINT_TIME = {"ps": "picosecond", "ns": "nanosecond", "us": "microsecond", "ms": "millisecond",
              "s": "second"}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(sorted(_PINT_SIZE)))
def test_size_matches_pint(n, unit):
    expected = (n * UREG(_PINT_SIZE[unit])).to("byte").magnitude
    assert u.parse_size(f"{n} {unit}") == round(expected)


@settings(max_examples=200, deadline=None)
@given(st.decimals(0, 10**4, places=3, allow_nan=False, allow_infinity=False),
       st.sampled_from(sorted(_PINT_TIME)))
def test_time_matches_pint(value, unit):
    expected = (float(value) * UREG(_PINT_TIME[unit])).to("picosecond").magnitude
    assert abs(u.parse_time(f"{value} {unit}") - expected) <= 0.5 + 1e-9 * expected


@settings(max_examples=100, deadline=None)
@given(st.decimals(0, 10**4, places=2, allow_nan=False, allow_infinity=False),
       st.sampled_from(["MB/s", "GB/s", "GiB/s", "KiB/s"]))
def test_bandwidth_matches_pint(value, unit):
    size = _PINT_SIZE[unit[:-2]]
    expected = (float(value) * UREG(f"{size} / second")).to("byte / second").magnitude
    assert math.isclose(u.parse_bandwidth(f"{value} {unit}"), expected, rel_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.decimals(0, 10**4, places=3, allow_nan=False, allow_infinity=False),
       st.integers(1, 5 * 10**9))
def test_cycles_match_pint(cycles, clock):
    expected = (float(cycles) / (clock * UREG.hertz)).to("picosecond").magnitude
    assert abs(u.parse_time(f"{cycles} cycles", clock) - expected) <= 0.5 + 1e-9 * expected


# --- format → parse round trips --------------------------------------------------------------

@given(st.integers(0, 2**62))
def test_size_round_trip(n):
    assert u.parse_size(u.format_size(n)) == n


@given(st.sampled_from([1, 2**10, 2**20, 2**30, 10**3, 10**6]), st.integers(1, 10**4))
def test_size_format_uses_largest_unit(factor, k):
    text = u.format_size(k * factor)
    assert u.parse_size(text) == k * factor
    number = int(text.split()[0])
    assert number <= k  # never a longer number than needed


@given(st.integers(0, 10**18))
def test_time_round_trip(ps):
    assert u.parse_time(u.format_time(ps)) == ps


@given(st.integers(1, 10**12))
def test_frequency_round_trip(hz):
    assert u.parse_frequency(u.format_frequency(hz)) == hz


@given(st.floats(0, 1e16, allow_nan=False, allow_infinity=False))
def test_bandwidth_round_trip(value):
    assert u.parse_bandwidth(u.format_bandwidth(value)) == value


@given(st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
def test_energy_round_trip(value):
    assert u.parse_energy(u.format_energy(value)) == value
    assert u.parse_energy_per_byte(u.format_energy_per_byte(value)) == value


@given(st.decimals(0, 1000, places=1, allow_nan=False, allow_infinity=False))
def test_short_decimals_stay_short(value):
    text = u.format_bandwidth(float(Decimal(value) * 10**9))
    assert u.parse_bandwidth(text) == float(Decimal(value) * 10**9)
    assert len(text) <= 16


def test_formats():
    assert u.format_size(65536) == "64 KiB"
    assert u.format_size(1_500_000) == "1500 kB"
    assert u.format_size(0) == "0 B"
    assert u.format_time(80_000) == "80 ns"
    assert u.format_frequency(2_400_000_000) == "2400 MHz"
    assert u.format_bandwidth(17.1e9) == "17.1 GB/s"
    assert u.format_energy(0.2) == "0.2 pJ"
    assert u.format_energy_per_byte(20.0) == "20 pJ/B"
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            u.format_size(bad)
    with pytest.raises(ValueError):
        u.format_bandwidth(float("inf"))


@given(st.text(max_size=30))
def test_random_text_is_value_or_valueerror(text):
    for fn in (u.parse_size, u.parse_time, u.parse_frequency, u.parse_bandwidth,
               u.parse_energy, u.parse_energy_per_byte):
        try:
            value = fn(text)
        except ValueError as err:
            assert "expected" in str(err)
        else:
            assert value >= 0 and math.isfinite(value)


@pytest.mark.parametrize("text", ["8 Gb/s", "100 Mb/s", "64 Kib"])
def test_bits_are_named_as_bits(text):
    """A bit unit is not a spelling slip: an 8x error must be called out as bits vs bytes."""
    parse = u.parse_bandwidth if "/" in text else u.parse_size
    with pytest.raises(ValueError, match="reads as bits"):
        parse(text)
