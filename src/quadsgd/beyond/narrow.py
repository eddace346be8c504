"""Narrow students p < pstar (issue 19.5; docs/beyond.md): where the ODE ends against the best
rank-p fit of the teacher.

A student narrower than the teacher cannot reach zero error; after the escape the ODE settles
at a fixed point of finite risk. At small eta that is the best rank-p fit
(:func:`quadsgd.stationary.best_fit_risk`); at finite eta the ``eta^2`` term of ``dQ`` shifts it
up by an excess that grows with eta (:func:`quadsgd.stationary.narrow_excess_risk`), until the
branch merges with the plateau at :func:`quadsgd.stationary.eta_stationary_edge`. Here the ODE
is integrated from the paper's random ``M(0)`` to ``alpha_max`` and its end-point risk compared
with both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from quadsgd import __version__, _validate
from quadsgd.beyond._cases import (
    CENSORED_ATTRS,
    THRESHOLD_ATTRS,
    censored_by_threshold,
    escape_threshold,
    merge_cases,
    width_pairs,
)
from quadsgd.grids import eta_from_eta_over_p, eta_over_p_grid, log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.schema import annotate
from quadsgd.stationary import best_fit_risk, eta_stationary_edge, narrow_excess_risk
from quadsgd.status import Status

__all__ = ["narrow_case", "narrow_dataset"]


def narrow_case(p: int, pstar: int, *, N: int, seeds: int, eta_over_p: tuple[float, float, int], alpha_max: float,
                escape_fraction: float = 0.5) -> xr.Dataset:
    """ODE end points of one narrow ``(p, pstar)`` over the log grid ``eta_over_p = (min, max,
    num)`` and seeds ``0 .. seeds-1`` (the paper's ``M(0) ~ N(0, 1/N)``, the same for every eta).
    Returns scalar coordinates ``p``, ``pstar`` and dims ``(eta_over_p, seed)``; see :func:`narrow_dataset`.
    ``ValueError`` unless ``p < pstar``."""
    p, pstar, N = _validate.widths(p, pstar, N)
    if p >= pstar:
        raise ValueError(f"a narrow student needs p < pstar; got p={p}, pstar={pstar}")
    etas_p = eta_over_p_grid(*eta_over_p)
    etas = eta_from_eta_over_p(etas_p, p)
    seed_arr = np.arange(_validate.positive_int("seeds", seeds))
    Q0, M0, T = ode_initial(p, pstar, N, seed_arr)
    ode = integrate(Q0[None], M0[None], etas[:, None], log_alpha_grid(alpha_max, 16), T[None],
                    escape_fraction=escape_fraction, overlaps="final", batch_dims=("eta_over_p", "seed"))
    best = best_fit_risk(p, pstar)
    end = ode["risk"].isel(alpha=-1).values
    predicted = narrow_excess_risk(p, pstar, etas)
    status = ode["status"].values.astype(np.int8)
    # The flag says a run reached an end state above the threshold; where every seed diverged
    # (the norm blow-up comes first for some p < p*) no end state was reached.
    reached = np.any(status != int(Status.DIVERGED), axis=1)
    return xr.Dataset(
        {
            "risk_end": (("eta_over_p", "seed"), end),
            "status": (("eta_over_p", "seed"), status),
            "alpha_escape": (("eta_over_p", "seed"), ode["alpha_escape"].values),
            "risk_best_fit": ((), best),
            "risk_excess": (("eta_over_p", "seed"), end - best),
            "risk_excess_predicted": (("eta_over_p",), predicted),
            "eta_stationary_edge_over_p": ((), eta_stationary_edge(p, pstar) / p),
            "escape_threshold": ((), escape_threshold(p, pstar, escape_fraction)),
            "censored_by_threshold": (("eta_over_p",),
                                      censored_by_threshold(p, pstar, etas, 0.0, escape_fraction) & reached),
        },
        coords={"eta_over_p": etas_p, "seed": seed_arr, "p": p, "pstar": pstar},
    )


def narrow_dataset(cases: Sequence[tuple[int, int]], **kwargs: object) -> xr.Dataset:
    """:func:`narrow_case` of every ``(p, pstar)`` in ``cases`` over dims ``(p, pstar,
    eta_over_p, seed)`` (NaN for pairs that are no case; the eta grid is the same for all).

    Variables: ``risk_end`` (ODE risk at ``alpha_max``), ``status``, ``alpha_escape``,
    ``risk_best_fit`` (best rank-p fit, per case), ``risk_excess = risk_end - risk_best_fit``,
    ``risk_excess_predicted`` (finite-eta stationary state, per eta; NaN beyond the edge) and
    ``eta_stationary_edge_over_p``; ``escape_threshold`` and the flag ``censored_by_threshold``
    (per eta: the end state's risk is at or above the threshold, so the runs read ``censored`` with
    no escape time although ``risk_end`` is their end state; :func:`quadsgd.beyond._cases.censored_by_threshold`).
    """
    ds = merge_cases([narrow_case(p, s, **kwargs) for p, s in width_pairs("cases", cases, narrow=True)])  # type: ignore[arg-type]
    ds = ds.assign_coords(eta=(("p", "eta_over_p"), ds["p"].values[:, None] * ds["eta_over_p"].values[None, :]))
    ds.attrs = {"escape_fraction": float(kwargs.get("escape_fraction", 0.5)),  # type: ignore[arg-type]
                "quadsgd_version": __version__}
    return annotate(ds, {"censored_by_threshold": CENSORED_ATTRS, "escape_threshold": THRESHOLD_ATTRS})
