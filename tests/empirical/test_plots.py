"""quadsgd.plots.empirical: the figures draw the stores as stored."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from quadsgd import empirical as em
from quadsgd.plots import empirical as pe


def test_plots_smoke() -> None:
    rec = em.recovery_dataset([4, 5], [1, 2], [1.0, 2.0, 3.0], [0, 1], options=em.RecoveryOptions(t_max=1e4),
                              n_boot=50)
    fig = pe.plot_recovery(rec)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and fig.axes[0].get_xlabel()
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), rec["p_recover"].sel(d=4, mstar=1))  # drawn as stored
    pop = em.population_flow_dataset(cases=((5, 1, "gaussian"), (4, 5, "equal")), t=np.logspace(-2, 3, 40),
                                     t_weight_max=1.0)
    fig2 = pe.plot_population_decay(pop)
    assert isinstance(fig2, Figure) and len(fig2.axes) == 2
    curves = em.flow_curves_dataset(5, 1, [1.5, 3.0], [0, 1], t_max=1e2, n_eval=8)
    fig3 = pe.plot_flow_curves(curves)
    assert isinstance(fig3, Figure) and fig3.axes[0].get_legend() is not None
    for f in (fig, fig2, fig3):
        f.canvas.draw()


def test_plot_recovery_refuses_an_empty_store() -> None:
    rec = em.recovery_dataset([4], [1], [1.0, 2.0], [0, 1], options=em.RecoveryOptions(t_max=1e2), n_boot=10)
    with pytest.raises(ValueError):
        pe.plot_recovery(rec.isel(d=[]))


def _texts(fig: Figure) -> list:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


def test_figures_readable_at_slide_size() -> None:
    # issue 17, point 9: fonts >= 9 pt, legends inside the panels, words instead of identifiers,
    # recovery error bars from the stored binomial interval, reference lines within the data range
    rec = em.recovery_dataset([4], [1, 2], [1.0, 2.0, 3.0], [0, 1, 2], options=em.RecoveryOptions(t_max=1e4),
                              n_boot=20)
    pop = em.population_flow_dataset(cases=((8, 1, "gaussian"), (8, 8, "equal")), t_weight_max=1.0)
    curves = em.flow_curves_dataset(5, 1, [1.5, 3.0], [0, 1], t_max=1e2, n_eval=8)
    figs = (pe.plot_recovery(rec), pe.plot_population_decay(pop), pe.plot_flow_curves(curves))
    for fig in figs:
        fig.canvas.draw()
        assert min(t.get_fontsize() for t in _texts(fig)) >= 9
        for ax in fig.axes:
            legend = ax.get_legend()
            assert legend is not None
            lb, ab = legend.get_window_extent(), ax.get_window_extent()
            assert ab.x0 - 1 <= lb.x0 and lb.x1 <= ab.x1 + 1 and ab.y0 - 1 <= lb.y0 and lb.y1 <= ab.y1 + 1
            assert "mstar" not in ax.get_title() and "p_recover" not in ax.get_ylabel()
    # error bars span [p_recover_low, p_recover_high]
    ax = figs[0].axes[0]
    case = rec.sel(d=4, mstar=1)
    segs = ax.collections[0].get_segments()
    order = np.argsort(case["alpha_realized"].values)
    np.testing.assert_allclose([s[:, 1].min() for s in segs], case["p_recover_low"].values[order], atol=1e-12)
    np.testing.assert_allclose([s[:, 1].max() for s in segs], case["p_recover_high"].values[order], atol=1e-12)
    # the decay panels span the computed risk, not the reference lines
    for ax, (d, ms, kind) in zip(figs[1].axes, ((8, 1, "gaussian"), (8, 8, "equal")), strict=True):
        E = pop["E"].sel(d=d, mstar=ms, teacher=kind).values
        E = E[E > 0]
        lo, hi = ax.get_ylim()
        assert np.log10(hi / lo) <= np.log10(E.max() / E.min()) + 1.0
