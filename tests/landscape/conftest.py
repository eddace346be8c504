"""Shared size grids and weights for the landscape tests (independent of the library's checks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

POINTS = ("tabula_rasa", "plateau", "zero_error", "aligned")

# (p, pstar, N): p < pstar, p = pstar, p > pstar, p = 1, pstar = 1, plateau filling N, p > N.
GRID = [(2, 3, 8), (3, 3, 8), (4, 2, 9), (1, 1, 5), (5, 2, 7), (3, 1, 7), (1, 3, 6), (6, 2, 4), (7, 3, 5)]


def exists(point: str, p: int, pstar: int, N: int) -> bool:
    """Where each point exists, written out from its construction (orthonormal teacher rows;
    plateau students orthogonal to them; zero error ``U`` with orthonormal columns)."""
    if pstar > N:
        return False
    return {"plateau": p + pstar <= N, "zero_error": p >= pstar}.get(point, True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # ``grid_point``: every (point, p, pstar, N) of GRID where the point exists.
    if "grid_point" in metafunc.fixturenames:
        cases = [(pt, *s) for s in GRID for pt in POINTS if exists(pt, *s)]
        metafunc.parametrize("grid_point", cases, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in cases])


@pytest.fixture
def random_weights() -> Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]:
    """Generic (non-critical, non-orthogonal) weights ``(W, Wstar)``: every term of the formulas
    is exercised."""

    def draw(seed: int, p: int, pstar: int, N: int) -> tuple[np.ndarray, np.ndarray]:
        gen = np.random.default_rng(seed)
        return gen.standard_normal((p, N)), gen.standard_normal((pstar, N))

    return draw


@pytest.fixture
def expected_counts() -> Callable[[np.ndarray], tuple[int, int, int]]:
    """Sign counts of a full list of eigenvalues, null meaning ``|lambda| <= 1e-8 max|lambda|``."""

    def count(values: np.ndarray) -> tuple[int, int, int]:
        thr = 1e-8 * np.abs(values).max()
        return int(np.sum(values < -thr)), int(np.sum(np.abs(values) <= thr)), int(np.sum(values > thr))

    return count
