"""Escape times and their statistics over seeds (docs/conventions.md section 5).

The escape time of a trajectory is the first alpha with ``risk <= f * eps_plateau(p, pstar)``.
The ODE integrator locates it by an event inside the step; for recorded trajectories (SGD) it
is interpolated here between grid points, linearly in ``log(risk)`` (the risk leaves the plateau
exponentially, so this is exact for a pure exponential).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd.schema import annotate
from quadsgd.status import LEARNED, Status

__all__ = ["escape_alpha", "escape_statistics", "means_if_all_escaped", "learned"]


def escape_alpha(alpha: ArrayLike, risk: ArrayLike, threshold: float) -> NDArray[np.float64]:
    """First crossing of ``threshold`` by ``risk`` along its last axis.

    Parameters
    ----------
    alpha : (G,) increasing grid. risk : (..., G) trajectories (NaN after a divergence).

    Returns
    -------
    (...) alpha of the first crossing, interpolated linearly in ``log(risk)`` between the two
    grid points around it; ``alpha[0]`` if the trajectory starts below; NaN if never.
    """
    a = np.asarray(alpha, dtype=np.float64)
    r = np.asarray(risk, dtype=np.float64)
    if r.shape[-1] != a.size:
        raise ValueError(f"risk's last axis ({r.shape[-1]}) must match alpha ({a.size})")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive; got {threshold}")
    with np.errstate(invalid="ignore"):
        below = r <= threshold
    hit = below.any(axis=-1)
    i = np.argmax(below, axis=-1)
    prev = np.maximum(i - 1, 0)
    r1 = np.take_along_axis(r, i[..., None], -1)[..., 0]
    r0 = np.take_along_axis(r, prev[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (np.log(r0) - math.log(threshold)) / (np.log(r0) - np.log(np.maximum(r1, 1e-300)))
    frac = np.where(i == 0, 1.0, np.clip(np.nan_to_num(frac, nan=1.0), 0.0, 1.0))
    out = a[prev] + frac * (a[i] - a[prev])
    return np.where(hit, out, np.nan)


def _width_deficit(ds: xr.Dataset) -> xr.DataArray | bool:
    """``p < pstar`` for the runs of ``ds``: from coordinates ``p``, ``pstar`` (a sweep), else
    attributes (one scan), else the sizes of the overlap dims ``k``, ``r``; False if unknown."""
    if "p" in ds.coords and "pstar" in ds.coords:
        return ds["p"] < ds["pstar"]
    if "p" in ds.attrs and "pstar" in ds.attrs:
        return int(ds.attrs["p"]) < int(ds.attrs["pstar"])
    if "k" in ds.sizes and "r" in ds.sizes:
        return ds.sizes["k"] < ds.sizes["r"]
    return False


def learned(ds: xr.Dataset) -> xr.DataArray:
    """Runs of ``ds`` that escaped and learned: reached zero error (``converged``) or were still
    descending towards it at ``alpha_max`` (``escaped``). A run that escaped and then ``settled``
    at a finite risk did not learn, except for ``p < pstar``: there no zero-error state exists,
    and the escape necessarily ends at a fixed point of finite risk (the best rank-p fit)."""
    status = ds["status"]
    ok = status.isin([int(s) for s in LEARNED])
    return ok | ((status == Status.SETTLED) & _width_deficit(ds))


def escape_statistics(ds: xr.Dataset, dim: str = "seed") -> xr.Dataset:
    """Escape-time statistics over ``dim`` from a dataset with ``alpha_escape`` and ``status``.

    Returns a dataset (``dim`` reduced) with ``alpha_escape_mean``, ``alpha_escape_sem``,
    ``alpha_escape_median`` over the runs that escaped and learned (:func:`learned`), and the
    counts ``n_runs``, ``n_escaped`` (escaped and learned), ``n_converged`` (zero error
    reached), ``n_settled`` (escaped, then stopped at a finite risk), ``n_censored``,
    ``n_diverged``, ``n_max_steps``. The mean is conditional on learning; it is only a fair
    summary where ``n_escaped == n_runs`` (see :func:`means_if_all_escaped`).
    """
    for name in ("alpha_escape", "status"):
        if name not in ds:
            raise ValueError(f"dataset lacks the variable {name!r}")
    if dim not in ds.dims:
        raise ValueError(f"dataset has no dimension {dim!r}; dims are {tuple(ds.dims)}")
    status = ds["status"]
    escaped = learned(ds)
    t = ds["alpha_escape"].where(escaped)
    n_esc = escaped.sum(dim)
    out = xr.Dataset(
        {
            "alpha_escape_mean": t.mean(dim),
            "alpha_escape_sem": t.std(dim, ddof=1) / np.sqrt(n_esc.where(n_esc > 0)),
            "alpha_escape_median": t.median(dim),
            "n_runs": xr.full_like(n_esc, ds.sizes[dim]),
            "n_escaped": n_esc,
            "n_converged": (status == Status.CONVERGED).sum(dim),
            "n_settled": (status == Status.SETTLED).sum(dim),
            "n_censored": (status == Status.CENSORED).sum(dim),
            "n_diverged": (status == Status.DIVERGED).sum(dim),
            "n_max_steps": (status == Status.MAX_STEPS).sum(dim),
        }
    )
    return annotate(out)


def means_if_all_escaped(ds: xr.Dataset, dim: str = "seed") -> NDArray[np.float64]:
    """Mean escape time over ``dim`` where every run escaped and learned, NaN elsewhere.

    A learning rate at which some seeds diverge, stay on the plateau or settle at a finite risk
    after escaping has no finite mean, and the mean over survivors would reward instability; so
    only these means are compared when the optimal learning rate is selected.
    """
    stats = escape_statistics(ds, dim)
    return stats["alpha_escape_mean"].where(stats["n_escaped"] == stats["n_runs"]).values
