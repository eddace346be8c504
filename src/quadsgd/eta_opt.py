"""The optimal learning rate: the one search used by the library and by the pipeline.

``eta_opt`` minimizes the mean escape time over seeds among learning rates at which every seed
escapes and learns (docs/conventions.md section 6; :func:`quadsgd.escape.means_if_all_escaped`):
a run that escapes and then settles at a finite risk did not learn, and a learning rate where
one seed does so is unstable (docs/science.md, "Escaped is not learned"). Learning
rates are handled as ``eta / p``. Starting from a scan of a grid, :func:`search_eta_opt`

1. grows the grid upwards by a factor ``grow`` until the largest learning rate no longer lets
   every seed escape and learn (the grid then brackets the stable range),
2. grows it downwards while the minimum sits at its smallest point (or while no point lets every
   seed escape and the smallest fails by instability rather than by staying on the plateau),
3. refines: ``refine_rounds`` rounds of ``refine_points`` log-spaced learning rates between the
   neighbours of the current best point,
4. selects the best point of everything scanned.

New points are scanned by a callback, so the same search runs on a laptop, inside one pipeline
job or on a Dask cluster; a member's numbers do not depend on which call scans it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from quadsgd import _validate
from quadsgd.escape import escape_statistics, means_if_all_escaped
from quadsgd.grids import round_grid

__all__ = ["EtaOptSearch", "DEFAULT_SEARCH", "EtaOptOutcome", "EtaOptResult", "search_eta_opt"]

#: Scans new ``eta / p`` values (1-D) for the same seeds: dims ``(eta_over_p, seed)``.
Scanner = Callable[[NDArray[np.float64]], xr.Dataset]


@dataclass(frozen=True)
class EtaOptSearch:
    """Options of :func:`search_eta_opt` (defaults are those of the pipeline's config)."""

    grow: float = 1.5
    max_grow: int = 20
    refine_points: int = 6
    refine_rounds: int = 2

    def __post_init__(self) -> None:
        _validate.real("grow", self.grow, low=1.0)
        _validate.integer("max_grow", self.max_grow, minimum=0)
        _validate.positive_int("refine_points", self.refine_points)
        _validate.integer("refine_rounds", self.refine_rounds, minimum=0)


#: The default options (the pipeline's config defaults); frozen, so one shared instance is safe.
DEFAULT_SEARCH = EtaOptSearch()


class EtaOptOutcome(enum.IntEnum):
    """How the search ended."""

    FOUND = 0  #: a minimum among learning rates at which every seed escapes and learns
    NONE_ESCAPED = 1  #: no scanned learning rate lets every seed escape and learn


@dataclass(frozen=True)
class EtaOptResult:
    """Result of :func:`search_eta_opt`.

    ``scan`` holds every scanned learning rate (dims ``(eta_over_p, seed, ...)``, sorted) and
    ``added`` only those the search scanned itself (None if none). ``eta_over_p_opt`` is NaN
    unless ``outcome`` is FOUND. ``eta_over_p_max_stable`` is the largest scanned learning rate
    at which every seed escaped and learned (none settled, stalled or diverged). Flags:
    ``reaches_instability`` (the largest scanned learning rate fails for some seed),
    ``at_lower_edge`` (the optimum is the smallest stable point scanned), ``at_stability_edge``
    (the next larger point fails for some seed, so the optimum is set by stability and resolved
    to the refinement's spacing).
    """

    outcome: EtaOptOutcome
    eta_over_p_opt: float
    eta_over_p_max_stable: float
    reaches_instability: bool
    at_lower_edge: bool
    at_stability_edge: bool
    scan: xr.Dataset
    added: xr.Dataset | None

    def statistics(self) -> xr.Dataset:
        """Escape statistics over seeds at the optimum (:func:`quadsgd.escape.escape_statistics`)."""
        if self.outcome is not EtaOptOutcome.FOUND:
            raise ValueError("no optimum: no scanned learning rate lets every seed escape")
        return escape_statistics(self.scan.sel(eta_over_p=[self.eta_over_p_opt]), "seed").isel(eta_over_p=0)


def _concat(parts: list[xr.Dataset]) -> xr.Dataset:
    return xr.concat(parts, dim="eta_over_p", data_vars="all", coords="minimal", compat="override",
                     join="exact").sortby("eta_over_p")


def search_eta_opt(scan: xr.Dataset, run: Scanner, options: EtaOptSearch = DEFAULT_SEARCH) -> EtaOptResult:
    """Search the optimal ``eta / p`` of one ``(p, pstar)`` starting from ``scan``.

    Parameters
    ----------
    scan : dims ``(eta_over_p, seed, ...)`` with ``alpha_escape`` and ``status``: the starting grid.
    run : scans new ``eta / p`` values for the same seeds (see :data:`Scanner`).
    options : growth and refinement settings.

    For ``p < pstar`` a settled run counts as learned (:func:`quadsgd.escape.learned`); the
    widths are read from ``scan``'s coordinates or attributes ``p``, ``pstar`` (else, and in
    scans without them, p >= pstar is assumed), and scanned parts pass theirs on.
    """
    merged, added = scan.sortby("eta_over_p"), []

    def extend(values: NDArray[np.float64]) -> bool:
        nonlocal merged
        have = merged.eta_over_p.values
        new = np.array([v for v in round_grid(values) if np.min(np.abs(np.log(v / have))) > 1e-9])
        if new.size == 0:
            return False
        part = run(new)
        added.append(part)
        keep = {k: part.attrs[k] for k in ("p", "pstar") if k in part.attrs and k not in merged.attrs}
        merged = _concat([merged, part]).assign_attrs(keep)
        return True

    for _ in range(options.max_grow):
        if np.isnan(means_if_all_escaped(merged.isel(eta_over_p=[-1]))[0]):
            break
        extend(np.array([merged.eta_over_p.values[-1] * options.grow]))
    for _ in range(options.max_grow):
        means = means_if_all_escaped(merged)
        if np.all(np.isnan(means)):
            # Nothing escapes everywhere: smaller learning rates help only if the smallest one
            # fails by instability, not by staying on the plateau.
            if int(escape_statistics(merged.isel(eta_over_p=[0]), "seed")["n_censored"].sum()):
                break
        elif int(np.nanargmin(means)) != 0:
            break
        extend(np.array([merged.eta_over_p.values[0] / options.grow]))
    for _ in range(options.refine_rounds):
        means = means_if_all_escaped(merged)
        if np.all(np.isnan(means)):
            break
        etas = merged.eta_over_p.values
        i = int(np.nanargmin(means))
        lo, hi = etas[max(i - 1, 0)], etas[min(i + 1, etas.size - 1)]
        if not extend(np.geomspace(lo, hi, options.refine_points + 2)[1:-1]):
            break

    means = means_if_all_escaped(merged)
    etas = merged.eta_over_p.values
    extra = _concat(added) if added else None
    reaches = bool(np.isnan(means[-1]))
    if np.all(np.isnan(means)):
        return EtaOptResult(EtaOptOutcome.NONE_ESCAPED, np.nan, np.nan, reaches, False, False, merged, extra)
    k = int(np.nanargmin(means))
    return EtaOptResult(
        outcome=EtaOptOutcome.FOUND,
        eta_over_p_opt=float(etas[k]),
        eta_over_p_max_stable=float(etas[~np.isnan(means)].max()),
        reaches_instability=reaches,
        at_lower_edge=bool(k == 0 or np.isnan(means[k - 1])),
        at_stability_edge=bool(k + 1 < means.size and np.isnan(means[k + 1])),
        scan=merged,
        added=extra,
    )
