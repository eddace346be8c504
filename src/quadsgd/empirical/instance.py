"""One teacher-student problem of the empirical risk: its draws, losses, gradients and errors.

Conventions (Sarao Mannelli, Vanden-Eijnden, Zdeborova, "Optimization and generalization of
shallow neural networks with quadratic activation functions", NeurIPS 2020, arXiv:2006.15459,
eqs. (1)-(9); docs/conventions.md section 9):

* inputs ``x ~ N(0, I_d)``; ``n`` samples, ``alpha = n / d``;
* teacher ``A* = (1/m*) sum_j w*_j w*_j^T`` (eq. 4), labels ``y = x^T A* x`` (eq. 1);
* student weights ``W`` of shape ``(m, d)`` (row ``i`` is ``w_i``), ``A = W^T W / m`` (eq. 4);
* empirical loss ``L_n(W) = (1/4) E_nu_n (y - x^T A x)^2`` (eq. 2);
* every *error* is in the paper's "E" normalisation, twice the loss: training error
  ``E_n(A) = (1/2) E_nu_n (x^T (A - A*) x)^2 = 2 L_n`` (eq. 6) and generalization error
  ``E(A) = (1/2) E_x (x^T D x)^2 = tr(D^2) + (tr D)^2 / 2``, ``D = A - A*`` (eq. 9). ``E`` is
  the project's risk ``eps``; the population loss is ``E / 2``.

Teachers: ``"gaussian"`` (the paper's Fig. 1 teacher) draws ``w*_j ~ N(0, I_d)``, so
``E[A*] = I_d``, the scale of the student at initialization (``w_i(0) ~ N(0, I_d)``). ``"equal"``
(the paper's "orthonormal" teacher) uses orthonormal unit ``w*_j``, so ``A*`` has ``min(m*, d)``
equal eigenvalues ``1 / min(m*, d)``; the paper's section 5.1 sets them to 1, which with
``A(0) = I`` and ``m* >= d`` would equal the initial condition, so eq. (4) is kept (docs/empirical.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate, rng

__all__ = [
    "Array",
    "Teacher",
    "Instance",
    "make_teacher",
    "make_instance",
    "student_matrix",
    "empirical_loss_and_grad",
    "training_error",
    "generalization_error",
    "relative_error",
    "n_samples",
]

Array = NDArray[np.float64]
Teacher = Literal["gaussian", "equal"]
TEACHERS: tuple[str, ...] = ("gaussian", "equal")


def check_teacher(teacher: object) -> Teacher:
    """``teacher`` if it is a known teacher kind; ``ValueError`` otherwise."""
    if teacher not in TEACHERS:
        raise ValueError(f"teacher must be 'gaussian' or 'equal'; got {teacher!r}")
    return teacher  # type: ignore[return-value]


def check_widths(d: object, mstar: object, m: object | None) -> tuple[int, int, int]:
    """``(d, mstar, m)`` as positive ints, ``m`` defaulting to ``d`` and at least ``mstar``."""
    d_ = _validate.positive_int("d", d)
    mstar_ = _validate.positive_int("mstar", mstar)
    m_ = d_ if m is None else _validate.positive_int("m", m)
    if m_ < mstar_:
        raise ValueError(f"m must be >= mstar (student at least as wide as teacher); got m={m_}, mstar={mstar_}")
    return d_, mstar_, m_


def check_alphas(alphas: Sequence[float] | ArrayLike) -> Array:
    """``alphas`` as a non-empty 1-D array of finite positive values."""
    a = _validate.positive_array("alphas", alphas).ravel()
    if a.size == 0:
        raise ValueError("alphas must not be empty")
    return a


def n_samples(alphas: Array, d: int) -> NDArray[np.int64]:
    """Samples ``n = max(1, round(alpha d))`` per requested ``alpha``."""
    return np.maximum(1, np.rint(np.asarray(alphas, dtype=float) * d).astype(np.int64))


@dataclass(frozen=True)
class Instance:
    """One teacher-student problem.

    Attributes
    ----------
    X : (n, d) inputs, rows ``x_mu ~ N(0, I_d)``.
    y : (n,) labels ``x_mu^T A* x_mu``.
    A_star : (d, d) teacher matrix (eq. 4).
    W0 : (m, d) student initialization, entries i.i.d. N(0, 1) (so ``A(0) -> I``).
    """

    X: Array
    y: Array
    A_star: Array
    W0: Array


def make_teacher(d: int, mstar: int, generator: np.random.Generator, *, teacher: Teacher = "gaussian") -> Array:
    """Teacher matrix ``A* = (1/m*) sum_j w*_j w*_j^T`` (eq. 4), shape (d, d), drawn from ``generator``.

    ``"gaussian"``: ``w*_j ~ N(0, I_d)``. ``"equal"``: orthonormal unit ``w*_j`` (tight frame if
    ``m* > d``), i.e. ``A*`` = projector onto a Haar-random ``min(m*, d)``-dimensional subspace
    divided by ``min(m*, d)``. ``generator`` comes from :func:`quadsgd.rng.stream`.
    """
    d = _validate.positive_int("d", d)
    mstar = _validate.positive_int("mstar", mstar)
    check_teacher(teacher)
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy Generator (quadsgd.rng.stream); got {type(generator).__name__}")
    if teacher == "gaussian":
        Ws = generator.standard_normal((mstar, d))
        return Ws.T @ Ws / mstar
    r = min(mstar, d)
    rows = rng.haar_rows(generator, r, d)
    return rows.T @ rows / r


def make_instance(
    d: int, mstar: int, n: int, seed: int, *, m: int | None = None, teacher: Teacher = "gaussian"
) -> Instance:
    """Seeded instance: teacher, data and initialization from the stream
    ``quadsgd.rng.stream(seed, Purpose.EMPIRICAL_INSTANCE, d, mstar, n, m)``.

    Every ``(seed, d, mstar, n, m)`` draws an independent instance. Independence across ``n``
    (rather than nested data sets) keeps the instances of a recovery sweep independent, which the
    bootstrap of :func:`quadsgd.empirical.recovery_summary` assumes.
    """
    d, mstar, m = check_widths(d, mstar, m)
    n = _validate.positive_int("n", n)
    gen = rng.stream(seed, rng.Purpose.EMPIRICAL_INSTANCE, d, mstar, n, m)
    A_star = make_teacher(d, mstar, gen, teacher=teacher)
    X = gen.standard_normal((n, d))
    y = np.einsum("ni,ij,nj->n", X, A_star, X)
    W0 = gen.standard_normal((m, d))
    return Instance(X=X, y=y, A_star=A_star, W0=W0)


def student_matrix(W: Array) -> Array:
    """``A = W^T W / m`` (eq. 4); ``W`` of shape (..., m, d) -> (..., d, d)."""
    W = np.asarray(W, dtype=float)
    return np.einsum("...ki,...kj->...ij", W, W) / W.shape[-2]


def residuals(W: Array, X: Array, y: Array) -> tuple[Array, Array]:
    """Projections ``P = X W^T`` (..., n, m) and residuals ``r = y - x^T A x`` (..., n)."""
    P = np.einsum("...nd,...md->...nm", X, W)
    r = y - np.einsum("...nm,...nm->...n", P, P) / W.shape[-2]
    return P, r


def empirical_loss_and_grad(W: Array, X: Array, y: Array) -> tuple[Array, Array]:
    """Empirical loss ``L_n`` (eq. 2, prefactor 1/4) and its gradient w.r.t. ``W``.

    Parameters
    ----------
    W : (..., m, d) student weights. X : (..., n, d). y : (..., n).

    Returns
    -------
    loss : (...) ``L_n = (1/4n) sum_mu (y_mu - x_mu^T A x_mu)^2``.
    grad : (..., m, d) ``dL_n/dw_i = -(1/(m n)) sum_mu r_mu (x_mu . w_i) x_mu``; the flow
        (eq. 3) is ``dW/dt = -m grad``.
    """
    W = np.asarray(W, dtype=float)
    n, m = X.shape[-2], W.shape[-2]
    P, r = residuals(W, X, y)
    loss = np.einsum("...n,...n->...", r, r) / (4.0 * n)
    grad = -np.einsum("...n,...nm,...nd->...md", r, P, X) / (m * n)
    return loss, grad


def training_error(A: Array, X: Array, y: Array) -> Array:
    """``E_n(A) = (1/2n) sum_mu (x_mu^T A x_mu - y_mu)^2`` (eq. 6, twice eq. 2); A (..., d, d)."""
    pred = np.einsum("...ni,...ij,...nj->...n", X, A, X)
    res = pred - y
    return 0.5 * np.mean(res * res, axis=-1)


def generalization_error(A: Array, A_star: Array) -> Array:
    """``E(A) = tr(D^2) + (tr D)^2 / 2``, ``D = A - A*`` (eq. 9).

    This is ``(1/2) E_x (x^T D x)^2`` for ``x ~ N(0, I_d)`` (twice the population loss);
    shapes (..., d, d) -> (...).
    """
    D = np.asarray(A, dtype=float) - A_star
    trD = np.trace(D, axis1=-2, axis2=-1)
    return np.einsum("...ij,...ji->...", D, D) + 0.5 * trD * trD


def relative_error(A: Array, A_star: Array) -> Array:
    """``|A - A*|_F / |A*|_F``; shapes (..., d, d) -> (...), each ``A*`` normalizing its own ``A``."""
    A_star = np.asarray(A_star, dtype=float)
    return np.linalg.norm(np.asarray(A) - A_star, axis=(-2, -1)) / np.linalg.norm(A_star, axis=(-2, -1))
