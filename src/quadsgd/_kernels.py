"""Compiled per-member kernels: the population risk and the ODE right-hand side.

Each formula of docs/conventions.md sections 2-3 is written once here, as a single-instance
kernel (:func:`risk1`, :func:`rhs1`); :mod:`quadsgd.theory` broadcasts them over batches and
:mod:`quadsgd.ode` and :mod:`quadsgd.sgd` call them inside their own compiled loops. Looping per
member (rather than batched matmuls) makes every member's arithmetic independent of the batch it
travels in, so a seed gives bit-identical trajectories alone or in a batch.

Private to the package: the names here may change without notice.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

__all__ = ["risk1", "rhs1", "risk_batch", "rhs_batch", "flatten_batch"]


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
def risk1(Q, M, T):  # pragma: no cover - compiled
    """Population risk eps(Q, M, T) (docs/conventions.md section 2) for one instance."""
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
def rhs1(Q, M, T, eta, dQ, dM, wpp, wps):  # pragma: no cover - compiled
    """dQ/dalpha, dM/dalpha (docs/conventions.md section 3) for one instance.

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
def risk_batch(Q, M, T, out):  # pragma: no cover - compiled
    for b in range(Q.shape[0]):
        out[b] = risk1(Q[b], M[b], T[b])


@njit(cache=True)
def rhs_batch(Q, M, T, eta, dQ, dM):  # pragma: no cover - compiled
    p = Q.shape[1]
    s = T.shape[1]
    wpp = np.empty((4, p, p))
    wps = np.empty((2, p, s))
    for b in range(Q.shape[0]):
        rhs1(Q[b], M[b], T[b], eta[b], dQ[b], dM[b], wpp, wps)


#: Relative tolerance of the symmetry of ``Q`` and ``T`` and of the positive semi-definiteness of
#: the joint covariance ``[[Q, M], [M^T, T]]`` (relative to its largest entry, at least 1).
OVERLAP_RTOL = 1e-9


def flatten_batch(
    Q: ArrayLike,
    M: ArrayLike,
    T: ArrayLike | None,
    eta: ArrayLike | None = None,
    *,
    missing_ok: bool | None = None,
    joint_psd: bool = False,
    names: tuple[str, str, str] = ("Q", "M", "T"),
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None,
           tuple[int, ...]]:
    """Validate shapes and values, broadcast ``Q, M, T`` (and ``eta``) to one batch shape, and flatten it.

    Returns C-contiguous ``Q (n, p, p)``, ``M (n, p, pstar)``, ``T (n, pstar, pstar)``,
    ``eta (n,)`` (None if not given) and the batch shape, ``n = prod(batch)``.

    Values (``ValueError`` naming the argument, by ``names``, and the rule): every entry finite;
    ``Q`` and ``T`` symmetric within :data:`OVERLAP_RTOL` (then made exactly symmetric, which leaves
    a symmetric input bit for bit unchanged); ``eta`` finite. For dynamics (``eta`` given) ``Q`` and
    ``T`` must also be positive semi-definite (smallest eigenvalue >= ``-OVERLAP_RTOL`` x scale),
    and with ``joint_psd`` (the start of an integration: ``(lambda, nu)`` is a Gaussian pair) the
    joint covariance ``[[Q, M], [M^T, T]]`` too; the right-hand side alone may be evaluated at any
    symmetric point with PSD blocks.
    ``missing_ok`` (default: when no ``eta`` is given, i.e. a risk evaluation) lets a member holding
    NaN through unchecked, as a missing point (after a divergence) whose risk is NaN.
    """
    Q = np.asarray(Q, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    nQ, nM, nT = names
    if Q.ndim < 2 or Q.shape[-1] != Q.shape[-2]:
        raise ValueError(f"{nQ} must have shape (..., p, p); got {Q.shape}")
    if M.ndim < 2 or M.shape[-2] != Q.shape[-1]:
        raise ValueError(f"{nM} must have shape (..., p, pstar) with p = {Q.shape[-1]}; got {M.shape}")
    p, s = M.shape[-2:]
    T = np.eye(s) if T is None else np.asarray(T, dtype=np.float64)
    if T.ndim < 2 or T.shape[-2:] != (s, s):
        raise ValueError(f"{nT} must have shape (..., pstar, pstar) with pstar = {s}; got {T.shape}")
    eta_arr = None if eta is None else np.asarray(eta, dtype=np.float64)
    try:
        batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    except ValueError as err:
        raise ValueError(
            f"batch shapes of {nQ} {Q.shape[:-2]}, {nM} {M.shape[:-2]}, {nT} {T.shape[:-2]} do not broadcast"
        ) from err
    if eta_arr is not None:
        if not np.all(np.isfinite(eta_arr)):
            raise ValueError(f"eta must be finite; got {eta_arr[~np.isfinite(eta_arr)][:4].tolist()}")
        try:
            batch = np.broadcast_shapes(batch, eta_arr.shape)
        except ValueError as err:
            raise ValueError(f"eta of shape {eta_arr.shape} does not broadcast to batch {batch}") from err
    Q, T = _check_overlaps(Q, M, T, names, missing_ok=eta is None if missing_ok is None else missing_ok,
                           psd=eta is not None, joint=joint_psd)
    n = int(np.prod(batch, dtype=np.int64))

    def flat(x: NDArray[np.float64], tail: tuple[int, ...]) -> NDArray[np.float64]:
        return np.ascontiguousarray(np.broadcast_to(x, batch + tail)).reshape((n,) + tail)

    eta_flat = None if eta_arr is None else flat(eta_arr, ())
    return flat(Q, (p, p)), flat(M, (p, s)), flat(T, (s, s)), eta_flat, batch


def _first_bad(mask: NDArray[np.bool_]) -> str:
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return f" (first at batch index {idx})" if idx else ""


def _check_overlaps(
    Q: NDArray[np.float64], M: NDArray[np.float64], T: NDArray[np.float64], names: tuple[str, str, str], *,
    missing_ok: bool, psd: bool, joint: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The value rules of :func:`flatten_batch` on the un-broadcast blocks; returns ``Q, T``
    made exactly symmetric."""
    nQ, nM, nT = names
    p, s = M.shape[-2:]
    batch = np.broadcast_shapes(Q.shape[:-2], M.shape[:-2], T.shape[:-2])
    missing = np.zeros(batch, dtype=bool)
    if missing_ok:
        for x in (Q, M, T):
            missing = missing | np.broadcast_to(np.isnan(x).any(axis=(-2, -1)), batch)
    for name, x in ((nQ, Q), (nM, M), (nT, T)):
        bad = ~np.isfinite(x).all(axis=(-2, -1))
        bad = np.broadcast_to(bad, batch) & ~missing
        if bad.any():
            vals = x[~np.isfinite(x)][:4].tolist()
            raise ValueError(f"{name} must be finite (no NaN or infinity); got {vals}{_first_bad(bad)}")
    with np.errstate(invalid="ignore"):
        for name, x in ((nQ, Q), (nT, T)):
            asym = np.abs(x - np.swapaxes(x, -1, -2)).max(axis=(-2, -1), initial=0.0)
            scale = np.maximum(1.0, np.abs(x).max(axis=(-2, -1), initial=0.0))
            bad = np.broadcast_to(asym > OVERLAP_RTOL * scale, batch) & ~missing
            if bad.any():
                worst = float(np.nanmax(np.broadcast_to(asym, batch)[bad]))
                raise ValueError(f"{name} must be symmetric (an overlap matrix); largest |{name} - {name}^T| "
                                 f"is {worst:.3g}{_first_bad(bad)}")
        Q = 0.5 * (Q + np.swapaxes(Q, -1, -2))
        T = 0.5 * (T + np.swapaxes(T, -1, -2))
        blocks = []
        if psd:
            blocks += [(f"{nQ}", Q), (f"{nT}", T)]
        if joint:
            Qb, Mb, Tb = (np.broadcast_to(x, batch + x.shape[-2:]) for x in (Q, M, T))
            top = np.concatenate([Qb, Mb], axis=-1)
            bottom = np.concatenate([np.swapaxes(Mb, -1, -2), Tb], axis=-1)
            blocks.append((f"the joint covariance [[{nQ}, {nM}], [{nM}^T, {nT}]] of (lambda, nu)",
                           np.concatenate([top, bottom], axis=-2)))
        for what, G in blocks:
            G = np.broadcast_to(G, batch + G.shape[-2:])
            ok = ~missing
            eig = np.full(batch + G.shape[-1:], np.nan)
            eig[ok] = np.linalg.eigvalsh(G[ok])
            scale = np.maximum(1.0, np.abs(G).max(axis=(-2, -1), initial=0.0))
            bad = (eig.min(axis=-1, initial=np.inf) < -OVERLAP_RTOL * scale) & ok
            if bad.any():
                lowest = float(np.min(eig[bad]))
                raise ValueError(f"{what} must be positive semi-definite (a covariance); smallest eigenvalue "
                                 f"{lowest:.3g}{_first_bad(bad)}")
    return Q, T
