"""Escape times, their statistics over seeds, and the optimal learning rate (PHYSICS.md 5-6).

The escape time of a trajectory is the first alpha with ``risk <= f * eps_plateau(p, pstar)``.
The ODE integrator locates it by an event inside the step; for recorded trajectories (SGD) it
is interpolated here between grid points, linearly in ``log(risk)`` (the risk leaves the plateau
exponentially, so this is exact for a pure exponential).

``eta_opt`` minimizes the mean escape time over seeds among learning rates at which *every*
seed escapes: a learning rate at which some seeds diverge or stay on the plateau has no finite
mean, and the mean over survivors would reward instability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd.storage import Status

__all__ = [
    "escape_alpha",
    "escape_statistics",
    "scan_eta",
    "find_eta_opt",
    "fit_power_law",
]


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


def escape_statistics(ds: xr.Dataset, dim: str = "seed") -> xr.Dataset:
    """Escape-time statistics over ``dim`` from a dataset with ``alpha_escape`` and ``status``.

    Returns a dataset (``dim`` reduced) with ``alpha_escape_mean``, ``alpha_escape_sem``,
    ``alpha_escape_median`` over the runs that escaped, and the counts ``n_runs``,
    ``n_escaped``, ``n_censored``, ``n_diverged``. The mean is conditional on escape; it is
    only a fair summary where ``n_escaped == n_runs`` (which :func:`find_eta_opt` requires).
    """
    for name in ("alpha_escape", "status"):
        if name not in ds:
            raise ValueError(f"dataset lacks the variable {name!r}")
    if dim not in ds.dims:
        raise ValueError(f"dataset has no dimension {dim!r}; dims are {tuple(ds.dims)}")
    status = ds["status"]
    escaped = (status == Status.CONVERGED) | (status == Status.ESCAPED)
    t = ds["alpha_escape"].where(escaped)
    n_esc = escaped.sum(dim)
    out = xr.Dataset(
        {
            "alpha_escape_mean": t.mean(dim),
            "alpha_escape_sem": t.std(dim, ddof=1) / np.sqrt(n_esc.where(n_esc > 0)),
            "alpha_escape_median": t.median(dim),
            "n_runs": xr.full_like(n_esc, ds.sizes[dim]),
            "n_escaped": n_esc,
            "n_censored": (status == Status.CENSORED).sum(dim),
            "n_diverged": (status == Status.DIVERGED).sum(dim),
        }
    )
    descriptions = {
        "alpha_escape_mean": "mean escape time over runs that escaped",
        "alpha_escape_sem": "standard error of that mean",
        "alpha_escape_median": "median escape time over runs that escaped",
        "n_runs": "runs",
        "n_escaped": "runs that crossed the escape threshold",
        "n_censored": "runs still on the plateau at alpha_max",
        "n_diverged": "runs whose overlaps blew up",
    }
    for name, text in descriptions.items():
        out[name].attrs = {"long_name": text, "units": "1"}
    return out


def scan_eta(
    p: int,
    pstar: int,
    eta: ArrayLike,
    seeds: Sequence[int] | NDArray[np.integer],
    N: int,
    alpha_max: float = 1e4,
    escape_fraction: float = 0.5,
    **ode_kwargs: Any,
) -> xr.Dataset:
    """ODE escape times on an ``(eta, seed)`` grid from the paper's random ``M(0) ~ N(0, 1/N)``.

    Every eta of a seed starts from the same ``M(0)``. Only final overlaps are kept.
    """
    from quadsgd.init import ode_initial
    from quadsgd.ode import integrate, log_alpha_grid

    etas = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    seeds = np.atleast_1d(np.asarray(seeds))
    Q0, M0, T = ode_initial(p, pstar, N, seeds)
    return integrate(
        Q0[None],
        M0[None],
        etas[:, None],
        ode_kwargs.pop("alpha", log_alpha_grid(alpha_max, num=64)),
        T,
        escape_fraction=escape_fraction,
        overlaps="final",
        batch_dims=("eta", "seed"),
        coords={"seed": seeds},
        **ode_kwargs,
    ).assign_attrs(N=N)


def _mean_if_all_escaped(ds: xr.Dataset) -> NDArray[np.float64]:
    stats = escape_statistics(ds, "seed")
    ok = stats["n_escaped"] == stats["n_runs"]
    return stats["alpha_escape_mean"].where(ok).values


def find_eta_opt(
    p: int,
    pstar: int,
    seeds: Sequence[int] | NDArray[np.integer],
    N: int = 10_000,
    eta_scaled: ArrayLike | None = None,
    *,
    grow: float = 1.5,
    max_grow: int = 20,
    refine_points: int = 9,
    refine_rounds: int = 2,
    alpha_max: float = 1e4,
    escape_fraction: float = 0.5,
    **ode_kwargs: Any,
) -> dict[str, Any]:
    """Optimal learning rate for ``(p, pstar)`` from ODE escape times averaged over ``seeds``.

    The grid is in ``eta / p`` (``eta_scaled``, default 0.02 ... 0.3) and grows by ``grow``
    upwards until the largest learning rate no longer lets every seed escape, and downwards
    while the minimum sits at its smallest point. Around the grid minimum, ``refine_rounds``
    rounds of ``refine_points`` log-spaced learning rates between the neighbours of the
    current best narrow the bracket; ``eta_opt`` is the best of the last round.

    Returns a dict with ``eta_opt``, ``alpha_escape_opt`` (mean), ``alpha_escape_opt_sem``,
    ``alpha_escape_opt_median``, ``eta_max_stable`` (largest scanned eta at which all seeds
    escaped) and ``scan`` (the dataset of all scanned learning rates, sorted by eta).
    """
    kw = dict(alpha_max=alpha_max, escape_fraction=escape_fraction, **ode_kwargs)
    scaled = np.geomspace(0.02, 0.3, 8) if eta_scaled is None else np.sort(np.asarray(eta_scaled, float))
    if scaled.ndim != 1 or scaled.size < 3 or np.any(scaled <= 0):
        raise ValueError("eta_scaled must hold at least 3 positive values")
    parts = [scan_eta(p, pstar, scaled * p, seeds, N, **kw)]
    for _ in range(max_grow):
        top = _mean_if_all_escaped(_merge(parts).isel(eta=[-1]))
        if np.isnan(top[0]):
            break
        hi = float(_merge(parts).eta.max())
        parts.append(scan_eta(p, pstar, [hi * grow], seeds, N, **kw))
    for _ in range(max_grow):
        merged = _merge(parts)
        means = _mean_if_all_escaped(merged)
        if np.all(np.isnan(means)) or np.nanargmin(means) != 0:
            break
        parts.append(scan_eta(p, pstar, [float(merged.eta.min()) / grow], seeds, N, **kw))
    merged = _merge(parts)
    means = _mean_if_all_escaped(merged)
    if np.all(np.isnan(means)):
        raise RuntimeError(f"no learning rate let every seed escape for p={p}, pstar={pstar}")
    for _ in range(refine_rounds):
        etas = merged.eta.values
        i = int(np.nanargmin(means))
        lo, hi = etas[max(i - 1, 0)], etas[min(i + 1, etas.size - 1)]
        new = np.geomspace(lo, hi, refine_points + 2)[1:-1]
        new = new[np.min(np.abs(np.log(new[:, None] / etas[None, :])), axis=1) > 1e-9]
        if new.size:
            parts.append(scan_eta(p, pstar, new, seeds, N, **kw))
            merged = _merge(parts)
            means = _mean_if_all_escaped(merged)
    i = int(np.nanargmin(means))
    stats = escape_statistics(merged.isel(eta=[i]), "seed").isel(eta=0)
    ok = ~np.isnan(means)
    return {
        "eta_opt": float(merged.eta[i]),
        "alpha_escape_opt": float(stats["alpha_escape_mean"]),
        "alpha_escape_opt_sem": float(stats["alpha_escape_sem"]),
        "alpha_escape_opt_median": float(stats["alpha_escape_median"]),
        "eta_max_stable": float(merged.eta.values[ok].max()),
        "scan": merged,
    }


def _merge(parts: list[xr.Dataset]) -> xr.Dataset:
    return xr.concat(parts, dim="eta", data_vars="all", coords="different", compat="equals").sortby("eta")


def fit_power_law(x: ArrayLike, y: ArrayLike) -> dict[str, float]:
    """Least-squares fit of ``log y = log c + a log x``.

    Returns ``exponent`` a, its standard error ``exponent_se`` (NaN with fewer than 3 points),
    and ``prefactor`` c. Non-finite or non-positive points are dropped.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    if lx.size < 2 or np.ptp(lx) == 0:
        return {"exponent": math.nan, "exponent_se": math.nan, "prefactor": math.nan}
    A = np.stack([np.ones_like(lx), lx], axis=1)
    coef, res, *_ = np.linalg.lstsq(A, ly, rcond=None)
    se = math.nan
    if lx.size > 2:
        resid = ly - A @ coef
        s2 = resid @ resid / (lx.size - 2)
        se = math.sqrt(s2 / np.sum((lx - lx.mean()) ** 2))
    return {"exponent": float(coef[1]), "exponent_se": se, "prefactor": float(math.exp(coef[0]))}
