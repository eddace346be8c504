"""quadsgd.empirical.population: eq. (20) against the full weight flow, and the late-time laws."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from quadsgd import empirical as em


def test_population_eigenvalue_flow_matches_weight_flow() -> None:
    d = 5
    A_star = em.make_teacher(d, 2, np.random.default_rng(4))
    lam_star, U = np.linalg.eigh(A_star)
    lam_star = np.where(lam_star > 1e-12, lam_star, 0.0)
    t = np.array([0.0, 0.01, 0.1, 0.5, 2.0, 10.0])
    lam = em.population_eigenvalue_flow(lam_star, t)
    W0 = np.linalg.qr(np.random.default_rng(0).standard_normal((d, d)))[0] * np.sqrt(d)  # A(0) = I
    A = em.population_weight_flow(W0, A_star, t)
    B = np.einsum("ia,tij,jb->tab", U, A, U)
    np.testing.assert_allclose(np.einsum("taa->ta", B), lam, rtol=1e-6, atol=1e-8)
    off = B - np.einsum("taa->ta", B)[:, :, None] * np.eye(d)
    assert np.abs(off).max() < 1e-7  # Thm 5.2: stays diagonal in the teacher basis
    np.testing.assert_allclose(em.generalization_error(A, A_star), em.population_risk_eigs(lam, lam_star), rtol=1e-6)


def test_weight_flow_solves_the_matrix_flow_eq8() -> None:
    """dA/dt = 2 [tr(A* - A) A + (A* - A) A + A (A* - A)] integrated directly on A (eq. 8)."""
    d = 4
    rng = np.random.default_rng(2)
    A_star = em.make_teacher(d, 2, rng)
    W0 = rng.standard_normal((6, d))
    A0 = W0.T @ W0 / 6
    t = np.array([0.0, 0.05, 0.3, 1.0])

    def rhs(_: float, a: np.ndarray) -> np.ndarray:
        A = a.reshape(d, d)
        D = A_star - A
        return (2 * (np.trace(D) * A + D @ A + A @ D)).ravel()

    ref = solve_ivp(rhs, (0, t[-1]), A0.ravel(), t_eval=t, method="DOP853", rtol=1e-11, atol=1e-13).y.T
    np.testing.assert_allclose(em.population_weight_flow(W0, A_star, t).reshape(len(t), -1), ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("d", "mstar"), [(6, 1), (7, 3)])
def test_quasistatic_prefactor_is_the_late_time_limit(d: int, mstar: int) -> None:
    lam_star = np.zeros(d)
    lam_star[:mstar] = np.random.default_rng(d).uniform(0.3, 2.0, mstar)  # any positive spectrum
    t = np.array([0.0, 1e5, 1e6])
    E = em.population_risk_eigs(em.population_eigenvalue_flow(lam_star, t), lam_star)
    assert t[-1] ** 2 * E[-1] == pytest.approx(em.quasistatic_prefactor(d, mstar), rel=1e-3)
    assert np.log(E[2] / E[1]) / np.log(10) == pytest.approx(-2.0, abs=1e-3)


def test_equal_teacher_decays_at_the_paper_rate_29() -> None:
    d = 4
    lam_star = np.full(d, 1.0 / d)  # equal eigenvalues, m* >= d
    t = np.linspace(0.0, 8.0, 41)
    E = em.population_risk_eigs(em.population_eigenvalue_flow(lam_star, t), lam_star)
    late = t >= 4.0  # past the nonlinear transient
    rate = -np.polyfit(t[late], np.log(E[late]), 1)[0]
    assert rate == pytest.approx(2.0 * (2 * d + 4) / d, rel=1e-3)
    assert em.paper_rate_29(d, lam_star) == pytest.approx(2.0 * (2 * d + 4) / d)
    # linearized at A*: lam* (4 I + 2 11^T) has eigenvalues 4 lam* (d-1 times) and (2d + 4) lam* (symmetric
    # mode, the only one an equal teacher excites from A(0) = I); E decays at twice the slowest
    assert em.linearized_rate(lam_star) == pytest.approx(2 * 4 / d)


def test_paper_decay_forms_as_printed() -> None:
    t = np.array([0.5, 2.0])
    np.testing.assert_allclose(em.paper_decay_26(t), [0.25, 1 / 64])
    np.testing.assert_allclose(em.paper_decay_27(t, 8, 1), 0.25 * (7 / (1 + 18 * t)) ** 2)
