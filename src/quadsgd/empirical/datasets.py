"""Stores of the empirical-risk curves: the population flow per ``(d, m*, teacher)`` and the
empirical flow's error curves (the paper's Fig. 3).

The recovery store is built by :func:`quadsgd.empirical.recovery_dataset`; names and units of
all three come from :mod:`quadsgd.empirical.variables`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from quadsgd import _validate, rng
from quadsgd.empirical.dynamics import gradient_flow
from quadsgd.empirical.instance import (
    TEACHERS,
    Array,
    Teacher,
    check_alphas,
    check_teacher,
    check_widths,
    generalization_error,
    make_instance,
    make_teacher,
    n_samples,
)
from quadsgd.empirical.population import (
    linearized_rate,
    paper_decay_26,
    paper_decay_27,
    paper_rate_29,
    population_eigenvalue_flow,
    population_risk_eigs,
    population_weight_flow,
    quasistatic_prefactor,
)
from quadsgd.empirical.variables import REFERENCES, annotate
from quadsgd.fits import fit_exponential, fit_power_law

__all__ = ["DEFAULT_POPULATION_CASES", "population_teacher", "population_flow_dataset", "flow_curves_dataset"]

#: ``(d, m*, teacher)`` of :func:`population_flow_dataset` by default.
DEFAULT_POPULATION_CASES: tuple[tuple[int, int, Teacher], ...] = (
    (8, 1, "gaussian"), (8, 1, "equal"), (8, 2, "gaussian"), (8, 4, "gaussian"), (32, 1, "gaussian"),
    (8, 8, "equal"), (8, 8, "gaussian"), (8, 16, "gaussian"),
)

_CURVES = ("E", "E_paper_27", "E_paper_26", "E_quasistatic", "E_weight_flow", "eps")
_SCALARS = ("exponent", "prefactor", "prefactor_paper26", "prefactor_paper27", "prefactor_quasistatic", "rate",
            "rate_paper", "rate_linear", "weight_flow_maxdev")


def population_teacher(d: int, mstar: int, teacher: Teacher, seed: int) -> Array:
    """Teacher of the population flow: :func:`make_teacher` on the stream
    ``quadsgd.rng.stream(seed, Purpose.POPULATION_TEACHER, d, mstar)`` (the key of a teacher alone,
    without the ``(n, m)`` of an instance's data and student)."""
    return make_teacher(d, mstar, rng.stream(seed, rng.Purpose.POPULATION_TEACHER, d, mstar), teacher=teacher)


def _population_case(d: int, mstar: int, teacher: Teacher, t: Array, seed: int,
                     t_weight_max: float) -> tuple[dict[str, Array], dict[str, float]]:
    """Curves on ``t`` and late-time fits of one case (NaN where a quantity does not apply)."""
    curves = {k: np.full(t.size, np.nan) for k in _CURVES}
    scalars = dict.fromkeys(_SCALARS, np.nan)
    tt = np.concatenate([[0.0], t])
    A_star = population_teacher(d, mstar, teacher, seed)
    lam_star, U = np.linalg.eigh(A_star)
    lam_star = np.where(lam_star > 1e-12 * lam_star.max(), lam_star, 0.0)
    lam = population_eigenvalue_flow(lam_star, tt)
    E = population_risk_eigs(lam, lam_star)[1:]
    curves["E"] = E
    if np.any(lam_star == 0):
        curves["eps"] = lam[1:, lam_star == 0].mean(axis=1)
    curves["E_paper_26"] = paper_decay_26(t)
    curves["E_paper_27"] = paper_decay_27(t, d, mstar)
    nw = int(np.sum(t <= t_weight_max))
    A_t = population_weight_flow(np.sqrt(d) * np.eye(d), A_star, tt[: nw + 1])[1:]
    curves["E_weight_flow"][:nw] = generalization_error(A_t, A_star)
    lam_w = np.einsum("ia,tij,ja->ta", U, A_t, U)
    scalars["weight_flow_maxdev"] = float(np.max(np.abs(lam_w - lam[1 : nw + 1])))
    if mstar < d:
        q = quasistatic_prefactor(d, mstar)
        curves["E_quasistatic"] = q / t**2
        win = t >= t[-1] / 100
        scalars["exponent"] = fit_power_law(t[win], E[win]).exponent
        scalars["prefactor"] = float(t[-1] ** 2 * E[-1])
        scalars["prefactor_paper26"] = 1.0 / 16.0
        scalars["prefactor_paper27"] = 0.25 * (d - mstar) ** 2 / (4.0 * (2.0 + d - mstar) ** 2)
        scalars["prefactor_quasistatic"] = q
    else:
        e0 = population_risk_eigs(np.ones(d), lam_star)
        win = (E > 1e-16 * e0) & (E < 1e-6 * e0)
        if win.sum() >= 3:
            scalars["rate"] = fit_exponential(t[win], E[win]).rate
        scalars["rate_paper"] = paper_rate_29(d, lam_star)
        scalars["rate_linear"] = linearized_rate(lam_star)
    return curves, scalars


def population_flow_dataset(
    cases: Sequence[Sequence[object]] = DEFAULT_POPULATION_CASES,
    t: ArrayLike | None = None,
    *,
    seed: int = 0,
    t_weight_max: float = 10.0,
) -> xr.Dataset:
    """Exact population flow (eq. 20 from ``A(0) = I``) per case, with the paper's laws.

    Parameters
    ----------
    cases : ``(d, m*, teacher)`` triples; the teacher matrix is :func:`population_teacher`.
    t : (T,) output times, default ``logspace(-3, 6, 361)``.
    t_weight_max : times up to this are also integrated with the full weight flow (eq. 7,
        ``W(0) = sqrt(d) I`` so ``A(0) = I``, ``m = d``) to check eq. (20).

    Returns
    -------
    Dataset with dims ``(d, mstar, teacher, time)`` over the values the cases use (select a case
    with ``ds.sel(d=8, mstar=1, teacher="gaussian")``; ``computed`` marks the cases asked for,
    the other grid points are NaN): ``E`` (eq. 9 risk, twice the loss), ``L = E/2``,
    ``E_paper_27`` and ``E_paper_26`` (paper's formulas as printed), ``E_quasistatic``,
    ``E_weight_flow`` (NaN beyond ``t_weight_max``), ``eps``, and per-case fits on
    ``(d, mstar, teacher)``: late-time ``exponent`` (power law of E over the last two decades,
    for m* < d) and ``prefactor = t^2 E`` at the last time, or ``rate`` (exponential fit of E where
    ``1e-16 < E/E(0) < 1e-6``, for m* >= d) beside ``rate_paper = 2 (2d+4) lam*`` and
    ``rate_linear``.
    """
    t = np.logspace(-3, 6, 361) if t is None else np.asarray(t, dtype=float)
    if t.ndim != 1 or t.size < 2 or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t must be a 1-D increasing grid of times > 0 (log-time grid)")
    t_weight_max = _validate.real("t_weight_max", t_weight_max, low=0.0)
    checked = []
    for case in cases:
        d, mstar, teacher = case
        checked.append((_validate.positive_int("d", d), _validate.positive_int("mstar", mstar), check_teacher(teacher)))
    if not checked or len(set(checked)) < len(checked):
        raise ValueError(f"cases must be non-empty without repeats; got {list(cases)!r}")
    d_vals = sorted({c[0] for c in checked})
    ms_vals = sorted({c[1] for c in checked})
    teachers = [k for k in TEACHERS if any(c[2] == k for c in checked)]
    grid = (len(d_vals), len(ms_vals), len(teachers))
    curves = {k: np.full((*grid, t.size), np.nan) for k in _CURVES}
    scalars = {k: np.full(grid, np.nan) for k in _SCALARS}
    computed = np.zeros(grid, dtype=bool)
    for d, mstar, teacher in checked:
        at = (d_vals.index(d), ms_vals.index(mstar), teachers.index(teacher))
        c, s = _population_case(d, mstar, teacher, t, seed, t_weight_max)
        for k in _CURVES:
            curves[k][at] = c[k]
        for k in _SCALARS:
            scalars[k][at] = s[k]
        computed[at] = True
    dims3 = ("d", "mstar", "teacher")
    ds = xr.Dataset(
        {
            "computed": (dims3, computed),
            **{k: ((*dims3, "time"), v) for k, v in curves.items()},
            "L": ((*dims3, "time"), curves["E"] / 2),
            **{k: (dims3, v) for k, v in scalars.items()},
        },
        coords={"d": np.array(d_vals), "mstar": np.array(ms_vals), "teacher": np.array(teachers), "time": t},
        attrs={
            "title": "population gradient flow from A(0) = I: exact eq. (20), weight flow eq. (7), "
                     "paper's eqs. (26), (27), (29)",
            "references": REFERENCES,
            "seed": seed,
            "t_weight_max": t_weight_max,
        },
    )
    return annotate(ds)


def flow_curves_dataset(
    d: int,
    mstar: int,
    alphas: Sequence[float] | ArrayLike,
    seeds: Sequence[int] | ArrayLike,
    *,
    m: int | None = None,
    teacher: Teacher = "gaussian",
    t_max: float = 1e8,
    n_eval: int = 60,
) -> xr.Dataset:
    """Training and generalization error along the empirical flow (the paper's Fig. 3).

    Returns a Dataset with dims ``(alpha, seed, time)``: ``train_error`` (``E_n``, eq. 6),
    ``gen_error`` (``E``, eq. 9) and ``rel_error``; ``time`` is ``[0, logspace(-3, log10 t_max)]``;
    scalar coordinates ``d``, ``mstar``, ``m``.
    """
    d, mstar, m = check_widths(d, mstar, m)
    check_teacher(teacher)
    a = check_alphas(alphas)
    seeds_arr = _validate.seed_coordinate("seeds", seeds)
    ns = n_samples(a, d)
    res = []
    for n in ns:
        for s in seeds_arr:
            inst = make_instance(d, mstar, int(n), int(s), m=m, teacher=teacher)
            res.append(gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, t_max, n_eval=n_eval))
    shape = (a.size, seeds_arr.size, res[0].t.size)
    dims = ("alpha", "seed", "time")

    def stack(name: str) -> Array:
        return np.array([getattr(r, name) for r in res]).reshape(shape)

    ds = xr.Dataset(
        {name: (dims, stack(name)) for name in ("train_error", "gen_error", "rel_error")},
        coords={"alpha": a, "seed": seeds_arr, "time": res[0].t, "n": ("alpha", ns), "d": d, "mstar": mstar, "m": m},
        attrs={"title": "empirical gradient flow curves (eq. 3)", "references": REFERENCES, "teacher": teacher,
               "t_max": t_max},
    )
    return annotate(ds)
