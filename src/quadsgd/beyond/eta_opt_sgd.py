"""The optimal learning rate measured with finite-N SGD (issue 19.2; docs/beyond.md).

The ODE's ``eta_opt`` minimizes the mean escape time over seeds among learning rates at which
every seed escapes and learns. The same search (:func:`quadsgd.eta_opt.search_eta_opt`: grow
to instability, refine, select) runs here on Gram-chain SGD escape times at finite N, starting
from a grid of factors of the ODE's optimum. SGD reports no ``settled`` status, so a run that
crossed the escape threshold counts as learned only if its risk at ``alpha_max`` is below
``learned_fraction`` times the threshold; otherwise it is relabelled ``settled`` (it escaped to
a fixed point of finite risk, or is still far from zero error), as the ODE's classifier would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from quadsgd import __version__, _validate
from quadsgd.beyond._cases import concat, distinct, merge_cases, rate_cases
from quadsgd.escape import escape_statistics
from quadsgd.eta_opt import EtaOptOutcome, EtaOptSearch, search_eta_opt
from quadsgd.grids import eta_from_eta_over_p, round_grid
from quadsgd.schema import annotate
from quadsgd.status import LEARNED, Status
from quadsgd.sweep.drivers import sgd_seed_runs

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["eta_opt_sgd_case", "eta_opt_sgd_dataset"]


def _scan(runs: Sequence[xr.Dataset], eta_over_p: NDArray[np.float64], learned_fraction: float) -> xr.Dataset:
    """``alpha_escape`` and ``status (eta_over_p, seed)`` of :func:`quadsgd.sweep.drivers.sgd_seed_runs`
    datasets, one per ``eta_over_p``; a learned run whose risk at the last grid point is above
    ``learned_fraction`` times the escape threshold is relabelled ``settled`` (module docstring)."""
    sgd = concat([d[["risk", "alpha_escape", "status"]].drop_vars("eta") for d in runs], "eta_over_p")
    status = sgd["status"].values.copy()
    far = sgd["risk"].isel(alpha=-1).values > learned_fraction * float(sgd.attrs["escape_threshold"])
    status[np.isin(status, [int(s) for s in LEARNED]) & far] = Status.SETTLED
    return xr.Dataset({"alpha_escape": sgd["alpha_escape"], "status": (sgd["status"].dims, status)},
                      coords={"eta_over_p": eta_over_p}, attrs={k: sgd.attrs[k] for k in ("p", "pstar")})


def eta_opt_sgd_case(
    p: int,
    pstar: int,
    N: int,
    *,
    eta_over_p_ode: float,
    seeds: int,
    start: tuple[float, float, int],
    refine_points: int,
    refine_rounds: int,
    alpha_max: float,
    learned_fraction: float = 0.1,
    escape_fraction: float = 0.5,
    client: Client | None = None,
) -> xr.Dataset:
    """SGD ``eta_opt`` of one ``(p, pstar, N)``; ``start = (min, max, num)`` are log-spaced
    factors of ``eta_over_p_ode`` for the starting grid. Seeds ``0 .. seeds-1`` at every
    learning rate (common random numbers), in tasks of several seeds per eta
    (:func:`quadsgd.sweep.drivers.sgd_seed_runs`). Returns a dataset with scalar coordinates
    ``p``, ``pstar``, ``N`` and the dim ``scan``; see :func:`eta_opt_sgd_dataset`.
    ``ValueError`` (one line) for ``seeds < 2`` (a standard error needs two), fractions outside
    (0, 1), or a ``start`` that is no increasing log grid."""
    p, pstar, N = _validate.widths(p, pstar, N)
    eta_over_p_ode = _validate.positive_real("eta_over_p_ode", eta_over_p_ode)
    seed_arr = np.arange(_validate.integer("seeds", seeds, minimum=2))
    learned_fraction = _validate.fraction("learned_fraction", learned_fraction)
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    # The escape sample is found whatever the recording grid; the risk is needed at alpha_max only.
    alpha = np.array([0.0, _validate.positive_real("alpha_max", alpha_max)])
    if isinstance(start, (str, bytes)) or not isinstance(start, Sequence) or len(start) != 3:
        raise ValueError(f"start must be (min, max, num); got {start!r}")
    lo, hi = (_validate.positive_real(f"start[{i}]", v) for i, v in enumerate(start[:2]))
    num = _validate.integer("start[2]", start[2], minimum=2)
    if not lo < hi:
        raise ValueError(f"start must be (min, max, num) with min < max; got {start!r}")

    def run(values: NDArray[np.float64]) -> xr.Dataset:
        runs = sgd_seed_runs(p, pstar, eta=eta_from_eta_over_p(values, p), N=N, seeds=seed_arr, alpha=alpha,
                             escape_fraction=escape_fraction, client=client, desc=f"SGD eta_opt p={p} p*={pstar} N={N}")
        return _scan(runs, values, learned_fraction)

    grid = round_grid(eta_over_p_ode * np.geomspace(lo, hi, num))
    result = search_eta_opt(run(grid), run, EtaOptSearch(refine_points=refine_points, refine_rounds=refine_rounds))
    stats = escape_statistics(result.scan, "seed")
    found = result.outcome is EtaOptOutcome.FOUND
    at = result.statistics() if found else None
    n = result.scan.sizes["eta_over_p"]
    return xr.Dataset(
        {
            "eta_opt_ode_over_p": ((), eta_over_p_ode),
            "eta_opt_ode": ((), float(eta_from_eta_over_p(eta_over_p_ode, p))),
            "eta_opt_sgd_over_p": ((), result.eta_over_p_opt),
            "eta_opt_sgd": ((), float(eta_from_eta_over_p(result.eta_over_p_opt, p))),
            "eta_opt_ratio": ((), result.eta_over_p_opt / eta_over_p_ode),
            "alpha_escape_opt_sgd": ((), float(at["alpha_escape_mean"]) if at is not None else np.nan),
            "alpha_escape_opt_sgd_sem": ((), float(at["alpha_escape_sem"]) if at is not None else np.nan),
            "grid_reaches_instability": ((), np.int8(result.reaches_instability)),
            "eta_opt_at_stability_edge": ((), np.int8(result.at_stability_edge)),
            "scan_eta_over_p": (("scan",), result.scan["eta_over_p"].values),
            "scan_alpha_escape_mean": (("scan",), stats["alpha_escape_mean"].values),
            "scan_alpha_escape_sem": (("scan",), stats["alpha_escape_sem"].values),
            "scan_n_learned": (("scan",), stats["n_escaped"].values.astype(np.float64)),
            "scan_n_runs": (("scan",), np.full(n, float(seed_arr.size))),
        },
        coords={"scan": np.arange(n), "p": p, "pstar": pstar, "N": N},
    )


def eta_opt_sgd_dataset(cases: Sequence[tuple[int, int, float]], N: Sequence[int], **kwargs: object) -> xr.Dataset:
    """:func:`eta_opt_sgd_case` for every ``(p, pstar, eta_over_p_ode)`` of ``cases`` and every
    ``N``, as one dataset over dims ``(p, pstar, N, scan)`` (NaN where a pair is no case or a
    scan slot is unused).

    Variables: ``eta_opt_ode(_over_p)`` (the ODE's, given), ``eta_opt_sgd(_over_p)``,
    ``eta_opt_ratio`` (SGD / ODE), ``alpha_escape_opt_sgd(_sem)``, flags
    ``grid_reaches_instability`` and ``eta_opt_at_stability_edge``, and every scanned learning
    rate (``scan_eta_over_p``) with its mean escape time, standard error and learned count.
    """
    parts = []
    Ns = distinct("N", N, _validate.positive_int)
    for p, s, e in rate_cases("cases", cases):
        per_n = [eta_opt_sgd_case(p, s, n, eta_over_p_ode=e, **kwargs) for n in Ns]  # type: ignore[arg-type]
        case = xr.concat(per_n, dim="N", data_vars="all", coords="minimal", compat="override", join="outer")
        for name in ("eta_opt_ode", "eta_opt_ode_over_p"):
            case[name] = case[name].isel(N=0, drop=True)
        parts.append(case)
    ds = merge_cases(parts)
    ds.attrs = {"escape_fraction": float(kwargs.get("escape_fraction", 0.5)),  # type: ignore[arg-type]
                "learned_fraction": float(kwargs.get("learned_fraction", 0.1)),  # type: ignore[arg-type]
                "sgd_method": "gram", "quadsgd_version": __version__}
    return annotate(ds)
