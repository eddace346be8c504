"""Label noise (issue 19.4; docs/beyond.md): finite-N SGD against the ODE with noisy labels.

Teacher labels are ``y + sqrt(noise) xi`` with ``xi ~ N(0, 1)`` independent per sample. In the
ODE only ``dQ`` changes, by ``(4 eta^2 / p^2) noise Q`` (docs/conventions.md); the stored risk
is the clean population risk ``eps = E[(y - yhat)^2] / 2`` (the noisy test loss is
``eps + noise / 2``). With noise the risk no longer goes to zero: it settles where the noise
injected by the ``eta^2`` term balances the descent, so the late-time risk grows with ``eta``
and ``noise``; the escape from the plateau is barely affected (the noise term is ``O(eta^2)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from quadsgd import __version__, _validate
from quadsgd.beyond._cases import (
    CENSORED_ATTRS,
    THRESHOLD_ATTRS,
    censored_by_threshold,
    concat,
    distinct,
    escape_threshold,
)
from quadsgd.grids import eta_from_eta_over_p, sample_counts, sgd_alpha_grid
from quadsgd.ode import integrate
from quadsgd.schema import annotate
from quadsgd.stationary import stationary_risk
from quadsgd.status import CROSSED
from quadsgd.sweep.drivers import sgd_seed_runs

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["noise_alpha_grid", "noise_dataset"]


def noise_alpha_grid(alpha_max: float, N: int, points: int) -> NDArray[np.float64]:
    """Recording grid in whole samples: the log grid of :func:`quadsgd.grids.sgd_alpha_grid`
    (``points`` points) joined with ``points // 2 + 1`` linear points on ``[alpha_max / 2,
    alpha_max]``, where the late-time risk is averaged."""
    late = np.linspace(alpha_max / 2, alpha_max, points // 2 + 1)
    grid = np.concatenate([sgd_alpha_grid(alpha_max, N, points), late])
    return sample_counts(np.unique(np.rint(grid * N)) / N, N) / N


def noise_dataset(
    p: int,
    pstar: int,
    *,
    N: int,
    noise: Sequence[float],
    eta_over_p: Sequence[float],
    seeds: int,
    alpha_max: float,
    alpha_points: int,
    escape_fraction: float = 0.5,
    client: Client | None = None,
) -> xr.Dataset:
    """SGD and the ODE from each run's own ``M(0)``, over ``(noise, eta_over_p, seed)``.

    Tasks of several seeds per (noise, eta) (:func:`quadsgd.sweep.drivers.sgd_seed_runs`);
    seeds ``0 .. seeds-1`` share their ``M(0)`` and input samples across noise levels and
    learning rates (keyed streams), so differences are the effect of the noise. Returns dims
    ``(noise, eta_over_p, dynamics, seed, alpha)``: ``risk`` (clean), ``status``,
    ``alpha_escape``; over seeds the runs that crossed the escape threshold ``n_crossed`` and
    their mean escape time ``alpha_escape_mean(_sem)`` (``(noise, eta_over_p, dynamics)``); the
    end-point risk ``risk_end`` and the mean risk over ``alpha >= alpha_max / 2`` per run,
    ``risk_late_mean`` (``(noise, eta_over_p, dynamics, seed)``); the stationary risk of the noisy ODE
    (:func:`quadsgd.stationary.stationary_risk`), ``risk_stationary (noise, eta_over_p)``;
    the flag ``censored_by_threshold (noise, eta_over_p)`` (the noisy end state sits at or above
    ``escape_threshold``: runs read ``censored`` without an escape time although they learned what
    they can); coordinate ``eta(eta_over_p)``.
    ``ValueError`` (one line) for a negative noise, an empty or repeating list, or bad sizes.
    """
    p, pstar, N = _validate.widths(p, pstar, N)
    noises = np.array(distinct("noise", noise, lambda k, v: _validate.real(k, v, low=0.0, low_open=False)))
    etas_p = np.array(distinct("eta_over_p", eta_over_p, _validate.positive_real))
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    etas = eta_from_eta_over_p(etas_p, p)
    seed_arr = np.arange(_validate.positive_int("seeds", seeds))
    alpha = noise_alpha_grid(_validate.positive_real("alpha_max", alpha_max), N,
                             _validate.positive_int("alpha_points", alpha_points))
    runs = sgd_seed_runs(p, pstar, eta=etas[None, :], N=N, noise=noises[:, None], seeds=seed_arr, alpha=alpha,
                         escape_fraction=escape_fraction, client=client, desc=f"noise p={p} p*={pstar} N={N}")
    by_eta = [d[["risk", "status", "alpha_escape", "M0"]].drop_vars("eta") for d in runs]
    E = etas.size
    by_noise = [concat(by_eta[j * E:(j + 1) * E], "eta_over_p") for j in range(noises.size)]
    sgd = concat(by_noise, "noise").assign_coords(noise=noises, eta_over_p=etas_p, seed=seed_arr)
    M0 = sgd["M0"].transpose("noise", "eta_over_p", "seed", "k", "r").values
    shape = M0.shape[:3]
    ode = integrate(np.broadcast_to(np.eye(p), shape + (p, p)), M0, np.broadcast_to(etas[None, :, None], shape),
                    alpha, noise=np.broadcast_to(noises[:, None, None], shape), escape_fraction=escape_fraction,
                    overlaps="final", batch_dims=("noise", "eta_over_p", "seed"))
    ode = ode.assign_coords(noise=noises, eta_over_p=etas_p, seed=seed_arr)
    keep = ["risk", "status", "alpha_escape"]
    dynamics = xr.DataArray(np.array(["sgd", "ode"]), dims="dynamics", name="dynamics")
    ds = xr.concat([sgd[keep], ode[keep].drop_vars("eta")], dim=dynamics, data_vars="all", coords="minimal",
                   compat="override", join="exact", combine_attrs="drop")
    # With noise the ODE settles at a finite risk after escaping: every crossing counts here.
    crossed = ds["status"].isin([int(s) for s in CROSSED])
    t = ds["alpha_escape"].where(crossed)
    n = crossed.sum("seed")
    ds["alpha_escape_mean"] = t.mean("seed")
    ds["alpha_escape_sem"] = t.std("seed", ddof=1) / np.sqrt(n.where(n > 0))
    ds["n_crossed"] = n
    ds["risk_end"] = ds["risk"].isel(alpha=-1, drop=True)
    ds["risk_late_mean"] = ds["risk"].where(ds["alpha"] >= alpha_max / 2).mean("alpha")
    ds["risk_stationary"] = (("noise", "eta_over_p"), stationary_risk(p, pstar, etas[None, :], noises[:, None]))
    ds["escape_threshold"] = escape_threshold(p, pstar, escape_fraction)
    ds["censored_by_threshold"] = (("noise", "eta_over_p"),
                                   censored_by_threshold(p, pstar, etas[None, :], noises[:, None], escape_fraction))
    ds = ds.assign_coords(eta=("eta_over_p", etas), p=p, pstar=pstar, N=N)
    ds.attrs = {"escape_fraction": escape_fraction, "sgd_method": "gram", "quadsgd_version": __version__}
    return annotate(ds, {"censored_by_threshold": CENSORED_ATTRS, "escape_threshold": THRESHOLD_ATTRS})
