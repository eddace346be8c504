"""eta_opt measured with finite-N SGD (quadsgd.beyond.eta_opt_sgd)."""

from __future__ import annotations

import numpy as np

from quadsgd.beyond.eta_opt_sgd import _scan
from quadsgd.init import ode_initial
from quadsgd.ode import integrate
from quadsgd.schema import missing_attrs
from quadsgd.status import Status
from quadsgd.sweep.drivers import sgd_seed_runs


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
    eops = np.array([0.1, 0.17, 0.3])
    runs = sgd_seed_runs(2, 1, eta=2 * eops, N=20000, seeds=[0], alpha=[0.0, 80.0], progress=False)
    sgd = _scan(runs, eops, learned_fraction=0.1)
    Q0, M0, T = ode_initial(2, 1, 20000, np.arange(1))
    for i, (eop, ok) in enumerate(zip(eops, (True, False, False), strict=True)):
        ode = integrate(Q0, M0, 2 * eop, np.array([0.0, 2000.0]), T, overlaps="final")
        learned_sgd = int(sgd["status"].sel(eta_over_p=eop, seed=0)) in (Status.ESCAPED, Status.CONVERGED)
        learned_ode = int(ode["status"].values[0]) in (Status.ESCAPED, Status.CONVERGED)
        assert learned_sgd == learned_ode == ok, (eop, sgd["status"].values[i], ode["status"].values)
