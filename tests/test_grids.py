"""Grids: reproducible floats, the eta <-> eta/p conversion, alpha grids and sample counts."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import grids


def test_round_grid_gives_twelve_significant_digits():
    np.testing.assert_array_equal(grids.round_grid([0.1 + 0.2, 1 / 3]), [0.3, 0.333333333333])


def test_eta_grid_is_reproducible_and_log_spaced():
    a = grids.eta_over_p_grid(0.01, 1.0, 5)
    assert np.array_equal(a, grids.eta_over_p_grid(0.01, 1.0, 5))
    np.testing.assert_allclose(a, [0.01, 0.0316227766017, 0.1, 0.316227766017, 1.0])
    assert np.array_equal(a, grids.eta_over_p_grid(0.01, 1, 5.0))  # whole floats and ints alike
    with pytest.raises(ValueError, match="below"):
        grids.eta_over_p_grid(1.0, 0.1, 5)
    with pytest.raises(ValueError, match="eta_over_p.num"):
        grids.eta_over_p_grid(0.1, 1.0, 1)
    with pytest.raises(ValueError, match="eta_over_p.min"):
        grids.eta_over_p_grid(0.0, 1.0, 3)


def test_eta_conversion_round_trips():
    e = np.array([0.05, 0.1, 0.3])
    np.testing.assert_array_equal(grids.eta_from_eta_over_p(e, 4), 4 * e)
    np.testing.assert_array_equal(grids.eta_over_p_from_eta(grids.eta_from_eta_over_p(e, 4), 4), e)
    with pytest.raises(ValueError, match="p must"):
        grids.eta_from_eta_over_p(e, 0)


def test_log_alpha_grid():
    g = grids.log_alpha_grid(1e3, num=6, alpha_min=0.1)  # 0, then 5 points over 4 decades
    np.testing.assert_allclose(g, [0.0, 0.1, 1.0, 10.0, 100.0, 1000.0])
    assert grids.log_alpha_grid(1e3).size == 200
    with pytest.raises(ValueError, match="alpha_max"):
        grids.log_alpha_grid(1e-3, alpha_min=1e-2)
    with pytest.raises(ValueError, match="alpha_points"):
        grids.log_alpha_grid(10.0, num=1)


def test_sgd_alpha_grid_is_whole_samples():
    N = 200
    g = grids.sgd_alpha_grid(30, N, 30)
    assert g[0] == 0.0 and g[-1] == pytest.approx(30.0)
    samples = g * N
    np.testing.assert_allclose(samples, np.rint(samples), atol=1e-9)
    assert np.all(np.diff(g) > 0) and g.size <= 30
    with pytest.raises(ValueError, match="one sample"):
        grids.sgd_alpha_grid(1e-3, 100)


def test_sample_counts():
    np.testing.assert_array_equal(grids.sample_counts([0.0, 0.5, 1.0, 2.0], 10), [0, 5, 10, 20])
    with pytest.raises(ValueError, match="repeated sample counts"):
        grids.sample_counts([0.0, 0.01, 0.02], 10)
    with pytest.raises(ValueError, match="alpha"):
        grids.sample_counts([0.0, 2.0, 1.0], 10)
