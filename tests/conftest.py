"""Shared fixtures: random overlap matrices that form a valid covariance of (lambda, nu)."""

from __future__ import annotations

import numpy as np
import pytest


def random_overlaps(p: int, pstar: int, rng: np.random.Generator, scale: float = 1.0):
    """A random positive-definite joint covariance ``[[Q, M], [M^T, T]]`` split into blocks."""
    n = p + pstar
    S = rng.standard_normal((n, n + 3))
    G = scale * S @ S.T / (n + 3)
    return G[:p, :p].copy(), G[:p, p:].copy(), G[p:, p:].copy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)
