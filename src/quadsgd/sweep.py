"""The parameter sweep behind the pipeline, usable without Snakemake.

Learning rates are gridded in ``eta / p`` (``eta_over_p``): on the plateau ``dM/dalpha =
(4 eta / (p p*)) M`` (PHYSICS.md section 5), so at fixed ``eta / p`` the escape rate depends on
``p*`` only, and the stability edge and ``eta_opt`` sit at comparable ``eta / p`` for every p.
One log-spaced ``eta / p`` grid therefore brackets the optimum and the divergence edge for all
widths; :func:`summarize` checks that it does (``grid_reaches_instability``). Stored datasets
use ``eta_over_p`` as the dimension and carry the raw ``eta`` as a coordinate.

Work is split into independent tasks (blocks of ``(eta, seed)`` points) that run on a Dask
client when one is given, sequentially otherwise. A member's result does not depend on its
task (initial conditions are keyed by seed, the integrator is per member), so any split gives
identical numbers.

Functions:

- :func:`eta_over_p_grid`, :func:`eta_blocks`: the grid and its split into jobs.
- :func:`ode_scan`: ODE escape times on an ``(eta_over_p, seed)`` block of one ``(p, pstar)``.
- :func:`combine_scans`: per-job scans into one ``(p, pstar, eta_over_p, seed, alpha)`` dataset.
- :func:`refine_eta_opt`: extra learning rates around the grid minimum of one ``(p, pstar)``.
- :func:`sgd_curves`: finite-N SGD runs and the ODE from each run's measured ``M(0)``.
- :func:`implicit_bias`: ODE trajectories, distances to predicted solutions, polar factors.
- :func:`summarize`: escape statistics, ``eta_opt``, the exponent of ``eta_opt ~ p^a``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd import __version__
from quadsgd.escape import escape_statistics, fit_power_law, scan_eta
from quadsgd.implicit_bias import distance_to_solution, polar_drift, polar_factor
from quadsgd.init import ode_initial, validate_problem
from quadsgd.ode import integrate, log_alpha_grid
from quadsgd.sgd import simulate
from quadsgd.storage import Status, annotate

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "eta_over_p_grid",
    "job_slices",
    "eta_blocks",
    "map_tasks",
    "ode_scan",
    "combine_scans",
    "refine_eta_opt",
    "sgd_curves",
    "implicit_bias",
    "summarize",
    "config_attrs",
    "config_fingerprint",
    "check_results_fingerprint",
    "FINGERPRINT_FILE",
    "status_counts",
    "default_alpha_grid",
    "GridWarning",
]

log = logging.getLogger(__name__)
R = TypeVar("R")

#: Variables of the ODE scans kept in the sweep (the final overlaps have p-dependent shapes).
SCAN_VARIABLES = ("risk", "status", "alpha_escape", "alpha_stop", "n_steps")


class GridWarning(UserWarning):
    """The learning-rate grid does not bracket the optimum or the divergence edge."""


def eta_over_p_grid(minimum: float, maximum: float, num: int) -> NDArray[np.float64]:
    """``num`` log-spaced values of ``eta / p`` from ``minimum`` to ``maximum``, shape (num,).

    Values are rounded to 12 significant digits so that the same configuration gives the same
    floats (and coordinates that align exactly) in every job.
    """
    if not 0 < minimum < maximum or num < 2:
        raise ValueError(f"need 0 < minimum < maximum and num >= 2; got {minimum}, {maximum}, {num}")
    return np.array([float(f"{v:.12g}") for v in np.geomspace(minimum, maximum, num)])


def job_slices(n: int, per_job: int) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``per_job`` items."""
    if n < 1 or per_job < 1:
        raise ValueError(f"need n >= 1 and per_job >= 1; got {n}, {per_job}")
    return [slice(a, min(n, a + per_job)) for a in range(0, n, per_job)]


def eta_blocks(n_eta: int, n_seeds: int, points_per_block: int) -> list[slice]:
    """Slices of the ``eta`` axis whose blocks (all seeds of each eta) hold about
    ``points_per_block`` ``(eta, seed)`` points: whole learning rates, at least one per block."""
    return job_slices(n_eta, max(1, points_per_block // max(1, n_seeds)))


def map_tasks(
    fn: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    client: Client | None = None,
    *,
    desc: str = "tasks",
    progress: bool = True,
) -> list[R]:
    """``[fn(*t) for t in tasks]``, on ``client`` if given, in the order of ``tasks``.

    Completion is logged (and shown by tqdm on stderr when ``progress``) as tasks finish, so
    long jobs report where they are.
    """
    from tqdm.auto import tqdm

    results: list[R | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc=desc, unit="task", disable=not progress, mininterval=1.0)
    if client is None:
        for i, t in enumerate(tasks):
            results[i] = fn(*t)
            bar.update()
            log.info("%s: %d/%d done", desc, i + 1, len(tasks))
    else:
        from distributed import as_completed

        futures = [client.submit(fn, *t, pure=False) for t in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[index[fut.key]] = fut.result()
            bar.update()
            log.info("%s: %d/%d done", desc, done, len(tasks))
    bar.close()
    return results  # type: ignore[return-value]


def _scan_block(
    p: int,
    pstar: int,
    eta_over_p: NDArray[np.float64],
    seeds: NDArray[np.int64],
    N: int,
    alpha: NDArray[np.float64],
    escape_fraction: float,
) -> xr.Dataset:
    ds = scan_eta(p, pstar, eta_over_p * p, seeds, N, alpha=alpha, escape_fraction=escape_fraction)
    ds = ds[list(SCAN_VARIABLES)].drop_vars(["k", "l", "r"], errors="ignore")
    ds = ds.rename({"eta": "eta_over_p"}).assign_coords(eta_over_p=eta_over_p)
    return ds.assign_coords(eta=("eta_over_p", eta_over_p * p))


def ode_scan(
    p: int,
    pstar: int,
    eta_over_p: ArrayLike,
    seeds: ArrayLike,
    N: int,
    *,
    alpha: ArrayLike,
    escape_fraction: float = 0.5,
    points_per_task: int = 16,
    client: Client | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """ODE escape times of one ``(p, pstar)`` on the ``(eta_over_p, seed)`` grid.

    Each seed starts from the paper's ``M(0) ~ N(0, 1/N)`` (the same for every eta). The grid
    is cut into tasks of about ``points_per_task`` points (whole seeds per eta block).

    Returns
    -------
    Dataset with dims ``(eta_over_p, seed, alpha)``: ``risk (eta_over_p, seed, alpha)``,
    ``status``, ``alpha_escape``, ``alpha_stop``, ``n_steps (eta_over_p, seed)``, coordinate
    ``eta (eta_over_p)`` (raw learning rate), attrs ``p``, ``pstar``, ``N``.
    """
    p, pstar, N_ = validate_problem(p, pstar, N)
    etas = np.atleast_1d(np.asarray(eta_over_p, dtype=np.float64))
    seed_arr = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    grid = np.asarray(alpha, dtype=np.float64)
    seeds_per_task = max(1, min(seed_arr.size, points_per_task))
    etas_per_task = max(1, points_per_task // seeds_per_task)
    tasks = [
        (p, pstar, etas[e], seed_arr[s], N_, grid, escape_fraction)
        for e in job_slices(etas.size, etas_per_task)
        for s in job_slices(seed_arr.size, seeds_per_task)
    ]
    parts = map_tasks(_scan_block, tasks, client, desc=f"ODE p={p} p*={pstar}", progress=progress)
    n_seed_blocks = len(job_slices(seed_arr.size, seeds_per_task))
    rows = [parts[i : i + n_seed_blocks] for i in range(0, len(parts), n_seed_blocks)]
    ds = xr.combine_nested(rows, concat_dim=["eta_over_p", "seed"], data_vars="all", coords="minimal",
                           compat="override", combine_attrs="override")
    ds.attrs = {"p": p, "pstar": pstar, "N": N_, "escape_fraction": escape_fraction,
                "quadsgd_version": __version__}
    return annotate(ds)


def combine_scans(scans: Iterable[xr.Dataset], attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Combine per-job ODE scans (any ``(p, pstar)`` and ``eta_over_p`` blocks) into one dataset.

    Returns dims ``(p, pstar, eta_over_p, seed, alpha)``; the raw learning rate becomes the
    coordinate ``eta (p, eta_over_p)``. Every ``(p, pstar)`` must cover the same ``eta_over_p``
    and seeds (``ValueError`` otherwise: a gap would silently bias the statistics).
    """
    pieces = []
    for ds in scans:
        d = ds.drop_vars("eta").expand_dims(p=[int(ds.attrs["p"])], pstar=[int(ds.attrs["pstar"])])
        pieces.append(d)
    if not pieces:
        raise ValueError("no scans to combine")
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
    out = out.assign_coords(eta=out.p * out.eta_over_p)
    out["status"] = out["status"].astype(np.int8)
    out.attrs = {"quadsgd_version": __version__, "eta_axis": "eta_over_p = eta / p; eta is a coordinate",
                 **dict(attrs or {})}
    return annotate(out)


def _means_if_all_escaped(scan: xr.Dataset) -> NDArray[np.float64]:
    stats = escape_statistics(scan, "seed")
    return stats["alpha_escape_mean"].where(stats["n_escaped"] == stats["n_runs"]).values


def refine_eta_opt(
    scan: xr.Dataset,
    run: Callable[[NDArray[np.float64]], xr.Dataset],
    *,
    points: int = 6,
    rounds: int = 2,
) -> xr.Dataset | None:
    """Learning rates added around the minimum of the mean escape time of one ``(p, pstar)``.

    ``scan`` has dims ``(eta_over_p, seed)`` (as from :func:`ode_scan`); ``run(eta_over_p)``
    scans new points with the same seeds. Each round puts ``points`` log-spaced values between
    the neighbours of the current best point (among those where every seed escapes). Returns
    the refinement points only (dims ``(eta_over_p, seed, ...)``, sorted), or None when no
    learning rate lets every seed escape.
    """
    merged, added = scan, []
    for _ in range(rounds):
        means = _means_if_all_escaped(merged)
        if np.all(np.isnan(means)):
            break
        etas = merged.eta_over_p.values
        i = int(np.nanargmin(means))
        lo, hi = etas[max(i - 1, 0)], etas[min(i + 1, etas.size - 1)]
        new = np.geomspace(lo, hi, points + 2)[1:-1]
        new = np.array([float(f"{v:.12g}") for v in new if np.min(np.abs(np.log(v / etas))) > 1e-9])
        if new.size == 0:
            break
        part = run(new)
        added.append(part)
        merged = xr.concat([merged, part], dim="eta_over_p", data_vars="all", coords="minimal",
                           compat="override", join="exact").sortby("eta_over_p")
    if not added:
        return None
    return xr.concat(added, dim="eta_over_p", data_vars="all", coords="minimal", compat="override",
                     join="exact").sortby("eta_over_p")


def _sgd_task(p: int, pstar: int, eta: float, N: int, seed: int, alpha: NDArray[np.float64],
              escape_fraction: float) -> xr.Dataset:
    return simulate(p, pstar, eta, N, seed=np.array([seed]), method="gram", alpha=alpha,
                    escape_fraction=escape_fraction)


def sgd_curves(
    p: int,
    pstar: int,
    N: int,
    eta: float,
    seeds: ArrayLike,
    *,
    alpha_max: float,
    num: int = 120,
    escape_fraction: float = 0.5,
    client: Client | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Finite-N SGD (exact Gram chain) and the ODE started from each run's measured ``M(0)``.

    The recording grid is log-spaced from ``1/N`` to ``alpha_max`` (rounded to whole samples).
    One task per seed.

    Returns
    -------
    Dataset with dims ``(dynamics, seed, alpha, k, l, r)``, ``dynamics = ["sgd", "ode"]``:
    ``risk (dynamics, seed, alpha)``, ``Q (dynamics, seed, alpha, k, l)``, ``M (..., k, r)``,
    ``status``, ``alpha_escape (dynamics, seed)``, ``M0 (seed, k, r)``, and for ``p >= pstar``
    the polar factor ``C (dynamics, seed, alpha, k, r)`` and ``polar_drift (dynamics, seed, alpha)``.
    """
    p, pstar, N_ = validate_problem(p, pstar, N)
    seed_arr = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    samples = np.unique(np.rint(np.concatenate([[0.0], np.geomspace(1.0, alpha_max * N_, num - 1)])))
    alpha = samples / N_
    tasks = [(p, pstar, float(eta), N_, int(s), alpha, escape_fraction) for s in seed_arr]
    runs = map_tasks(_sgd_task, tasks, client, desc=f"SGD p={p} p*={pstar} N={N_}", progress=progress)
    sgd = xr.concat(runs, dim="seed", data_vars="all", coords="minimal", compat="override",
                    combine_attrs="override")
    M0 = sgd["M0"].values
    ode = integrate(np.eye(p), M0, eta, sgd.alpha.values, escape_fraction=escape_fraction,
                    batch_dims=("seed",), coords={"seed": seed_arr})
    keep = ["risk", "Q", "M", "status", "alpha_escape", "alpha_stop"]
    ds = xr.concat([sgd[keep], ode[keep]], dim=xr.DataArray(np.array(["sgd", "ode"]), dims="dynamics", name="dynamics"), data_vars="all",
                   coords="minimal", compat="override", join="exact", combine_attrs="drop")
    ds["M0"] = sgd["M0"]
    if p >= pstar:
        M = ds["M"].values
        C = np.full(M.shape, np.nan)
        drift = np.full(M.shape[:-2], np.nan)
        ok = np.isfinite(M).all(axis=(-2, -1))
        C[ok] = polar_factor(M[ok])
        drift[ok] = polar_drift(M[ok], np.broadcast_to(M0[None, :, None], M.shape)[ok])
        ds["C"] = (ds["M"].dims, C)
        ds["polar_drift"] = (ds["M"].dims[:-2], drift)
    ds.attrs = {"p": p, "pstar": pstar, "N": N_, "eta": float(eta), "escape_fraction": escape_fraction,
                "sgd_method": "gram", "quadsgd_version": __version__}
    return annotate(ds)


def _ib_task(p: int, pstar: int, N: int, eta: float, seed: int, alpha: NDArray[np.float64]) -> xr.Dataset:
    Q0, M0, T = ode_initial(p, pstar, N, np.array([seed]))
    return integrate(Q0, M0, eta, alpha, T, batch_dims=("seed",), coords={"seed": [seed]})


def implicit_bias(
    p: int,
    pstar: int,
    N: int,
    eta: float,
    seeds: ArrayLike,
    *,
    alpha: ArrayLike,
    client: Client | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """ODE trajectories from the paper's random ``M(0)`` and their distance to predicted solutions.

    ``distance (seed, prediction, alpha)`` is the distance of the trajectory of ``seed`` to the
    closest solution predicted from the ``M(0)`` of ``prediction``: the diagonal is the matched
    prediction (which should go to zero), the rest mismatched ones (which should not).
    Also ``Q (seed, alpha, k, l)``, ``M (seed, alpha, k, r)``, ``risk``, ``M0 (seed, k, r)``,
    ``C (seed, alpha, k, r)`` and ``polar_drift (seed, alpha)``. Needs ``p >= pstar``.
    One task per seed.
    """
    p, pstar, N_ = validate_problem(p, pstar, N)
    if p < pstar:
        raise ValueError(f"the implicit bias needs p >= pstar; got p={p}, pstar={pstar}")
    seed_arr = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    grid = np.asarray(alpha, dtype=np.float64)
    tasks = [(p, pstar, N_, float(eta), int(s), grid) for s in seed_arr]
    runs = map_tasks(_ib_task, tasks, client, desc=f"implicit bias p={p} p*={pstar}", progress=progress)
    ds = xr.concat(runs, dim="seed", data_vars="all", coords="minimal", compat="override",
                   combine_attrs="override")
    Q, M, M0 = ds["Q"].values, ds["M"].values, ds["M0"].values
    dist = np.stack([distance_to_solution(Q, M, M0[j][None, None]) for j in range(seed_arr.size)], axis=1)
    ds["distance"] = (("seed", "prediction", "alpha"), dist)
    ds = ds.assign_coords(prediction=seed_arr)
    ok = np.isfinite(M).all(axis=(-2, -1))
    C = np.full(M.shape, np.nan)
    drift = np.full(M.shape[:-2], np.nan)
    C[ok] = polar_factor(M[ok])
    drift[ok] = polar_drift(M[ok], np.broadcast_to(M0[:, None], M.shape)[ok])
    ds["C"] = (("seed", "alpha", "k", "r"), C)
    ds["polar_drift"] = (("seed", "alpha"), drift)
    ds.attrs.update(N=N_, eta=float(eta))
    return annotate(ds)


def summarize(
    sweep: xr.Dataset,
    refined: Mapping[tuple[int, int], xr.Dataset | None] | None = None,
    sgd: Sequence[xr.Dataset] = (),
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Escape statistics and optimal learning rates from a combined sweep.

    Parameters
    ----------
    sweep : dims ``(p, pstar, eta_over_p, seed, ...)`` as from :func:`combine_scans`.
    refined : per ``(p, pstar)`` the refinement points from :func:`refine_eta_opt` (or None).
    sgd : datasets from :func:`sgd_curves`; their SGD escape statistics are stored separately,
        as ``sgd_*`` variables on their own dims ``(sgd_p, sgd_pstar, sgd_N)``.

    Returns
    -------
    Dataset with ``alpha_escape_mean/sem/median``, ``n_runs``, ``n_escaped``, ``n_censored``,
    ``n_diverged`` over ``(p, pstar, eta_over_p)``; ``eta_opt``, ``eta_opt_over_p``,
    ``alpha_escape_opt`` (+ ``_sem``, ``_median``), ``eta_max_stable``,
    ``grid_reaches_instability``, ``eta_opt_at_grid_edge`` (optimum at the smallest stable eta:
    the grid should extend downwards), ``eta_opt_at_stability_edge`` (the next larger scanned eta
    no longer lets every seed escape: the optimum is limited by stability, resolved only to the
    refinement's spacing) over ``(p, pstar)``; refinement
    points ``refine_eta_over_p``, ``refine_alpha_escape_mean``, ``refine_n_escaped`` over
    ``(p, pstar, refine)``; ``eta_opt_exponent`` (+ ``_se``, ``eta_opt_prefactor``) over
    ``pstar``, fitted over the widths ``p >= pstar``. Issues a :class:`GridWarning` for every ``(p, pstar)`` whose grid does not
    reach instability or whose optimum is at the grid's lower edge.
    """
    refined = dict(refined or {})
    grid_stats = escape_statistics(sweep, "seed")
    ps, pstars = [int(v) for v in sweep.p.values], [int(v) for v in sweep.pstar.values]
    shape = (len(ps), len(pstars))
    fields = ("eta_opt", "eta_opt_over_p", "alpha_escape_opt", "alpha_escape_opt_sem", "alpha_escape_opt_median",
              "eta_max_stable")
    table = {name: np.full(shape, np.nan) for name in fields}
    reaches = np.zeros(shape, dtype=np.int8)
    at_edge = np.zeros(shape, dtype=np.int8)
    at_stability = np.zeros(shape, dtype=np.int8)
    n_refine = max([0] + [r.sizes["eta_over_p"] for r in refined.values() if r is not None])
    ref_eta = np.full(shape + (n_refine,), np.nan)
    ref_mean = np.full(shape + (n_refine,), np.nan)
    ref_n = np.full(shape + (n_refine,), -1, dtype=np.int64)
    for i, p in enumerate(ps):
        for j, pstar in enumerate(pstars):
            grid = sweep.sel(p=p, pstar=pstar)
            grid_means = _means_if_all_escaped(grid)
            reaches[i, j] = int(np.isnan(grid_means[-1]))
            if not reaches[i, j]:
                warnings.warn(f"p={p}, pstar={pstar}: every seed still escapes at the largest eta/p "
                              f"{float(grid.eta_over_p[-1]):g}; extend the grid to reach instability",
                              GridWarning, stacklevel=2)
            extra = refined.get((p, pstar))
            scan = grid
            if extra is not None:
                extra = extra.drop_vars("eta", errors="ignore")
                scan = xr.concat([grid.drop_vars("eta"), extra], dim="eta_over_p", data_vars="all",
                                 coords="minimal", compat="override", join="exact").sortby("eta_over_p")
                st = escape_statistics(extra, "seed")
                m = extra.sizes["eta_over_p"]
                ref_eta[i, j, :m] = extra.eta_over_p.values
                ref_mean[i, j, :m] = st["alpha_escape_mean"].values
                ref_n[i, j, :m] = st["n_escaped"].values
            means = _means_if_all_escaped(scan)
            if np.all(np.isnan(means)):
                warnings.warn(f"p={p}, pstar={pstar}: no learning rate lets every seed escape", GridWarning,
                              stacklevel=2)
                continue
            k = int(np.nanargmin(means))
            eta_k = float(scan.eta_over_p[k])
            at_stability[i, j] = int(k + 1 < means.size and np.isnan(means[k + 1]))
            if k == 0 or np.isnan(means[k - 1]):
                at_edge[i, j] = 1
                warnings.warn(f"p={p}, pstar={pstar}: eta_opt/p={eta_k:g} is the smallest stable learning rate "
                              "scanned; extend the grid downwards", GridWarning, stacklevel=2)
            st = escape_statistics(scan.isel(eta_over_p=[k]), "seed").isel(eta_over_p=0)
            table["eta_opt_over_p"][i, j] = eta_k
            table["eta_opt"][i, j] = eta_k * p
            table["alpha_escape_opt"][i, j] = float(st["alpha_escape_mean"])
            table["alpha_escape_opt_sem"][i, j] = float(st["alpha_escape_sem"])
            table["alpha_escape_opt_median"][i, j] = float(st["alpha_escape_median"])
            table["eta_max_stable"][i, j] = float(scan.eta_over_p.values[~np.isnan(means)].max()) * p
    out = grid_stats
    for name, values in table.items():
        out[name] = (("p", "pstar"), values)
    out["grid_reaches_instability"] = (("p", "pstar"), reaches)
    out["eta_opt_at_grid_edge"] = (("p", "pstar"), at_edge)
    out["eta_opt_at_stability_edge"] = (("p", "pstar"), at_stability)
    out["refine_eta_over_p"] = (("p", "pstar", "refine"), ref_eta)
    out["refine_alpha_escape_mean"] = (("p", "pstar", "refine"), ref_mean)
    out["refine_n_escaped"] = (("p", "pstar", "refine"), ref_n)
    out = out.assign_coords(refine=np.arange(n_refine))
    # The fit covers p >= p*, the regime the paper's scaling is about: for p < p* the student
    # cannot reach zero error and "escape" ends on a different, higher-risk state.
    fits = [fit_power_law([p for p in ps if p >= s], out["eta_opt"].sel(pstar=s, p=[p for p in ps if p >= s]).values)
            for s in pstars]
    for key, name in (("exponent", "eta_opt_exponent"), ("exponent_se", "eta_opt_exponent_se"),
                      ("prefactor", "eta_opt_prefactor")):
        out[name] = ("pstar", np.array([f[key] for f in fits]))
    if sgd:
        out = out.merge(_sgd_statistics(sgd))
    out.attrs = {"quadsgd_version": __version__, "source": "ODE escape times from random M(0) (PHYSICS.md 6); "
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


def config_attrs(config: Mapping[str, Any]) -> dict[str, str]:
    """Provenance attributes: the run's configuration (as JSON) and the package version."""
    return {"config": json.dumps(config, sort_keys=True, default=str), "quadsgd_version": __version__}


#: Config sections that determine stored numbers; Dask, resources and the task size do not.
FINGERPRINT_SECTIONS = ("grid", "escape_fraction", "jobs", "refine", "sgd", "implicit_bias", "landscape", "empirical")
#: Where a results directory records the fingerprint of the configuration that filled it.
FINGERPRINT_FILE = ".config_fingerprint"


def _canonical(value: Any) -> Any:
    """Numbers as floats (``1000`` and ``1000.0`` are one setting), containers recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return str(value)


def fingerprint_sections(config: Mapping[str, Any]) -> dict[str, Any]:
    """The numerics-relevant part of a (validated) config: :data:`FINGERPRINT_SECTIONS`, without
    ``jobs.points_per_task`` and the stages' ``enabled`` switches."""
    out: dict[str, Any] = {}
    for key in FINGERPRINT_SECTIONS:
        if key not in config:
            continue
        value = config[key]
        if key == "jobs":
            value = {"points_per_job": value.get("points_per_job")}
        elif isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k != "enabled"}
        out[key] = _canonical(value)
    return out


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """Hash (16 hex digits) of :func:`fingerprint_sections`: equal iff the stored numbers agree."""
    text = json.dumps(fingerprint_sections(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_results_fingerprint(config: Mapping[str, Any], results: str | Path = "results", *,
                              record: bool = False) -> str:
    """Refuse a results directory filled under a different configuration; optionally record ours.

    ``results/.config_fingerprint`` (JSON: fingerprint and the sections it hashes) is written by
    the first run that computes anything there. Raises ``ValueError`` naming the differing
    sections and how to proceed when it holds another fingerprint. Returns the fingerprint.
    """
    results = Path(results)
    path = results / FINGERPRINT_FILE
    ours = config_fingerprint(config)
    sections = fingerprint_sections(config)
    if path.exists():
        try:
            recorded = json.loads(path.read_text())
            theirs, their_sections = str(recorded["fingerprint"]), dict(recorded.get("sections", {}))
        except (ValueError, KeyError, TypeError, OSError) as err:
            raise ValueError(f"{path}: unreadable config fingerprint ({err}); delete it only if every store "
                             f"in {results}/ comes from this configuration") from err
        if theirs != ours:
            differ = sorted(k for k in set(sections) | set(their_sections)
                            if sections.get(k) != their_sections.get(k)) or ["(unknown)"]
            raise ValueError(
                f"{results}/ holds stores from a different configuration (config fingerprint {theirs} in "
                f"{path}, this run's is {ours}; differing config sections: {', '.join(differ)}). Refusing to mix "
                f"them: use another results directory (run the workflow from another directory, e.g. "
                f"snakemake --directory OTHER) or delete {results}/ (and .snakemake/) to start over."
            )
    elif record:
        results.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"fingerprint": ours, "sections": sections}, sort_keys=True, indent=1) + "\n")
        os.replace(tmp, path)
    return ours


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Number of runs per :class:`~quadsgd.storage.Status` name in ``ds["status"]``."""
    values = np.asarray(ds["status"].values)
    return {s.name.lower(): int(np.sum(values == s)) for s in Status}


def default_alpha_grid(alpha_max: float, num: int) -> NDArray[np.float64]:
    """The ODE recording grid of the sweep: ``log_alpha_grid(alpha_max, num)``."""
    if not math.isfinite(alpha_max):
        raise ValueError(f"alpha_max must be finite; got {alpha_max}")
    return log_alpha_grid(alpha_max, num=num)
