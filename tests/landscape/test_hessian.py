"""quadsgd.landscape.hessian: risk, gradient and Hessian against Monte Carlo and finite
differences; the structured spectrum against dense diagonalisation; sign counts; null split."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from quadsgd import landscape as L


def test_risk_matches_monte_carlo_loss(random_weights) -> None:
    rng = np.random.default_rng(0)
    p, pstar, N = 3, 2, 6
    W, Wstar = random_weights(0, p, pstar, N)
    x = rng.standard_normal((400_000, N))
    y = np.sum((x @ Wstar.T / math.sqrt(N)) ** 2, axis=1) / pstar
    yhat = np.sum((x @ W.T / math.sqrt(N)) ** 2, axis=1) / p
    loss = 0.5 * (y - yhat) ** 2
    se = loss.std(ddof=1) / math.sqrt(loss.size)
    assert abs(L.population_risk(W, Wstar) - loss.mean()) < 5 * se


def test_gradient_matches_finite_differences(random_weights) -> None:
    W, Wstar = random_weights(1, 3, 2, 5)
    h = 1e-6
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = h
        fd[idx] = (L.population_risk(W + e, Wstar) - L.population_risk(W - e, Wstar)) / (2 * h)
    g = L.risk_gradient(W, Wstar)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9 * np.abs(g).max())


@pytest.mark.parametrize("point", [None, "tabula_rasa", "plateau", "zero_error", "aligned"])
def test_dense_hessian_matches_finite_differences_of_gradient(point: str | None, random_weights) -> None:
    p, pstar, N = 3, 2, 6
    if point is None:
        W, Wstar = random_weights(2, p, pstar, N)
    else:
        W, Wstar = L.critical_point(point, p, pstar, N, seed=2)
    H = L.dense_hessian(W, Wstar)
    h = 1e-6
    fd = np.zeros_like(H)
    for a in range(W.size):
        e = np.zeros(W.size)
        e[a] = h
        e = e.reshape(W.shape)  # row-major flattening, as documented
        fd[:, a] = ((L.risk_gradient(W + e, Wstar) - L.risk_gradient(W - e, Wstar)) / (2 * h)).ravel()
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7 * np.abs(H).max())


def test_hessian_is_second_order_term_of_risk(random_weights) -> None:
    W, Wstar = random_weights(3, 2, 3, 5)
    dW = np.random.default_rng(3).standard_normal(W.shape)
    H = L.dense_hessian(W, Wstar)
    t = 1e-3
    second = (
        L.population_risk(W + t * dW, Wstar) + L.population_risk(W - t * dW, Wstar) - 2 * L.population_risk(W, Wstar)
    ) / t**2
    assert second == pytest.approx(dW.ravel() @ H @ dW.ravel(), rel=1e-5)


@pytest.mark.parametrize("p,pstar,N", [(3, 2, 7), (2, 4, 5), (5, 1, 3), (4, 4, 4)])
def test_structured_spectrum_equals_dense_at_random_weights(p: int, pstar: int, N: int, random_weights) -> None:
    W, Wstar = random_weights(4, p, pstar, N)
    spec = L.structured_spectrum(W, Wstar)
    assert spec.size == p * N
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    np.testing.assert_allclose(spec.expanded(), dense, atol=1e-12 * np.abs(dense).max())


def test_structured_spectrum_equals_dense_at_critical_points(grid_point, expected_counts) -> None:
    point, p, pstar, N = grid_point
    W, Wstar = L.critical_point(point, p, pstar, N, seed=5)
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    np.testing.assert_allclose(L.structured_spectrum(W, Wstar).expanded(), dense, atol=1e-12 * np.abs(dense).max())
    assert tuple(L.eigen_counts(W, Wstar, method="dense")) == expected_counts(dense)
    assert tuple(L.eigen_counts(W, Wstar)) == expected_counts(dense)


def test_eigen_counts_threshold_is_scale_aware() -> None:
    W, Wstar = L.critical_point("plateau", 2, 2, 9, seed=7)
    # Rescaling all eigenvalues by 1e-12 changes nothing under a relative threshold.
    spec = L.structured_spectrum(W, Wstar)
    tiny = L.Spectrum(spec.values * 1e-12, spec.multiplicity)
    assert tiny.counts() == spec.counts()
    # A loose threshold swallows every eigenvalue but the largest (4/(pN), unique) into null.
    assert spec.counts(rtol=0.999) == (0, 2 * 9 - 1, 1)
    assert L.eigen_counts(W, Wstar, rtol=0.999) == (0, 2 * 9 - 1, 1)


# ------------------------------------------------------------------ zero-error null split


@pytest.mark.parametrize("p,pstar,N", [(2, 2, 5), (3, 2, 6), (4, 1, 5), (5, 3, 7), (6, 2, 4)])
def test_tangent_null_count_is_manifold_dimension(p: int, pstar: int, N: int) -> None:
    W, Wstar = L.zero_error(p, pstar, N, seed=13)
    tangent, nontangent = L.zero_error_null_split(W, Wstar)
    assert tangent == L.orbit_dimension(W) == p * pstar - pstar * (pstar + 1) // 2
    assert nontangent == (p - pstar) * (N - pstar)
    assert (nontangent > 0) == (p > pstar)
    dense = np.linalg.eigvalsh(L.dense_hessian(W, Wstar))
    assert tangent + nontangent == int(np.sum(np.abs(dense) <= 1e-8 * np.abs(dense).max()))


def test_tangent_directions_stay_on_manifold_nontangent_leave_it() -> None:
    p, pstar, N = 3, 1, 5
    W, Wstar = L.zero_error(p, pstar, N, seed=14)
    rng = np.random.default_rng(14)
    omega = rng.standard_normal((p, p))
    omega -= omega.T
    # Zero up to round-off (relative to the risk at W = 0), whereas the same step off the
    # manifold costs O(t^2) (rotating in the span) or O(t^4) (the non-tangent null direction).
    floor = 1e-13 * L.population_risk(np.zeros_like(W), Wstar)
    for t in (1e-2, 1e-1):
        assert L.population_risk(expm(t * omega) @ W, Wstar) < floor
    # U_perp z^T with z orthogonal to the teacher: Hessian-flat but the risk grows as t^4.
    u = W[:, 0] / np.linalg.norm(W[:, 0])
    u_perp = np.linalg.svd(np.eye(p) - np.outer(u, u))[0][:, 0]
    z = rng.standard_normal(N)
    z -= Wstar[0] * (Wstar[0] @ z) / N
    dW = np.outer(u_perp, z)
    assert dW.ravel() @ L.dense_hessian(W, Wstar) @ dW.ravel() == pytest.approx(0.0, abs=1e-14)
    r1, r2 = (L.population_risk(W + t * dW, Wstar) for t in (1e-1, 2e-1))
    assert r1 > 0 and r2 / r1 == pytest.approx(16.0, rel=1e-6)


def test_split_rejects_non_zero_error_point() -> None:
    with pytest.raises(ValueError, match="zero-error"):
        L.zero_error_null_split(*L.plateau(2, 1, 5, seed=0))


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.population_risk(np.ones((2, 3)), np.ones((1, 4))), "Wstar"),
        (lambda: L.risk_gradient(np.ones(3), np.ones((1, 3))), "W"),
        (lambda: L.population_risk(np.full((2, 3), np.nan), np.ones((1, 3))), "finite"),
        (lambda: L.eigen_counts(np.ones((2, 3)), np.ones((1, 3)), rtol=0.0), "rtol"),
        (lambda: L.eigen_counts(np.ones((2, 3)), np.ones((1, 3)), rtol=float("nan")), "rtol"),
        (lambda: L.eigen_counts(np.ones((2, 3)), np.ones((1, 3)), method="lanczos"), "method"),
        (lambda: L.dense_hessian(np.ones((10, 500)), np.ones((1, 500))), "max_dim"),
        (lambda: L.zero_error_null_split(*L.zero_error(2, 1, 4), angle_tol=2.0), "angle_tol"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_options_are_keyword_only() -> None:
    W, Wstar = L.zero_error(2, 1, 4)
    with pytest.raises(TypeError):
        L.eigen_counts(W, Wstar, 1e-8)  # type: ignore[misc]
    with pytest.raises(TypeError):
        L.dense_hessian(W, Wstar, 100)  # type: ignore[misc]
