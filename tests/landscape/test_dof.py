"""quadsgd.landscape.dof: closed forms against numerical ranks."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd import landscape as L


@pytest.mark.parametrize("p,N", [(1, 4), (3, 4), (4, 4), (5, 4), (9, 4), (2, 7), (12, 3)])
def test_degrees_of_freedom_equal_jacobian_rank(p: int, N: int) -> None:
    W = np.random.default_rng(15).standard_normal((p, N))
    dof = L.wtw_degrees_of_freedom(p, N)
    # Independent: the Jacobian of W -> W^T W by finite differences (exact: the map is quadratic).
    J = np.zeros((N * N, p * N))
    for a in range(p * N):
        e = np.zeros(p * N)
        e[a] = 1.0
        E = e.reshape(p, N)
        J[:, a] = ((W + E).T @ (W + E) - (W - E).T @ (W - E)).ravel() / 4.0
    assert np.linalg.matrix_rank(J) == dof == L.wtw_jacobian_rank(W)
    assert L.orbit_dimension(W) == p * N - dof == L.manifold_dimension(p, min(p, N), N)
    assert dof <= N * (N + 1) // 2


@pytest.mark.parametrize("p,pstar,N", [(2, 2, 5), (3, 2, 6), (4, 1, 5), (5, 3, 7), (6, 2, 4)])
def test_manifold_dimension_is_orbit_dimension_at_zero_error(p: int, pstar: int, N: int) -> None:
    W, _ = L.zero_error(p, pstar, N, seed=13)
    assert L.manifold_dimension(p, pstar, N) == L.manifold_dimension(p, pstar) == L.orbit_dimension(W)
    assert L.orbit_dimension(W) == p * pstar - pstar * (pstar + 1) // 2


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: L.wtw_degrees_of_freedom(2, 0), "N"),
        (lambda: L.wtw_degrees_of_freedom(2.5, 3), "p"),
        (lambda: L.manifold_dimension(1, 2), "p=1"),
        (lambda: L.wtw_jacobian_rank(np.ones(3)), "W"),
        (lambda: L.orbit_dimension(np.ones((0, 3))), "W"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()
