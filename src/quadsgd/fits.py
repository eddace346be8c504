"""Straight-line fits: in log coordinates by ``scipy.stats.linregress``; with known errors of the
points by ``scipy.optimize.curve_fit`` (weighted least squares)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["PowerLaw", "fit_power_law", "Exponential", "fit_exponential", "Line", "fit_line"]


@dataclass(frozen=True)
class PowerLaw:
    """``y = prefactor * x**exponent``; ``exponent_se`` is NaN with fewer than 3 points."""

    exponent: float
    exponent_se: float
    prefactor: float
    n_points: int


@dataclass(frozen=True)
class Exponential:
    """``y = prefactor * exp(-rate * x)``; ``rate_se`` is NaN with fewer than 3 points."""

    rate: float
    rate_se: float
    prefactor: float
    n_points: int


@dataclass(frozen=True)
class Line:
    """``y = intercept + slope * x``; ``slope_se`` from the points' stated errors."""

    slope: float
    slope_se: float
    intercept: float
    n_points: int


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, int]:
    from scipy.stats import linregress

    if x.size < 2 or np.ptp(x) == 0:
        return math.nan, math.nan, math.nan, int(x.size)
    fit = linregress(x, y)
    se = math.nan
    if x.size > 2:
        # From the residuals (the same estimator as linregress's stderr, which goes through the
        # correlation coefficient and so is not 0 on exact data, nor defined for constant y).
        resid = y - (fit.intercept + fit.slope * x)
        se = math.sqrt(float(resid @ resid) / (x.size - 2) / float(np.sum((x - x.mean()) ** 2)))
    return float(fit.slope), se, float(fit.intercept), int(x.size)


def fit_power_law(x: ArrayLike, y: ArrayLike) -> PowerLaw:
    """Least-squares fit of ``log y = log c + a log x`` over the points with ``x, y > 0`` finite."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xa) & np.isfinite(ya) & (xa > 0) & (ya > 0)
    slope, se, intercept, n = _line(np.log(xa[keep]), np.log(ya[keep]))
    return PowerLaw(slope, se, math.exp(intercept) if math.isfinite(intercept) else math.nan, n)


def fit_exponential(x: ArrayLike, y: ArrayLike) -> Exponential:
    """Least-squares fit of ``log y = log c - r x`` over the points with ``y > 0`` and finite ``x``."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xa) & np.isfinite(ya) & (ya > 0)
    slope, se, intercept, n = _line(xa[keep], np.log(ya[keep]))
    return Exponential(-slope, se, math.exp(intercept) if math.isfinite(intercept) else math.nan, n)


def fit_line(x: ArrayLike, y: ArrayLike, sigma: ArrayLike) -> Line:
    """Weighted least-squares line through points ``y +- sigma`` (one standard error each).

    Points with non-finite ``x``, ``y`` or ``sigma`` or ``sigma <= 0`` are left out. The slope's
    standard error comes from the stated ``sigma`` alone (``absolute_sigma``): with a few points
    (an escape time at three or four N) the residuals say little about it. NaNs with fewer than
    two points.
    """
    from scipy.optimize import curve_fit

    xa, ya, sa = (np.asarray(a, dtype=np.float64) for a in (x, y, sigma))
    keep = np.isfinite(xa) & np.isfinite(ya) & np.isfinite(sa) & (sa > 0)
    xk, yk, sk = xa[keep], ya[keep], sa[keep]
    if xk.size < 2 or np.ptp(xk) == 0:
        return Line(math.nan, math.nan, math.nan, int(xk.size))
    (intercept, slope), cov = curve_fit(lambda t, a, b: a + b * t, xk, yk, p0=(0.0, 0.0), sigma=sk,
                                        absolute_sigma=True)
    return Line(float(slope), math.sqrt(float(cov[1, 1])), float(intercept), int(xk.size))
