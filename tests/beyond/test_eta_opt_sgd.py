"""eta_opt measured with finite-N SGD (quadsgd.beyond.eta_opt_sgd)."""

from __future__ import annotations

import numpy as np

from quadsgd.beyond.eta_opt_sgd import _sgd_task
from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.schema import missing_attrs
from quadsgd.status import Status


def test_store_is_described_and_the_optimum_is_a_scanned_stable_point(eta_opt_sgd_store):
    ds = eta_opt_sgd_store
    assert missing_attrs(ds) == []
    d = ds.sel(p=2, pstar=1, N=2000)
    scanned = d["scan_eta_over_p"].values
    best = float(d["eta_opt_sgd_over_p"])
    i = int(np.nanargmin(np.abs(scanned - best)))
    assert np.isclose(scanned[i], best) and d["scan_n_learned"][i] == d["scan_n_runs"][i]
    assert int(d["grid_reaches_instability"]) == 1
    # Finite-N SGD lands near the ODE's optimum (here given as 0.12: the ODE's is 0.11-0.16 for p=2, p*=1).
    assert 0.5 < float(d["eta_opt_ratio"]) < 2.0


def test_learned_label_agrees_with_the_ode_classifier():
    """An SGD run is 'learned' below the zero-error edge (eta/p = 1/6 for p* = 1) and not above,
    where the ODE from the paper's start settles at a finite risk or diverges."""
    alpha = np.array([0.0, 80.0])
    for eop, ok in ((0.1, True), (0.17, False), (0.3, False)):
        sgd = _sgd_task(2, 1, eop, 20000, 0, alpha, 0.5, 0.1)
        Q0, M0, T = ode_initial(2, 1, 20000, np.arange(1))
        ode = integrate(Q0, M0, 2 * eop, np.array([0.0, 2000.0]), T, overlaps="final")
        learned_sgd = int(sgd["status"].values[0, 0]) in (Status.ESCAPED, Status.CONVERGED)
        learned_ode = int(ode["status"].values[0]) in (Status.ESCAPED, Status.CONVERGED)
        assert learned_sgd == learned_ode == ok, (eop, sgd["status"].values, ode["status"].values)
