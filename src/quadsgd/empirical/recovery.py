"""Teacher recovery as a function of ``alpha = n / d``: per-instance verdicts, sweeps and their summary.

For ``m >= d`` the student represents every PSD matrix, so the flow always reaches zero
training error (Thm. 4.1 of arXiv:2006.15459); the observable is whether ``A_inf = A*``. A flow
run is recovered iff ``rel_error = |A - A*|_F / |A*|_F < tol`` at ``t_max`` (default ``tol = 1e-2``)
**and** no PSD fit of the data other than ``A*`` is certified from its end point
(:func:`quadsgd.empirical.second_fit_witness`): a run that ends near ``A*`` on a non-unique fit
set is not a recovery (issue 15, point 3; docs/empirical.md section 2). With ``method="sdp"`` it
is recovered iff ``A*`` is the only PSD fit (:func:`quadsgd.empirical.sdp_uniqueness`).
``p_recover`` comes with a Wilson 95 % binomial interval (``p_recover_low``, ``p_recover_high``).

Instances are independent tasks, run through :func:`quadsgd.sweep.execute.map_tasks` on the
pipeline's Dask client (or in this process without one); their numbers do not depend on where
they run. :func:`recovery_dataset` builds the store of the pipeline, indexed by ``(d, mstar,
alpha, seed)`` with the summary of each ``(d, mstar)`` beside the per-seed results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy import stats

from quadsgd import _validate, rng
from quadsgd.empirical.certificate import Witness, second_fit_witness
from quadsgd.empirical.dynamics import gradient_flow
from quadsgd.empirical.instance import (
    Array,
    Teacher,
    check_alphas,
    check_teacher,
    check_widths,
    make_instance,
    n_samples,
    relative_error,
    student_matrix,
    training_error,
)
from quadsgd.empirical.sdp import require_cvxpy, sdp_uniqueness
from quadsgd.empirical.variables import REFERENCES, annotate
from quadsgd.sweep.execute import map_tasks

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "alpha_c_paper",
    "alpha_c_limit",
    "RecoveryOptions",
    "RecoveryOutcome",
    "recover_instance",
    "recovery_sweep",
    "recovery_summary",
    "recovery_dataset",
    "binomial_interval",
    "CONFIDENCE_LEVEL",
    "PER_SEED_VARIABLES",
    "SUMMARY_VARIABLES",
]

#: Per-instance variables of a sweep, dims ``(..., alpha, seed)``.
PER_SEED_VARIABLES = ("recovered", "rel_error", "train_loss_final", "solver_ok", "wall_time", "sdp_gap",
                      "second_fit", "witness_margin", "witness_rank", "witness_distance", "fit_kernel_dim")
#: Summary variables of :func:`recovery_summary` (``p_recover*`` per alpha, the others scalars).
SUMMARY_VARIABLES = ("p_recover", "p_recover_low", "p_recover_high", "alpha_threshold", "alpha_threshold_err",
                     "alpha_threshold_boot_defined", "alpha_onset", "alpha_onset_err", "alpha_c_limit")


def alpha_c_paper(d: int, mstar: int) -> float:
    """Paper's ``n_c / d`` from eq. (13): ``(m*+1) - m*(m*+1)/(2d)`` for ``m* < d``,
    ``(d+1)/2`` for ``m* >= d``."""
    if mstar >= d:
        return (d + 1) / 2.0
    return (mstar + 1) - mstar * (mstar + 1) / (2.0 * d)


def alpha_c_limit(d: int, mstar: int) -> float:
    """Paper's eq. (14): ``alpha_c = m* + 1`` as ``d -> infinity`` (NaN for ``m* >= d``)."""
    return float(mstar + 1) if mstar < d else float("nan")


@dataclass(frozen=True)
class RecoveryOptions:
    """How each instance is judged; everything but the problem sizes and the seed.

    Attributes
    ----------
    method : ``"flow"`` (gradient flow to ``t_max``, recovered iff ``rel_error < tol`` and no
        second PSD fit is certified from the end point, :func:`second_fit_witness`) or
        ``"sdp"`` (recovered iff ``A*`` is the unique PSD fit, :func:`sdp_uniqueness` with ``sdp_tol``).
    teacher : ``"gaussian"`` or ``"equal"`` (:func:`quadsgd.empirical.make_teacher`).
    t_max, tol : flow time budget and recovery threshold on ``rel_error``.
    solver, rtol, atol : ``solve_ivp`` method and tolerances of the flow.
    sdp_tol : threshold on the normalized SDP gap.
    """

    method: Literal["flow", "sdp"] = "flow"
    teacher: Teacher = "gaussian"
    t_max: float = 1e8
    tol: float = 1e-2
    solver: str = "LSODA"
    rtol: float = 1e-8
    atol: float = 1e-10
    sdp_tol: float = 1e-4

    def __post_init__(self) -> None:
        if self.method not in ("flow", "sdp"):
            raise ValueError(f"method must be 'flow' or 'sdp'; got {self.method!r}")
        check_teacher(self.teacher)
        for name in ("t_max", "tol", "rtol", "atol", "sdp_tol"):
            object.__setattr__(self, name, _validate.real(name, getattr(self, name), low=0.0))


@dataclass(frozen=True)
class RecoveryOutcome:
    """Verdict on one instance.

    Attributes
    ----------
    recovered : teacher recovered (by the criterion of ``RecoveryOptions.method``).
    rel_error : ``|A - A*|_F / |A*|_F`` at the end of the flow (sdp: of the witness, NaN if none).
    train_error : final training error ``E_n`` (eq. 6; twice the loss).
    wall_time : seconds spent on the instance.
    solver_ok : flow: ODE solver success; sdp: the verdict is certified.
    sdp_gap : normalized SDP gap (NaN for the flow).
    second_fit, witness_margin, witness_rank, witness_distance, fit_kernel_dim : the
        :class:`~quadsgd.empirical.Witness` of the end point (flow) or of the SDP's maximizer (sdp).
    """

    recovered: bool
    rel_error: float
    train_error: float
    wall_time: float
    solver_ok: bool
    sdp_gap: float
    second_fit: bool = False
    witness_margin: float = float("nan")
    witness_rank: int = 0
    witness_distance: float = float("nan")
    fit_kernel_dim: int = 0


def recover_instance(d: int, mstar: int, n: int, seed: int, m: int, options: RecoveryOptions) -> RecoveryOutcome:
    """Draw the instance ``(seed, d, mstar, n, m)`` (:func:`make_instance`) and judge its recovery."""
    inst = make_instance(d, mstar, n, seed, m=m, teacher=options.teacher)
    t0 = time.perf_counter()
    if options.method == "flow":
        res = gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, options.t_max, n_eval=2,
                            method=options.solver, rtol=options.rtol, atol=options.atol)
        rel = float(res.rel_error[-1])
        wit = second_fit_witness(student_matrix(res.W_final), inst.X, inst.y, inst.A_star)
        return RecoveryOutcome(bool(rel < options.tol and not wit.found), rel, float(res.train_error[-1]),
                               time.perf_counter() - t0, res.success, float("nan"), *_witness_fields(wit))
    sres = sdp_uniqueness(inst.X, inst.y, inst.A_star, tol=options.sdp_tol)
    wit = second_fit_witness(sres.A_witness, inst.X, inst.y, inst.A_star)
    rel = float(relative_error(sres.A_witness, inst.A_star)) if np.isfinite(sres.gap) else float("nan")
    train = float(training_error(sres.A_witness, inst.X, inst.y))
    # a non-uniqueness verdict from an inaccurate solve is not certified
    ok = sres.status not in ("undecided", "solver error") and not (
        (np.isnan(sres.gap) and sres.range_injective) or (not sres.unique and sres.status == "optimal_inaccurate")
    )
    return RecoveryOutcome(sres.unique, rel, train, time.perf_counter() - t0, ok, sres.gap, *_witness_fields(wit))


def _witness_fields(wit: Witness) -> tuple[bool, float, int, float, int]:
    return bool(wit.found), float(wit.margin), int(wit.rank), float(wit.distance), int(wit.kernel_dim)


def _per_seed_arrays(outcomes: Sequence[RecoveryOutcome], shape: tuple[int, ...]) -> dict[str, Array]:
    def get(name: str, dtype: type) -> Array:
        return np.array([getattr(o, name) for o in outcomes], dtype=dtype).reshape(shape)

    return {
        "recovered": get("recovered", bool),
        "rel_error": get("rel_error", float),
        "train_loss_final": get("train_error", float) / 2,
        "solver_ok": get("solver_ok", bool),
        "wall_time": get("wall_time", float),
        "sdp_gap": get("sdp_gap", float),
        "second_fit": get("second_fit", bool),
        "witness_margin": get("witness_margin", float),
        "witness_rank": get("witness_rank", np.int64),
        "witness_distance": get("witness_distance", float),
        "fit_kernel_dim": get("fit_kernel_dim", np.int64),
    }


def _options_attrs(options: RecoveryOptions) -> dict[str, object]:
    title = f"teacher recovery by empirical-risk {options.method}"
    return {**asdict(options), "title": title, "references": REFERENCES}


def _check_options(options: RecoveryOptions | None) -> RecoveryOptions:
    options = RecoveryOptions() if options is None else options
    if not isinstance(options, RecoveryOptions):
        raise TypeError(f"options must be a RecoveryOptions; got {type(options).__name__}")
    if options.method == "sdp":
        require_cvxpy()  # fail here, not in every task
    return options


def recovery_sweep(
    d: int,
    mstar: int,
    alphas: Sequence[float] | ArrayLike,
    seeds: Sequence[int] | ArrayLike,
    *,
    m: int | None = None,
    options: RecoveryOptions | None = None,
    client: Client | None = None,
    progress: bool = False,
) -> xr.Dataset:
    """Recovery of the teacher as a function of ``alpha = n/d`` over seeds, for one ``(d, m*)``.

    ``n = max(1, round(alpha * d))`` (the ``n`` coordinate); one independent instance per
    ``(alpha, seed)`` (:func:`make_instance`), judged by :func:`recover_instance` with
    ``options`` (default :class:`RecoveryOptions`). The instances run on ``client`` (a
    ``distributed.Client``) if given, else in this process; the results are the same.

    Returns
    -------
    xarray.Dataset with dims ``(alpha, seed)``, variables :data:`PER_SEED_VARIABLES`
    (``train_loss_final`` is the loss ``L_n = E_n / 2`` of eq. 2), coordinates ``n`` and
    ``alpha_realized = n / d`` on ``alpha`` and the scalars ``d``, ``mstar``, ``m``,
    ``alpha_c_paper``; the options are attributes.
    """
    d, mstar, m = check_widths(d, mstar, m)
    options = _check_options(options)
    a = check_alphas(alphas)
    seeds_arr = _validate.seed_coordinate("seeds", seeds)
    ns = n_samples(a, d)
    tasks = [(d, mstar, int(n), int(s), m, options) for n in ns for s in seeds_arr]
    outcomes = map_tasks(recover_instance, tasks, client, desc=f"recovery d={d} m*={mstar}", progress=progress)
    data = _per_seed_arrays(outcomes, (a.size, seeds_arr.size))
    ds = xr.Dataset(
        {k: (("alpha", "seed"), v) for k, v in data.items()},
        coords={
            "alpha": a,
            "seed": seeds_arr,
            "n": ("alpha", ns),
            "alpha_realized": ("alpha", ns / d),
            "d": d,
            "mstar": mstar,
            "m": m,
            "alpha_c_paper": alpha_c_paper(d, mstar),
        },
        attrs=_options_attrs(options),
    )
    return annotate(ds)


def _first_crossing(x: Array, p: Array, level: float = 0.5) -> float:
    above = np.nonzero(p >= level)[0]
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(x[0]) if p[0] == level else float("nan")
    x0, x1, p0, p1 = x[i - 1], x[i], p[i - 1], p[i]
    return float(x0 + (level - p0) * (x1 - x0) / (p1 - p0))


#: Confidence level and method of the binomial interval on ``p_recover``.
CONFIDENCE_LEVEL = 0.95
INTERVAL_METHOD = "wilson"


def binomial_interval(k: ArrayLike, n: int, confidence_level: float = CONFIDENCE_LEVEL) -> tuple[Array, Array]:
    """Wilson score interval of a binomial proportion ``k / n`` for each ``k``
    (``scipy.stats.binomtest(k, n).proportion_ci(confidence_level, method="wilson")``): unlike a
    bootstrap standard deviation it has non-zero width at ``k = 0`` and ``k = n``."""
    n = _validate.positive_int("n", n)
    ks = np.asarray(k, dtype=np.int64)
    lo, hi = np.empty(ks.shape), np.empty(ks.shape)
    for idx, kk in np.ndenumerate(ks):
        ci = stats.binomtest(int(kk), n).proportion_ci(confidence_level=confidence_level, method=INTERVAL_METHOD)
        lo[idx], hi[idx] = ci.low, ci.high
    return lo, hi


def recovery_summary(ds: xr.Dataset, *, n_boot: int = 1000, seed: int = 0, onset_level: float = 0.1) -> xr.Dataset:
    """Recovery probability per alpha and the alpha where it first crosses 1/2.

    ``ds`` is a :func:`recovery_sweep` (dims ``(alpha, seed)``, coordinates ``n``, ``d``,
    ``mstar``). The crossings are in the realized ``n/d`` (not the requested alpha), linearly
    interpolated between the grid points bracketing the first crossing (NaN if none).
    ``p_recover_low``/``p_recover_high`` bound ``p_recover`` by the Wilson 95 % binomial interval
    (:func:`binomial_interval`; counts of independent instances). The ``*_err`` of the crossings
    are bootstrap standard deviations (seeds resampled independently at each alpha, since instances
    are independent; the resampling generator is the stream ``Purpose.BOOTSTRAP`` of ``seed``, keyed
    by ``(d, mstar)``). ``alpha_onset`` is the first crossing of ``onset_level``: Thm. 3.1 of the
    paper claims only P(recovery) > 0 above ``alpha_c``, which the 1/2 crossing need not track.

    Returns a Dataset on the ``alpha`` of ``ds`` (same order) with :data:`SUMMARY_VARIABLES`,
    the coordinates of ``ds`` other than ``seed``, and attributes ``n_seeds``, ``n_boot``,
    ``onset_level``, ``bootstrap_seed``, ``confidence_level``, ``interval_method``.
    """
    n_boot = _validate.integer("n_boot", n_boot, minimum=2)
    onset_level = _validate.real("onset_level", onset_level, low=0.0, high=1.0)
    d, mstar = int(ds["d"]), int(ds["mstar"])
    rec = ds["recovered"].transpose("alpha", "seed").values.astype(float)
    order = np.argsort(ds["n"].values / d, kind="stable")
    x = ds["n"].values[order] / d
    rec = rec[order]
    p = rec.mean(axis=1)
    gen = rng.stream(seed, rng.Purpose.BOOTSTRAP, d, mstar)
    S = rec.shape[1]
    idx = gen.integers(0, S, size=(n_boot, rec.shape[0], S))
    pb = np.take_along_axis(np.broadcast_to(rec, (n_boot, *rec.shape)), idx, axis=2).mean(axis=2)

    def crossing(level: float) -> tuple[float, float, float]:
        boot = np.array([_first_crossing(x, pb[b], level) for b in range(n_boot)])
        ok = np.isfinite(boot)
        err = float(np.std(boot[ok], ddof=1)) if ok.sum() > 1 else float("nan")
        return _first_crossing(x, p, level), err, float(ok.mean())

    half, half_err, half_def = crossing(0.5)
    onset, onset_err, _ = crossing(onset_level)
    unsort = np.empty_like(order)
    unsort[order] = np.arange(order.size)
    low, high = binomial_interval(rec.sum(axis=1).round().astype(np.int64), S)
    out = xr.Dataset(
        {
            "p_recover": ("alpha", p[unsort]),
            "p_recover_low": ("alpha", low[unsort]),
            "p_recover_high": ("alpha", high[unsort]),
            "alpha_threshold": half,
            "alpha_threshold_err": half_err,
            "alpha_threshold_boot_defined": half_def,
            "alpha_onset": onset,
            "alpha_onset_err": onset_err,
            "alpha_c_limit": alpha_c_limit(d, mstar),
        },
        coords={k: v for k, v in ds.coords.items() if "seed" not in v.dims},
        attrs={**ds.attrs, "n_seeds": S, "n_boot": n_boot, "onset_level": onset_level, "bootstrap_seed": seed,
               "confidence_level": CONFIDENCE_LEVEL, "interval_method": INTERVAL_METHOD},
    )
    return annotate(out)


def recovery_dataset(
    d_values: Sequence[int],
    mstar_values: Sequence[int],
    alphas: Sequence[float] | ArrayLike,
    seeds: Sequence[int] | ArrayLike,
    *,
    options: RecoveryOptions | None = None,
    client: Client | None = None,
    progress: bool = False,
    n_boot: int = 1000,
    onset_level: float = 0.1,
) -> xr.Dataset:
    """The recovery store: a sweep of every ``(d, m*)`` (student width ``m = d``) with its summary.

    All instances of all ``(d, m*)`` go to ``client`` at once. Dims ``(d, mstar, alpha, seed)``:
    :data:`PER_SEED_VARIABLES` on all four, ``p_recover``/``p_recover_low``/``p_recover_high`` on ``(d, mstar,
    alpha)``, the other :data:`SUMMARY_VARIABLES` on ``(d, mstar)``; coordinates ``n`` and
    ``alpha_realized`` on ``(d, alpha)``, ``m`` and ``alpha_c_paper`` on ``(d, mstar)``. Select a
    case with ``ds.sel(d=8, mstar=2)``. The summary is :func:`recovery_summary` (bootstrap
    seed 0) of each case.
    """
    options = _check_options(options)
    d_arr = np.array([_validate.positive_int("d", d) for d in d_values], dtype=np.int64)
    ms_arr = np.array([_validate.positive_int("mstar", ms) for ms in mstar_values], dtype=np.int64)
    if d_arr.size == 0 or ms_arr.size == 0 or len(set(d_arr)) < d_arr.size or len(set(ms_arr)) < ms_arr.size:
        raise ValueError(f"d_values and mstar_values must be non-empty without repeats; got {d_values}, {mstar_values}")
    for d in d_arr:
        for ms in ms_arr:
            check_widths(d, ms, None)
    a = check_alphas(alphas)
    seeds_arr = _validate.seed_coordinate("seeds", seeds)
    D, S, A, K = d_arr.size, ms_arr.size, a.size, seeds_arr.size
    tasks = [(int(d), int(ms), int(n), int(s), int(d), options)
             for d in d_arr for ms in ms_arr for n in n_samples(a, int(d)) for s in seeds_arr]
    outcomes = map_tasks(recover_instance, tasks, client, desc="recovery", progress=progress)
    per_seed = _per_seed_arrays(outcomes, (D, S, A, K))
    dims4 = ("d", "mstar", "alpha", "seed")
    ns = np.stack([n_samples(a, int(d)) for d in d_arr])
    ds = xr.Dataset(
        {k: (dims4, v) for k, v in per_seed.items()},
        coords={
            "d": d_arr,
            "mstar": ms_arr,
            "alpha": a,
            "seed": seeds_arr,
            "n": (("d", "alpha"), ns),
            "alpha_realized": (("d", "alpha"), ns / d_arr[:, None]),
            "m": (("d", "mstar"), np.repeat(d_arr[:, None], S, axis=1)),
            "alpha_c_paper": (("d", "mstar"), np.array([[alpha_c_paper(int(d), int(ms)) for ms in ms_arr]
                                                        for d in d_arr])),
        },
        attrs=_options_attrs(options),
    )
    summaries = [
        [recovery_summary(ds.sel(d=d, mstar=ms), n_boot=n_boot, onset_level=onset_level) for ms in ms_arr]
        for d in d_arr
    ]
    for name in SUMMARY_VARIABLES:
        values = np.array([[s[name].values for s in row] for row in summaries])
        ds[name] = (("d", "mstar", *summaries[0][0][name].dims), values)
    ds.attrs.update({k: summaries[0][0].attrs[k] for k in ("n_boot", "onset_level", "bootstrap_seed",
                                                           "confidence_level", "interval_method")})
    return annotate(ds)
