"""Landscape figures: Hessian eigenvalue counts at the critical points, and degrees of freedom.

Both functions return a matplotlib ``Figure`` built on the non-interactive Agg canvas (no
pyplot state, nothing shown or saved).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from quadsgd import landscape

__all__ = ["plot_eigen_counts", "plot_degrees_of_freedom"]

_SIGN_STYLE = {
    "negative": ("tab:red", "o"),
    "null": ("tab:gray", "s"),
    "positive": ("tab:blue", "^"),
    "null_tangent": ("tab:green", "v"),
    "null_nontangent": ("tab:purple", "D"),
}

_POINT_TITLE = {
    "tabula_rasa": "tabula rasa $W=0$",
    "plateau": "plateau ($q^*=p/(p+2)$)",
    "zero_error": "zero error $W=\\sqrt{p/p^*}\\,UW^*$",
    "aligned": "all students on one teacher unit",
}


def _new_figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_eigen_counts(ds: xr.Dataset, pstar: int, N: int) -> Figure:
    """Eigenvalue counts vs p for each critical point, and the plateau negative/null ratio.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`quadsgd.landscape.hessian_counts_dataset` (``-1`` entries are skipped).
    pstar, N : int
        The slice to draw; must be coordinates of ``ds``.

    Returns
    -------
    Figure
        Five panels: counts (log scale; lines closed form, markers numerical) for the four
        points, and the plateau ratio ``#negative / #null`` vs p with the closed form
        ``2 p* / (2N - p - 2p* - 1)`` drawn continuously.
    """
    sl = ds.sel(pstar=pstar, N=N)
    p = sl["p"].values
    fig = _new_figure((17.0, 8.0))
    axes = fig.subplots(2, 3).ravel()
    for ax, point in zip(axes, landscape.POINTS):
        for sign in landscape.SIGNS:
            color, marker = _SIGN_STYLE[sign]
            formula = sl["count_formula"].sel(point=point, sign=sign).values.astype(float)
            numeric = sl["count_numeric"].sel(point=point, sign=sign).values.astype(float)
            # log axis: zero counts and the -1 fill cannot be drawn
            formula[formula <= 0] = np.nan
            numeric[numeric <= 0] = np.nan
            if np.all(np.isnan(formula)) and np.all(np.isnan(numeric)):
                continue
            dashed = sign.startswith("null_")
            ax.plot(p, formula, color=color, ls="--" if dashed else "-", label=f"{sign} (formula)")
            ax.plot(p, numeric, color=color, marker=marker, ls="none", mfc="none", label=f"{sign} (numeric)")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("student width $p$")
        ax.set_ylabel("number of Hessian eigenvalues")
        ax.set_title(f"{_POINT_TITLE[point]}, $p^*={pstar}$, $N={N}$", fontsize="medium")
        # Outside the axes: the count curves span the whole panel.
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))

    ax = axes[len(landscape.POINTS)]
    neg = sl["count_numeric"].sel(point="plateau", sign="negative").values.astype(float)
    null = sl["count_numeric"].sel(point="plateau", sign="null").values.astype(float)
    ok = (neg >= 0) & (null > 0)
    ax.plot(p[ok], neg[ok] / null[ok], "ko", mfc="none", label="numeric")
    admissible = p[p + pstar <= N]
    if admissible.size:
        pc = np.linspace(admissible.min(), admissible.max(), 200)
        ax.plot(pc, 2.0 * pstar / (2.0 * N - pc - 2.0 * pstar - 1.0), "k-", label=r"$2p^*/(2N-p-2p^*-1)$")
        ax.axhline(pstar / N, color="0.5", ls=":", label=r"$p^*/N$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("student width $p$")
    ax.set_ylabel(r"plateau ratio $n_-/n_0$")
    ax.set_title("plateau: negative / null eigenvalues", fontsize="medium")
    ax.legend(fontsize="x-small")
    axes[-1].remove()
    return fig


def plot_degrees_of_freedom(
    N: int, pstar_values: Sequence[int], p_max: int, numeric_max_pN: int = 600, seed: int = 0
) -> Figure:
    """Degrees of freedom of ``W^T W`` and zero-error manifold dimension vs p.

    Parameters
    ----------
    N : int
        Input dimension.
    pstar_values : sequence of int
        Teacher widths (each ``<= N``) for the manifold-dimension curves.
    p_max : int
        Largest student width (take ``p_max > N`` to show the saturation at ``N(N+1)/2``).
    numeric_max_pN : int
        Numerical markers (Jacobian rank of ``W -> W^T W`` at random ``W``; orbit dimension at a
        seeded zero-error point) are drawn where ``p N`` does not exceed this.
    seed : int
        Seed of the random points used for the markers.

    Returns
    -------
    Figure
        Left: ``pN - p(p-1)/2`` (p <= N) / ``N(N+1)/2`` (p > N) with the bound ``N(N+1)/2``.
        Right: ``p p* - p*(p*+1)/2`` for each ``p*`` and the generic fibre dimension
        ``pN - dof``.
    """
    p = np.arange(1, p_max + 1)
    rng = np.random.default_rng(seed)
    fig = _new_figure((11.0, 4.5))
    ax_dof, ax_man = fig.subplots(1, 2)

    dof = [landscape.wtw_degrees_of_freedom(int(k), N) for k in p]
    ax_dof.plot(p, dof, "k-", label=r"$pN - p(p-1)/2$ ($p\leq N$), $N(N+1)/2$ ($p>N$)")
    small = p[p * N <= numeric_max_pN]
    ax_dof.plot(
        small,
        [landscape.wtw_jacobian_rank(rng.standard_normal((int(k), N))) for k in small],
        "ko",
        mfc="none",
        label=r"rank of Jacobian of $W\mapsto W^TW$",
    )
    ax_dof.axhline(N * (N + 1) / 2, color="0.5", ls=":", label=r"$N(N+1)/2$")
    ax_dof.axvline(N, color="0.8", lw=0.8)
    ax_dof.set_xlabel("student width $p$")
    ax_dof.set_ylabel(r"degrees of freedom of $W^TW$")
    ax_dof.set_title(f"$N={N}$", fontsize="medium")
    ax_dof.legend(fontsize="small")

    fibre = [landscape.manifold_dimension(int(k), min(int(k), N), N) for k in p]
    ax_man.plot(p, fibre, color="0.5", ls="--", label=r"generic fibre $pN-\mathrm{dof}$")
    for i, pstar in enumerate(pstar_values):
        color = f"C{i}"
        pp = p[p >= pstar]
        ax_man.plot(
            pp,
            [landscape.manifold_dimension(int(k), pstar, N) for k in pp],
            color=color,
            label=f"$pp^*-p^*(p^*+1)/2$, $p^*={pstar}$",
        )
        pn = pp[pp * N <= numeric_max_pN]
        ax_man.plot(
            pn,
            [
                landscape.orbit_dimension(landscape.zero_error(int(k), pstar, N, seed)[0])
                for k in pn
            ],
            color=color,
            marker="o",
            ls="none",
            mfc="none",
        )
    ax_man.axvline(N, color="0.8", lw=0.8)
    ax_man.set_xlabel("student width $p$")
    ax_man.set_ylabel("zero-error manifold dimension")
    ax_man.set_title(f"$N={N}$ (markers: numerical orbit dimension)", fontsize="medium")
    ax_man.legend(fontsize="small")
    return fig
