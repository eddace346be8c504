"""Shared by the builders of :mod:`quadsgd.beyond`: the ODE's optimum of a case, and per-case
datasets merged over ``(p, pstar)``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate

_Item = TypeVar("_Item")


def distinct(name: str, values: object, check: Callable[[str, object], _Item], *, minimum: int = 1) -> list[_Item]:
    """``values`` (a list or tuple, at least ``minimum`` entries, none repeated) with every entry
    passed through ``check(f"{name}[i]", entry)`` (a :mod:`quadsgd._validate` checker).

    Every list a builder turns into a coordinate goes through here: an empty list would leave
    nothing to stack, and a repeated entry a coordinate that ``.sel`` cannot address.
    ``ValueError`` (one line, naming ``name`` and the value) otherwise."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list; got {values!r}")
    out = [check(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if len(out) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} value(s); got {list(values)!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value; got {list(values)!r}")
    return out


def width_pairs(name: str, cases: object, *, narrow: bool = False) -> list[tuple[int, int]]:
    """``cases`` as distinct ``(p, pstar)`` pairs (at least one); ``narrow``: each needs ``p < pstar``."""

    def pair(key: str, case: object) -> tuple[int, int]:
        if isinstance(case, (str, bytes)) or not isinstance(case, Sequence) or len(case) != 2:
            raise ValueError(f"{key} must be a pair (p, pstar); got {case!r}")
        p, s, _ = _validate.widths(case[0], case[1])
        if narrow and p >= s:
            raise ValueError(f"{key} must have p < pstar (a narrow student); got {case!r}")
        return p, s

    return distinct(name, cases, pair)


def rate_cases(name: str, cases: object) -> list[tuple[int, int, float]]:
    """``cases`` as ``(p, pstar, eta_over_p)`` triples (``eta_over_p > 0``), one per distinct ``(p, pstar)``."""

    def triple(key: str, case: object) -> tuple[int, int, float]:
        if isinstance(case, (str, bytes)) or not isinstance(case, Sequence) or len(case) != 3:
            raise ValueError(f"{key} must be a triple (p, pstar, eta_over_p); got {case!r}")
        p, s, _ = _validate.widths(case[0], case[1])
        return p, s, _validate.positive_real(f"{key} eta_over_p", case[2])

    out = distinct(name, cases, triple)
    width_pairs(name, [c[:2] for c in out])  # one learning rate per (p, pstar)
    return out


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


#: Attributes of the flag :func:`censored_by_threshold` stored beside the runs it explains.
CENSORED_ATTRS: dict[str, Any] = {
    "long_name": "end state at or above the escape threshold: runs reach it without crossing the threshold, so "
                 "their status reads censored and they have no escape time",
    "units": "1",
    "flag_values": [0, 1],
    "flag_meanings": "escape_detectable end_state_above_escape_threshold",
}
#: Attributes of the stored escape threshold (risk units, like ``risk``).
THRESHOLD_ATTRS: dict[str, Any] = {"long_name": "escape threshold = escape_fraction x plateau risk", "units": "1"}


def escape_threshold(p: int, pstar: int, escape_fraction: float) -> float:
    """The risk below which a run counts as escaped: ``escape_fraction`` x the plateau risk
    (:func:`quadsgd.theory.plateau_risk`), as in :func:`quadsgd.ode.integrate` and :func:`quadsgd.sgd.simulate`."""
    from quadsgd.theory import plateau_risk

    return _validate.fraction("escape_fraction", escape_fraction) * float(plateau_risk(p, pstar))


def censored_by_threshold(p: int, pstar: int, eta: ArrayLike, noise: ArrayLike = 0.0,
                          escape_fraction: float = 0.5) -> NDArray[np.int8]:
    """1 where the clean risk of the ODE's end state (:func:`quadsgd.stationary.stationary_risk`
    at ``eta``, ``noise``) is at or above the escape threshold, else 0 (also where no such state
    exists). There a run learns what it can, yet never crosses the threshold: its status is
    ``censored`` and its escape time NaN although it is not stuck on the plateau. This happens for
    narrow students whose best fit is poor (``(1, 3)`` at any eta; ``(1, 2)`` from ``eta / p =
    0.107``, docs/beyond.md) and under strong label noise. Broadcast shape of ``eta`` and ``noise``."""
    from quadsgd.stationary import stationary_risk

    end = stationary_risk(p, pstar, eta, noise)
    return (np.isfinite(end) & (end >= escape_threshold(p, pstar, escape_fraction))).astype(np.int8)
