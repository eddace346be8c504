"""Sweep figures on small synthetic datasets shaped like the pipeline's stores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from quadsgd.plots import sgd


def _summary() -> xr.Dataset:
    ps, pstars, etas = np.array([1, 2, 4]), np.array([1]), np.geomspace(0.05, 1.0, 6)
    shape = (3, 1, 6)
    n_runs = np.full(shape, 2)
    n_div = np.zeros(shape, int)
    n_div[:, :, -2:] = 2
    n_set = np.zeros(shape, int)
    n_set[2, 0, 3] = 2
    n_esc = n_runs - n_div - n_set
    mean = np.where(n_esc == 2, 10.0 / etas, np.nan)
    ds = xr.Dataset(
        {
            "alpha_escape_mean": (("p", "pstar", "eta_over_p"), mean),
            "alpha_escape_sem": (("p", "pstar", "eta_over_p"), 0.1 * mean),
            "n_runs": (("p", "pstar", "eta_over_p"), n_runs),
            "n_escaped": (("p", "pstar", "eta_over_p"), n_esc),
            "n_settled": (("p", "pstar", "eta_over_p"), n_set),
            "n_diverged": (("p", "pstar", "eta_over_p"), n_div),
            "eta_opt": (("p", "pstar"), [[0.2], [0.5], [1.0]]),
            "alpha_escape_opt": (("p", "pstar"), [[40.0], [20.0], [12.0]]),
            "eta_max_stable": (("p", "pstar"), [[0.16], [0.33], [0.66]]),
            "eta_zero_error_edge": (("p", "pstar"), [[1 / 6], [1 / 3], [2 / 3]]),
            "refine_eta_over_p": (("p", "pstar", "refine"), np.tile([0.12, 0.15], (3, 1, 1))),
            "refine_alpha_escape_mean": (("p", "pstar", "refine"), np.tile([80.0, 70.0], (3, 1, 1))),
            "refine_n_escaped": (("p", "pstar", "refine"), np.tile([2, 2], (3, 1, 1))),
            "refine_n_settled": (("p", "pstar", "refine"), np.tile([0, 0], (3, 1, 1))),
            "refine_n_diverged": (("p", "pstar", "refine"), np.tile([0, 0], (3, 1, 1))),
            "eta_opt_exponent": ("pstar", [1.0]),
            "eta_opt_exponent_se": ("pstar", [0.05]),
            "eta_opt_prefactor": ("pstar", [0.25]),
        },
        coords={"p": ps, "pstar": pstars, "eta_over_p": etas, "refine": [0, 1]},
    )
    return ds.assign_coords(eta=ds.p * ds.eta_over_p)


def _by_gid(fig: Figure, gid: str):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def test_escape_vs_eta_marks_both_edges_refinement_and_failures():
    s = _summary()
    fig = sgd.plot_escape_vs_eta(s)
    assert isinstance(fig, Figure)
    for p, edge, measured in [(1, 1 / 6, 0.16), (2, 1 / 3, 0.33), (4, 2 / 3, 0.66)]:
        (line,) = _by_gid(fig, f"jacobian_edge_p{p}_pstar1")
        assert line.get_xdata()[0] == pytest.approx(edge)
        (mline,) = _by_gid(fig, f"measured_edge_p{p}_pstar1")
        assert mline.get_xdata()[0] == pytest.approx(measured)
        (ref,) = _by_gid(fig, f"refine_p{p}_pstar1")
        np.testing.assert_allclose(ref.get_xdata(), p * np.array([0.12, 0.15]))
        (div,) = _by_gid(fig, f"diverged_p{p}_pstar1")
        np.testing.assert_allclose(div.get_xdata(), p * s.eta_over_p.values[-2:])
    (settled,) = _by_gid(fig, "settled_p4_pstar1")
    np.testing.assert_allclose(settled.get_xdata(), [4 * s.eta_over_p.values[3]])


def test_escape_vs_eta_draws_no_jacobian_edge_for_p_below_pstar():
    s = _summary()
    s["eta_zero_error_edge"] = s["eta_zero_error_edge"].where(s.p > 1)
    assert _by_gid(sgd.plot_escape_vs_eta(s), "jacobian_edge_p1_pstar1") == []


def test_eta_opt_has_the_linear_reference():
    fig = sgd.plot_eta_opt(_summary())
    (line,) = _by_gid(fig, "linear_reference_pstar1")
    x, y = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(y / x, y[0] / x[0])  # proportional to p
    # through the geometric mean of eta_opt / p = (0.2, 0.25, 0.25)
    assert y[0] / x[0] == pytest.approx(np.exp(np.mean(np.log([0.2, 0.25, 0.25]))))


def test_eta_opt_legend_is_one_entry_per_pstar_and_per_line_style():
    s = _summary()
    labels = [t.get_text() for t in sgd.plot_eta_opt(s).axes[0].get_legend().get_texts()]
    assert len(labels) == s.pstar.size + 1 and labels[0].startswith("$p^*=1$: fit")


@pytest.mark.parametrize("plot", [sgd.plot_eta_opt, sgd.plot_escape_at_eta_opt, sgd.plot_escape_vs_eta])
def test_the_missing_optimum_note_is_under_the_axis_label_inside_the_figure(plot):
    """The note on a (p, p*) without optimum hides no data and no label: it is drawn below the
    x-axis label, within the figure."""
    s = _summary()
    s["eta_opt"][0, 0] = np.nan
    s["alpha_escape_opt_sem"] = 0.1 * s["alpha_escape_opt"]
    fig = plot(s)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    notes = [(ax, t) for ax in fig.axes for t in ax.texts
             if t.get_text().startswith("no learning rate let every seed escape")]
    assert notes
    for ax, note in notes:
        box = note.get_window_extent(renderer)
        assert box.y1 <= ax.xaxis.label.get_window_extent(renderer).y0 <= ax.get_window_extent(renderer).y0
        assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.width


def test_sgd_vs_ode_shows_the_mean_over_seeds_with_a_band():
    rng = np.random.default_rng(0)
    alpha = np.linspace(0, 10, 11)
    p, pstar, S = 2, 1, 3
    risk = np.exp(-0.3 * alpha)[None, None] * (1 + 0.1 * rng.random((2, S, 11)))
    ds = xr.Dataset(
        {
            "risk": (("dynamics", "seed", "alpha"), risk),
            "Q": (("dynamics", "seed", "alpha", "k", "l"), np.broadcast_to(np.eye(p), (2, S, 11, p, p)).copy()),
            "M": (("dynamics", "seed", "alpha", "k", "r"), rng.standard_normal((2, S, 11, p, pstar))),
        },
        coords={"dynamics": ["sgd", "ode"], "seed": np.arange(S), "alpha": alpha},
        attrs={"p": p, "pstar": pstar, "N": 100, "eta": 0.2},
    )
    fig = sgd.plot_sgd_vs_ode(ds)
    for dyn in ("sgd", "ode"):
        (mean,) = _by_gid(fig, f"mean_{dyn}")
        np.testing.assert_allclose(mean.get_ydata(), risk[0 if dyn == "sgd" else 1, :, 1:].mean(axis=0))
    assert len(fig.axes[0].collections) == 2  # one quantile band per dynamics
