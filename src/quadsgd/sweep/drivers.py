"""Drivers: the sweep's computations on a grid of seeds and learning rates, split into tasks.

Each driver builds independent tasks and runs them with :func:`quadsgd.sweep.execute.map_tasks`
(on a Dask client when one is given). Learning rates of the ODE scans are given as ``eta / p``
(:mod:`quadsgd.grids`); stored datasets use ``eta_over_p`` as the dimension and carry the raw
``eta`` as a coordinate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd import __version__, _validate
from quadsgd.eta_opt import DEFAULT_SEARCH, EtaOptResult, EtaOptSearch, search_eta_opt
from quadsgd.grids import eta_from_eta_over_p, log_alpha_grid, round_grid, sample_counts, sgd_alpha_grid
from quadsgd.implicit_bias import distance_to_solution, polar_drift, polar_factor
from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.schema import annotate
from quadsgd.sgd import LANES, simulate
from quadsgd.sweep.execute import map_tasks
from quadsgd.sweep.plan import task_blocks

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from distributed import Client

__all__ = ["SCAN_VARIABLES", "ode_scan", "ode_scans", "find_eta_opt", "sgd_seed_runs", "sgd_curves",
           "implicit_bias_runs"]

#: Fewest seeds per SGD task run side by side; fewer run one per task (see :func:`sgd_seed_runs`).
_FEWEST_LANES = 8

#: Variables of the ODE scans kept in the sweep (the final overlaps have p-dependent shapes).
SCAN_VARIABLES = ("risk", "status", "alpha_escape", "alpha_stop", "n_steps")


def _scan_block(
    p: int,
    pstar: int,
    eta_over_p: NDArray[np.float64],
    seeds: NDArray[np.int64],
    N: int,
    alpha: NDArray[np.float64],
    escape_fraction: float,
) -> xr.Dataset:
    # Every eta of a seed starts from the same M(0): common random numbers across the scan.
    Q0, M0, T = ode_initial(p, pstar, N, seeds)
    ds = integrate(Q0[None], M0[None], eta_from_eta_over_p(eta_over_p, p)[:, None], alpha, T,
                   escape_fraction=escape_fraction, overlaps="final", batch_dims=("eta_over_p", "seed"),
                   coords={"seed": seeds})
    ds = ds[list(SCAN_VARIABLES)].drop_vars(["k", "l", "r", "eta"], errors="ignore")
    return ds.assign_coords(eta_over_p=eta_over_p, eta=("eta_over_p", eta_from_eta_over_p(eta_over_p, p)))


def ode_scan(
    p: int,
    pstar: int,
    *,
    eta_over_p: ArrayLike,
    seeds: ArrayLike,
    N: int,
    alpha: ArrayLike,
    escape_fraction: float = 0.5,
    points_per_task: int = 16,
    client: Client | Executor | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """ODE escape times of one ``(p, pstar)`` on the ``(eta_over_p, seed)`` grid.

    Each seed starts from the paper's ``M(0) ~ N(0, 1/N)`` (the same for every eta). The grid
    is cut into tasks of about ``points_per_task`` points (:func:`quadsgd.sweep.plan.task_blocks`).

    Returns
    -------
    Dataset with dims ``(eta_over_p, seed, alpha)``: ``risk (eta_over_p, seed, alpha)``,
    ``status``, ``alpha_escape``, ``alpha_stop``, ``n_steps (eta_over_p, seed)``, coordinate
    ``eta (eta_over_p)`` (raw learning rate), attrs ``p``, ``pstar``, ``N``, ``escape_fraction``.
    Raises ``ValueError`` for invalid sizes, learning rates, seeds or grids.
    """
    return ode_scans([(p, pstar, eta_over_p)], seeds=seeds, N=N, alpha=alpha, escape_fraction=escape_fraction,
                     points_per_task=points_per_task, client=client, progress=progress,
                     desc=f"ODE p={p} p*={pstar}")[0]


def ode_scans(
    cases: Sequence[tuple[int, int, ArrayLike]],
    *,
    seeds: ArrayLike,
    N: int,
    alpha: ArrayLike,
    escape_fraction: float = 0.5,
    points_per_task: int = 16,
    client: Client | Executor | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[xr.Dataset]:
    """:func:`ode_scan` of several ``(p, pstar, eta_over_p)`` cases, their tasks in one map (so a
    job of many small cases keeps every worker busy); one dataset per case, in order, each
    identical to that case's :func:`ode_scan`. ``desc`` names the progress lines (default: the
    number of cases)."""
    seed_arr = _validate.seed_coordinate("seeds", seeds)
    grid = _validate.alpha_grid("alpha", alpha)
    per_task = _validate.positive_int("points_per_task", points_per_task)
    tasks, shapes, checked = [], [], []
    for p, pstar, eta_over_p in cases:
        p_, pstar_, N_ = _validate.widths(p, pstar, N)
        etas = np.atleast_1d(_validate.positive_array("eta_over_p", eta_over_p))
        eta_slices, seed_slices = task_blocks(etas.size, seed_arr.size, per_task)
        tasks += [(p_, pstar_, etas[e], seed_arr[s], N_, grid, escape_fraction)
                  for e in eta_slices for s in seed_slices]
        shapes.append((len(eta_slices), len(seed_slices)))
        checked.append((p_, pstar_, N_))
    # Widest students first (a step costs ~ (p + pstar)^2): the job's last tasks are then short
    # ones, not a p = 8 block that leaves the other workers idle until it ends.
    order = sorted(range(len(tasks)), key=lambda i: -(tasks[i][0] + tasks[i][1]) ** 2 * tasks[i][2].size
                   * tasks[i][3].size)
    done = map_tasks(_scan_block, [tasks[i] for i in order], client,
                     desc=desc or f"ODE {len(checked)} (p, p*) case(s)", progress=progress)
    parts: list[xr.Dataset] = [xr.Dataset()] * len(tasks)
    for i, part in zip(order, done, strict=True):
        parts[i] = part
    out, start = [], 0
    for (p_, pstar_, N_), (n_eta, n_seed) in zip(checked, shapes, strict=True):
        mine = parts[start : start + n_eta * n_seed]
        start += n_eta * n_seed
        rows = [mine[i : i + n_seed] for i in range(0, len(mine), n_seed)]
        ds = xr.combine_nested(rows, concat_dim=["eta_over_p", "seed"], data_vars="all", coords="minimal",
                               compat="override", combine_attrs="override")
        ds.attrs = {"p": p_, "pstar": pstar_, "N": N_, "escape_fraction": escape_fraction,
                    "quadsgd_version": __version__}
        out.append(annotate(ds))
    return out


def find_eta_opt(
    p: int,
    pstar: int,
    *,
    seeds: ArrayLike,
    N: int = 10_000,
    eta_over_p: ArrayLike | None = None,
    alpha_max: float = 1e4,
    alpha_points: int = 64,
    escape_fraction: float = 0.5,
    search: EtaOptSearch = DEFAULT_SEARCH,
    client: Client | Executor | None = None,
    progress: bool = False,
) -> EtaOptResult:
    """Optimal learning rate of ``(p, pstar)`` from ODE escape times averaged over ``seeds``.

    Scans the starting grid ``eta_over_p`` (default 8 log-spaced values from 0.02 to 0.3; values
    rounded to 12 significant digits, as every grid of the project), then
    runs :func:`quadsgd.eta_opt.search_eta_opt` with the same scanner the pipeline uses.
    ``eta = p * result.eta_over_p_opt``; ``result.statistics()`` gives the escape statistics there.
    """
    grid = round_grid(np.geomspace(0.02, 0.3, 8) if eta_over_p is None else np.sort(np.ravel(eta_over_p)))
    alpha = log_alpha_grid(alpha_max, num=alpha_points)

    def run(values: NDArray[np.float64]) -> xr.Dataset:
        return ode_scan(p, pstar, eta_over_p=values, seeds=seeds, N=N, alpha=alpha,
                        escape_fraction=escape_fraction, client=client, progress=progress)

    return search_eta_opt(run(grid), run, search)


def _polar_variables(ds: xr.Dataset, M0: NDArray[np.float64], M0_dims: tuple[str, ...]) -> xr.Dataset:
    """Add the polar factor ``C`` of ``M`` and its drift from that of ``M0`` (finite members only)."""
    M = ds["M"].values
    M0_b = xr.DataArray(M0, dims=M0_dims).broadcast_like(ds["M"]).transpose(*ds["M"].dims).values
    ok = np.isfinite(M).all(axis=(-2, -1))
    C = np.full(M.shape, np.nan)
    drift = np.full(M.shape[:-2], np.nan)
    C[ok] = polar_factor(M[ok])
    drift[ok] = polar_drift(M[ok], M0_b[ok])
    ds["C"] = (ds["M"].dims, C)
    ds["polar_drift"] = (ds["M"].dims[:-2], drift)
    return ds


def _sgd_seeds_task(p: int, pstar: int, eta: float, N: int, seeds: NDArray[np.int64], alpha: NDArray[np.float64],
                    escape_fraction: float, noise: float, stop_at_escape: bool) -> xr.Dataset:
    return simulate(p, pstar, eta=eta, N=N, seed=seeds, method="gram", alpha=alpha, escape_fraction=escape_fraction,
                    noise=noise, stop_at_escape=stop_at_escape)


def sgd_seed_runs(
    p: int,
    pstar: int,
    *,
    eta: ArrayLike,
    N: ArrayLike,
    seeds: ArrayLike,
    alpha: ArrayLike,
    escape_fraction: float = 0.5,
    noise: ArrayLike = 0.0,
    stop_at_escape: bool = False,
    client: Client | Executor | None = None,
    desc: str | None = None,
    progress: bool = True,
) -> list[xr.Dataset]:
    """Gram-chain SGD (:func:`quadsgd.sgd.simulate`, ``method="gram"``) of all ``seeds`` at each
    case ``(eta, N, noise)``, a task's seeds advancing side by side in the kernel's lanes.

    ``eta``, ``N`` and ``noise`` are scalars or arrays broadcast together; each element is a
    case. A case's ``S`` seeds become, in order, ``max(m, ceil(S / 16))`` contiguous chunks of
    near-equal size (16 = ``sgd.LANES``) if that leaves at least 8 seeds per chunk, else ``S``
    one-seed chunks; one ``simulate`` call (task) per chunk. ``m = 2`` with a client (a job has
    two cores or more, and one task would leave all but one idle), ``m = 1`` without (the tasks
    run one after the other). Why 8: from 8 runs side by side the lane kernel costs less per
    run-sample than one run per call at every width; with fewer it does not at (8, 8)
    (docs/performance.md, section 3). The tasks of all cases go into one map (so the cases of a job keep every
    worker busy), the largest N first (a run draws ``alpha N`` samples). A seed's run does not
    depend on the other seeds of its call, so the numbers are those of one ``simulate`` call per
    seed (and of one call with all ``seeds``), whatever the chunks.

    Returns
    -------
    One dataset per case, in C order of the broadcast shape: the :func:`quadsgd.sgd.simulate`
    schema with dims ``(seed, alpha, k, l, r)``, ``seed`` in the order given, scalar coordinate
    ``eta``, attrs ``p``, ``pstar``, ``N``, ``escape_fraction``, ``escape_threshold``.
    Raises ``ValueError`` (before any run) for invalid widths, learning rates, noise, seeds
    (1-D, at least one) or grid (also one finer than a sample at some N).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    etas, noises = _validate.eta_and_noise(eta, noise)
    try:
        shape = np.broadcast_shapes(etas.shape, np.shape(N))
    except ValueError:
        raise ValueError(f"N must broadcast with eta and noise; got shapes {np.shape(N)} and {etas.shape}") from None
    etas, noises = (np.broadcast_to(a, shape).ravel() for a in (etas, noises))
    Ns = [_validate.widths(p, pstar, n)[2] for n in np.broadcast_to(np.asarray(N, dtype=object), shape).ravel()]
    seed_arr = _validate.seed_coordinate("seeds", seeds)
    grid = _validate.alpha_grid("alpha", alpha)
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    for n in set(Ns):
        sample_counts(grid, n)
    least, S = (1 if client is None else 2), seed_arr.size
    count = max(least, -(-S // LANES)) if S >= _FEWEST_LANES * least else S
    chunks = np.array_split(seed_arr, count)
    tasks = [(p, pstar, float(e), n, c, grid, escape_fraction, float(v), bool(stop_at_escape))
             for e, n, v in zip(etas, Ns, noises, strict=True) for c in chunks]
    order = sorted(range(len(tasks)), key=lambda i: -Ns[i // len(chunks)])
    done = map_tasks(_sgd_seeds_task, [tasks[i] for i in order], client,
                     desc=desc or f"SGD p={p} p*={pstar}, {len(Ns)} case(s)", progress=progress)
    parts: list[xr.Dataset] = [xr.Dataset()] * len(tasks)
    for i, part in zip(order, done, strict=True):
        parts[i] = part
    return [xr.concat(parts[i : i + len(chunks)], dim="seed", data_vars="all", coords="minimal", compat="override",
                      join="exact", combine_attrs="override")
            for i in range(0, len(parts), len(chunks))]


def sgd_curves(
    p: int,
    pstar: int,
    *,
    N: int,
    eta: float,
    seeds: ArrayLike,
    alpha_max: float,
    alpha_points: int = 120,
    escape_fraction: float = 0.5,
    client: Client | Executor | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Finite-N SGD (exact Gram chain) and the ODE started from each run's measured ``M(0)``.

    The recording grid is :func:`quadsgd.grids.sgd_alpha_grid` (whole samples). The seeds run in
    tasks of several seeds each (:func:`sgd_seed_runs`).

    Returns
    -------
    Dataset with dims ``(dynamics, seed, alpha, k, l, r)``, ``dynamics = ["sgd", "ode"]``:
    ``risk (dynamics, seed, alpha)``, ``Q (dynamics, seed, alpha, k, l)``, ``M (..., k, r)``,
    ``status``, ``alpha_escape (dynamics, seed)``, ``M0 (seed, k, r)``, and for ``p >= pstar``
    the polar factor ``C (dynamics, seed, alpha, k, r)`` and ``polar_drift (dynamics, seed, alpha)``.
    """
    p, pstar, N_ = _validate.widths(p, pstar, N)
    eta = _validate.positive_real("eta", eta)
    seed_arr = _validate.seed_coordinate("seeds", seeds)
    alpha = sgd_alpha_grid(alpha_max, N_, alpha_points)
    sgd = sgd_seed_runs(p, pstar, eta=eta, N=N_, seeds=seed_arr, alpha=alpha, escape_fraction=escape_fraction,
                        client=client, desc=f"SGD p={p} p*={pstar} N={N_}", progress=progress)[0]
    M0 = sgd["M0"].values
    ode = integrate(np.eye(p), M0, eta, sgd.alpha.values, escape_fraction=escape_fraction,
                    batch_dims=("seed",), coords={"seed": seed_arr})
    keep = ["risk", "Q", "M", "status", "alpha_escape", "alpha_stop"]
    dynamics = xr.DataArray(np.array(["sgd", "ode"]), dims="dynamics", name="dynamics")
    ds = xr.concat([sgd[keep], ode[keep]], dim=dynamics, data_vars="all", coords="minimal", compat="override",
                   join="exact", combine_attrs="drop")
    ds["M0"] = sgd["M0"]
    if p >= pstar:
        ds = _polar_variables(ds, M0, ("seed", "k", "r"))
    ds.attrs = {"p": p, "pstar": pstar, "N": N_, "eta": eta, "escape_fraction": escape_fraction,
                "sgd_method": "gram", "quadsgd_version": __version__}
    return annotate(ds)


def _ib_task(p: int, pstar: int, N: int, eta: float, seed: int, alpha: NDArray[np.float64]) -> xr.Dataset:
    Q0, M0, T = ode_initial(p, pstar, N, np.array([seed]))
    return integrate(Q0, M0, eta, alpha, T, batch_dims=("seed",), coords={"seed": [seed]})


def implicit_bias_runs(
    p: int,
    pstar: int,
    *,
    N: int,
    eta: float,
    seeds: ArrayLike,
    alpha: ArrayLike,
    client: Client | Executor | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """ODE trajectories from the paper's random ``M(0)`` and their distance to predicted solutions.

    ``distance (seed, prediction, alpha)`` is the distance of the trajectory of ``seed`` to the
    closest solution predicted from the ``M(0)`` of ``prediction``: the diagonal is the matched
    prediction (which should go to zero), the rest mismatched ones (which should not).
    Also ``Q (seed, alpha, k, l)``, ``M (seed, alpha, k, r)``, ``risk``, ``M0 (seed, k, r)``,
    ``C (seed, alpha, k, r)`` and ``polar_drift (seed, alpha)``. Needs ``p >= pstar``
    (``ValueError`` otherwise). One task per seed.
    """
    p, pstar, N_ = _validate.widths(p, pstar, N)
    if p < pstar:
        raise ValueError(f"the implicit bias needs p >= pstar; got p={p}, pstar={pstar}")
    eta = _validate.positive_real("eta", eta)
    seed_arr = _validate.seed_coordinate("seeds", seeds)
    grid = _validate.alpha_grid("alpha", alpha)
    tasks = [(p, pstar, N_, eta, int(s), grid) for s in seed_arr]
    runs = map_tasks(_ib_task, tasks, client, desc=f"implicit bias p={p} p*={pstar}", progress=progress)
    ds = xr.concat(runs, dim="seed", data_vars="all", coords="minimal", compat="override",
                   combine_attrs="override")
    Q, M, M0 = ds["Q"].values, ds["M"].values, ds["M0"].values
    dist = np.stack([distance_to_solution(Q, M, M0[j][None, None]) for j in range(seed_arr.size)], axis=1)
    ds["distance"] = (("seed", "prediction", "alpha"), dist)
    ds = ds.assign_coords(prediction=seed_arr)
    ds = _polar_variables(ds, M0, ("seed", "k", "r"))
    ds.attrs.update(N=N_, eta=eta)
    return annotate(ds)
