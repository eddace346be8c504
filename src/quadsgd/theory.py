"""Population risk, order-parameter ODEs and the closed forms of PHYSICS.md sections 2-5.

Shapes: ``Q`` is ``(..., p, p)``, ``M`` is ``(..., p, pstar)``, ``T`` is ``(..., pstar, pstar)``;
leading batch dimensions broadcast against each other and against ``eta`` (scalar or ``(...)``).
Derivatives are with respect to ``alpha = samples / N``.

Each formula is written once, as a compiled single-instance kernel (``_risk1``, ``_rhs1``);
the public functions broadcast over batch dimensions by looping over those kernels, and the ODE
integrator calls the same kernels. Looping per member (rather than batched matmuls) makes
every member's arithmetic independent of the batch it travels in, so a seed gives
bit-identical trajectories alone or in a batch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "risk",
    "ode_rhs",
    "plateau_norm",
    "plateau_risk",
    "initial_risk",
    "escape_rate",
    "escape_time_estimate",
    "teacher_overlap",
]


# --------------------------------------------------------------------------- kernels
@njit(cache=True)
def _mm(A, B, out):  # pragma: no cover - compiled
    """out = A @ B for small dense matrices (fixed summation order)."""
    n, k = A.shape
    m = B.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for l in range(k):
                acc += A[i, l] * B[l, j]
            out[i, j] = acc


@njit(cache=True)
def _mmt(A, B, out):  # pragma: no cover - compiled
    """out = A @ B.T for small dense matrices."""
    n, k = A.shape
    m = B.shape[0]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for l in range(k):
                acc += A[i, l] * B[j, l]
            out[i, j] = acc


@njit(cache=True)
def _trace(A):  # pragma: no cover - compiled
    acc = 0.0
    for i in range(A.shape[0]):
        acc += A[i, i]
    return acc


@njit(cache=True)
def _frob_inner(A, B):  # pragma: no cover - compiled
    """tr(A B^T) = sum_ij A_ij B_ij."""
    acc = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            acc += A[i, j] * B[i, j]
    return acc


@njit(cache=True)
def _risk1(Q, M, T):  # pragma: no cover - compiled
    """Population risk eps(Q, M, T) of PHYSICS.md section 2 for one instance."""
    p = Q.shape[0]
    s = T.shape[0]
    trQ = _trace(Q)
    trT = _trace(T)
    # Q and T are symmetric, so tr(QQ) = sum Q_ij^2, tr(MM^T) = sum M_ij^2.
    teacher = (trT * trT + 2.0 * _frob_inner(T, T)) / (s * s)
    student = (trQ * trQ + 2.0 * _frob_inner(Q, Q)) / (p * p)
    cross = 2.0 * (trQ * trT + 2.0 * _frob_inner(M, M)) / (p * s)
    return 0.5 * (teacher + student - cross)


@njit(cache=True)
def _rhs1(Q, M, T, eta, dQ, dM, work):  # pragma: no cover - compiled
    """dQ/dalpha, dM/dalpha of PHYSICS.md section 3 for one instance.

    ``work`` is scratch of shape ``(6, p, max(p, pstar))``; passing it in keeps the
    integrator's inner loop free of allocations.
    """
    p = Q.shape[0]
    s = T.shape[0]
    QQ = work[0, :, :p]
    X = work[1, :, :p]
    MTMt = work[2, :, :p]
    XQ = work[3, :, :p]
    MT = work[4, :, :s]
    QM = work[5, :, :s]
    _mm(Q, Q, QQ)
    _mmt(M, M, X)
    _mm(M, T, MT)
    _mm(Q, M, QM)
    _mmt(MT, M, MTMt)
    _mm(X, Q, XQ)

    trQ = _trace(Q)
    trT = _trace(T)
    trX = _trace(X)
    trQQ = _trace(QQ)
    trTT = _frob_inner(T, T)
    a = trT / s - trQ / p

    cM = 2.0 * eta / p
    for k in range(p):
        for r in range(s):
            dM[k, r] = cM * (a * M[k, r] + 2.0 * (MT[k, r] / s - QM[k, r] / p))

    c1 = 4.0 * eta / p
    c2 = 4.0 * eta * eta / (p * p)
    tt_Q = (trT * trT + 2.0 * trTT) / (s * s)
    st_Q = -2.0 * (trT * trQ + 2.0 * trX) / (p * s)
    ss_Q = (trQ * trQ + 2.0 * trQQ) / (p * p)
    for k in range(p):
        for l in range(p):
            # Q QQ = QQ Q, and (XQ)^T = QX since X, Q are symmetric.
            QQQ_kl = 0.0
            for j in range(p):
                QQQ_kl += Q[k, j] * QQ[j, l]
            e2 = a * Q[k, l] + 2.0 * (X[k, l] / s - QQ[k, l] / p)
            tt = tt_Q * Q[k, l] + (4.0 * trT * X[k, l] + 8.0 * MTMt[k, l]) / (s * s)
            st = st_Q * Q[k, l] - 2.0 * (
                2.0 * trQ * X[k, l] + 2.0 * trT * QQ[k, l] + 4.0 * (XQ[k, l] + XQ[l, k])
            ) / (p * s)
            ss = ss_Q * Q[k, l] + (4.0 * trQ * QQ[k, l] + 8.0 * QQQ_kl) / (p * p)
            dQ[k, l] = c1 * e2 + c2 * (tt + st + ss)


@njit(cache=True)
def _risk_batch(Q, M, T, out):  # pragma: no cover - compiled
    for b in range(Q.shape[0]):
        out[b] = _risk1(Q[b], M[b], T[b])


@njit(cache=True)
def _rhs_batch(Q, M, T, eta, dQ, dM):  # pragma: no cover - compiled
    p = Q.shape[1]
    s = T.shape[1]
    work = np.empty((6, p, max(p, s)))
    for b in range(Q.shape[0]):
        _rhs1(Q[b], M[b], T[b], eta[b], dQ[b], dM[b], work)


# ----------------------------------------------------------------------- public API
def _as_overlaps(
    Q: ArrayLike, M: ArrayLike, T: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], tuple[int, ...]]:
    """Validate shapes and broadcast ``Q, M, T`` to a common batch shape."""
    Q = np.asarray(Q, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    if Q.ndim < 2 or Q.shape[-1] != Q.shape[-2]:
        raise ValueError(f"Q must have shape (..., p, p); got {Q.shape}")
    if M.ndim < 2 or M.shape[-2] != Q.shape[-1]:
        raise ValueError(f"M must have shape (..., p, pstar) with p = {Q.shape[-1]}; got {M.shape}")
    p, s = M.shape[-2:]
    T = np.eye(s) if T is None else np.asarray(T, dtype=np.float64)
    if T.ndim < 2 or T.shape[-2:] != (s, s):
        raise ValueError(f"T must have shape (..., pstar, pstar) with pstar = {s}; got {T.shape}")
    try:
        batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"batch shapes of Q {Q.shape[:-2]}, M {M.shape[:-2]}, T {T.shape[:-2]} do not broadcast"
        ) from err
    Q = np.ascontiguousarray(np.broadcast_to(Q, batch + (p, p)))
    M = np.ascontiguousarray(np.broadcast_to(M, batch + (p, s)))
    T = np.ascontiguousarray(np.broadcast_to(T, batch + (s, s)))
    return Q, M, T, batch


def risk(Q: ArrayLike, M: ArrayLike, T: ArrayLike | None = None) -> NDArray[np.float64]:
    """Population risk ``eps = E[(y - yhat)^2] / 2`` in order parameters (PHYSICS.md section 2).

    Parameters
    ----------
    Q : (..., p, p) student-student overlaps ``W W^T / N``.
    M : (..., p, pstar) student-teacher overlaps ``W W*^T / N``.
    T : (..., pstar, pstar), optional. Teacher overlaps; the identity by default.

    Returns
    -------
    (...) array of risks.
    """
    Q, M, T, batch = _as_overlaps(Q, M, T)
    flat = (-1,)
    out = np.empty(int(np.prod(batch, dtype=np.int64)))
    _risk_batch(Q.reshape(flat + Q.shape[-2:]), M.reshape(flat + M.shape[-2:]),
                T.reshape(flat + T.shape[-2:]), out)
    return out.reshape(batch)


def ode_rhs(
    Q: ArrayLike, M: ArrayLike, T: ArrayLike | None = None, eta: ArrayLike = 1.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Right-hand side ``(dQ/dalpha, dM/dalpha)`` of the order-parameter ODEs (section 3).

    ``dM = (2 eta/p) E[(y-yhat) lambda nu^T]`` and
    ``dQ = (4 eta/p) E[(y-yhat) lambda lambda^T] + (4 eta^2/p^2) E[(y-yhat)^2 lambda lambda^T]``,
    with the Gaussian expectations in closed form. ``eta`` is a scalar or broadcasts against
    the batch shape of ``Q``, ``M``, ``T``.

    Returns
    -------
    dQ : (..., p, p), dM : (..., p, pstar)
    """
    Q, M, T, batch = _as_overlaps(Q, M, T)
    eta_arr = np.asarray(eta, dtype=np.float64)
    try:
        batch = np.broadcast_shapes(batch, eta_arr.shape)
    except ValueError as err:
        raise ValueError(f"eta of shape {eta_arr.shape} does not broadcast to batch {batch}") from err
    Q, M, T, _ = _as_overlaps(np.broadcast_to(Q, batch + Q.shape[-2:]), M, T)
    p, s = M.shape[-2:]
    n = int(np.prod(batch, dtype=np.int64))
    eta_flat = np.ascontiguousarray(np.broadcast_to(eta_arr, batch)).reshape(n)
    dQ = np.empty((n, p, p))
    dM = np.empty((n, p, s))
    _rhs_batch(Q.reshape(n, p, p), M.reshape(n, p, s), T.reshape(n, s, s), eta_flat, dQ, dM)
    return dQ.reshape(batch + (p, p)), dM.reshape(batch + (p, s))


def _check_widths(p: int, pstar: int) -> None:
    for name, value in (("p", p), ("pstar", pstar)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")


def plateau_norm(p: int, pstar: int | None = None, eta: float | None = None) -> float:
    """Fixed point ``q`` of the student norms at ``M = 0``, ``Q = q I``, ``T = I``.

    Without ``eta``: the small-eta value ``q* = p / (p + 2)``. With ``eta`` (and ``pstar``): the
    exact fixed point including the ``eta^2`` term of ``dQ``. Writing ``u = q (p + 2) / p`` and
    ``e = eta / p``, ``dQ = 0`` reads ``(1 - u) + e [(1 + 2/p*) - 2u + u^2 (p + 4)/(p + 2)] = 0``;
    the root continuous with ``u = 1`` at ``eta -> 0`` is returned. ``ValueError`` if none exists
    (the norm phase has no fixed point: the learning rate is beyond the plateau's stability).
    """
    if eta is None:
        _check_widths(p, 1)
        return p / (p + 2.0)
    if pstar is None:
        raise ValueError("pstar is required with eta")
    _check_widths(p, pstar)
    if not eta > 0:
        raise ValueError(f"eta must be positive; got {eta!r}")
    e = eta / p
    c2 = e * (p + 4.0) / (p + 2.0)
    c1 = 1.0 + 2.0 * e
    c0 = 1.0 + e * (1.0 + 2.0 / pstar)
    disc = c1 * c1 - 4.0 * c2 * c0
    if disc < 0:
        raise ValueError(f"no plateau fixed point for p={p}, pstar={pstar}, eta={eta}")
    # Stable form of the smaller root (c1 - sqrt(disc)) / (2 c2).
    u = 2.0 * c0 / (c1 + math.sqrt(disc))
    return u * p / (p + 2.0)


def plateau_risk(p: int, pstar: int) -> float:
    """Risk on the plateau, ``1/p* + 1/(p + 2)`` (``Q = q* I``, ``M = 0``, ``T = I``)."""
    _check_widths(p, pstar)
    return 1.0 / pstar + 1.0 / (p + 2.0)


def initial_risk(p: int, pstar: int) -> float:
    """Risk at ``Q = I``, ``M = 0``, ``T = I``: ``1/p* + 1/p``."""
    _check_widths(p, pstar)
    return 1.0 / pstar + 1.0 / p


def escape_rate(p: int, pstar: int, eta: float, finite_eta: bool = False) -> float:
    """Exponential growth rate of ``M`` on the plateau (per unit alpha).

    Small-eta form ``4 eta / (p p*)``. With ``finite_eta`` the plateau norm is the exact fixed
    point ``q`` of :func:`plateau_norm` and the rate is ``(2 eta / p)(1 + 2/p* - q (p + 2)/p)``
    (linearising ``dM`` at ``Q = q I``, ``M = 0``).
    """
    _check_widths(p, pstar)
    if not eta > 0:
        raise ValueError(f"eta must be positive; got {eta!r}")
    if not finite_eta:
        return 4.0 * eta / (p * pstar)
    q = plateau_norm(p, pstar, eta)
    return 2.0 * eta / p * (1.0 + 2.0 / pstar - q * (p + 2.0) / p)


def escape_time_estimate(p: int, pstar: int, eta: float, N: float) -> float:
    """Leading-order escape time ``(p p* / (8 eta)) log N``: ``M`` grows from ``N^(-1/2)`` to O(1)
    at rate ``4 eta / (p p*)``. A scale, not a prediction of the prefactor (see docs)."""
    if not N > 1:
        raise ValueError(f"N must exceed 1; got {N!r}")
    return math.log(N) / (2.0 * escape_rate(p, pstar, eta))


def teacher_overlap(pstar: int) -> NDArray[np.float64]:
    """Teacher overlaps ``T = I_{p*}`` (orthogonal teacher rows with ``|w*|^2 = N``)."""
    _check_widths(1, pstar)
    return np.eye(pstar)
