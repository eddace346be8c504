"""Sweep figures: ODE vs finite-N SGD (Figure 1), escape times and eta_opt (Figure 2), implicit
bias (Figure 3) and the conserved polar factor (Figure 4).

Every function takes a dataset of :mod:`quadsgd.sweep` and returns a matplotlib ``Figure`` on the
non-interactive Agg canvas (no pyplot state; saving is the caller's business).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from quadsgd.grids import eta_from_eta_over_p
from quadsgd.plots._style import new_figure, styled

__all__ = [
    "plot_sgd_vs_ode",
    "plot_polar_factor",
    "plot_escape_vs_eta",
    "plot_eta_opt",
    "plot_escape_at_eta_opt",
    "plot_implicit_bias",
]

_STYLE: dict[str, dict[str, Any]] = {
    "ode": {"ls": "-", "lw": 1.6},
    "sgd": {"ls": "--", "lw": 1.2, "marker": ".", "ms": 3},
}


def _dynamics_handles(N: int) -> list[Line2D]:
    return [
        Line2D([], [], color="k", **_STYLE["sgd"], label=f"finite-$N$ SGD, $N={N}$"),
        Line2D([], [], color="k", **_STYLE["ode"], label=r"ODE from the run's $M(0)$"),
    ]


def _dynamics_legend(ax, N: int) -> None:
    ax.legend(handles=_dynamics_handles(N), loc="best")


def _positive_alpha(ds: xr.Dataset) -> xr.Dataset:
    """Drop ``alpha = 0`` (log axes)."""
    return ds.isel(alpha=slice(1, None)) if float(ds.alpha[0]) == 0.0 else ds


@styled
def plot_sgd_vs_ode(ds: xr.Dataset, seed: int | None = None) -> Figure:
    """Figure 1: risk, ``diag Q`` and the entries of ``M`` vs alpha for SGD and the matched ODE.

    ``ds`` is a :func:`quadsgd.sweep.sgd_curves` dataset; one seed is drawn (the first by default)
    in every panel. The risk panel adds, per dynamics, the mean over all seeds (thick) with the
    16-84% quantile band over seeds (shaded) and every seed (thin).
    """
    seed = int(ds.seed[0]) if seed is None else seed
    d = _positive_alpha(ds.sel(seed=seed))
    a = d.alpha.values
    p, pstar, N, eta = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"]), float(ds.attrs["eta"])
    fig = new_figure(13.0, 3.8)
    axes = fig.subplots(1, 3)
    colors = [f"C{i}" for i in range(10)]
    every = _positive_alpha(ds)
    band_colors = {"sgd": "C3", "ode": "C0"}
    for dyn in ("sgd", "ode"):
        runs = every["risk"].sel(dynamics=dyn).transpose("seed", "alpha").values
        for row in runs:
            axes[0].plot(a, row, color=band_colors[dyn], lw=0.5, alpha=0.35)
        with np.errstate(invalid="ignore"):
            lo, hi = np.nanquantile(runs, [0.16, 0.84], axis=0) if runs.shape[0] > 1 else (runs[0], runs[0])
            mean = np.nanmean(runs, axis=0)
        axes[0].fill_between(a, lo, hi, color=band_colors[dyn], alpha=0.2, lw=0, label=f"{dyn} 16-84% over seeds")
        axes[0].plot(a, mean, color=band_colors[dyn], lw=2.0, ls=_STYLE[dyn]["ls"],
                     label=f"{dyn.upper()} mean over {runs.shape[0]} seeds", gid=f"mean_{dyn}")
    for dyn in ("sgd", "ode"):
        r = d.sel(dynamics=dyn)
        axes[0].plot(a, r["risk"], color="k", **_STYLE[dyn])
        for k in range(p):
            axes[1].plot(a, r["Q"].values[:, k, k], color=colors[k % 10], **_STYLE[dyn])
        for k in range(p):
            for s in range(pstar):
                axes[2].plot(a, r["M"].values[:, k, s], color=colors[(k * pstar + s) % 10], **_STYLE[dyn])
    axes[0].set_yscale("log")
    axes[0].set_ylabel(r"population risk $\varepsilon$")
    axes[1].set_ylabel(r"$Q_{kk}$ (one colour per student $k$)")
    axes[1].axhline(p / (p + 2), color="0.6", lw=0.8, ls=":")
    axes[1].annotate(r"$q^*=p/(p+2)$", (a[0], p / (p + 2)), color="0.4",
                     xytext=(2, 3), textcoords="offset points")
    axes[2].set_ylabel(r"$M_{kr}$ (one colour per entry)")
    titles = ["risk", "student norms", "student-teacher overlaps"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha$ = samples / $N$")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    handles = _dynamics_handles(N) + axes[0].get_legend_handles_labels()[0]
    axes[0].legend(handles=handles, loc="best")
    fig.suptitle(rf"Finite-$N$ SGD vs ODE: $p={p}$, $p^*={pstar}$, $N={N}$, $\eta={eta:g}$; "
                 rf"black: seed {seed}, colour: all {ds.sizes['seed']} seeds")
    return fig


@styled
def plot_polar_factor(ds: xr.Dataset, seed: int | None = None) -> Figure:
    """Figure 4: entries of the polar factor ``C = M (M^T M)^{-1/2}`` vs alpha (one seed), and
    its drift ``|C - C(0)|_F`` for every seed, SGD and ODE. Needs ``C`` in ``ds`` (p >= pstar)."""
    if "C" not in ds:
        raise ValueError("the dataset has no polar factor C (it needs p >= pstar)")
    seed = int(ds.seed[0]) if seed is None else seed
    p, pstar, N = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"])
    d = _positive_alpha(ds)
    a = d.alpha.values
    fig = new_figure(11.0, 4.0)
    ax, ax2 = fig.subplots(1, 2)
    for dyn in ("sgd", "ode"):
        C = d["C"].sel(dynamics=dyn, seed=seed).values
        for k in range(p):
            for s in range(pstar):
                ax.plot(a, C[:, k, s], color=f"C{(k * pstar + s) % 10}", **_STYLE[dyn])
    ax.set_xscale("log")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$C_{kr}$, $C = M\,(M^\top M)^{-1/2}$")
    ax.set_title(f"polar factor entries (seed {seed})")
    floor = 1e-16
    for i, s in enumerate(d.seed.values):
        for dyn in ("sgd", "ode"):
            ax2.plot(a, np.maximum(d["polar_drift"].sel(dynamics=dyn, seed=s).values, floor),
                     color=f"C{i % 10}", **_STYLE[dyn])
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_ylim(bottom=floor / 2)
    ax2.set_xlabel(r"$\alpha$")
    ax2.set_ylabel(r"$\|C(\alpha) - C(0)\|_F$")
    ax2.set_title("drift of the polar factor (colour = seed)")
    fig.legend(handles=_dynamics_handles(N), loc="outside lower center", ncols=2)
    for axis in (ax, ax2):
        axis.grid(alpha=0.3, which="both", lw=0.4)
    fig.suptitle(rf"Conserved polar factor: $p={p}$, $p^*={pstar}$, $\eta={float(ds.attrs['eta']):g}$")
    return fig


@styled
def plot_escape_vs_eta(summary: xr.Dataset) -> Figure:
    """Figure 2a: mean ODE escape time (± sem over seeds) vs eta, one panel per ``pstar``, one
    colour per p; grid points (circles) and refinement points (crosses) where every seed escaped
    and learned, ``eta_opt`` starred. At the foot of each panel, learning rates where some seed
    settled at a finite risk (squares) or diverged (triangles). Vertical lines per p: the measured
    edge ``eta_max_stable`` (dashed) and the zero-error manifold's linear-stability edge
    ``eta_zero_error_edge`` (dotted, derived from the Jacobian; absent for p < p*)."""
    pstars = summary.pstar.values
    fig = new_figure(5.2 * len(pstars), 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(pstars), sharey=True))
    for ax, s in zip(axes, pstars, strict=True):
        foot = ax.get_xaxis_transform()  # x in data, y in axes fraction
        drawn = []
        for i, p in enumerate(summary.p.values):
            d = summary.sel(p=p, pstar=s)
            color = f"C{i}"
            n_runs = int(d["n_runs"].max())
            ok = (d["n_escaped"] == d["n_runs"]).values
            eta = d.eta.values
            ax.errorbar(eta[ok], d["alpha_escape_mean"].values[ok], yerr=d["alpha_escape_sem"].values[ok],
                        color=color, marker="o", ms=3, lw=1.2, capsize=2, label=f"$p={p}$")
            drawn += [d["alpha_escape_mean"].values[ok], d["refine_alpha_escape_mean"].values]
            r_eta = eta_from_eta_over_p(d["refine_eta_over_p"].values, p)
            rok = d["refine_n_escaped"].values == n_runs
            ax.plot(r_eta[rok], d["refine_alpha_escape_mean"].values[rok], ls="none", marker="x", ms=5, color=color,
                    gid=f"refine_p{p}_pstar{s}")
            settled = np.concatenate([eta[d["n_settled"].values > 0],
                                      r_eta[d["refine_n_settled"].values > 0] if "refine_n_settled" in d else []])
            diverged = np.concatenate([eta[d["n_diverged"].values > 0],
                                       r_eta[d["refine_n_diverged"].values > 0] if "refine_n_diverged" in d else []])
            ax.plot(settled, np.full(settled.size, 0.03 + 0.025 * i), transform=foot, ls="none", marker="s", ms=4,
                    mfc="none", color=color, gid=f"settled_p{p}_pstar{s}")
            ax.plot(diverged, np.full(diverged.size, 0.03 + 0.025 * i), transform=foot, ls="none", marker="v",
                    ms=4, color=color, gid=f"diverged_p{p}_pstar{s}")
            if np.isfinite(d["eta_opt"]):
                ax.plot(float(d["eta_opt"]), float(d["alpha_escape_opt"]), marker="*", ms=14, color=color,
                        mec="k", mew=0.6, ls="none")
            if np.isfinite(d["eta_max_stable"]):
                ax.axvline(float(d["eta_max_stable"]), color=color, ls="--", lw=0.9, gid=f"measured_edge_p{p}_pstar{s}")
            if "eta_zero_error_edge" in d and np.isfinite(d["eta_zero_error_edge"]):
                ax.axvline(float(d["eta_zero_error_edge"]), color=color, ls=":", lw=1.4,
                           gid=f"jacobian_edge_p{p}_pstar{s}")
        ax.set_xscale("log")
        _log_y_if_positive(ax, np.concatenate([np.ravel(v) for v in drawn]))
        _note_never_escaped(ax, _never_escaped(summary, [s]))
        ax.set_xlabel(r"learning rate $\eta$")
        ax.set_title(rf"$p^*={s}$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], ls="none", marker="x", color="k"),
                    Line2D([], [], ls="none", marker="*", ms=12, color="w", mec="k"),
                    Line2D([], [], ls="none", marker="s", mfc="none", color="k"),
                    Line2D([], [], ls="none", marker="v", color="k"),
                    Line2D([], [], ls="--", color="k", lw=0.9),
                    Line2D([], [], ls=":", color="k", lw=1.4)]
        labels += ["refinement", r"$\eta_{\rm opt}$", "some seed settled at finite risk", "some seed diverged",
                   r"measured edge $\eta_{\rm max\,stable}$", "Jacobian edge $pp^*/(2(p^*+2))$"]
        ax.legend(handles, labels, ncols=2)
    axes[0].set_ylabel(r"mean escape time $\alpha_{\rm esc}$ (ODE, $\pm$ sem)")
    fig.suptitle("ODE escape time vs learning rate (points: every seed escaped and learned)")
    return fig


def _never_escaped(summary: xr.Dataset, pstars=None) -> list[tuple[int, int]]:
    """The ``(p, pstar)`` at which no learning rate let every seed escape (``eta_opt`` is NaN)."""
    pstars = summary.pstar.values if pstars is None else pstars
    return [(int(p), int(s)) for s in pstars for p in summary.p.values
            if not np.isfinite(float(summary["eta_opt"].sel(p=p, pstar=s)))]


def _note_never_escaped(ax: Axes, pairs: list[tuple[int, int]]) -> None:
    """Say under the x-axis label (where it hides no data) which ``(p, pstar)`` have no optimum
    (all censored or diverged): data, not a failure. Wrapped to the figure's width."""
    if pairs:
        ax.annotate("no learning rate let every seed escape for (p, p*)=" + ", ".join(f"({p}, {s})" for p, s in pairs),
                    xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -3), textcoords="offset points",
                    ha="center", va="top", fontsize="small", annotation_clip=False, wrap=True)


def _log_y_if_positive(ax: Axes, values) -> None:
    """A log y axis when some drawn value is positive and finite (matplotlib refuses a log axis
    without one); otherwise the linear default."""
    v = np.asarray(values, dtype=float).ravel()
    if np.any(np.isfinite(v) & (v > 0)):
        ax.set_yscale("log")


def _width_axis(ax: Axes, ps: np.ndarray, legend: bool = True) -> None:
    """Log x axis labelled by the student widths ``ps``, with grid (and legend unless the caller
    draws its own)."""
    ax.set_xscale("log")
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"student width $p$")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    if legend:
        ax.legend()


@styled
def plot_eta_opt(summary: xr.Dataset) -> Figure:
    """Figure 2b: ``eta_opt`` vs p on log-log axes per ``pstar``, with the fitted ``c p^a``
    (drawn over ``p >= pstar``, the widths it was fitted on; open markers for ``p < pstar``) and
    the linear reference ``eta_opt ∝ p`` (dashed, through the geometric mean of the same points).
    One legend entry per ``pstar`` (its colour and fitted exponent) and one per line style, in
    the upper left, which the rising points leave free."""
    fig = new_figure(5.2, 4.2)
    ax = fig.subplots()
    ps = summary.p.values
    handles, open_markers = [], False
    for i, s in enumerate(summary.pstar.values):
        d = summary.sel(pstar=s)
        a, se, c = (float(d[n]) for n in ("eta_opt_exponent", "eta_opt_exponent_se", "eta_opt_prefactor"))
        over = ps >= s
        ax.plot(ps[over], d["eta_opt"].values[over], ls="none", marker="o", color=f"C{i}")
        if not over.all():
            open_markers = True
            ax.plot(ps[~over], d["eta_opt"].values[~over], ls="none", marker="o", mfc="none", color=f"C{i}")
        pline = np.geomspace(max(ps.min(), s), ps.max(), 50)
        fitted = d["eta_opt"].values[over]
        good = np.isfinite(fitted) & (fitted > 0)
        if good.any():  # eta_opt proportional to p, through the geometric mean of the fitted points
            c1 = float(np.exp(np.mean(np.log(fitted[good] / ps[over][good]))))
            ax.plot(pline, c1 * pline, color=f"C{i}", lw=1, ls="--", gid=f"linear_reference_pstar{s}")
        fit = rf": fit $\propto p^{{{a:.2f} \pm {se:.2f}}}$" if np.isfinite(a) else ""
        if np.isfinite(a):
            ax.plot(pline, c * pline**a, color=f"C{i}", lw=1)
        handles.append(Line2D([], [], color=f"C{i}", marker="o", lw=1, label=rf"$p^*={s}${fit}"))
    if open_markers:
        handles.append(Line2D([], [], color="0.4", marker="o", mfc="none", ls="none", label=r"$p<p^*$ (not fitted)"))
    handles.append(Line2D([], [], color="0.4", lw=1, ls="--", label=r"reference $\eta_{\rm opt} \propto p$"))
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    _log_y_if_positive(ax, summary["eta_opt"].values)
    _note_never_escaped(ax, _never_escaped(summary))
    _width_axis(ax, ps, legend=False)
    ax.set_ylabel(r"optimal learning rate $\eta_{\rm opt}$")
    ax.set_title(r"$\eta_{\rm opt}$ vs $p$ (ODE escape times)")
    return fig


@styled
def plot_escape_at_eta_opt(summary: xr.Dataset) -> Figure:
    """Figure 2c: mean escape time at ``eta_opt`` (± sem over seeds) vs p, per ``pstar``."""
    fig = new_figure(5.2, 4.2)
    ax = fig.subplots()
    ps = summary.p.values
    for i, s in enumerate(summary.pstar.values):
        d = summary.sel(pstar=s)
        ax.errorbar(ps, d["alpha_escape_opt"].values, yerr=d["alpha_escape_opt_sem"].values, marker="o",
                    capsize=3, color=f"C{i}", label=rf"$p^*={s}$")
    _note_never_escaped(ax, _never_escaped(summary))
    _width_axis(ax, ps)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(r"$\alpha_{\rm esc}$ at $\eta_{\rm opt}$ (mean $\pm$ sem)")
    ax.set_title(r"Escape time at the optimal learning rate")
    return fig


@styled
def plot_implicit_bias(ds: xr.Dataset) -> Figure:
    """Figure 3: distance of each ODE trajectory to the closest solution predicted from its own
    ``M(0)`` (matched) and from the other seeds' ``M(0)`` (mismatched), with the risk."""
    d = _positive_alpha(ds)
    a = d.alpha.values
    p, pstar = int(ds.attrs["p"]), int(ds.attrs["pstar"])
    fig = new_figure(11.0, 4.0)
    ax, ax2 = fig.subplots(1, 2)
    seeds = d.seed.values
    for i, s in enumerate(seeds):
        for j, t in enumerate(seeds):
            if i != j:
                ax.plot(a, d["distance"].sel(seed=s, prediction=t), color="0.65", lw=0.8, ls="--")
        ax.plot(a, d["distance"].sel(seed=s, prediction=s), color=f"C{i % 10}", lw=1.6)
        ax2.plot(a, d["risk"].sel(seed=s), color=f"C{i % 10}", lw=1.4, label=f"seed {s}")
    handles = [Line2D([], [], color="C0", lw=1.6, label="matched: prediction from its own $M(0)$"),
               Line2D([], [], color="0.65", lw=0.8, ls="--", label="mismatched: another seed's $M(0)$")]
    ax.legend(handles=handles, loc="lower left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"distance $\sqrt{\|Q - Q_{\rm pred}\|_F^2 + \|M - M_{\rm pred}\|_F^2}$")
    ax.set_title("distance to the predicted closest solution")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel(r"$\alpha$")
    ax2.set_ylabel(r"population risk $\varepsilon$")
    ax2.set_title("risk (colour = seed, as on the left)")
    ax2.legend()
    for axis in (ax, ax2):
        axis.grid(alpha=0.3, which="both", lw=0.4)
    fig.suptitle(rf"Implicit bias (ODE): $p={p}$, $p^*={pstar}$, $N={int(ds.attrs['N'])}$, "
                 rf"$\eta={float(ds.attrs['eta']):g}$")
    return fig
