"""Shared by the builders of :mod:`quadsgd.beyond`: the ODE's optimum of a case, and per-case
datasets merged over ``(p, pstar)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import xarray as xr


def ode_eta_opt_over_p(summary: xr.Dataset, p: int, pstar: int) -> float:
    """``eta_opt / p`` of the ODE sweep for ``(p, pstar)``, read from the summary store.

    ``ValueError`` (one line) if the sweep holds no such case or found no optimum there."""
    if p not in summary["p"].values or pstar not in summary["pstar"].values:
        raise ValueError(f"(p, pstar) = ({p}, {pstar}) is not in the sweep (p in {list(summary['p'].values)}, "
                         f"pstar in {list(summary['pstar'].values)}); give eta_over_p instead")
    value = float(summary["eta_opt_over_p"].sel(p=p, pstar=pstar))
    if not math.isfinite(value):
        raise ValueError(f"the sweep found no eta_opt for (p, pstar) = ({p}, {pstar}); give eta_over_p instead")
    return value


def concat(parts: Sequence[xr.Dataset], dim: str) -> xr.Dataset:
    """``parts`` (runs on the same grids) stacked along a new dimension ``dim``."""
    return xr.concat(parts, dim=dim, data_vars="all", coords="minimal", compat="override", join="exact")


def merge_cases(parts: Sequence[xr.Dataset]) -> xr.Dataset:
    """Per-case datasets (scalar coordinates ``p``, ``pstar``) as one dataset over dims
    ``(p, pstar, ...)``; pairs that are not cases hold NaN."""
    expanded = [d.expand_dims(p=[int(d["p"])], pstar=[int(d["pstar"])]) for d in parts]
    return xr.merge(expanded, compat="no_conflicts", join="outer", combine_attrs="drop_conflicts")
