"""Aggregation: per-job stores combined into the sweep, the optimum of each ``(p, pstar)`` as a
dataset, and the summary (escape statistics, ``eta_opt``, the exponent of ``eta_opt ~ p^a``).

Nothing here recomputes what an earlier stage stored: the summary reads each ``(p, pstar)``'s
optimum from the dataset written by the search (:func:`optimum_dataset`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from quadsgd import __version__
from quadsgd.escape import escape_statistics
from quadsgd.eta_opt import EtaOptOutcome, EtaOptResult
from quadsgd.fits import fit_power_law
from quadsgd.grids import eta_from_eta_over_p
from quadsgd.schema import annotate
from quadsgd.status import Status
from quadsgd.sweep.drivers import SCAN_VARIABLES
from quadsgd.theory import eta_zero_error_edge

__all__ = ["GridWarning", "combine_scans", "optimum_dataset", "summarize", "status_counts", "OPTIMUM_VARIABLES"]

#: Scalar variables of :func:`optimum_dataset`, copied into the summary over ``(p, pstar)``.
OPTIMUM_VARIABLES = ("eta_opt", "eta_opt_over_p", "alpha_escape_opt", "alpha_escape_opt_sem",
                     "alpha_escape_opt_median", "eta_max_stable", "grid_reaches_instability",
                     "eta_opt_at_grid_edge", "eta_opt_at_stability_edge")


class GridWarning(UserWarning):
    """The learning-rate grid does not bracket the optimum or the divergence edge."""


def combine_scans(scans: Iterable[xr.Dataset], attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Combine per-job ODE scans (any ``(p, pstar)`` and ``eta_over_p`` blocks) into one dataset.

    Returns dims ``(p, pstar, eta_over_p, seed, alpha)``; the raw learning rate becomes the
    coordinate ``eta (p, eta_over_p)`` and ``N`` a scalar coordinate. Every ``(p, pstar)`` must
    cover the same ``eta_over_p`` and seeds, and every part the same ``N`` and escape fraction
    (``ValueError`` otherwise: a gap or a mixture would silently bias the statistics).
    """
    pieces = []
    for ds in scans:
        d = ds.drop_vars("eta").expand_dims(p=[int(ds.attrs["p"])], pstar=[int(ds.attrs["pstar"])])
        pieces.append(d)
    if not pieces:
        raise ValueError("no scans to combine")
    for key in ("N", "escape_fraction"):
        values = {float(d.attrs[key]) for d in pieces}
        if len(values) > 1:
            raise ValueError(f"scans were made with different {key}: {sorted(values)}")
    by_key: dict[tuple[int, int], list[xr.Dataset]] = {}
    for d in pieces:
        by_key.setdefault((int(d.p[0]), int(d.pstar[0])), []).append(d)
    blocks = [xr.concat(v, dim="eta_over_p", data_vars="all", coords="minimal", compat="override",
                        join="exact").sortby("eta_over_p") for v in by_key.values()]
    ref = blocks[0]
    for b in blocks[1:]:
        if not (np.array_equal(b.eta_over_p, ref.eta_over_p) and np.array_equal(b.seed, ref.seed)):
            raise ValueError("scans of different (p, pstar) cover different eta/p grids or seeds")
    if np.unique(ref.eta_over_p).size != ref.eta_over_p.size:
        raise ValueError("overlapping eta/p blocks among the scans")
    out = xr.combine_by_coords(blocks, data_vars="all", coords="minimal", compat="override",
                               combine_attrs="drop", join="outer")
    assert isinstance(out, xr.Dataset)
    expected = {(int(p), int(s)) for p in out.p.values for s in out.pstar.values}
    if set(by_key) != expected:
        raise ValueError(f"scans do not form a full (p, pstar) grid: missing {sorted(expected - set(by_key))}")
    out = out.assign_coords(eta=out.p * out.eta_over_p, N=int(pieces[0].attrs["N"]))
    out["status"] = out["status"].astype(np.int8)
    out.attrs = {"quadsgd_version": __version__, "escape_fraction": float(pieces[0].attrs["escape_fraction"]),
                 "eta_axis": "eta_over_p = eta / p; eta is a coordinate", **dict(attrs or {})}
    return annotate(out)


def optimum_dataset(result: EtaOptResult, *, p: int, pstar: int, N: int) -> xr.Dataset:
    """The search's result for one ``(p, pstar)`` as a dataset: the learning rates it added
    (dims ``(eta_over_p, seed, alpha)``, possibly empty) and the scalars :data:`OPTIMUM_VARIABLES`."""
    if result.added is not None:
        ds = result.added[list(SCAN_VARIABLES)]
    else:
        ds = result.scan[list(SCAN_VARIABLES)].isel(eta_over_p=slice(0, 0))
    found = result.outcome is EtaOptOutcome.FOUND
    stats = result.statistics() if found else None
    scalars = {
        "eta_opt_over_p": result.eta_over_p_opt,
        "eta_opt": float(eta_from_eta_over_p(result.eta_over_p_opt, p)),
        "alpha_escape_opt": float(stats["alpha_escape_mean"]) if stats is not None else np.nan,
        "alpha_escape_opt_sem": float(stats["alpha_escape_sem"]) if stats is not None else np.nan,
        "alpha_escape_opt_median": float(stats["alpha_escape_median"]) if stats is not None else np.nan,
        "eta_max_stable": float(eta_from_eta_over_p(result.eta_over_p_max_stable, p)),
        "grid_reaches_instability": np.int8(result.reaches_instability),
        "eta_opt_at_grid_edge": np.int8(result.at_lower_edge),
        "eta_opt_at_stability_edge": np.int8(result.at_stability_edge),
    }
    for name, value in scalars.items():
        ds[name] = ((), value)
    ds = ds.assign_coords(eta=("eta_over_p", eta_from_eta_over_p(ds.eta_over_p.values, p)))
    ds.attrs = {"p": p, "pstar": pstar, "N": N, "outcome": result.outcome.name.lower(),
                "quadsgd_version": __version__}
    return annotate(ds)


def _warnings_for(p: int, pstar: int, opt: xr.Dataset, top: float) -> list[str]:
    messages = []
    if opt.attrs.get("outcome") == EtaOptOutcome.NONE_ESCAPED.name.lower():
        return [f"p={p}, pstar={pstar}: no learning rate lets every seed escape"]
    if not int(opt["grid_reaches_instability"]):
        messages.append(f"p={p}, pstar={pstar}: every seed still escapes at the largest eta/p {top:g}; "
                        "extend the grid to reach instability")
    if int(opt["eta_opt_at_grid_edge"]):
        messages.append(f"p={p}, pstar={pstar}: eta_opt/p={float(opt['eta_opt_over_p']):g} is the smallest "
                        "stable learning rate scanned; extend the grid downwards")
    return messages


def summarize(
    sweep: xr.Dataset,
    optima: Mapping[tuple[int, int], xr.Dataset],
    sgd: Sequence[xr.Dataset] = (),
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Escape statistics and optimal learning rates from a combined sweep and the stored optima.

    Parameters
    ----------
    sweep : dims ``(p, pstar, eta_over_p, seed, ...)`` as from :func:`combine_scans`.
    optima : per ``(p, pstar)`` the dataset of :func:`optimum_dataset` (every pair of the sweep).
    sgd : datasets from :func:`quadsgd.sweep.drivers.sgd_curves`; their SGD escape statistics are
        stored separately, as ``sgd_*`` variables on their own dims ``(sgd_p, sgd_pstar, sgd_N)``.

    Returns
    -------
    Dataset with ``alpha_escape_mean/sem/median``, ``n_runs``, ``n_escaped``, ``n_censored``,
    ``n_diverged``, ``n_converged``, ``n_settled``, ``n_max_steps`` over ``(p, pstar, eta_over_p)``;
    :data:`OPTIMUM_VARIABLES` over ``(p, pstar)``; the learning rates added by the search ``refine_eta_over_p``,
    ``refine_alpha_escape_mean``, ``refine_n_escaped``, ``refine_n_settled``, ``refine_n_diverged``
    over ``(p, pstar, refine)``; ``eta_zero_error_edge`` over ``(p, pstar)``, the raw learning rate
    at which the zero-error manifold loses linear stability
    (:func:`quadsgd.theory.eta_zero_error_edge`, NaN for p < pstar), beside ``eta_max_stable``;
    ``eta_opt_exponent`` (+ ``_se``, ``eta_opt_prefactor``) over ``pstar``, fitted over the
    widths ``p >= pstar``. Issues a :class:`GridWarning` per problem found by the search.
    """
    out = escape_statistics(sweep, "seed")
    ps, pstars = [int(v) for v in sweep.p.values], [int(v) for v in sweep.pstar.values]
    missing = [(p, s) for p in ps for s in pstars if (p, s) not in optima]
    if missing:
        raise ValueError(f"no stored optimum for (p, pstar) in {missing}")
    shape = (len(ps), len(pstars))
    n_refine = max(optima[key].sizes["eta_over_p"] for key in optima)
    table = {name: np.full(shape, np.nan) for name in OPTIMUM_VARIABLES}
    ref_eta = np.full(shape + (n_refine,), np.nan)
    ref_mean = np.full(shape + (n_refine,), np.nan)
    ref_n = np.full(shape + (n_refine,), -1, dtype=np.int64)
    ref_settled = np.full(shape + (n_refine,), -1, dtype=np.int64)
    ref_diverged = np.full(shape + (n_refine,), -1, dtype=np.int64)
    edge = np.full(shape, np.nan)
    top = float(sweep.eta_over_p.values[-1])
    for i, p in enumerate(ps):
        for j, pstar in enumerate(pstars):
            opt = optima[(p, pstar)]
            edge[i, j] = eta_zero_error_edge(p, pstar)
            for message in _warnings_for(p, pstar, opt, top):
                warnings.warn(message, GridWarning, stacklevel=2)
            for name in OPTIMUM_VARIABLES:
                table[name][i, j] = float(opt[name])
            m = opt.sizes["eta_over_p"]
            if m:
                st = escape_statistics(opt.assign_attrs(p=p, pstar=pstar), "seed")
                ref_settled[i, j, :m] = st["n_settled"].values
                ref_diverged[i, j, :m] = st["n_diverged"].values
                ref_eta[i, j, :m] = opt.eta_over_p.values
                ref_mean[i, j, :m] = st["alpha_escape_mean"].values
                ref_n[i, j, :m] = st["n_escaped"].values
    for name, values in table.items():
        is_flag = name.startswith(("grid_", "eta_opt_at_"))
        out[name] = (("p", "pstar"), values.astype(np.int8) if is_flag else values)
    out["refine_eta_over_p"] = (("p", "pstar", "refine"), ref_eta)
    out["refine_alpha_escape_mean"] = (("p", "pstar", "refine"), ref_mean)
    out["refine_n_escaped"] = (("p", "pstar", "refine"), ref_n)
    out["refine_n_settled"] = (("p", "pstar", "refine"), ref_settled)
    out["refine_n_diverged"] = (("p", "pstar", "refine"), ref_diverged)
    out["eta_zero_error_edge"] = (("p", "pstar"), edge)
    out = out.assign_coords(refine=np.arange(n_refine))
    # The fit covers p >= p*, the regime the paper's scaling is about: for p < p* the student
    # cannot reach zero error and "escape" ends on a different, higher-risk state.
    fits = []
    for s in pstars:
        wide = [p for p in ps if p >= s]
        fits.append(fit_power_law(wide, out["eta_opt"].sel(pstar=s, p=wide).values))
    out["eta_opt_exponent"] = ("pstar", np.array([f.exponent for f in fits]))
    out["eta_opt_exponent_se"] = ("pstar", np.array([f.exponent_se for f in fits]))
    out["eta_opt_prefactor"] = ("pstar", np.array([f.prefactor for f in fits]))
    if sgd:
        out = out.merge(_sgd_statistics(sgd))
    out.attrs = {"quadsgd_version": __version__,
                 "source": "ODE escape times from random M(0) (docs/conventions.md section 6); "
                           "sgd_* variables: finite-N SGD, reported separately", **dict(attrs or {})}
    return annotate(out)


def _sgd_statistics(runs: Sequence[xr.Dataset]) -> xr.Dataset:
    """SGD escape statistics of :func:`sgd_curves` outputs on dims ``(sgd_p, sgd_pstar, sgd_N)``."""
    parts = []
    for ds in runs:
        st = escape_statistics(ds.sel(dynamics="sgd"), "seed").drop_vars(["dynamics", "eta"], errors="ignore")
        st = st.expand_dims(sgd_p=[int(ds.attrs["p"])], sgd_pstar=[int(ds.attrs["pstar"])],
                            sgd_N=[int(ds.attrs["N"])])
        st["eta"] = (("sgd_p", "sgd_pstar", "sgd_N"), np.full((1, 1, 1), ds.attrs["eta"]))
        parts.append(st)
    combined = xr.combine_by_coords(parts, combine_attrs="drop", join="outer")
    assert isinstance(combined, xr.Dataset)
    return combined.rename({name: f"sgd_{name}" for name in combined.data_vars})


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Number of runs per :class:`~quadsgd.status.Status` name in ``ds["status"]``."""
    values = np.asarray(ds["status"].values)
    return {s.name.lower(): int(np.sum(values == s)) for s in Status}
