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
