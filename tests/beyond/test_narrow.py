"""Narrow students (quadsgd.beyond.narrow): the best rank-p fit against a brute-force minimization,
the ODE's excess against the closed-form stationary state."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from quadsgd.schema import missing_attrs
from quadsgd.theory import risk


def _brute_force_best_fit(p: int, pstar: int, starts: int = 8) -> float:
    """Minimum of the population risk over student weights W (p x (pstar + p)) in the span of the
    teacher directions and p extra ones: Q = W W^T, M = W[:, :pstar] (any student overlaps)."""
    rng = np.random.default_rng(1)

    def f(w):
        W = w.reshape(p, pstar + p)
        return float(risk(W @ W.T, W[:, :pstar]))

    return min(minimize(f, rng.standard_normal(p * (pstar + p)), method="BFGS").fun for _ in range(starts))


def test_store_is_described(narrow_store):
    assert missing_attrs(narrow_store) == []
    assert narrow_store["risk_end"].dims == ("p", "pstar", "eta_over_p", "seed")


@pytest.mark.parametrize("case", [(1, 2), (2, 3)])
def test_best_fit_risk_against_brute_force(narrow_store, case):
    p, s = case
    stored = float(narrow_store["risk_best_fit"].sel(p=p, pstar=s))
    assert stored == pytest.approx(_brute_force_best_fit(p, s), rel=1e-6, abs=1e-9)


def test_ode_end_point_excess_is_the_finite_eta_stationary_state(narrow_store):
    for p, s in ((1, 2), (2, 3)):
        d = narrow_store.sel(p=p, pstar=s)
        measured = d["risk_excess"].mean("seed").values
        np.testing.assert_allclose(measured, d["risk_excess_predicted"].values, rtol=1e-3)
        assert np.all(np.diff(measured) > 0)  # the excess grows with eta
