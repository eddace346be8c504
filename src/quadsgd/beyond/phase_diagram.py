"""Finite-eta phase diagram (issue 19.3; docs/beyond.md): the ODE's regions over eta / p for
every ``(p, pstar)``, from the closed-form edges and classifier of :mod:`quadsgd.phase` and the
divergence edge measured by bisection on the ODE from the paper's initialization.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from quadsgd import __version__, _validate, phase
from quadsgd.beyond._cases import distinct
from quadsgd.grids import eta_from_eta_over_p, eta_over_p_grid
from quadsgd.schema import annotate
from quadsgd.stationary import eta_stationary_edge
from quadsgd.theory import eta_zero_error_edge

__all__ = ["EDGES", "phase_diagram_dataset"]

#: Stored edges (``<name>_over_p``) and the function of ``(p, pstar)`` giving each as a raw eta.
EDGES = {
    "eta_plateau_edge": phase.eta_plateau_edge,
    "eta_plateau_trap_edge": phase.eta_plateau_trap_edge,
    "eta_norm_blowup_edge": phase.eta_norm_blowup_edge,
    "eta_zero_error_edge": eta_zero_error_edge,
    "eta_stationary_edge": eta_stationary_edge,
    "eta_settled_edge": phase.eta_settled_edge,
}

_FLAGS = ("plateau_exists", "plateau_escapes", "end_state_stable")


def _case(p: int, pstar: int, etas_p: np.ndarray, N: int, seeds: int, alpha_max: float, rtol: float) -> xr.Dataset:
    divergence = phase.eta_divergence_edge_numerical(p, pstar, N=N, seeds=np.arange(seeds), alpha_max=alpha_max,
                                                     rtol=rtol)
    regions = phase.classify(p, pstar, eta_from_eta_over_p(etas_p, p), eta_divergence=divergence)
    data: dict[str, tuple[tuple[str, ...], Any]] = {name: (("eta_over_p",), regions[name].astype(np.int8))
                                                     for name in _FLAGS}
    data["region"] = (("eta_over_p",), regions["phase"])
    for name, edge in EDGES.items():
        data[f"{name}_over_p"] = ((), edge(p, pstar) / p)
    data["eta_divergence_edge_over_p"] = ((), divergence / p)
    return xr.Dataset(data, coords={"eta_over_p": etas_p, "p": p, "pstar": pstar})


def phase_diagram_dataset(
    p: Sequence[int],
    pstar: Sequence[int],
    *,
    eta_over_p: tuple[float, float, int],
    N: int = 10_000,
    seeds: int = 3,
    alpha_max: float = 1e4,
    rtol: float = 1e-3,
    eta_opt_over_p: xr.DataArray | None = None,
) -> xr.Dataset:
    """Regions over the log grid ``eta_over_p = (min, max, num)`` for every ``(p, pstar)``.

    The divergence edge is :func:`quadsgd.phase.eta_divergence_edge_numerical` (bisection to
    relative ``rtol`` on seeds ``0 .. seeds-1`` at ``N``, up to ``alpha_max``); the other edges and
    the classification are closed forms (:func:`quadsgd.phase.classify`).

    Returns dims ``(p, pstar, eta_over_p)``: ``region`` (:class:`quadsgd.phase.Phase` codes) and
    the flags ``plateau_exists``, ``plateau_escapes``, ``end_state_stable`` (0/1); per
    ``(p, pstar)`` every edge of :data:`EDGES` and
    ``eta_divergence_edge_over_p`` as ``eta / p``, and ``eta_opt_ode_over_p`` (the ODE sweep's
    optimum, given as a DataArray over ``(p, pstar)``, NaN where absent); coordinate ``eta``.
    """
    etas_p = eta_over_p_grid(*eta_over_p)
    p = distinct("p", p, _validate.positive_int)
    pstar = distinct("pstar", pstar, _validate.positive_int)
    N = _validate.widths(max(p), max(pstar), N)[2]
    seeds = _validate.positive_int("seeds", seeds)
    parts = [[_case(a, b, etas_p, N, seeds, alpha_max, rtol) for b in pstar] for a in p]
    ds = xr.combine_nested([[d.expand_dims(p=[int(d["p"])], pstar=[int(d["pstar"])]) for d in row] for row in parts],
                           concat_dim=["p", "pstar"], data_vars="all", coords="minimal", compat="override",
                           combine_attrs="drop")
    opt = np.full((len(p), len(pstar)), np.nan)
    if eta_opt_over_p is not None:
        for i, a in enumerate(p):
            for j, b in enumerate(pstar):
                if a in eta_opt_over_p["p"].values and b in eta_opt_over_p["pstar"].values:
                    opt[i, j] = float(eta_opt_over_p.sel(p=a, pstar=b))
    ds["eta_opt_ode_over_p"] = (("p", "pstar"), opt)
    ds = ds.assign_coords(eta=(("p", "eta_over_p"), ds["p"].values[:, None] * etas_p[None, :]))
    ds["region"].attrs.update(phase.PHASE_ATTRS)
    ds.attrs = {"N": N, "seeds": seeds, "alpha_max": alpha_max, "rtol": rtol, "quadsgd_version": __version__}
    return annotate(ds, {"region": phase.PHASE_ATTRS})
