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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_recovery", "plot_population_decay", "plot_flow_curves"]


def _new_figure(ncols: int, width: float = 4.2, height: float = 3.4) -> tuple[Figure, list]:
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def plot_recovery(ds: xr.Dataset) -> Figure:
    """Recovery probability vs the realized ``n/d``, one panel per ``m*``, one curve per ``d``.

    Parameters
    ----------
    ds : the recovery store, :func:`quadsgd.empirical.recovery_dataset` (dims ``d``, ``mstar``,
        ``alpha``; reads ``p_recover``, ``p_recover_err``, ``alpha_realized``, ``alpha_c_paper``).
        Dashed verticals: the paper's finite-d ``n_c/d`` (eq. 13) in the curve's colour; dotted
        grey: ``alpha_c = m* + 1`` (eq. 14).
    """
    if ds.sizes.get("d", 0) == 0 or ds.sizes.get("mstar", 0) == 0:
        raise ValueError("the recovery store has no (d, mstar) case")
    method = ds.attrs.get("method", "")
    style = "o-" if method == "flow" else "s--"
    fig, axes = _new_figure(ds.sizes["mstar"])
    for ax, ms in zip(axes, ds["mstar"].values):
        for i, d in enumerate(ds["d"].values):
            case = ds.sel(d=d, mstar=ms)
            x = case["alpha_realized"].values
            order = np.argsort(x, kind="stable")
            c = f"C{i}"
            ax.errorbar(x[order], case["p_recover"].values[order], yerr=case["p_recover_err"].values[order],
                        fmt=style, color=c, ms=3, capsize=2, label=f"d={int(d)} ({method})")
            ax.axvline(float(case["alpha_c_paper"]), color=c, ls="--", lw=0.8)
        ax.axvline(int(ms) + 1, color="0.5", ls=":", lw=1.0, label=r"$\alpha_c = m^*+1$")
        ax.axhline(0.5, color="0.8", lw=0.6)
        ax.set_xlabel(r"$\alpha = n/d$")
        ax.set_ylabel(r"$P(A_\infty = A^*)$")
        ax.set_title(rf"$m^* = {int(ms)}$ (dashed: paper $n_c/d$, eq. 13)", fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    return fig


def plot_population_decay(ds: xr.Dataset, cases: Sequence[tuple[int, int, str]] | None = None) -> Figure:
    """Population risk ``E(t)`` (eq. 9) of the exact flow eq. (20), log-log, one panel per case.

    ``ds`` is :func:`quadsgd.empirical.population_flow_dataset`; ``cases`` are ``(d, m*, teacher)``
    triples (default: every computed case). Drawn per case: the exact ``E``, the full weight flow
    (eq. 7, markers), the paper's eq. (26) and eq. (27) as printed, and for ``m* < d`` the
    late-time asymptote ``(d-m*)(m*+2)/(16(d+2) t^2)``.
    """
    if cases is None:
        done = ds["computed"].stack(case=("d", "mstar", "teacher"))
        done = done[done.values]
        cases = [(int(d), int(ms), str(k)) for d, ms, k in done["case"].values]
    if len(cases) == 0:
        raise ValueError("no population-flow case to draw")
    fig, axes = _new_figure(len(cases), width=3.6)
    t = ds["time"].values
    for ax, (d, ms, kind) in zip(axes, cases):
        sub = ds.sel(d=d, mstar=ms, teacher=kind)
        E = sub["E"].values
        pos = E > 0
        ax.loglog(t[pos], E[pos], "k-", lw=1.6, label=r"exact $E$ (eq. 20)")
        Ew = sub["E_weight_flow"].values
        ok = np.isfinite(Ew) & (Ew > 0)
        ax.loglog(t[ok][::3], Ew[ok][::3], "o", mfc="none", color="C3", ms=4, label="weight flow (eq. 7)")
        if ms < d:
            ax.loglog(t, sub["E_paper_27"], "C0:", label="paper eq. (27)")
            ax.loglog(t, sub["E_paper_26"], "C1--", label=r"paper $1/(16t^2)$ (26)")
            ax.loglog(t, sub["E_quasistatic"], "C2-.", label=r"$\frac{(d-m^*)(m^*+2)}{16(d+2)t^2}$")
            ax.set_title(rf"$d={d}, m^*={ms}$ ({kind}); slope {float(sub['exponent']):.3f}", fontsize=9)
        else:
            ax.set_title(rf"$d={d}, m^*={ms}$ ({kind}); rate {float(sub['rate']):.3g}", fontsize=9)
        floor = max(E[pos].max() * 1e-20, 1e-300) if pos.any() else 1e-300
        ax.set_ylim(bottom=floor)
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(r"$E(A(t)) = \mathrm{tr}D^2 + (\mathrm{tr}D)^2/2$")
        ax.legend(fontsize=6)
    return fig


def plot_flow_curves(ds: xr.Dataset) -> Figure:
    """Training ``E_n`` (eq. 6) and generalization ``E`` (eq. 9) error along the empirical flow,
    log-log, one colour per ``alpha`` (thin: seeds, thick: geometric mean), as the paper's Fig. 3.

    ``ds`` is :func:`quadsgd.empirical.flow_curves_dataset`.
    """
    fig, axes = _new_figure(2)
    t = ds["time"].values
    keep = t > 0
    labels = (r"$E_n(A(t))$ (train)", r"$E(A(t))$ (generalization)")
    for ax, var, lab in zip(axes, ("train_error", "gen_error"), labels):
        for i, a in enumerate(ds["alpha"].values):
            vals = ds[var].sel(alpha=a).values[:, keep]
            vals = np.where(vals > 0, vals, np.nan)
            for row in vals:
                ax.loglog(t[keep], row, color=f"C{i}", lw=0.4, alpha=0.35)
            ax.loglog(t[keep], np.exp(np.nanmean(np.log(vals), axis=0)), color=f"C{i}", lw=1.8,
                      label=rf"$\alpha={a:.3g}$")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(lab)
        ax.set_title(rf"$d={int(ds['d'])}, m^*={int(ds['mstar'])}, m={int(ds['m'])}$", fontsize=9)
        ax.legend(fontsize=7)
    return fig
