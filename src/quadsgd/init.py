"""Initial conditions (PHYSICS.md section 4), reproducible from ``(p, pstar, N, seed)``.

Every random draw comes from a ``numpy.random.SeedSequence`` keyed by the seed and by the
problem ``(p, pstar, N)`` plus a purpose tag, so a member's initial condition does not depend on
which batch, worker or machine computes it. The learning rate is deliberately *not* part of the
key: all learning rates of one seed start from the same ``M(0)`` (common random numbers), which
makes escape time a smooth function of eta and the learning-rate scan far less noisy.

Weight-space convention: the teacher rows are ``sqrt(N) e_r`` (the first ``pstar`` axes) and the
student rows a Haar-random orthonormal set scaled to ``|w_k|^2 = N``. Because ``x ~ N(0, I_N)``
is rotation invariant, this has the same law as two independent random orthonormal sets, and it
makes ``nu = x[:pstar]`` free to compute.
"""

from __future__ import annotations

import enum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Purpose",
    "seed_sequence",
    "validate_problem",
    "ode_initial",
    "finite_n_weights",
    "finite_n_overlaps",
]


class Purpose(enum.IntEnum):
    """Tags that separate the independent random streams of one ``(p, pstar, N, seed)``."""

    ODE_INIT = 1
    WEIGHTS_INIT = 2
    WEIGHTS_SAMPLES = 3
    GRAM_INIT = 4
    GRAM_SAMPLES = 5


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def validate_problem(p: object, pstar: object, N: object | None = None) -> tuple[int, int, int | None]:
    """Check widths (and input dimension) and return them as ints; ``ValueError`` names the bad one."""
    p_, s_ = _positive_int("p", p), _positive_int("pstar", pstar)
    if N is None:
        return p_, s_, None
    N_ = _positive_int("N", N)
    if N_ < p_ + s_:
        raise ValueError(f"N must be at least p + pstar = {p_ + s_}; got N={N_}")
    return p_, s_, N_


def seed_sequence(seed: int, p: int, pstar: int, N: int, purpose: Purpose) -> np.random.SeedSequence:
    """The ``SeedSequence`` of one stream: entropy ``seed``, spawn key ``(purpose, p, pstar, N)``."""
    seed_ = int(seed)
    if seed_ < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.SeedSequence(entropy=seed_, spawn_key=(int(purpose), p, pstar, N))


def ode_initial(
    p: int, pstar: int, N: int, seed: int | NDArray[np.integer]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The paper's ODE initial condition: ``Q = I_p``, ``M_kr ~ N(0, 1/N)`` i.i.d., ``T = I_{p*}``.

    ``seed`` is an int or an array of ints of any shape ``S``; returns ``Q0 (*S, p, p)``,
    ``M0 (*S, p, pstar)``, ``T (pstar, pstar)``. Each seed's ``M0`` is drawn from its own stream.
    """
    p, pstar, N = validate_problem(p, pstar, N)
    seeds = np.asarray(seed)
    M0 = np.empty(seeds.shape + (p, pstar))
    for idx in np.ndindex(seeds.shape):
        rng = np.random.default_rng(seed_sequence(seeds[idx], p, pstar, N, Purpose.ODE_INIT))
        M0[idx] = rng.standard_normal((p, pstar)) / np.sqrt(N)
    Q0 = np.broadcast_to(np.eye(p), seeds.shape + (p, p)).copy()
    return Q0, M0, np.eye(pstar)


def haar_rows(p: int, N: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``p`` Haar-random orthonormal rows in ``R^N`` scaled to squared norm ``N``: shape (p, N)."""
    Z = rng.standard_normal((N, p))
    Qf, R = np.linalg.qr(Z)
    # The sign fix makes the QR factor Haar distributed (R with positive diagonal).
    Qf *= np.sign(np.diag(R))
    return np.sqrt(N) * Qf.T


def finite_n_weights(
    p: int, pstar: int, N: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Student ``W`` (p, N) Haar orthonormal rows and teacher ``W*`` (pstar, N) on the first axes,
    both with squared row norms ``N``. The run's measured ``M(0) = W W*^T / N``."""
    p, pstar, N = validate_problem(p, pstar, N)
    rng = np.random.default_rng(seed_sequence(seed, p, pstar, N, Purpose.WEIGHTS_INIT))
    W = haar_rows(p, N, rng)
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
    p, pstar, N = validate_problem(p, pstar, N)
    rng = np.random.default_rng(seed_sequence(seed, p, pstar, N, Purpose.GRAM_INIT))
    Z_top = rng.standard_normal((pstar, p))
    dof = N - pstar
    B = np.tril(rng.standard_normal((p, p)), -1)
    B[np.diag_indices(p)] = np.sqrt(rng.chisquare(dof - np.arange(p)))
    gram = Z_top.T @ Z_top + B @ B.T
    R = np.linalg.cholesky(gram).T
    # M0 = (Z_top R^{-1})^T, solved rather than inverted.
    return np.linalg.solve(R.T, Z_top.T)
