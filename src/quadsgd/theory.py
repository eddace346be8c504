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
    """out = A @ B for small dense matrices.

    Four rows of ``out`` are accumulated at once along contiguous rows of ``B``: each loaded
    ``B[l, j]`` serves four products and the inner loop vectorizes without reassociating any
    sum (every element is summed over ``l`` in order). A dot-product loop order would chain each
    element through one register at the FP-add latency, several times slower from p ~ 8 up.
    """
    n, k = A.shape
    m = B.shape[1]
    i = 0
    while i + 4 <= n:
        for j in range(m):
            out[i, j] = 0.0
            out[i + 1, j] = 0.0
            out[i + 2, j] = 0.0
            out[i + 3, j] = 0.0
        for l in range(k):
            a0 = A[i, l]
            a1 = A[i + 1, l]
            a2 = A[i + 2, l]
            a3 = A[i + 3, l]
            for j in range(m):
                b = B[l, j]
                out[i, j] += a0 * b
                out[i + 1, j] += a1 * b
                out[i + 2, j] += a2 * b
                out[i + 3, j] += a3 * b
        i += 4
    while i < n:
        for j in range(m):
            out[i, j] = 0.0
        for l in range(k):
            a = A[i, l]
            for j in range(m):
                out[i, j] += a * B[l, j]
        i += 1


@njit(cache=True)
def _mirror_upper(A):  # pragma: no cover - compiled
    """Copy the upper triangle onto the lower: a product known to be symmetric is made exactly so."""
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            A[j, i] = A[i, j]


@njit(cache=True)
def _sym_mmt(A, B, out):  # pragma: no cover - compiled
    """out = A @ B.T when it is symmetric (A B^T = B A^T), inner dimension small: upper
    triangle, mirrored."""
    n, k = A.shape
    for i in range(n):
        for j in range(i, n):
            acc = 0.0
            for l in range(k):
                acc += A[i, l] * B[j, l]
            out[i, j] = acc
            out[j, i] = acc


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
def _rhs1(Q, M, T, eta, dQ, dM, wpp, wps):  # pragma: no cover - compiled
    """dQ/dalpha, dM/dalpha of PHYSICS.md section 3 for one instance.

    ``Q`` and ``T`` are taken as symmetric (only their products are used, not a check) and
    ``dQ`` is returned exactly symmetric, so a symmetric ``Q`` stays so along a trajectory.
    The two (p x p) products ``QQ`` and ``Q QQ`` are the only O(p^3) work; ``X Q`` enters only
    as ``X Q + Q X = M (Q M)^T + (Q M) M^T``, which costs O(p^2 p*) instead.

    ``wpp`` (4, p, p) and ``wps`` (2, p, pstar) are scratch: passing them in keeps the
    integrator's inner loop free of allocations, and their leading-index slices are C-ordered
    matrices, which the compiled products need to vectorize.
    """
    p = Q.shape[0]
    s = T.shape[0]
    QQ = wpp[0]
    QQQ = wpp[1]
    X = wpp[2]
    MTMt = wpp[3]
    MT = wps[0]
    QM = wps[1]
    _mm(Q, Q, QQ)
    _mirror_upper(QQ)
    _mm(Q, QQ, QQQ)
    _mirror_upper(QQQ)
    _sym_mmt(M, M, X)
    _mm(M, T, MT)
    _mm(Q, M, QM)
    _sym_mmt(MT, M, MTMt)

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
        for l in range(k, p):
            XQ_sym = 0.0  # (X Q + Q X)_kl
            for r in range(s):
                XQ_sym += M[k, r] * QM[l, r] + QM[k, r] * M[l, r]
            e2 = a * Q[k, l] + 2.0 * (X[k, l] / s - QQ[k, l] / p)
            tt = tt_Q * Q[k, l] + (4.0 * trT * X[k, l] + 8.0 * MTMt[k, l]) / (s * s)
            st = st_Q * Q[k, l] - 2.0 * (
                2.0 * trQ * X[k, l] + 2.0 * trT * QQ[k, l] + 4.0 * XQ_sym
            ) / (p * s)
            ss = ss_Q * Q[k, l] + (4.0 * trQ * QQ[k, l] + 8.0 * QQQ[k, l]) / (p * p)
            dQ[k, l] = c1 * e2 + c2 * (tt + st + ss)
            dQ[l, k] = dQ[k, l]


@njit(cache=True)
def _risk_batch(Q, M, T, out):  # pragma: no cover - compiled
    for b in range(Q.shape[0]):
        out[b] = _risk1(Q[b], M[b], T[b])


@njit(cache=True)
def _rhs_batch(Q, M, T, eta, dQ, dM):  # pragma: no cover - compiled
    p = Q.shape[1]
    s = T.shape[1]
    wpp = np.empty((4, p, p))
    wps = np.empty((2, p, s))
    for b in range(Q.shape[0]):
        _rhs1(Q[b], M[b], T[b], eta[b], dQ[b], dM[b], wpp, wps)


# ----------------------------------------------------------------------- public API
def _flatten_batch(
    Q: ArrayLike, M: ArrayLike, T: ArrayLike | None, eta: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None,
           tuple[int, ...]]:
    """Validate shapes, broadcast ``Q, M, T`` (and ``eta``) to one batch shape, and flatten it.

    Returns C-contiguous ``Q (n, p, p)``, ``M (n, p, pstar)``, ``T (n, pstar, pstar)``,
    ``eta (n,)`` (None if not given) and the batch shape, ``n = prod(batch)``.
    """
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
    eta_arr = None if eta is None else np.asarray(eta, dtype=np.float64)
    try:
        batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"batch shapes of Q {Q.shape[:-2]}, M {M.shape[:-2]}, T {T.shape[:-2]} do not broadcast"
        ) from err
    if eta_arr is not None:
        try:
            batch = np.broadcast_shapes(batch, eta_arr.shape)
        except ValueError as err:
            raise ValueError(f"eta of shape {eta_arr.shape} does not broadcast to batch {batch}") from err
    n = int(np.prod(batch, dtype=np.int64))

    def flat(x: NDArray[np.float64], tail: tuple[int, ...]) -> NDArray[np.float64]:
        return np.ascontiguousarray(np.broadcast_to(x, batch + tail)).reshape((n,) + tail)

    eta_flat = None if eta_arr is None else flat(eta_arr, ())
    return flat(Q, (p, p)), flat(M, (p, s)), flat(T, (s, s)), eta_flat, batch


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
    Q, M, T, _, batch = _flatten_batch(Q, M, T)
    out = np.empty(Q.shape[0])
    _risk_batch(Q, M, T, out)
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
    Q, M, T, eta_flat, batch = _flatten_batch(Q, M, T, eta)
    n, p, s = M.shape
    dQ = np.empty((n, p, p))
    dM = np.empty((n, p, s))
    _rhs_batch(Q, M, T, eta_flat, dQ, dM)
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
