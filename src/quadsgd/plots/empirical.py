"""Figures for empirical-risk gradient descent (:mod:`quadsgd.empirical`; Sarao Mannelli,
Vanden-Eijnden, Zdeborova, arXiv:2006.15459).

Each function draws a store or dataset built by :mod:`quadsgd.empirical` as it is (nothing is
recomputed here) and returns a matplotlib ``Figure`` drawn with the Agg canvas (no pyplot
state, nothing shown or saved).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from quadsgd.plots._style import new_figure, styled

__all__ = ["plot_recovery", "plot_population_decay", "plot_flow_curves"]


def _new_figure(ncols: int, width: float = 4.4, height: float = 3.6) -> tuple[Figure, list]:
    fig = new_figure(width * ncols, height)
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def _label(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def _legend(ax, **kw) -> None:
    ax.legend(loc=kw.pop("loc", "best"), **kw)  # inside the panel


@styled
def plot_recovery(ds: xr.Dataset) -> Figure:
    """Recovery probability vs the realized ``n/d``, one panel per ``m*``, one curve per ``d``.

    Parameters
    ----------
    ds : the recovery store, :func:`quadsgd.empirical.recovery_dataset` (dims ``d``, ``mstar``,
        ``alpha``; reads ``p_recover``, ``p_recover_low``, ``p_recover_high``, ``alpha_realized``,
        ``alpha_c_paper``). Error bars: the stored Wilson 95 % binomial interval. Dashed verticals:
        the paper's finite-d ``n_c/d`` (eq. 13) in the curve's colour; dotted grey:
        ``alpha_c = m* + 1`` (eq. 14).
    """
    if ds.sizes.get("d", 0) == 0 or ds.sizes.get("mstar", 0) == 0:
        raise ValueError("the recovery store has no (d, mstar) case")
    method = ds.attrs.get("method", "")
    how = {"flow": "gradient flow", "sdp": "SDP uniqueness"}.get(method, method)
    style = "o-" if method == "flow" else "s--"
    level = float(ds.attrs.get("confidence_level", 0.95))
    fig, axes = _new_figure(ds.sizes["mstar"])
    for ax, ms in zip(axes, ds["mstar"].values, strict=True):
        for i, d in enumerate(ds["d"].values):
            case = ds.sel(d=d, mstar=ms)
            x = case["alpha_realized"].values
            order = np.argsort(x, kind="stable")
            p = case["p_recover"].values[order]
            yerr = np.vstack([p - case["p_recover_low"].values[order], case["p_recover_high"].values[order] - p])
            c = f"C{i}"
            ax.errorbar(x[order], p, yerr=np.clip(yerr, 0.0, None), fmt=style, color=c, ms=4, capsize=2.5,
                        label=f"d = {int(d)}, {how}")
            ax.axvline(float(case["alpha_c_paper"]), color=c, ls="--", lw=0.9)
        ax.axvline(int(ms) + 1, color="0.5", ls=":", lw=1.2, label="large-d threshold m* + 1")
        ax.plot([], [], color="0.3", ls="--", lw=0.9, label="paper's finite-d threshold")
        ax.axhline(0.5, color="0.8", lw=0.6)
        _label(ax, "samples per dimension n / d", f"recovery probability ({level:.0%} Wilson interval)",
               f"teacher width m* = {int(ms)}")
        ax.set_ylim(-0.05, 1.05)
        _legend(ax, loc="lower right")
    return fig


def _clipped(values: ArrayLike, low: float, high: float) -> np.ndarray:
    """``values`` with the points outside ``[low, high]`` masked (reference lines stay in the data range)."""
    v = np.asarray(values, dtype=float)
    return np.where((v >= low) & (v <= high), v, np.nan)


@styled
def plot_population_decay(ds: xr.Dataset, cases: Sequence[tuple[int, int, str]] | None = None) -> Figure:
    """Population risk ``E(t)`` (eq. 9) of the exact flow eq. (20), log-log, one panel per case.

    ``ds`` is :func:`quadsgd.empirical.population_flow_dataset`; ``cases`` are ``(d, m*, teacher)``
    triples (default: every computed case). Drawn per case: the exact ``E``, the full weight flow
    (eq. 7, markers), the paper's eq. (26) and eq. (27) as printed, and for ``m* < d`` the
    late-time asymptote ``(d-m*)(m*+2)/(16(d+2) t^2)``. The reference lines are drawn only where
    they lie within the range of the computed ``E``, and the vertical axis spans that range.
    """
    if cases is None:
        done = ds["computed"].stack(case=("d", "mstar", "teacher"))
        done = done[done.values]
        cases = [(int(d), int(ms), str(k)) for d, ms, k in done["case"].values]
    if len(cases) == 0:
        raise ValueError("no population-flow case to draw")
    fig, axes = _new_figure(len(cases), width=4.0)
    t = ds["time"].values
    for ax, (d, ms, kind) in zip(axes, cases, strict=True):
        sub = ds.sel(d=d, mstar=ms, teacher=kind)
        E = sub["E"].values
        pos = (E > 0) & np.isfinite(E)
        if not pos.any():
            raise ValueError(f"no positive risk to draw for d={d}, m*={ms}, teacher={kind}")
        lo, hi = float(E[pos].min()), float(E[pos].max())
        ax.loglog(t[pos], E[pos], "k-", lw=1.8, label="exact risk, eigenvalue flow (20)")
        Ew = sub["E_weight_flow"].values
        ok = np.isfinite(Ew) & (Ew > 0)
        ax.loglog(t[ok][::3], Ew[ok][::3], "o", mfc="none", color="C3", ms=4, label="full weight flow (7)")
        if ms < d:
            ax.loglog(t, _clipped(sub["E_paper_27"], lo, hi), "C0:", lw=1.5, label="paper's finite-d form (27)")
            ax.loglog(t, _clipped(sub["E_paper_26"], lo, hi), "C1--", lw=1.5, label="paper's 1/(16 t^2) (26)")
            ax.loglog(t, _clipped(sub["E_quasistatic"], lo, hi), "C2-.", lw=1.5,
                      label="late-time law derived here")
            title = f"d = {d}, m* = {ms}, {kind} teacher: slope {float(sub['exponent']):.3f}"
        else:
            title = f"d = {d}, m* = {ms}, {kind} teacher: rate {float(sub['rate']):.3g}"
        ax.set_ylim(lo / 3, hi * 3)
        _label(ax, "flow time t", "population risk E", title)
        _legend(ax, loc="lower left")
    return fig


@styled
def plot_flow_curves(ds: xr.Dataset) -> Figure:
    """Training ``E_n`` (eq. 6) and generalization ``E`` (eq. 9) error along the empirical flow,
    log-log, one colour per ``alpha`` (thin: seeds, thick: geometric mean), as the paper's Fig. 3.

    ``ds`` is :func:`quadsgd.empirical.flow_curves_dataset`.
    """
    fig, axes = _new_figure(2)
    t = ds["time"].values
    keep = t > 0
    labels = ("training error E_n", "generalization error E")
    for ax, var, lab in zip(axes, ("train_error", "gen_error"), labels, strict=True):
        for i, a in enumerate(ds["alpha"].values):
            vals = ds[var].sel(alpha=a).values[:, keep]
            vals = np.where(vals > 0, vals, np.nan)
            for row in vals:
                ax.loglog(t[keep], row, color=f"C{i}", lw=0.4, alpha=0.35)
            ax.loglog(t[keep], np.exp(np.nanmean(np.log(vals), axis=0)), color=f"C{i}", lw=1.8,
                      label=f"n/d = {a:.3g}")
        _label(ax, "flow time t", lab, f"d = {int(ds['d'])}, m* = {int(ds['mstar'])}, m = {int(ds['m'])}")
        _legend(ax, loc="lower left")
    return fig
