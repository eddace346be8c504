"""One style for every figure of the project: readable at slide size, same fonts and sizes.

Plot functions are wrapped in :func:`styled` (the style applies to every artist they create)
and start from :func:`new_figure` (an Agg canvas: no pyplot state, nothing shown).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["STYLE", "styled", "new_figure"]

P = ParamSpec("P")
R = TypeVar("R")

#: Font sizes of at least 9 pt at the saved size, so a figure reads on a slide.
#: (Keys typed Any: matplotlib >= 3.10 types rcParams names as a Literal, older releases as str.)
STYLE: dict[Any, Any] = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "legend.framealpha": 0.85,
    "lines.linewidth": 1.6,
    "lines.markersize": 6,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "savefig.dpi": 150,
}


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a plot function with :data:`STYLE` in force (artists read it when created)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with constrained layout on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig
