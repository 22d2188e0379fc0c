"""Hierarchical roofline: ceilings from the hardware, closed-form points and roofs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memsim.analysis.roofline import (hardware_roofline, intensity_range, layer_points,
                                      level_column, roof_curve)
from memsim.config import load_hardware
from memsim.errors import InfeasibleError
from test_report_helpers import PI5, ROOT


@pytest.fixture(scope="module")
def pi5():
    return load_hardware(PI5)


def test_ceilings_pi5(pi5):
    roof = hardware_roofline(pi5, "int8")
    assert roof.peak_macs_per_s == 32 * 4 * 2.4e9
    names = [c.name for c in roof.ceilings]
    assert names == ["L1", "L2", "L3", "dram"]
    # private levels: per-port bandwidth x cores; shared L3 and DRAM aggregate
    assert roof.ceiling("L1").bandwidth_bytes_per_s == pytest.approx(32 * 2.4e9 * 4)
    assert roof.ceiling("L3").bandwidth_bytes_per_s == pytest.approx(32 * 2.4e9)
    assert roof.ceiling("dram").bandwidth_bytes_per_s == pytest.approx(17.07e9)
    assert roof.ceiling("dram").column == "bytes_dram"
    assert roof.ridge("dram") == pytest.approx(roof.peak_macs_per_s / 17.07e9)


def test_unsupported_dtype_is_infeasible():
    coral = load_hardware(ROOT / "configs" / "hardware" / "coral-edge-tpu.yaml")
    with pytest.raises(InfeasibleError):
        hardware_roofline(coral, "fp32")


def test_layer_points_closed_form(pi5):
    roof = hardware_roofline(pi5, "int8")
    layers = pd.DataFrame({"name": ["a", "b", "pool"], "op": ["conv2d", "matmul", "pool"],
                           "stream": 0, "frame": 0, "macs": [1_000_000, 4_000_000, 0],
                           "start_s": [0.0, 1e-3, 3e-3], "end_s": [1e-3, 3e-3, 4e-3],
                           "bytes_L1": [1000, 0, 50], "bytes_L2": [2000, 8000, 50],
                           "bytes_L3": [0, 0, 0], "bytes_dram": [500, 4000, 10]})
    pts = layer_points(layers, roof)
    # zero bytes (infinite intensity) and zero MACs are left out
    assert sorted(zip(pts["layer"], pts["level"])) == [("a", "L1"), ("a", "L2"), ("a", "dram"),
                                                       ("b", "L2"), ("b", "dram")]
    a_dram = pts[(pts["layer"] == "a") & (pts["level"] == "dram")].iloc[0]
    assert a_dram["intensity"] == pytest.approx(2000.0)
    assert a_dram["attained_macs_per_s"] == pytest.approx(1e9)
    assert a_dram["attainable_macs_per_s"] == pytest.approx(min(roof.peak_macs_per_s, 17.07e9 * 2000))
    b_l2 = pts[(pts["layer"] == "b") & (pts["level"] == "L2")].iloc[0]
    assert b_l2["intensity"] == pytest.approx(500.0)
    assert b_l2["attained_macs_per_s"] == pytest.approx(2e9)


def test_level_column_matches_engine_sanitising():
    assert level_column("L2") == "bytes_L2"
    assert level_column("Unified L1/Shared") == "bytes_Unified_L1_Shared"


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-3, 1e5), st.floats(1e-3, 1e5))
def test_roof_is_min_of_compute_and_bandwidth(lo, span):
    hw = load_hardware(PI5)
    roof = hardware_roofline(hw, "fp32")
    hi = lo * (1 + span)
    for c in roof.ceilings:
        xs, ys = roof_curve(roof, c.name, lo, hi)
        assert np.all(np.diff(xs) > 0)
        assert np.allclose(ys, np.minimum(roof.peak_macs_per_s, c.bandwidth_bytes_per_s * xs))
        assert np.all(ys <= roof.peak_macs_per_s * (1 + 1e-12))
        ridge = roof.ridge(c.name)
        if lo < ridge < max(hi, lo * 10):
            assert np.any(np.isclose(xs, ridge))


def test_intensity_range_covers_ridges_and_points(pi5):
    roof = hardware_roofline(pi5, "int8")
    pts = pd.DataFrame({"intensity": [0.5, 3000.0]})
    lo, hi = intensity_range(pts, roof)
    assert lo <= 0.5 and hi >= 3000.0
    assert all(lo <= roof.ridge(c.name) <= hi for c in roof.ceilings)
