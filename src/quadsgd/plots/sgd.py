"""Sweep figures: ODE vs finite-N SGD (Figure 1), escape times and eta_opt (Figure 2), implicit
bias (Figure 3) and the conserved polar factor (Figure 4).

Every function takes a dataset of :mod:`quadsgd.sweep` and returns a matplotlib ``Figure`` on the
non-interactive Agg canvas (no pyplot state; saving is the caller's business).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from quadsgd.grids import eta_from_eta_over_p

__all__ = [
    "plot_sgd_vs_ode",
    "plot_polar_factor",
    "plot_escape_vs_eta",
    "plot_eta_opt",
    "plot_escape_at_eta_opt",
    "plot_implicit_bias",
]

_STYLE = {"ode": {"ls": "-", "lw": 1.6}, "sgd": {"ls": "--", "lw": 1.2, "marker": ".", "ms": 3}}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _dynamics_handles(N: int) -> list[Line2D]:
    return [
        Line2D([], [], color="k", **_STYLE["sgd"], label=f"finite-$N$ SGD, $N={N}$"),
        Line2D([], [], color="k", **_STYLE["ode"], label=r"ODE from the run's $M(0)$"),
    ]


def _dynamics_legend(ax, N: int) -> None:
    ax.legend(handles=_dynamics_handles(N), loc="best", fontsize="small")


def _positive_alpha(ds: xr.Dataset) -> xr.Dataset:
    """Drop ``alpha = 0`` (log axes)."""
    return ds.isel(alpha=slice(1, None)) if float(ds.alpha[0]) == 0.0 else ds


def plot_sgd_vs_ode(ds: xr.Dataset, seed: int | None = None) -> Figure:
    """Figure 1: risk, ``diag Q`` and the entries of ``M`` vs alpha for SGD and the matched ODE.

    ``ds`` is a :func:`quadsgd.sweep.sgd_curves` dataset; one seed is drawn (the first by default).
    """
    seed = int(ds.seed[0]) if seed is None else seed
    d = _positive_alpha(ds.sel(seed=seed))
    a = d.alpha.values
    p, pstar, N, eta = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"]), float(ds.attrs["eta"])
    fig = _new_figure(13.0, 3.8)
    axes = fig.subplots(1, 3)
    colors = [f"C{i}" for i in range(10)]
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
    axes[1].annotate(r"$q^*=p/(p+2)$", (a[0], p / (p + 2)), fontsize="small", color="0.4",
                     xytext=(2, 3), textcoords="offset points")
    axes[2].set_ylabel(r"$M_{kr}$ (one colour per entry)")
    titles = ["risk", "student norms", "student-teacher overlaps"]
    for ax, title in zip(axes, titles):
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha$ = samples / $N$")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    _dynamics_legend(axes[0], N)
    fig.suptitle(rf"Finite-$N$ SGD vs ODE: $p={p}$, $p^*={pstar}$, $N={N}$, $\eta={eta:g}$, seed {seed}")
    return fig


def plot_polar_factor(ds: xr.Dataset, seed: int | None = None) -> Figure:
    """Figure 4: entries of the polar factor ``C = M (M^T M)^{-1/2}`` vs alpha (one seed), and
    its drift ``|C - C(0)|_F`` for every seed, SGD and ODE. Needs ``C`` in ``ds`` (p >= pstar)."""
    if "C" not in ds:
        raise ValueError("the dataset has no polar factor C (it needs p >= pstar)")
    seed = int(ds.seed[0]) if seed is None else seed
    p, pstar, N = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"])
    d = _positive_alpha(ds)
    a = d.alpha.values
    fig = _new_figure(11.0, 4.0)
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
    fig.legend(handles=_dynamics_handles(N), loc="outside lower center", ncols=2, fontsize="small")
    for axis in (ax, ax2):
        axis.grid(alpha=0.3, which="both", lw=0.4)
    fig.suptitle(rf"Conserved polar factor: $p={p}$, $p^*={pstar}$, $\eta={float(ds.attrs['eta']):g}$")
    return fig


def plot_escape_vs_eta(summary: xr.Dataset) -> Figure:
    """Figure 2a: mean ODE escape time (± sem over seeds) vs eta, one panel per ``pstar``, one
    line per p, ``eta_opt`` starred. Only learning rates at which every seed escaped are drawn."""
    pstars = summary.pstar.values
    fig = _new_figure(5.2 * len(pstars), 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(pstars), sharey=True))
    for ax, s in zip(axes, pstars):
        for i, p in enumerate(summary.p.values):
            d = summary.sel(p=p, pstar=s)
            ok = (d["n_escaped"] == d["n_runs"]).values
            eta = d.eta.values
            ax.errorbar(eta[ok], d["alpha_escape_mean"].values[ok], yerr=d["alpha_escape_sem"].values[ok],
                        color=f"C{i}", marker="o", ms=3, lw=1.2, capsize=2, label=f"$p={p}$")
            rok = d["refine_n_escaped"].values == int(d["n_runs"].max())
            ax.plot(eta_from_eta_over_p(d["refine_eta_over_p"].values[rok], p), d["refine_alpha_escape_mean"].values[rok],
                    ls="none", marker="x", ms=4, color=f"C{i}")
            if np.isfinite(d["eta_opt"]):
                ax.plot(float(d["eta_opt"]), float(d["alpha_escape_opt"]), marker="*", ms=14, color=f"C{i}",
                        mec="k", mew=0.6, ls="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"learning rate $\eta$")
        ax.set_title(rf"$p^*={s}$")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], ls="none", marker="x", color="k"),
                    Line2D([], [], ls="none", marker="*", ms=12, color="w", mec="k")]
        labels += ["refinement", r"$\eta_{\rm opt}$"]
        ax.legend(handles, labels, fontsize="small", ncols=2)
    axes[0].set_ylabel(r"mean escape time $\alpha_{\rm esc}$ (ODE, $\pm$ sem)")
    fig.suptitle("ODE escape time vs learning rate\n(points where every seed escapes; past the last one runs diverge or stall)",
                 fontsize="medium")
    return fig


def _width_axis(ax: Axes, ps: np.ndarray) -> None:
    """Log x axis labelled by the student widths ``ps``, with grid and legend."""
    ax.set_xscale("log")
    ax.set_xticks(ps, [str(p) for p in ps])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"student width $p$")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize="small")


def plot_eta_opt(summary: xr.Dataset) -> Figure:
    """Figure 2b: ``eta_opt`` vs p on log-log axes per ``pstar``, with the fitted ``c p^a``
    (drawn over ``p >= pstar``, the widths it was fitted on; open markers for ``p < pstar``)."""
    fig = _new_figure(5.2, 4.2)
    ax = fig.subplots()
    ps = summary.p.values
    for i, s in enumerate(summary.pstar.values):
        d = summary.sel(pstar=s)
        a, se, c = (float(d[n]) for n in ("eta_opt_exponent", "eta_opt_exponent_se", "eta_opt_prefactor"))
        over = ps >= s
        ax.plot(ps[over], d["eta_opt"].values[over], ls="none", marker="o", color=f"C{i}", label=rf"$p^*={s}$")
        if not over.all():
            ax.plot(ps[~over], d["eta_opt"].values[~over], ls="none", marker="o", mfc="none", color=f"C{i}",
                    label=rf"$p^*={s}$, $p<p^*$ (not fitted)")
        pline = np.geomspace(max(ps.min(), s), ps.max(), 50)
        if np.isfinite(a):
            ax.plot(pline, c * pline**a, color=f"C{i}", lw=1,
                    label=rf"fit $\eta_{{\rm opt}} \propto p^{{{a:.2f} \pm {se:.2f}}}$")
    ax.set_yscale("log")
    _width_axis(ax, ps)
    ax.set_ylabel(r"optimal learning rate $\eta_{\rm opt}$")
    ax.set_title(r"$\eta_{\rm opt}$ vs $p$ (ODE escape times)")
    return fig


def plot_escape_at_eta_opt(summary: xr.Dataset) -> Figure:
    """Figure 2c: mean escape time at ``eta_opt`` (± sem over seeds) vs p, per ``pstar``."""
    fig = _new_figure(5.2, 4.2)
    ax = fig.subplots()
    ps = summary.p.values
    for i, s in enumerate(summary.pstar.values):
        d = summary.sel(pstar=s)
        ax.errorbar(ps, d["alpha_escape_opt"].values, yerr=d["alpha_escape_opt_sem"].values, marker="o",
                    capsize=3, color=f"C{i}", label=rf"$p^*={s}$")
    _width_axis(ax, ps)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(r"$\alpha_{\rm esc}$ at $\eta_{\rm opt}$ (mean $\pm$ sem)")
    ax.set_title(r"Escape time at the optimal learning rate")
    return fig


def plot_implicit_bias(ds: xr.Dataset) -> Figure:
    """Figure 3: distance of each ODE trajectory to the closest solution predicted from its own
    ``M(0)`` (matched) and from the other seeds' ``M(0)`` (mismatched), with the risk."""
    d = _positive_alpha(ds)
    a = d.alpha.values
    p, pstar = int(ds.attrs["p"]), int(ds.attrs["pstar"])
    fig = _new_figure(11.0, 4.0)
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
    ax.legend(handles=handles, fontsize="small", loc="lower left")
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
    ax2.legend(fontsize="small")
    for axis in (ax, ax2):
        axis.grid(alpha=0.3, which="both", lw=0.4)
    fig.suptitle(rf"Implicit bias (ODE): $p={p}$, $p^*={pstar}$, $N={int(ds.attrs['N'])}$, "
                 rf"$\eta={float(ds.attrs['eta']):g}$")
    return fig
