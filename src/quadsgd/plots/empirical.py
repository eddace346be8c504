"""Figures for empirical-risk gradient descent (paper 004; ``quadsgd.empirical``).

Each function takes datasets produced by :mod:`quadsgd.empirical` and returns a matplotlib
``Figure`` drawn with the Agg canvas (no pyplot state, nothing shown or saved).
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


def plot_recovery(summaries: Sequence[xr.Dataset]) -> Figure:
    """Recovery probability vs ``alpha = n/d``, one panel per ``m*``, one curve per ``d``.

    Parameters
    ----------
    summaries : outputs of :func:`quadsgd.empirical.recovery_summary` (any mix of d, m*,
        method). Dashed verticals: the paper's finite-d ``n_c/d`` (eq. 13) in the curve's
        colour; dotted grey: ``alpha_c = m* + 1`` (eq. 14).
    """
    if len(summaries) == 0:
        raise ValueError("summaries must not be empty")
    mstars = sorted({int(s.attrs["mstar"]) for s in summaries})
    fig, axes = _new_figure(len(mstars))
    ds_all = sorted({int(s.attrs["d"]) for s in summaries})
    colors = {d: f"C{i}" for i, d in enumerate(ds_all)}
    for ax, ms in zip(axes, mstars):
        for s in summaries:
            if int(s.attrs["mstar"]) != ms:
                continue
            d = int(s.attrs["d"])
            c = colors[d]
            style = "o-" if s.attrs.get("method") == "flow" else "s--"
            ax.errorbar(s["alpha"], s["p_recover"], yerr=s["p_recover_err"], fmt=style, color=c, ms=3,
                        capsize=2, label=f"d={d} ({s.attrs.get('method')})")
            ax.axvline(float(s["alpha_c_paper"]), color=c, ls="--", lw=0.8)
        ax.axvline(ms + 1, color="0.5", ls=":", lw=1.0, label=r"$\alpha_c = m^*+1$")
        ax.axhline(0.5, color="0.8", lw=0.6)
        ax.set_xlabel(r"$\alpha = n/d$")
        ax.set_ylabel(r"$P(A_\infty = A^*)$")
        ax.set_title(rf"$m^* = {ms}$ (dashed: paper $n_c/d$, eq. 13)", fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    return fig


def plot_population_decay(ds: xr.Dataset, cases: Sequence[int] | None = None) -> Figure:
    """Population risk ``E(t)`` (eq. 9) of the exact flow eq. (20), log-log, per case.

    ``ds`` is :func:`quadsgd.empirical.population_flow_dataset`. Drawn per case: the exact
    ``E``, the full weight flow (eq. 7, markers), the paper's eq. (26) and eq. (27) as printed,
    and for ``m* < d`` the late-time asymptote ``(d-m*)(m*+2)/(16(d+2) t^2)``.
    """
    idx = list(ds["case"].values) if cases is None else list(cases)
    fig, axes = _new_figure(len(idx), width=3.6)
    t = ds["time"].values
    for ax, c in zip(axes, idx):
        sub = ds.sel(case=c)
        d, ms, kind = int(sub["d"]), int(sub["mstar"]), str(sub["teacher"].values)
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
    for ax, var, lab in zip(axes, ("train_error", "gen_error"), (r"$E_n(A(t))$ (train)", r"$E(A(t))$ (generalization)")):
        for i, a in enumerate(ds["alpha"].values):
            vals = ds[var].sel(alpha=a).values[:, keep]
            vals = np.where(vals > 0, vals, np.nan)
            for row in vals:
                ax.loglog(t[keep], row, color=f"C{i}", lw=0.4, alpha=0.35)
            ax.loglog(t[keep], np.exp(np.nanmean(np.log(vals), axis=0)), color=f"C{i}", lw=1.8,
                      label=rf"$\alpha={a:.3g}$")
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(lab)
        ax.set_title(rf"$d={ds.attrs['d']}, m^*={ds.attrs['mstar']}, m={ds.attrs['m']}$", fontsize=9)
        ax.legend(fontsize=7)
    return fig
