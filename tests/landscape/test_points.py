"""quadsgd.landscape.points: the constructors give critical points with the documented
properties, drawn from the project's keyed streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quadsgd import landscape as L
from quadsgd import rng


@pytest.mark.parametrize(
    "point,p,pstar,N",
    [(pt, *s) for s in [(3, 2, 8), (2, 3, 9), (6, 2, 4), (1, 1, 3)] for pt in L.POINTS
     if not (pt == "plateau" and s[0] + s[1] > s[2]) and not (pt == "zero_error" and s[0] < s[1])],
)
def test_constructors_have_vanishing_gradient(point: str, p: int, pstar: int, N: int) -> None:
    W, Wstar = L.critical_point(point, p, pstar, N, seed=8)
    assert W.shape == (p, N) and Wstar.shape == (pstar, N)
    np.testing.assert_allclose(Wstar @ Wstar.T / N, np.eye(pstar), atol=1e-12)
    # Gradient from its definition 2 W G/(pN), relative to the gradient at a random point.
    def grad(W: np.ndarray) -> np.ndarray:
        D = W.T @ W / (p * N) - Wstar.T @ Wstar / (pstar * N)
        return 2 * W @ (2 * D + np.trace(D) * np.eye(N)) / (p * N)

    scale = np.abs(grad(np.random.default_rng(0).standard_normal((p, N)))).max()
    assert np.abs(grad(W)).max() < 1e-12 * scale
    assert np.abs(L.risk_gradient(W, Wstar)).max() < 1e-12 * scale


def test_constructor_properties() -> None:
    p, pstar, N = 3, 2, 10
    W, Wstar = L.plateau(p, pstar, N, seed=9)
    np.testing.assert_allclose(W @ W.T / N, p / (p + 2) * np.eye(p), atol=1e-12)
    np.testing.assert_allclose(W @ Wstar.T, 0.0, atol=1e-10)
    W, Wstar = L.zero_error(p, pstar, N, seed=9)
    np.testing.assert_allclose(W.T @ W / p, Wstar.T @ Wstar / pstar, atol=1e-12)
    W, Wstar = L.aligned(p, pstar, N, seed=9)
    assert np.linalg.matrix_rank(np.vstack([W, Wstar[:1]])) == 1
    assert np.sum(W**2) / N == pytest.approx(p * (pstar + 2) / (3 * pstar))
    W, Wstar = L.aligned(p, pstar, N, seed=9, unit=1)
    assert np.linalg.matrix_rank(np.vstack([W, Wstar[1:2]])) == 1
    W, _ = L.tabula_rasa(p, pstar, N, seed=9)
    assert not W.any()


def test_aligned_norm_is_the_stationary_one() -> None:
    W, Wstar = L.aligned(2, 3, 7, seed=10)
    assert np.abs(L.risk_gradient(1.05 * W, Wstar)).max() > 1e-3 * np.abs(W).max() / 7


def test_escape_direction_lowers_the_risk_at_the_plateau() -> None:
    # The negative family found by the spectrum is a genuine descent direction.
    W, Wstar = L.plateau(2, 2, 8, seed=12)
    dW = np.zeros_like(W)
    dW[0] = Wstar[1]
    assert L.population_risk(W + 1e-2 * dW, Wstar) < L.population_risk(W, Wstar)


def test_draws_come_from_the_keyed_streams() -> None:
    seed, p, pstar, N = 5, 3, 2, 9
    frame = rng.haar_rows(rng.stream(seed, rng.Purpose.LANDSCAPE_TEACHER, pstar, N), pstar, N)
    np.testing.assert_array_equal(L.teacher(pstar, N, seed=seed), math.sqrt(N) * frame)
    # One teacher per (seed, pstar, N), whatever p and the point.
    for point in L.POINTS:
        np.testing.assert_array_equal(L.critical_point(point, p, pstar, N, seed=seed)[1], math.sqrt(N) * frame)
    np.testing.assert_array_equal(L.zero_error(5, pstar, N, seed=seed)[1], math.sqrt(N) * frame)
    students = rng.haar_rows(rng.stream(seed, rng.Purpose.LANDSCAPE_STUDENT, p, pstar, N), p, N, avoid=frame)
    np.testing.assert_allclose(L.plateau(p, pstar, N, seed=seed)[0], math.sqrt(N * p / (p + 2)) * students, atol=1e-12)


def test_reproducible_and_seed_dependent() -> None:
    p, pstar, N = 3, 2, 10
    np.testing.assert_array_equal(L.plateau(p, pstar, N, seed=1)[0], L.plateau(p, pstar, N, seed=1)[0])
    np.testing.assert_array_equal(L.zero_error(p, pstar, N)[0], L.zero_error(p, pstar, N, seed=0)[0])
    assert not np.allclose(L.plateau(p, pstar, N, seed=1)[0], L.plateau(p, pstar, N, seed=2)[0])
    # Whole floats are sizes (one validator for the whole package).
    np.testing.assert_array_equal(L.plateau(3.0, 2, 10.0, seed=1)[0], L.plateau(p, pstar, N, seed=1)[0])


def test_point_applicable() -> None:
    assert L.point_applicable("plateau", 2, 2, 4) and not L.point_applicable("plateau", 3, 2, 4)
    assert L.point_applicable("zero_error", 6, 2, 4) and not L.point_applicable("zero_error", 1, 2, 4)
    assert not L.point_applicable("aligned", 1, 5, 4)


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.plateau(0, 1, 5), "p"),
        (lambda: L.zero_error(2, -1, 5), "pstar"),
        (lambda: L.tabula_rasa(2, 1, 0), "N"),
        (lambda: L.aligned(2.5, 1, 5), "p"),
        (lambda: L.aligned(True, 1, 5), "p"),
        (lambda: L.aligned(2, float("nan"), 5), "pstar"),
        (lambda: L.aligned(2, 2, 5, unit=2), "unit"),
        (lambda: L.zero_error(1, 2, 5), "p >= pstar"),
        (lambda: L.plateau(3, 3, 5), "p \\+ pstar <= N"),
        (lambda: L.teacher(4, 3), "pstar"),
        (lambda: L.teacher(2, 3, seed=-1), "seed"),
        (lambda: L.teacher(2, 3, seed=1.5), "seed"),
        (lambda: L.critical_point("saddle", 2, 1, 5), "point"),
        (lambda: L.point_applicable("saddle", 2, 1, 5), "point"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_seed_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        L.plateau(2, 1, 5, 0)  # type: ignore[misc]
