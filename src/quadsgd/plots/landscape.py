"""Landscape figures: Hessian eigenvalue counts at the critical points, and degrees of freedom.

Both functions only read a store built by :mod:`quadsgd.landscape.datasets` (closed forms and
numerical values alike) and return a matplotlib ``Figure`` on the non-interactive Agg canvas
(no pyplot state, nothing shown or saved). Conventions: docs/conventions.md section 8.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from quadsgd.plots._style import new_figure, styled

__all__ = ["plot_eigen_counts", "plot_degrees_of_freedom"]

_SIGN_STYLE = {
    "negative": ("tab:red", "o"),
    "null": ("tab:gray", "s"),
    "positive": ("tab:blue", "^"),
    "null_tangent": ("tab:green", "v"),
    "null_nontangent": ("tab:purple", "D"),
}

_SIGN_LABEL = {
    "negative": "negative",
    "null": "zero",
    "positive": "positive",
    "null_tangent": "zero, along the manifold",
    "null_nontangent": "zero, off the manifold",
}

_POINT_TITLE = {
    "tabula_rasa": "tabula rasa $W=0$",
    "plateau": "plateau ($q^*=p/(p+2)$)",
    "zero_error": "zero error $W=\\sqrt{p/p^*}\\,UW^*$",
    "aligned": "all students on one teacher unit",
}


def _drawable(values: np.ndarray) -> np.ndarray:
    """Counts as floats with the ``-1`` fill (and, for log axes, zeros) as NaN."""
    out = values.astype(float)
    out[out <= 0] = np.nan
    return out


@styled
def plot_eigen_counts(ds: xr.Dataset, pstar: int, N: int) -> Figure:
    """Eigenvalue counts vs p for each critical point, and the plateau negative/null ratio.

    Parameters
    ----------
    ds : xarray.Dataset
        The store of :func:`quadsgd.landscape.hessian_counts_dataset` (``-1`` entries are
        skipped).
    pstar, N : int
        The slice to draw; must be coordinates of ``ds``.

    Returns
    -------
    Figure
        One panel per point of ``ds`` (counts on a linear scale; lines closed form, markers
        numerical), and the plateau ratio ``#negative / #null`` vs p (line: closed-form counts,
        markers: numerical counts, dotted: ``p*/N``).
    """
    sl = ds.sel(pstar=pstar, N=N)
    p = sl["p"].values
    points = [str(v) for v in sl["point"].values]
    fig = new_figure(13.0, 7.5)
    axes = fig.subplots(2, 3).ravel()
    for ax, point in zip(axes, points, strict=False):
        for sign in (str(v) for v in sl["sign"].values):
            color, marker = _SIGN_STYLE.get(sign, ("k", "x"))
            formula = _drawable(sl["count_formula"].sel(point=point, sign=sign).values)
            numeric = _drawable(sl["count_numeric"].sel(point=point, sign=sign).values)
            if np.all(np.isnan(formula)) and np.all(np.isnan(numeric)):
                continue
            dashed = sign.startswith("null_")
            ax.plot(p, formula, color=color, ls="--" if dashed else "-", label=_SIGN_LABEL.get(sign, sign))
            ax.plot(p, numeric, color=color, marker=marker, ls="none", mfc="none")
        # Counts are small integers over a few decades at most: a linear axis reads directly.
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("student width $p$")
        ax.set_ylabel("number of Hessian eigenvalues")
        ax.set_title(_POINT_TITLE.get(point, point))
        ax.legend(loc="upper left")
    fig.suptitle(f"Hessian eigenvalue counts at the critical points, $p^*={pstar}$, $N={N}$ "
                 "(lines: closed form, open markers: numerical eigenvalues)")

    ax = axes[len(points)]
    plateau = sl.sel(point="plateau")
    for var, style, label in (
        ("count_formula", dict(ls="-", color="k"), r"closed form $2p^*/(2N-p-2p^*-1)$"),
        ("count_numeric", dict(ls="none", color="k", marker="o", mfc="none"), "numeric"),
    ):
        neg = plateau[var].sel(sign="negative").values.astype(float)
        null = plateau[var].sel(sign="null").values.astype(float)
        ok = (neg >= 0) & (null > 0)
        ax.plot(p[ok], neg[ok] / null[ok], label=label, **style)
    ax.axhline(pstar / N, color="0.5", ls=":", label=r"$p^*/N$")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("student width $p$")
    ax.set_ylabel(r"plateau: #negative / #zero eigenvalues")
    ax.set_title("plateau: negative / zero eigenvalues")
    ax.legend(loc="upper left")
    for extra in axes[len(points) + 1 :]:
        extra.remove()
    return fig


@styled
def plot_degrees_of_freedom(ds: xr.Dataset, N: int) -> Figure:
    """Degrees of freedom of ``W^T W`` and zero-error manifold dimension vs p.

    Parameters
    ----------
    ds : xarray.Dataset
        The store of :func:`quadsgd.landscape.degrees_of_freedom_dataset` (``-1`` entries are
        skipped).
    N : int
        Input dimension; must be a coordinate of ``ds``.

    Returns
    -------
    Figure
        Left: ``pN - p(p-1)/2`` (p <= N) / ``N(N+1)/2`` (p > N) with the bound ``N(N+1)/2`` and
        the numerical Jacobian rank of ``W -> W^T W``. Right: ``p p* - p*(p*+1)/2`` for each
        ``p*`` of ``ds`` with the numerical orbit dimension, and the generic fibre dimension
        ``pN - dof``.
    """
    sl = ds.sel(N=N)
    p = sl["p"].values
    fig = new_figure(11.0, 4.8)
    ax_dof, ax_man = fig.subplots(1, 2)

    ax_dof.plot(p, sl["wtw_dof"].values, "k-", label=r"$pN - p(p-1)/2$ ($p\leq N$), $N(N+1)/2$ ($p>N$)")
    rank = sl["wtw_jacobian_rank"].values
    ax_dof.plot(p[rank >= 0], rank[rank >= 0], "ko", mfc="none", label=r"rank of Jacobian of $W\mapsto W^TW$")
    ax_dof.axhline(float(sl["wtw_dof_bound"]), color="0.5", ls=":", label=r"$N(N+1)/2$")
    ax_dof.axvline(N, color="0.8", lw=0.8)
    ax_dof.set_xlabel("student width $p$")
    ax_dof.set_ylabel(r"degrees of freedom of $W^TW$")
    ax_dof.set_title(f"$N={N}$")
    ax_dof.legend(loc="lower right")

    ax_man.plot(p, sl["fibre_dimension"].values, color="0.5", ls="--", label=r"generic fibre $pN-\mathrm{dof}$")
    for i, pstar in enumerate(sl["pstar"].values):
        color = f"C{i}"
        dim = sl["manifold_dimension"].sel(pstar=pstar).values
        orbit = sl["orbit_dimension"].sel(pstar=pstar).values
        ax_man.plot(p[dim >= 0], dim[dim >= 0], color=color, label=f"$pp^*-p^*(p^*+1)/2$, $p^*={int(pstar)}$")
        ax_man.plot(p[orbit >= 0], orbit[orbit >= 0], color=color, marker="o", ls="none", mfc="none")
    ax_man.axvline(N, color="0.8", lw=0.8)
    ax_man.set_xlabel("student width $p$")
    ax_man.set_ylabel("zero-error manifold dimension")
    ax_man.set_title(f"$N={N}$ (markers: numerical orbit dimension)")
    ax_man.legend(loc="upper left")
    return fig
