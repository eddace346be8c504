"""A teacher other than the identity: the escape threshold follows the teacher's own plateau (issue 15.5)."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import ode, theory

TEACHERS = [np.eye(2), np.array([[1.5, 0.3], [0.3, 0.7]]), np.diag([2.0, 0.25])]


@pytest.mark.parametrize("T", TEACHERS, ids=["identity", "correlated", "diagonal"])
def test_plateau_risk_is_the_risk_at_the_ode_fixed_point_with_m_zero(T):
    # M = 0 is invariant; at small eta Q relaxes to the plateau norm. Integrating there is an
    # independent route to the closed form (which neglects O(eta) corrections).
    p, eta = 3, 1e-3
    ds = ode.integrate(np.eye(p), np.zeros((p, 2)), eta, np.array([0.0, 1e5, 3e5]), T)
    assert float(ds.risk[-1]) == pytest.approx(float(theory.plateau_risk(p, 2, T)), rel=2e-3)


def test_identity_teacher_keeps_the_closed_form_exactly():
    assert float(theory.plateau_risk(4, 2, np.eye(2))) == theory.plateau_risk(4, 2) == 1 / 2 + 1 / 6


def test_each_member_escapes_relative_to_its_own_teacher():
    rng = np.random.default_rng(5)
    M0 = rng.standard_normal((3, 2)) / 100
    T = np.stack(TEACHERS)
    alpha = np.concatenate([[0.0], np.geomspace(0.01, 2e3, 200)])
    batch = ode.integrate(np.eye(3), M0, 0.3, alpha, T, batch_dims=("teacher",))
    for i, Ti in enumerate(TEACHERS):
        alone = ode.integrate(np.eye(3), M0, 0.3, alpha, Ti)
        assert alone.attrs["escape_threshold"] == pytest.approx(0.5 * float(theory.plateau_risk(3, 2, Ti)))
        assert float(batch.alpha_escape[i]) == float(alone.alpha_escape)
        # At the event the risk equals the member's own threshold.
        hit = float(alone.alpha_escape)
        assert np.isfinite(hit)
        before = alone.risk.where(alone.alpha < hit, drop=True)
        assert float(before[-1]) > alone.attrs["escape_threshold"]


def test_teacher_overlap_must_be_symmetric():
    with pytest.raises(ValueError, match="symmetric"):
        theory.plateau_risk(3, 2, np.array([[1.0, 0.5], [0.0, 1.0]]))
