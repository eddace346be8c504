"""What every stored variable is: ``long_name`` and ``units`` of each name, and the trajectory schema.

Trajectories (ODE and both SGD methods) share one schema, built by :func:`trajectory_dataset`,
so results overlay directly. Each package that builds a store annotates it here
(:func:`annotate`, with a table of its own names where it has any); :func:`missing_attrs` lists
what is still undescribed, and :func:`quadsgd.storage.write_zarr_atomic` refuses such a store.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from quadsgd.status import STATUS_ATTRS

__all__ = ["VARIABLE_ATTRS", "trajectory_dataset", "annotate", "missing_attrs"]


#: Attributes of every variable the project stores; one entry per name.
VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "alpha": {"long_name": "alpha = samples / N", "units": "1"},
    "Q": {"long_name": "student-student overlaps W W^T / N", "units": "1"},
    "M": {"long_name": "student-teacher overlaps W W*^T / N", "units": "1"},
    "Q_final": {"long_name": "Q at the last integrated time", "units": "1"},
    "M_final": {"long_name": "M at the last integrated time", "units": "1"},
    "M0": {"long_name": "initial student-teacher overlaps M(alpha=0)", "units": "1"},
    "risk": {"long_name": "population risk eps = E[(y - yhat)^2]/2", "units": "1"},
    "alpha_escape": {
        "long_name": "first alpha with risk <= escape_fraction * plateau risk (NaN if never)",
        "units": "1",
    },
    "alpha_stop": {"long_name": "alpha at which integration stopped", "units": "1"},
    "n_steps": {"long_name": "accepted integrator steps", "units": "1"},
    "eta": {"long_name": "learning rate eta", "units": "1"},
    "seed": {"long_name": "random seed (with p, pstar, N keys the SeedSequence)", "units": "1"},
    "p": {"long_name": "student width p", "units": "1"},
    "pstar": {"long_name": "teacher width p*", "units": "1"},
    "k": {"long_name": "student unit index", "units": "1"},
    "l": {"long_name": "student unit index", "units": "1"},
    "r": {"long_name": "teacher unit index", "units": "1"},
    # Escape statistics over seeds (quadsgd.escape.escape_statistics).
    "alpha_escape_mean": {"long_name": "mean escape time over runs that escaped", "units": "1"},
    "alpha_escape_sem": {"long_name": "standard error of the mean escape time", "units": "1"},
    "alpha_escape_median": {"long_name": "median escape time over runs that escaped", "units": "1"},
    "n_runs": {"long_name": "runs", "units": "1"},
    "n_escaped": {
        "long_name": "runs that escaped and learned (zero error reached, or still descending at alpha_max; "
                     "for p < pstar also settled)",
        "units": "1",
    },
    "n_converged": {"long_name": "runs that reached zero error (risk below the floor)", "units": "1"},
    "n_settled": {"long_name": "runs that escaped, then stopped at a finite risk", "units": "1"},
    "n_max_steps": {"long_name": "runs whose integrator step budget ran out before alpha_max", "units": "1"},
    "n_censored": {"long_name": "runs still on the plateau at alpha_max", "units": "1"},
    "n_diverged": {"long_name": "runs whose overlaps blew up", "units": "1"},
    "sgd_p": {"long_name": "student width p of the finite-N SGD runs", "units": "1"},
    "sgd_pstar": {"long_name": "teacher width p* of the finite-N SGD runs", "units": "1"},
    "sgd_N": {"long_name": "input dimension N of the finite-N SGD runs", "units": "1"},
    # Sweep (quadsgd.sweep): ODE escape-time grids and their summaries.
    "eta_over_p": {"long_name": "learning rate per student unit eta / p (the sweep's grid axis)", "units": "1"},
    "N": {"long_name": "input dimension N", "units": "1"},
    "refine": {"long_name": "index of a learning rate added by the refinement around the grid minimum",
               "units": "1"},
    "dynamics": {"long_name": "dynamics: finite-N SGD (Gram chain) or the ODE from the run's measured M(0)",
                 "units": "1"},
    "prediction": {"long_name": "seed whose M(0) gives the predicted closest solution", "units": "1"},
    "eta_opt": {"long_name": "learning rate minimizing the mean ODE escape time (all seeds escaping and learning)",
                "units": "1"},
    "eta_opt_over_p": {"long_name": "eta_opt / p", "units": "1"},
    "alpha_escape_opt": {"long_name": "mean ODE escape time over seeds at eta_opt", "units": "1"},
    "alpha_escape_opt_sem": {"long_name": "standard error of the mean escape time at eta_opt", "units": "1"},
    "alpha_escape_opt_median": {"long_name": "median ODE escape time over seeds at eta_opt", "units": "1"},
    "eta_max_stable": {
        "long_name": "largest scanned eta at which every seed escaped and learned (none settled at finite risk)",
        "units": "1",
    },
    "eta_zero_error_edge": {
        "long_name": "eta at which the zero-error manifold loses linear stability, p pstar / (2 (pstar + 2)) "
                     "(NaN for p < pstar)",
        "units": "1",
    },
    "grid_reaches_instability": {
        "long_name": "1 if some seed fails to escape at the largest grid eta (the grid brackets the stable range)",
        "units": "1",
    },
    "eta_opt_at_grid_edge": {
        "long_name": "1 if eta_opt is the smallest scanned eta at which all seeds escape (extend the grid down)",
        "units": "1",
    },
    "eta_opt_at_stability_edge": {
        "long_name": "1 if the next larger scanned eta lets some seed diverge or stall (optimum set by stability)",
        "units": "1",
    },
    "refine_eta_over_p": {"long_name": "eta / p of the refinement points", "units": "1"},
    "refine_alpha_escape_mean": {"long_name": "mean ODE escape time at the refinement points", "units": "1"},
    "refine_n_escaped": {"long_name": "seeds that escaped and learned at the refinement points", "units": "1"},
    "refine_n_settled": {"long_name": "seeds that settled at a finite risk at the refinement points", "units": "1"},
    "refine_n_diverged": {"long_name": "seeds that diverged at the refinement points", "units": "1"},
    "eta_opt_exponent": {
        "long_name": "fitted exponent a of eta_opt ~ c p^a (least squares in log-log, over p >= pstar)",
        "units": "1",
    },
    "eta_opt_exponent_se": {"long_name": "standard error of the fitted exponent", "units": "1"},
    "eta_opt_prefactor": {"long_name": "fitted prefactor c of eta_opt ~ c p^a", "units": "1"},
    "C": {"long_name": "polar factor C = M (M^T M)^(-1/2) of the student-teacher overlaps", "units": "1"},
    "polar_drift": {"long_name": "|C(M) - C(M0)|_F, drift of the polar factor from its initial value", "units": "1"},
    "distance": {
        "long_name": "Frobenius distance of (Q, M) to the closest zero-error solution predicted from M0[prediction]",
        "units": "1",
    },
    # Beyond the paper (quadsgd.beyond, docs/beyond.md).
    "quantile": {"long_name": "quantile level over seeds", "units": "1"},
    "bin": {"long_name": "histogram bin index", "units": "1"},
    "bin_edge": {"long_name": "histogram bin edge index", "units": "1"},
    "noise": {"long_name": "label-noise variance: labels y + sqrt(noise) xi, xi ~ N(0, 1)", "units": "1"},
    "alpha_escape_sgd": {"long_name": "finite-N SGD escape time (NaN unless the run escaped and learned)",
                         "units": "1"},
    "alpha_escape_ode": {"long_name": "escape time of the ODE started from the SGD run's measured M(0)",
                         "units": "1"},
    "alpha_escape_ode_mean": {"long_name": "mean escape time of the ODE from the SGD runs' M(0)", "units": "1"},
    "escape_offset_mean": {"long_name": "mean over seeds of SGD minus ODE escape time from the same M(0)",
                           "units": "1"},
    "escape_offset_sem": {"long_name": "standard error of the mean SGD - ODE escape-time offset", "units": "1"},
    "alpha_escape_quantile": {"long_name": "quantile over seeds of the SGD escape time", "units": "1"},
    "escape_histogram": {"long_name": "SGD runs per escape-time bin", "units": "1"},
    "escape_histogram_edges": {"long_name": "escape-time bin edges of escape_histogram", "units": "1"},
    "escape_law_slope": {"long_name": "fitted slope b of mean SGD escape time = a + b ln N (least squares)",
                         "units": "1"},
    "escape_law_slope_ode": {"long_name": "fitted slope of the mean ODE escape time (from the runs' M(0)) against ln N",
                             "units": "1"},
    "escape_law_slope_se": {"long_name": "standard error of the fitted slope b, propagated from the s.e.m. of the "
                                         "mean escape times", "units": "1"},
    "escape_law_intercept": {"long_name": "fitted intercept a of mean SGD escape time = a + b ln N", "units": "1"},
    "escape_law_slope_small_eta": {"long_name": "small-eta prediction of the slope, p pstar / (8 eta)",
                                   "units": "1"},
    "escape_law_slope_finite_eta": {
        "long_name": "finite-eta prediction of the slope, 1 / (2 r) with the plateau rate at the exact fixed point",
        "units": "1",
    },
    "escape_law_ratio_small_eta": {"long_name": "small-eta predicted slope / fitted slope", "units": "1"},
    "escape_law_ratio_finite_eta": {"long_name": "finite-eta predicted slope / fitted slope", "units": "1"},
    "scan": {"long_name": "index of a learning rate scanned by the SGD eta_opt search", "units": "1"},
    "eta_opt_ode": {"long_name": "eta_opt of the ODE sweep (from results/summary.zarr)", "units": "1"},
    "eta_opt_ode_over_p": {"long_name": "eta_opt / p of the ODE sweep", "units": "1"},
    "eta_opt_sgd": {
        "long_name": "learning rate minimizing the mean finite-N SGD escape time (all seeds escaping and learning)",
        "units": "1",
    },
    "eta_opt_sgd_over_p": {"long_name": "eta_opt_sgd / p", "units": "1"},
    "eta_opt_ratio": {"long_name": "eta_opt_sgd / eta_opt_ode", "units": "1"},
    "alpha_escape_opt_sgd": {"long_name": "mean finite-N SGD escape time at eta_opt_sgd", "units": "1"},
    "alpha_escape_opt_sgd_sem": {"long_name": "standard error of the mean SGD escape time at eta_opt_sgd",
                                 "units": "1"},
    "scan_eta_over_p": {"long_name": "eta / p of the learning rates scanned with SGD (NaN: unused slot)",
                        "units": "1"},
    "scan_alpha_escape_mean": {"long_name": "mean SGD escape time over seeds that escaped and learned",
                               "units": "1"},
    "scan_alpha_escape_sem": {"long_name": "standard error of scan_alpha_escape_mean", "units": "1"},
    "scan_n_learned": {"long_name": "seeds that escaped and learned (risk at alpha_max below learned_fraction x "
                                    "the escape threshold)", "units": "1"},
    "scan_n_runs": {"long_name": "seeds per scanned learning rate", "units": "1"},
    "plateau_exists": {"long_name": "1 if the plateau fixed point M = 0, Q = q I exists", "units": "1"},
    "plateau_escapes": {"long_name": "1 if the plateau's escape rate is positive", "units": "1"},
    "end_state_stable": {"long_name": "1 if the end state (zero error, or the best fit for p < pstar) is stable",
                         "units": "1"},
    "eta_plateau_edge_over_p": {"long_name": "eta / p beyond which the plateau has no fixed point", "units": "1"},
    "eta_plateau_trap_edge_over_p": {"long_name": "eta / p at which the plateau's escape rate vanishes (NaN: it "
                                                  "stays positive)", "units": "1"},
    "eta_norm_blowup_edge_over_p": {"long_name": "eta / p beyond which the norm phase from Q = I diverges at M = 0",
                                    "units": "1"},
    "eta_zero_error_edge_over_p": {"long_name": "eta / p beyond which the zero-error manifold is unstable, "
                                                "pstar / (2 (pstar + 2)) (NaN for p < pstar)", "units": "1"},
    "eta_settled_edge_over_p": {"long_name": "eta / p beyond which the finite-risk fixed point with orthogonal "
                                             "students is lost (NaN for p <= pstar)", "units": "1"},
    "eta_divergence_edge_over_p": {"long_name": "eta / p beyond which the ODE from the paper's initialization "
                                                "diverges (bisection)", "units": "1"},
    "n_crossed": {"long_name": "runs that crossed the escape threshold (whatever happened next, short of diverging)",
                  "units": "1"},
    "risk_end": {"long_name": "population risk at alpha_max (clean: eps = E[(y - yhat)^2]/2)", "units": "1"},
    "risk_late_mean": {"long_name": "mean clean risk over the last quarter of the recorded alphas", "units": "1"},
    "risk_stationary": {"long_name": "predicted stationary clean risk of the noisy ODE", "units": "1"},
    "risk_best_fit": {"long_name": "risk of the best rank-p fit of the teacher (p < pstar)", "units": "1"},
    "risk_excess_predicted": {"long_name": "predicted excess risk of the finite-eta stationary state over the "
                                           "best rank-p fit (NaN beyond its edge)", "units": "1"},
    "eta_stationary_edge_over_p": {"long_name": "eta / p beyond which the noiseless stationary state (zero error, or "
                                                "the best-fit branch for p < pstar) is lost", "units": "1"},
    "risk_excess": {"long_name": "ODE end-point risk minus the best rank-p fit's risk", "units": "1"},
}


def _attrs(name: str, table: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    if table and name in table:
        return dict(table[name])
    if name == "status":
        return dict(STATUS_ATTRS)
    return dict(VARIABLE_ATTRS.get(name, {}))


#: Dimensions of every trajectory dataset; a batch dimension may not take these names.
CORE_DIMS = ("alpha", "k", "l", "r")


def check_batch_dims(batch_dims: Sequence[str]) -> tuple[str, ...]:
    """``batch_dims`` as a tuple; ``ValueError`` unless they are distinct and none is a core
    dimension (:data:`CORE_DIMS`). Entry points may call it before computing anything."""
    bd = tuple(batch_dims)
    if any(d in CORE_DIMS for d in bd) or len(set(bd)) < len(bd):
        raise ValueError(f"batch_dims must be distinct names other than the core dimensions "
                         f"{', '.join(CORE_DIMS)}; got {bd}")
    return bd


def trajectory_dataset(
    *,
    alpha: NDArray[np.float64],
    risk: NDArray[np.float64],
    status: NDArray[np.integer],
    alpha_escape: NDArray[np.float64],
    alpha_stop: NDArray[np.float64],
    eta: NDArray[np.float64],
    Q: NDArray[np.float64] | None = None,
    M: NDArray[np.float64] | None = None,
    Q_final: NDArray[np.float64] | None = None,
    M_final: NDArray[np.float64] | None = None,
    n_steps: NDArray[np.integer] | None = None,
    M0: NDArray[np.float64] | None = None,
    batch_dims: Sequence[str] = (),
    coords: Mapping[Hashable, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble the common trajectory schema.

    Shapes (``B`` = batch shape, named by ``batch_dims``; ``G = len(alpha)``):
    ``risk (*B, G)``, ``status``/``alpha_escape``/``alpha_stop``/``eta`` ``(*B)``,
    ``Q (*B, G, p, p)`` and ``M (*B, G, p, pstar)`` when trajectories are kept, otherwise
    ``Q_final (*B, p, p)`` and ``M_final (*B, p, pstar)``; ``M0 (*B, p, pstar)`` the start.
    """
    bd = check_batch_dims(batch_dims)
    if risk.ndim != len(bd) + 1:
        raise ValueError(f"batch_dims {bd} do not match risk of shape {risk.shape}")
    data: dict[str, Any] = {
        "risk": ((*bd, "alpha"), risk),
        "status": (bd, status.astype(np.int8)),
        "alpha_escape": (bd, alpha_escape),
        "alpha_stop": (bd, alpha_stop),
    }
    if Q is not None and M is not None:
        data["Q"] = ((*bd, "alpha", "k", "l"), Q)
        data["M"] = ((*bd, "alpha", "k", "r"), M)
    if Q_final is not None and M_final is not None:
        data["Q_final"] = ((*bd, "k", "l"), Q_final)
        data["M_final"] = ((*bd, "k", "r"), M_final)
    if n_steps is not None:
        data["n_steps"] = (bd, n_steps.astype(np.int64))
    if M0 is not None:
        data["M0"] = ((*bd, "k", "r"), M0)
    Q_any = Q if Q is not None else Q_final
    M_any = M if M is not None else M_final
    if Q_any is None or M_any is None:
        raise ValueError("trajectory_dataset needs Q and M, or Q_final and M_final")
    p, pstar = Q_any.shape[-1], M_any.shape[-1]
    all_coords: dict[Hashable, Any] = {
        "alpha": alpha,
        "k": np.arange(p),
        "l": np.arange(p),
        "r": np.arange(pstar),
    }
    all_coords.update(_eta_coord(np.asarray(eta, dtype=np.float64), bd))
    all_coords.update(coords or {})
    ds = xr.Dataset(data, coords=all_coords, attrs=dict(attrs or {}))
    for name in list(ds.variables):
        ds[name].attrs.update(_attrs(str(name)))
    return ds


def _eta_coord(eta: NDArray[np.float64], batch_dims: tuple[str, ...]) -> dict[str, Any]:
    """``eta`` as a 1-D index when a batch dim is named ``eta``, else a coordinate on the batch."""
    if eta.ndim == 0 or np.all(eta == eta.flat[0]) and "eta" not in batch_dims:
        return {"eta": float(eta.flat[0])}
    if "eta" not in batch_dims:
        return {"eta": (batch_dims, eta)}
    axis = batch_dims.index("eta")
    line = np.moveaxis(eta, axis, 0).reshape(eta.shape[axis], -1)[:, 0]
    expected = np.moveaxis(np.broadcast_to(line, eta.shape[:axis] + eta.shape[axis + 1 :] + line.shape), -1, axis)
    if not np.array_equal(expected, eta):
        raise ValueError("eta varies along dims other than 'eta'; cannot index by it")
    return {"eta": line}


def annotate(ds: xr.Dataset, table: Mapping[str, Mapping[str, Any]] | None = None) -> xr.Dataset:
    """Set the attributes of every variable and coordinate of ``ds`` described by
    :data:`VARIABLE_ATTRS` or by ``table`` (which takes precedence).

    ``sgd_``-prefixed variables (finite-N SGD statistics kept beside the ODE ones) get the
    attributes of their unprefixed name, with the long name marked as finite-N SGD.
    Returns ``ds`` (modified in place); idempotent.
    """
    for name in ds.variables:
        key = str(name)
        if key.startswith("sgd_") and key not in (table or {}):
            attrs = {**_attrs(key[4:], table), **ds[name].attrs}
            text = attrs.get("long_name", key[4:])
            if not text.startswith("finite-N SGD"):
                attrs["long_name"] = f"finite-N SGD: {text}"
            ds[name].attrs = attrs
        else:
            ds[name].attrs.update(_attrs(key, table))
    return ds


def missing_attrs(ds: xr.Dataset) -> list[str]:
    """Names of the variables and coordinates of ``ds`` that lack ``long_name`` or ``units``."""
    return [str(n) for n in ds.variables if not {"long_name", "units"} <= set(ds[n].attrs)]
