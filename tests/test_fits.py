"""Straight-line fits in log coordinates: exact synthetic laws, and numpy.polyfit as a reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quadsgd.fits import Exponential, PowerLaw, fit_exponential, fit_power_law


@pytest.mark.parametrize("exponent,prefactor", [(0.87, 0.3), (-1.5, 20.0), (2.0, 1.0), (0.0, 4.2)])
def test_power_law_fit_is_exact_on_an_exact_power_law(exponent, prefactor):
    x = np.array([1, 2, 4, 8, 16, 32.0])
    fit = fit_power_law(x, prefactor * x**exponent)
    assert isinstance(fit, PowerLaw)
    assert fit.exponent == pytest.approx(exponent, abs=1e-12)
    assert fit.prefactor == pytest.approx(prefactor, rel=1e-12)
    assert fit.n_points == 6


@pytest.mark.parametrize(
    "exponent",
    [0.87, -1.5, 0.0],
)
def test_power_law_fit_has_no_error_on_an_exact_power_law(exponent):
    x = np.array([1, 2, 4, 8, 16, 32.0])
    fit = fit_power_law(x, 3.0 * x**exponent)
    # linregress derives the error from r, so round-off of 1 - r^2 leaves ~sqrt(machine eps).
    assert 0.0 <= fit.exponent_se < 1e-7


def test_power_law_fit_agrees_with_numpy_polyfit_on_noisy_data():
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 100, 9)
    y = 0.3 * x**0.87 * np.exp(0.05 * rng.standard_normal(x.size))
    fit = fit_power_law(x, y)
    (slope, intercept), cov = np.polyfit(np.log(x), np.log(y), 1, cov="unscaled")
    assert fit.exponent == pytest.approx(slope, rel=1e-12)
    assert fit.prefactor == pytest.approx(math.exp(intercept), rel=1e-12)
    # The standard error of the slope from the residual variance (n - 2 degrees of freedom).
    resid = np.log(y) - (slope * np.log(x) + intercept)
    se = math.sqrt(cov[0, 0] * (resid @ resid) / (x.size - 2))
    assert fit.exponent_se == pytest.approx(se, rel=1e-9)
    assert fit.exponent == pytest.approx(0.87, abs=4 * fit.exponent_se)


def test_power_law_fit_drops_non_positive_and_non_finite_points():
    x = np.array([1.0, 2.0, 4.0, 8.0, 0.0, -1.0, 3.0, np.nan])
    with np.errstate(invalid="ignore"):
        y = 2.0 * x**1.5  # NaN at x = -1
    y[6] = np.nan  # a failed point
    fit = fit_power_law(x, y)
    assert fit.n_points == 4
    assert fit.exponent == pytest.approx(1.5, abs=1e-12) and fit.prefactor == pytest.approx(2.0, rel=1e-12)


def test_power_law_fit_with_too_few_points():
    one = fit_power_law([2.0], [1.0])
    assert np.isnan(one.exponent) and np.isnan(one.prefactor) and one.n_points == 1
    two = fit_power_law([1.0, 4.0], [3.0, 12.0])  # a line through two points, no error estimate
    assert two.exponent == pytest.approx(1.0, abs=1e-12) and np.isnan(two.exponent_se)
    same_x = fit_power_law([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert np.isnan(same_x.exponent)


def test_exponential_fit_is_exact_on_an_exact_exponential_and_agrees_with_polyfit():
    x = np.linspace(0, 5, 7)
    fit = fit_exponential(x, 3.0 * np.exp(-0.4 * x))
    assert isinstance(fit, Exponential)
    assert fit.rate == pytest.approx(0.4, abs=1e-12) and fit.prefactor == pytest.approx(3.0, rel=1e-12)
    rng = np.random.default_rng(1)
    y = 3.0 * np.exp(-0.4 * x + 0.05 * rng.standard_normal(x.size))
    slope, intercept = np.polyfit(x, np.log(y), 1)
    noisy = fit_exponential(x, y)
    assert noisy.rate == pytest.approx(-slope, rel=1e-12)
    assert noisy.prefactor == pytest.approx(math.exp(intercept), rel=1e-12)


def test_weighted_line_matches_polyfit_and_its_error_matches_the_spread_of_replicates():
    """fit_line is weighted least squares (numpy.polyfit with weights 1/sigma as reference); its
    slope error is the spread of the slope over replicate data drawn with the stated errors."""
    from quadsgd.fits import Line, fit_line

    rng = np.random.default_rng(5)
    x = np.log(np.array([1e3, 1e4, 1e5, 1e6]))
    sigma = np.array([0.4, 0.3, 0.3, 0.1])
    slopes = []
    for i in range(4000):
        y = 3.0 + 1.1 * x + sigma * rng.standard_normal(x.size)
        fit = fit_line(x, y, sigma)
        slopes.append(fit.slope)
        if i == 0:
            assert isinstance(fit, Line) and fit.n_points == 4
            ref_b, ref_a = np.polyfit(x, y, 1, w=1 / sigma)
            assert fit.slope == pytest.approx(ref_b, rel=1e-8) and fit.intercept == pytest.approx(ref_a, rel=1e-8)
    assert np.std(slopes) == pytest.approx(fit.slope_se, rel=0.05)
    assert np.mean(slopes) == pytest.approx(1.1, abs=4 * fit.slope_se / np.sqrt(len(slopes)))


def test_weighted_line_leaves_out_points_without_a_usable_error():
    from quadsgd.fits import fit_line

    fit = fit_line([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 100.0], [0.1, 0.1, 0.1, np.nan])
    assert fit.n_points == 3 and fit.slope == pytest.approx(2.0)
    assert math.isnan(fit_line([1.0, 1.0], [0.0, 1.0], [1.0, 1.0]).slope)
