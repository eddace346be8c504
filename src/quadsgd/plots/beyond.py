"""Figures of the beyond-the-paper stores (:mod:`quadsgd.beyond`, docs/beyond.md).

Every function reads one store's dataset and returns a ``Figure`` on the Agg canvas; nothing is
computed beyond selecting, averaging what is stored and drawing. :data:`FIGURES` maps a store's
name (``results/beyond/<name>.zarr``) to its figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from quadsgd.plots._style import new_figure, styled

__all__ = ["FIGURES", "plot_escape_law", "plot_eta_opt_sgd", "plot_phase_diagram", "plot_noise", "plot_narrow"]


def _cases(ds: xr.Dataset, probe: str) -> Iterator[tuple[int, int, xr.Dataset]]:
    """The ``(p, pstar)`` pairs of a store that hold data (``probe`` not all NaN)."""
    for p in ds["p"].values:
        for s in ds["pstar"].values:
            d = ds.sel(p=p, pstar=s)
            if bool(np.isfinite(d[probe]).any()):
                yield int(p), int(s), d


@styled
def plot_escape_law(ds: xr.Dataset) -> Figure:
    """Left: mean SGD escape time (± s.e.m.) and mean ODE escape time from the same M(0) against
    N (log axis), with the fitted line and the two predicted slopes drawn through the fitted
    point at the geometric middle of N. Middle: offset SGD - ODE against N. Right: the
    escape-time histograms per N of the first case."""
    fig = new_figure(14.0, 4.2)
    ax_law, ax_off, ax_hist = fig.subplots(1, 3)
    N = ds["N"].values.astype(float)
    for i, (p, s, d) in enumerate(_cases(ds, "alpha_escape_mean")):
        c = f"C{i}"
        ax_law.errorbar(N, d["alpha_escape_mean"], yerr=d["alpha_escape_sem"], fmt="o", color=c, capsize=3,
                        label=f"SGD p={p}, p*={s}, eta/p={float(d['eta_over_p']):.3g}")
        ax_law.plot(N, d["alpha_escape_ode_mean"], "s", mfc="none", color=c, label="ODE from the same M(0)")
        lnN = np.log(N)
        mid = float(np.mean(lnN))
        at_mid = float(d["escape_law_intercept"]) + float(d["escape_law_slope"]) * mid
        for name, ls, label in (("escape_law_slope", "-", "fit"), ("escape_law_slope_small_eta", ":", "small eta"),
                                ("escape_law_slope_finite_eta", "--", "finite eta")):
            b = float(d[name])
            ax_law.plot(N, at_mid + b * (lnN - mid), ls=ls, color=c, lw=1.2, label=f"{label}: slope {b:.3f}")
        ax_off.errorbar(N, d["escape_offset_mean"], yerr=d["escape_offset_sem"], fmt="o-", color=c, capsize=3,
                        label=f"p={p}, p*={s}")
        if i == 0:
            for j, n in enumerate(N):
                edges = d["escape_histogram_edges"].isel(N=j).values
                if np.all(np.isfinite(edges)):
                    ax_hist.stairs(d["escape_histogram"].isel(N=j).values, edges, color=f"C{j}", label=f"N={int(n)}")
            ax_hist.set_title(f"SGD escape times, p={p}, p*={s}")
    ax_law.set(xscale="log", xlabel="N", ylabel=r"mean escape time $\alpha_{esc}$",
               title=r"escape law $\alpha_{esc} = a + b \ln N$")
    ax_off.axhline(0.0, color="k", lw=0.8)
    ax_off.set(xscale="log", xlabel="N", ylabel=r"$\alpha_{esc}^{SGD} - \alpha_{esc}^{ODE}$ (same M(0))",
               title="SGD - ODE offset")
    ax_hist.set(xlabel=r"$\alpha_{esc}$", ylabel="runs")
    for ax in (ax_law, ax_off, ax_hist):
        ax.legend(loc="best")
    return fig


@styled
def plot_eta_opt_sgd(ds: xr.Dataset) -> Figure:
    """Mean SGD escape time against eta / p at every scanned learning rate (all seeds learned),
    per ``(p, pstar, N)``, with the SGD optimum (filled star) and the ODE's eta_opt (dashed)."""
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    k = 0
    for p, s, d in _cases(ds, "eta_opt_ode"):
        for n in ds["N"].values:
            dn = d.sel(N=n)
            x = dn["scan_eta_over_p"].values
            if not np.isfinite(x).any():
                continue
            all_learned = dn["scan_n_learned"].values == dn["scan_n_runs"].values
            order = np.argsort(x)
            c = f"C{k}"
            y = np.where(all_learned, dn["scan_alpha_escape_mean"].values, np.nan)
            ax.errorbar(x[order], y[order], yerr=dn["scan_alpha_escape_sem"].values[order], fmt="o-", color=c,
                        capsize=3, label=f"SGD p={p}, p*={s}, N={int(n)}")
            ax.plot(x[~all_learned], np.full((~all_learned).sum(), np.nanmax(y) if np.isfinite(y).any() else 1.0),
                    "x", color=c)
            ax.plot([float(dn["eta_opt_sgd_over_p"])], [float(dn["alpha_escape_opt_sgd"])], "*", ms=14, color=c,
                    label=f"SGD eta_opt/p = {float(dn['eta_opt_sgd_over_p']):.4g}")
            k += 1
        ax.axvline(float(d["eta_opt_ode_over_p"]), ls="--", color="k", lw=1.0,
                   label=f"ODE eta_opt/p = {float(d['eta_opt_ode_over_p']):.4g} (p={p}, p*={s})")
    ax.set(xscale="log", xlabel=r"$\eta / p$", ylabel=r"mean escape time $\alpha_{esc}$",
           title="eta_opt from finite-N SGD (x: some seed did not learn)")
    ax.legend(loc="best")
    return fig


@styled
def plot_phase_diagram(ds: xr.Dataset) -> Figure:
    """Regions of the finite-eta ODE over eta / p (log) against p, one panel per pstar, with the
    edges as lines and the ODE sweep's eta_opt as stars."""
    pstars = ds["pstar"].values
    fig = new_figure(4.8 * len(pstars), 4.5)
    axes = np.atleast_1d(fig.subplots(1, len(pstars)))
    codes = [int(v) for v in ds["region"].attrs["flag_values"]]
    names = ds["region"].attrs["flag_meanings"].split()
    colors = ["#d9f0d3", "#fee08b", "#fdae61", "#d73027", "#cccccc"]
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    cmap = ListedColormap(colors[: len(codes)])
    norm = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, len(codes))
    p = ds["p"].values
    x_edges = np.concatenate([[p[0] - 0.5], (p[1:] + p[:-1]) / 2, [p[-1] + 0.5]])
    e = ds["eta_over_p"].values
    y_edges = np.concatenate([[e[0]], np.sqrt(e[1:] * e[:-1]), [e[-1]]])
    for ax, s in zip(axes, pstars, strict=True):
        d = ds.sel(pstar=s)
        ax.pcolormesh(x_edges, y_edges, d["region"].transpose("eta_over_p", "p").values, cmap=cmap, norm=norm)
        for name, ls, label in (("eta_plateau_edge_over_p", "-", "plateau exists below"),
                                ("eta_stationary_edge_over_p", "--", "end state stable below"),
                                ("eta_divergence_edge_over_p", ":", "ODE diverges above")):
            ax.plot(p, d[name].values, ls=ls, color="k", marker=".", label=label)
        ax.plot(p, d["eta_opt_ode_over_p"].values, "*", color="C3", ms=12, label="ODE eta_opt / p (sweep)")
        ax.set(yscale="log", xlabel="p", ylabel=r"$\eta / p$", title=f"p* = {int(s)}")
    handles = [Patch(color=colors[i], label=names[i]) for i in range(len(codes))]
    axes[-1].legend(handles=handles + axes[0].get_legend_handles_labels()[0], loc="lower right", fontsize=8)
    return fig


@styled
def plot_noise(ds: xr.Dataset) -> Figure:
    """Left: clean risk against alpha, SGD (dashed, mean over seeds) and ODE (solid), per noise
    at the largest eta. Middle: late-time risk against noise per eta, SGD and ODE. Right: mean
    escape time against noise per eta, SGD and ODE."""
    fig = new_figure(14.0, 4.2)
    ax_r, ax_late, ax_esc = fig.subplots(1, 3)
    eta_top = ds["eta_over_p"].values[-1]
    a = ds["alpha"].values[1:]
    for i, v in enumerate(ds["noise"].values):
        d = ds.sel(noise=v, eta_over_p=eta_top).isel(alpha=slice(1, None))
        ax_r.plot(a, d["risk"].sel(dynamics="ode").mean("seed"), color=f"C{i}", label=f"noise {v:g} (ODE)")
        ax_r.plot(a, d["risk"].sel(dynamics="sgd").mean("seed"), color=f"C{i}", ls="--", label="SGD")
    noise = ds["noise"].values
    for j, e in enumerate(ds["eta_over_p"].values):
        d = ds.sel(eta_over_p=e)
        for dyn, ls, mk in (("ode", "-", "s"), ("sgd", "--", "o")):
            late = d["risk_late_mean"].sel(dynamics=dyn).mean("seed").values
            ax_late.plot(noise, late, ls=ls, marker=mk, color=f"C{j}", label=f"{dyn.upper()} eta/p={e:g}")
            ax_esc.errorbar(noise, d["alpha_escape_mean"].sel(dynamics=dyn),
                            yerr=d["alpha_escape_sem"].sel(dynamics=dyn), ls=ls, marker=mk, color=f"C{j}", capsize=3,
                            label=f"{dyn.upper()} eta/p={e:g}")
        noisy = noise > 0  # the noiseless stationary risk is 0, off the log axis
        ax_late.plot(noise[noisy], d["risk_stationary"].values[noisy], ":", color=f"C{j}", lw=2.0, marker="+",
                     label="predicted stationary")
    ax_r.set(xscale="log", yscale="log", xlabel=r"$\alpha$", ylabel="clean risk", title=f"eta/p = {eta_top:g}")
    ax_late.set(xscale="symlog", xlabel="label-noise variance", ylabel=r"mean risk, $\alpha \geq \alpha_{max}/2$",
                title="late-time risk", yscale="log")
    ax_late.set_xscale("symlog", linthresh=float(np.min(noise[noise > 0])) if np.any(noise > 0) else 1.0)
    ax_esc.set_xscale("symlog", linthresh=float(np.min(noise[noise > 0])) if np.any(noise > 0) else 1.0)
    ax_esc.set(xlabel="label-noise variance", ylabel=r"mean escape time", title="escape time")
    for ax in (ax_r, ax_late, ax_esc):
        ax.legend(loc="best", fontsize=8)
    return fig


@styled
def plot_narrow(ds: xr.Dataset) -> Figure:
    """Left: ODE end-point risk against eta / p per narrow case (mean over seeds), with the best
    rank-p fit's risk as a line and the escape threshold dotted (end states above it are reached
    but read ``censored``: ``censored_by_threshold``). Right: the excess risk against eta / p
    (log-log), measured (markers) and the finite-eta stationary state's (line); diverged runs
    have no end risk and leave gaps."""
    fig = new_figure(11.0, 4.2)
    ax_r, ax_x = fig.subplots(1, 2)
    for i, (p, s, d) in enumerate(_cases(ds, "risk_best_fit")):
        e = d["eta_over_p"].values
        c = f"C{i}"
        ax_r.plot(e, d["risk_end"].mean("seed"), "o-", color=c, label=f"ODE end, p={p}, p*={s}")
        ax_r.axhline(float(d["risk_best_fit"]), color=c, ls="--", label="best rank-p fit")
        if "escape_threshold" in d:  # stores written before the flag have none
            ax_r.axhline(float(d["escape_threshold"]), color=c, ls=":", label="escape threshold (above: censored)")
        ax_x.plot(e, d["risk_excess"].mean("seed"), "o", color=c, label=f"ODE end, p={p}, p*={s}")
        ax_x.plot(e, d["risk_excess_predicted"], "-", color=c, label="finite-eta stationary state")
    ax_r.set(xscale="log", xlabel=r"$\eta / p$", ylabel=r"risk at $\alpha_{max}$", title="narrow students p < p*")
    ax_x.set(xscale="log", yscale="log", xlabel=r"$\eta / p$", ylabel="ODE end risk - best-fit risk",
             title="excess risk")
    for ax in (ax_r, ax_x):
        ax.legend(loc="best")
    return fig


#: The figure of each beyond store, by the store's name.
FIGURES: dict[str, Callable[[xr.Dataset], Figure]] = {
    "escape_law": plot_escape_law,
    "eta_opt_sgd": plot_eta_opt_sgd,
    "phase_diagram": plot_phase_diagram,
    "noise": plot_noise,
    "narrow": plot_narrow,
}
