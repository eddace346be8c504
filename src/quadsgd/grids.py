"""Every grid the project records on or scans over, and the ``eta <-> eta / p`` conversion.

Learning rates are gridded in ``eta / p``: on the plateau ``dM/dalpha = (4 eta / (p p*)) M``
(docs/conventions.md section 5), so at fixed ``eta / p`` the escape rate depends on ``p*`` only
and one ``eta / p`` grid brackets the optimum and the stability edge for every width ``p``.
Grid values are rounded to 12 significant digits so that the same configuration gives the same
floats, and coordinates that align exactly, in every job.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate

__all__ = [
    "round_grid",
    "eta_over_p_grid",
    "eta_from_eta_over_p",
    "eta_over_p_from_eta",
    "log_alpha_grid",
    "sgd_alpha_grid",
    "sample_counts",
]


def round_grid(values: ArrayLike) -> NDArray[np.float64]:
    """``values`` rounded to 12 significant digits (a canonical float for every grid point)."""
    return np.array([float(f"{v:.12g}") for v in np.ravel(np.asarray(values, dtype=np.float64))])


def eta_over_p_grid(minimum: float, maximum: float, num: int) -> NDArray[np.float64]:
    """``num`` log-spaced values of ``eta / p`` from ``minimum`` to ``maximum``, shape (num,)."""
    lo = _validate.positive_real("eta_over_p.min", minimum)
    hi = _validate.positive_real("eta_over_p.max", maximum)
    n = _validate.integer("eta_over_p.num", num, minimum=2)
    if not lo < hi:
        raise ValueError(f"eta_over_p.min must be below eta_over_p.max; got {lo} and {hi}")
    return round_grid(np.geomspace(lo, hi, n))


def eta_from_eta_over_p(eta_over_p: ArrayLike, p: int) -> NDArray[np.float64]:
    """The raw learning rate ``eta = p * (eta / p)`` (same shape as ``eta_over_p``)."""
    return np.asarray(eta_over_p, dtype=np.float64) * _validate.positive_int("p", p)


def eta_over_p_from_eta(eta: ArrayLike, p: int) -> NDArray[np.float64]:
    """The sweep's grid coordinate ``eta / p`` (same shape as ``eta``)."""
    return np.asarray(eta, dtype=np.float64) / _validate.positive_int("p", p)


def log_alpha_grid(alpha_max: float, num: int = 200, alpha_min: float = 1e-2) -> NDArray[np.float64]:
    """``[0, alpha_min, ..., alpha_max]``: the ODE recording grid, ``num - 1`` log-spaced points after 0.

    The plateau spans decades of alpha, so linear grids waste points early or miss the escape.
    """
    a_max = _validate.positive_real("alpha_max", alpha_max)
    a_min = _validate.positive_real("alpha_min", alpha_min)
    n = _validate.integer("alpha_points", num, minimum=2)
    if not a_max > a_min:
        raise ValueError(f"alpha_max must exceed alpha_min = {a_min}; got {a_max}")
    return np.concatenate([[0.0], np.geomspace(a_min, a_max, n - 1)])


def sgd_alpha_grid(alpha_max: float, N: int, num: int = 120) -> NDArray[np.float64]:
    """The SGD recording grid: 0, then ``num - 1`` log-spaced sample counts from 1 to
    ``alpha_max * N``, rounded to whole samples (repeats merged), divided by ``N``."""
    a_max = _validate.positive_real("alpha_max", alpha_max)
    N_ = _validate.positive_int("N", N)
    n = _validate.integer("alpha_points", num, minimum=2)
    if a_max * N_ < 1:
        raise ValueError(f"alpha_max * N must be at least one sample; got {a_max} * {N_}")
    return np.unique(np.rint(np.concatenate([[0.0], np.geomspace(1.0, a_max * N_, n - 1)]))) / N_


def sample_counts(alpha: ArrayLike, N: int) -> NDArray[np.int64]:
    """Sample counts ``round(alpha * N)`` of a recording grid (strictly increasing, from 0)."""
    t = np.rint(_validate.alpha_grid("alpha", alpha) * _validate.positive_int("N", N)).astype(np.int64)
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"alpha grid gives repeated sample counts at N={N}; use a coarser grid")
    return t
