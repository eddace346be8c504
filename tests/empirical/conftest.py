"""Shared helpers of the empirical-risk tests, as fixtures: finite differences, a stand-in for Snakemake's
object, and an in-process Dask client."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest


def _central_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of the scalar ``f`` at ``x`` (any shape)."""
    g = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x, dtype=float)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _central_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite-difference Jacobian ``d f_i / d x_j`` of the vector ``f`` at the flat ``x``."""
    cols = [(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)]
    return np.array(cols).T


def _snakemake_stub(*, params: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                   inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None,
                   threads: int = 1, log: str = "job.log") -> SimpleNamespace:
    """The attributes of Snakemake's ``snakemake`` object that the workflow scripts read."""
    return SimpleNamespace(params=SimpleNamespace(**(params or {})), config=config or {},
                           input=SimpleNamespace(**(inputs or {})), output=SimpleNamespace(**(outputs or {})),
                           threads=threads, log=[log], wildcards=SimpleNamespace())


@pytest.fixture
def central_gradient() -> Callable[..., np.ndarray]:
    return _central_gradient


@pytest.fixture
def central_jacobian() -> Callable[..., np.ndarray]:
    return _central_jacobian


@pytest.fixture
def snakemake_stub() -> Callable[..., SimpleNamespace]:
    return _snakemake_stub


@pytest.fixture
def dask_client():
    """A one-worker in-process ``distributed.Client`` (skipped without distributed)."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        yield client
