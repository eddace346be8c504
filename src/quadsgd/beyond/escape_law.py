"""Finite-N escape law: mean SGD escape time against ln N (issue 19.1; docs/beyond.md).

On the plateau ``M`` grows as ``exp(r alpha)`` from ``M(0) ~ N^(-1/2)``, so the escape time is
``alpha_esc = ln N / (2 r) + const``: the slope against ``ln N`` is ``1 / (2 r)``, with the
small-eta rate ``r = 4 eta / (p p*)`` or the exact finite-eta rate linearized at the plateau's
fixed point (:func:`quadsgd.phase.escape_law_slope`). Here the slope is measured: Gram-chain SGD
(exact in law at any N; each run stops at its escape sample, so an escape time costs
``alpha_esc N`` samples) at one learning rate per ``(p, pstar)``, over a list of N, fitted by
weighted least squares of ``alpha = a + b ln N`` with each mean's standard error
(:func:`quadsgd.fits.fit_line`).
Beside it the ODE from each run's own measured ``M(0)`` gives the offset SGD - ODE at equal start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from quadsgd import __version__, _validate
from quadsgd.beyond._cases import (
    CENSORED_ATTRS,
    THRESHOLD_ATTRS,
    censored_by_threshold,
    concat,
    distinct,
    escape_threshold,
    merge_cases,
    rate_cases,
)
from quadsgd.escape import learned
from quadsgd.fits import fit_line
from quadsgd.grids import eta_from_eta_over_p, log_alpha_grid
from quadsgd.ode import integrate
from quadsgd.phase import escape_law_slope
from quadsgd.schema import annotate
from quadsgd.sweep.drivers import sgd_seed_runs

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["QUANTILES", "escape_law_dataset", "escape_law_case"]

#: Quantiles of the escape-time distribution stored per (p, pstar, N).
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def escape_law_case(
    p: int,
    pstar: int,
    *,
    eta_over_p: float,
    N: Sequence[int],
    seeds: int,
    alpha_max: float,
    bins: int = 20,
    escape_fraction: float = 0.5,
    client: Client | None = None,
) -> xr.Dataset:
    """Escape law of one ``(p, pstar)`` at ``eta = p * eta_over_p`` (see the module docstring).

    SGD runs stop at their escape sample (:func:`quadsgd.sgd.simulate` with ``stop_at_escape``);
    a run not escaped by ``alpha_max`` is censored. Seeds ``0 .. seeds-1``, in tasks of several
    seeds per N (:func:`quadsgd.sweep.drivers.sgd_seed_runs`). Returns a dataset with scalar
    coordinates ``p``, ``pstar`` and dims ``(N, seed, quantile, bin, bin_edge)``; see
    :func:`escape_law_dataset`. ``ValueError`` (one line, before any run) unless ``N`` holds at
    least two distinct values ``>= p + pstar`` (a slope against ln N), ``seeds >= 2`` (a
    standard error), ``bins >= 1`` and ``escape_fraction`` lies in (0, 1).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta = float(eta_from_eta_over_p(_validate.positive_real("eta_over_p", eta_over_p), p))
    # A slope against ln N needs two N, and a standard error two seeds.
    Ns = np.array(distinct("N", N, lambda k, v: _validate.integer(k, v, minimum=p + pstar), minimum=2),
                  dtype=np.int64)
    seed_arr = np.arange(_validate.integer("seeds", seeds, minimum=2))
    bins = _validate.positive_int("bins", bins)
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    alpha = np.array([0.0, _validate.positive_real("alpha_max", alpha_max)])
    by_n = sgd_seed_runs(p, pstar, eta=eta, N=Ns, seeds=seed_arr, alpha=alpha, escape_fraction=escape_fraction,
                         stop_at_escape=True, client=client, desc=f"escape law p={p} p*={pstar}")
    sgd = concat([d[["alpha_escape", "status", "M0"]] for d in by_n], "N")
    sgd = sgd.assign_coords(N=Ns, seed=seed_arr, p=p, pstar=pstar)
    ok = learned(sgd)
    t_sgd = sgd["alpha_escape"].where(ok)
    # The ODE from each run's own M(0): the escape event is located inside the integrator step.
    M0 = sgd["M0"].transpose("N", "seed", "k", "r").values
    ode = integrate(np.broadcast_to(np.eye(p), M0.shape[:2] + (p, p)), M0, eta, log_alpha_grid(alpha_max, 16),
                    escape_fraction=escape_fraction, overlaps="final", batch_dims=("N", "seed"))
    t_ode = xr.DataArray(np.where(learned(ode).values, ode["alpha_escape"].values, np.nan), dims=("N", "seed"))
    offset = t_sgd - t_ode
    n_esc = ok.sum("seed")
    n_off = offset.notnull().sum("seed")
    mean = t_sgd.mean("seed")
    sem = t_sgd.std("seed", ddof=1) / np.sqrt(n_esc.where(n_esc > 0))
    lnN = np.log(Ns.astype(np.float64))
    fit = fit_line(lnN, mean.values, sem.values)
    n_ode = t_ode.notnull().sum("seed")
    sem_ode = t_ode.std("seed", ddof=1) / np.sqrt(n_ode.where(n_ode > 0))
    slope_ode = fit_line(lnN, t_ode.mean("seed").values, sem_ode.values).slope
    slope, slope_se, intercept = fit.slope, fit.slope_se, fit.intercept
    small, finite = (float(escape_law_slope(p, pstar, eta, finite_eta=f)) for f in (False, True))
    edges = np.full((Ns.size, bins + 1), np.nan)
    counts = np.zeros((Ns.size, bins))
    quantiles = np.full((Ns.size, len(QUANTILES)), np.nan)
    for i in range(Ns.size):
        t = t_sgd.values[i][np.isfinite(t_sgd.values[i])]
        if t.size:
            counts[i], edges[i] = np.histogram(t, bins=bins)
            quantiles[i] = np.quantile(t, QUANTILES)
    ds = xr.Dataset(
        {
            "eta": ((), eta),
            "eta_over_p": ((), float(eta_over_p)),
            "alpha_escape_sgd": (("N", "seed"), t_sgd.values),
            "alpha_escape_ode": (("N", "seed"), t_ode.values),
            "status": (("N", "seed"), sgd["status"].values.astype(np.int8)),
            "n_runs": (("N",), np.full(Ns.size, seed_arr.size)),
            "n_escaped": (("N",), n_esc.values),
            "alpha_escape_mean": (("N",), mean.values),
            "alpha_escape_sem": (("N",), sem.values),
            "alpha_escape_ode_mean": (("N",), t_ode.mean("seed").values),
            "escape_offset_mean": (("N",), offset.mean("seed").values),
            "escape_offset_sem": (("N",), (offset.std("seed", ddof=1) / np.sqrt(n_off.where(n_off > 0))).values),
            "alpha_escape_quantile": (("N", "quantile"), quantiles),
            "escape_histogram": (("N", "bin"), counts),
            "escape_histogram_edges": (("N", "bin_edge"), edges),
            "escape_law_slope": ((), slope),
            "escape_law_slope_se": ((), slope_se),
            "escape_law_intercept": ((), intercept),
            "escape_law_slope_ode": ((), slope_ode),
            "escape_law_slope_small_eta": ((), small),
            "escape_law_slope_finite_eta": ((), finite),
            "escape_law_ratio_small_eta": ((), small / slope),
            "escape_law_ratio_finite_eta": ((), finite / slope),
            "escape_threshold": ((), escape_threshold(p, pstar, escape_fraction)),
            "censored_by_threshold": ((), censored_by_threshold(p, pstar, eta, 0.0, escape_fraction)),
        },
        coords={"N": Ns, "seed": seed_arr, "quantile": np.array(QUANTILES), "bin": np.arange(bins),
                "bin_edge": np.arange(bins + 1), "p": p, "pstar": pstar},
    )
    return ds


def escape_law_dataset(cases: Sequence[tuple[int, int, float]], **kwargs: object) -> xr.Dataset:
    """:func:`escape_law_case` of every ``(p, pstar, eta_over_p)`` in ``cases``, merged over
    dims ``(p, pstar)`` (pairs that are not cases hold NaN); ``kwargs`` go to each case.

    Variables: per run ``alpha_escape_sgd``, ``alpha_escape_ode`` (the ODE from the run's M(0)),
    ``status`` over ``(p, pstar, N, seed)`` (escape times NaN unless the run escaped and learned);
    per N the mean, standard error, quantiles and histogram of the SGD escape times and the mean
    offset SGD - ODE; per case the fitted slope against ln N (``escape_law_slope``, ``_se``,
    ``_intercept``), the two predictions and the ratios prediction / measured; ``escape_threshold``
    and the flag ``censored_by_threshold`` (the end state's risk is at or above the threshold, so no
    run can cross it and every escape time is NaN: p < pstar with a poor best fit).
    """
    parts = [escape_law_case(p, s, eta_over_p=e, **kwargs) for p, s, e in rate_cases("cases", cases)]  # type: ignore[arg-type]
    ds = merge_cases(parts)
    ds.attrs = {"escape_fraction": float(kwargs.get("escape_fraction", 0.5)),  # type: ignore[arg-type]
                "sgd_method": "gram", "quadsgd_version": __version__}
    return annotate(ds, {"censored_by_threshold": CENSORED_ATTRS, "escape_threshold": THRESHOLD_ATTRS})
