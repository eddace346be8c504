"""Initial conditions (docs/conventions.md section 4), reproducible from ``(p, pstar, N, seed)``.

Every draw comes from a keyed stream of :mod:`quadsgd.rng` (key ``(p, pstar, N)`` and a purpose
tag), so a member's initial condition does not depend on which batch, worker or machine
computes it, nor on the learning rate.

Weight-space convention: the teacher rows are ``sqrt(N) e_r`` (the first ``pstar`` axes) and the
student rows a Haar-random orthonormal set scaled to ``|w_k|^2 = N``. Because ``x ~ N(0, I_N)``
is rotation invariant, this has the same law as two independent random orthonormal sets, and it
makes ``nu = x[:pstar]`` free to compute.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate
from quadsgd.rng import Purpose, haar_rows, stream

__all__ = ["ode_initial", "finite_n_weights", "finite_n_overlaps"]


def ode_initial(
    p: int, pstar: int, N: int, seed: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The paper's ODE initial condition: ``Q = I_p``, ``M_kr ~ N(0, 1/N)`` i.i.d., ``T = I_{p*}``.

    ``seed`` is an int or an array of ints of any shape ``S``; returns ``Q0 (*S, p, p)``,
    ``M0 (*S, p, pstar)``, ``T (pstar, pstar)``. Each seed's ``M0`` is drawn from its own stream.
    """
    p, pstar, N = _validate.widths(p, pstar, N)
    seeds = _validate.seeds("seed", seed)
    M0 = np.empty(seeds.shape + (p, pstar))
    for idx in np.ndindex(seeds.shape):
        M0[idx] = stream(seeds[idx], Purpose.ODE_INIT, p, pstar, N).standard_normal((p, pstar)) / np.sqrt(N)
    Q0 = np.broadcast_to(np.eye(p), seeds.shape + (p, p)).copy()
    return Q0, M0, np.eye(pstar)


def finite_n_weights(
    p: int, pstar: int, N: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Student ``W`` (p, N) Haar orthonormal rows and teacher ``W*`` (pstar, N) on the first axes,
    both with squared row norms ``N``. The run's measured ``M(0) = W W*^T / N``."""
    p, pstar, N = _validate.widths(p, pstar, N)
    W = np.sqrt(N) * haar_rows(stream(seed, Purpose.WEIGHTS_INIT, p, pstar, N), p, N)
    Wstar = np.zeros((pstar, N))
    Wstar[np.arange(pstar), np.arange(pstar)] = np.sqrt(N)
    return W, Wstar


def finite_n_overlaps(p: int, pstar: int, N: int, seed: int) -> NDArray[np.float64]:
    """Exact law of ``M(0)`` for Haar students and axis teachers, in O(p^2 pstar) work, not O(N).

    A Haar frame is ``Z R^{-1}`` with ``Z`` an (N, p) Gaussian matrix and ``R^T R = Z^T Z``.
    Only the first ``pstar`` rows of ``Z`` enter ``M``; the rest enter through the Wishart matrix
    ``Z_rest^T Z_rest ~ W_p(N - pstar, I)``, drawn by the Bartlett decomposition. Returns
    ``M0`` of shape (p, pstar); ``Q0 = I`` and ``T = I`` exactly.
    """
    p, pstar, N = _validate.widths(p, pstar, N)
    rng = stream(seed, Purpose.GRAM_INIT, p, pstar, N)
    Z_top = rng.standard_normal((pstar, p))
    dof = N - pstar
    B = np.tril(rng.standard_normal((p, p)), -1)
    B[np.diag_indices(p)] = np.sqrt(rng.chisquare(dof - np.arange(p)))
    gram = Z_top.T @ Z_top + B @ B.T
    R = np.linalg.cholesky(gram).T
    # M0 = (Z_top R^{-1})^T, solved rather than inverted.
    return np.linalg.solve(R.T, Z_top.T)
