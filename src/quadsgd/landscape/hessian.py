"""Population risk, its gradient and Hessian in weight space; spectra and their sign counts.

Convention (docs/conventions.md sections 1, 2 and 8). Student weights ``W`` have shape
``(p, N)`` (one row per hidden unit), teacher weights ``Wstar`` have shape ``(pstar, N)``. With

    A  = W^T W / (p N),   A* = Wstar^T Wstar / (pstar N),   D = A - A*,

the population risk of the loss ``(y - yhat)^2 / 2`` is ``eps = tr(D^2) + (tr D)^2 / 2``,
its gradient is ``2 W G / (p N)`` with ``G = 2 D + (tr D) I_N``, and the Hessian quadratic form is

    H[dW, dW] = 2 tr(dA^2) + (tr dA)^2 + 2 tr(G dW^T dW) / (p N),
    dA = (dW^T W + W^T dW) / (p N),

so that ``eps(W + dW) = eps(W) + <grad, dW> + H[dW, dW] / 2 + O(dW^3)``. Matrices acting on
weight space use the row-major flattening ``W.ravel()``: entry ``(k, i)`` sits at ``k * N + i``.

Structure used for large N. Let ``S`` be the span of the rows of ``W`` and ``Wstar``
(dimension ``s <= p + pstar``). ``A``, ``A*`` and hence ``G - (tr D) I`` are supported on ``S``,
so both ``R^p (x) S`` and ``R^p (x) S^perp`` are invariant subspaces of the Hessian. On the
second one the Hessian is ``K (x) I_{N-s}`` with the ``p x p`` matrix

    K = (2 tr D / (p N)) I_p + 4 W W^T / (p N)^2,

and on the first it is the same Hessian formula written in an orthonormal basis of ``S``
(a ``p s x p s`` matrix, with the original N in the normalisation). The spectrum is therefore
``eig(reduced) (multiplicity 1 each) + eig(K) (multiplicity N - s each)``, computed in
``O((p + pstar)^2 N + (p s)^3)`` operations without ever forming the ``pN x pN`` matrix.
Derivations and measurements: docs/landscape.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate
from quadsgd.landscape import _args
from quadsgd.landscape._linalg import orthonormal_columns, rotation_generators

__all__ = [
    "DEFAULT_RTOL",
    "SIGNS",
    "SignCounts",
    "Spectrum",
    "dense_hessian",
    "eigen_counts",
    "population_risk",
    "risk_gradient",
    "structured_spectrum",
    "zero_error_null_split",
]

SIGNS: tuple[str, ...] = ("negative", "null", "positive", "null_tangent", "null_nontangent")
"""Eigenvalue classes (the ``sign`` dimension); the last two split ``null`` at zero error."""

DEFAULT_RTOL = 1e-8
"""Default relative threshold of :func:`eigen_counts`.

At the analysed points every eigenvalue is ``c / (p N)`` with ``c`` depending on ``p, pstar``
only (:func:`quadsgd.landscape.formula_spectrum`), and the smallest non-zero ``|lambda|`` is at
least ``max|lambda| / (3 (p + pstar + 2))`` whatever N; null eigenvalues come out at round-off
level ``~1e-16 max|lambda|``. ``1e-8`` sits safely between the two up to widths of order ``1e6``.
"""

Array = NDArray[np.float64]


class SignCounts(NamedTuple):
    """Numbers of negative, null and positive Hessian eigenvalues (summing to ``p N``)."""

    negative: int
    null: int
    positive: int


@dataclass(frozen=True)
class Spectrum:
    """Hessian eigenvalues with multiplicities.

    Attributes
    ----------
    values : ndarray, shape (m,)
        Eigenvalues, sorted ascending (the same value may appear more than once when it comes
        from both the reduced block and the complement).
    multiplicity : ndarray of int, shape (m,)
        Multiplicity of each entry of ``values``; ``multiplicity.sum() == p * N``.
    """

    values: Array
    multiplicity: NDArray[np.int64]

    @property
    def size(self) -> int:
        """Dimension of weight space, ``p N``."""
        return int(self.multiplicity.sum())

    def expanded(self) -> Array:
        """All ``p N`` eigenvalues, sorted ascending (only sensible for small N)."""
        return np.repeat(self.values, self.multiplicity)

    def counts(self, rtol: float = DEFAULT_RTOL) -> SignCounts:
        """Sign counts with the threshold ``|lambda| <= rtol * max|lambda|`` for null."""
        thr = _null_threshold(self.values, rtol)
        neg = int(self.multiplicity[self.values < -thr].sum())
        pos = int(self.multiplicity[self.values > thr].sum())
        return SignCounts(neg, self.size - neg - pos, pos)


def _null_threshold(values: Array, rtol: float) -> float:
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return _args.rtol(rtol) * scale


# ------------------------------------------------------------------------- risk and derivatives


def _G(W: Array, Wstar: Array, N: int) -> Array:
    # N is passed separately because the reduced Hessian evaluates this in a basis of S
    # (W.shape[1] = s) while the normalisation keeps the true input dimension.
    p, pstar = W.shape[0], Wstar.shape[0]
    D = W.T @ W / (p * N) - Wstar.T @ Wstar / (pstar * N)
    return 2.0 * D + np.trace(D) * np.eye(W.shape[1])


def _trace_D_D2(W: Array, Wstar: Array) -> tuple[float, float]:
    # tr D and tr D^2 through the small Gram matrices, never forming N x N matrices.
    p, N = W.shape
    pstar = Wstar.shape[0]
    trD = np.sum(W * W) / (p * N) - np.sum(Wstar * Wstar) / (pstar * N)
    trD2 = (
        np.sum((W @ W.T) ** 2) / (p * N) ** 2
        - 2.0 * np.sum((W @ Wstar.T) ** 2) / (p * pstar * N**2)
        + np.sum((Wstar @ Wstar.T) ** 2) / (pstar * N) ** 2
    )
    return float(trD), float(trD2)


def population_risk(W: ArrayLike, Wstar: ArrayLike) -> float:
    """Population risk ``eps = tr(D^2) + (tr D)^2 / 2``.

    Parameters
    ----------
    W : array_like, shape (p, N)
        Student weights.
    Wstar : array_like, shape (pstar, N)
        Teacher weights (any rows; the project's teacher has orthonormal rows of norm^2 N).

    Returns
    -------
    float
        ``E_x[(y - yhat)^2 / 2]`` for ``x ~ N(0, I_N)``, ``y = |Wstar x|^2 / (pstar N)``,
        ``yhat = |W x|^2 / (p N)``.
    """
    W, Wstar = _args.weights(W, Wstar)
    trD, trD2 = _trace_D_D2(W, Wstar)
    return trD2 + 0.5 * trD**2


def risk_gradient(W: ArrayLike, Wstar: ArrayLike) -> Array:
    """Gradient of :func:`population_risk` with respect to ``W``.

    Parameters
    ----------
    W : array_like, shape (p, N)
    Wstar : array_like, shape (pstar, N)

    Returns
    -------
    ndarray, shape (p, N)
        ``2 W G / (p N)`` with ``G = 2 D + (tr D) I_N``.
    """
    W, Wstar = _args.weights(W, Wstar)
    p, N = W.shape
    pstar = Wstar.shape[0]
    trD, _ = _trace_D_D2(W, Wstar)
    WD = (W @ W.T) @ W / (p * N) - (W @ Wstar.T) @ Wstar / (pstar * N)
    return 2.0 * (2.0 * WD + trD * W) / (p * N)


def _hessian_matrix(W: Array, Wstar: Array, N: int) -> Array:
    # Block (k, l) of the quadratic form, read off H[dW, dW] = sum_kl dw_k^T H_kl dw_l:
    #   H_kl = 2/(pN) delta_kl G + 4/(pN)^2 [w_l w_k^T + (W W^T)_kl I + w_k w_l^T].
    p, n = W.shape
    pN = p * N
    c = 4.0 / pN**2
    H = c * np.einsum("li,kj->kilj", W, W)
    H += c * np.einsum("ki,lj->kilj", W, W)
    H += c * np.einsum("kl,ij->kilj", W @ W.T, np.eye(n))
    diag = np.arange(p)
    H[diag, :, diag, :] += (2.0 / pN) * _G(W, Wstar, N)
    H = H.reshape(p * n, p * n)
    return 0.5 * (H + H.T)


def dense_hessian(W: ArrayLike, Wstar: ArrayLike, *, max_dim: int = 4000) -> Array:
    """Full Hessian of the population risk, for small ``p N``.

    Parameters
    ----------
    W : array_like, shape (p, N)
    Wstar : array_like, shape (pstar, N)
    max_dim : int
        Refuse (ValueError) when ``p N`` exceeds this, to avoid allocating huge matrices;
        use :func:`structured_spectrum` for large N.

    Returns
    -------
    ndarray, shape (p N, p N)
        Symmetric matrix with ``vec(dW)^T H vec(dW) = H[dW, dW]``, ``vec = ravel()`` (row-major:
        entry ``(k, i)`` of ``W`` at index ``k N + i``).
    """
    W, Wstar = _args.weights(W, Wstar)
    max_dim = _validate.positive_int("max_dim", max_dim)
    if W.size > max_dim:
        raise ValueError(f"p*N = {W.size} exceeds max_dim = {max_dim}; use structured_spectrum")
    return _hessian_matrix(W, Wstar, W.shape[1])


# ----------------------------------------------------------------------- structured spectrum


@dataclass(frozen=True)
class _Decomposition:
    basis: Array  # (s, N), orthonormal rows spanning rows of W and Wstar
    reduced_values: Array  # (p s,)
    reduced_vectors: Array  # (p s, p s), columns index R^p (x) S, row-major
    complement_values: Array  # (p,), each with multiplicity N - s
    N: int


def _decompose(W: Array, Wstar: Array, vectors: bool) -> _Decomposition:
    p, N = W.shape
    stacked = np.vstack([W, Wstar])
    _, sv, vt = np.linalg.svd(stacked, full_matrices=False)
    # Same rank cut as numpy.linalg.matrix_rank; W = 0 (tabula rasa) just contributes nothing.
    s = int(np.sum(sv > sv[0] * max(stacked.shape) * np.finfo(float).eps))
    basis = vt[:s]
    H_red = _hessian_matrix(W @ basis.T, Wstar @ basis.T, N)
    if vectors:
        red_vals, red_vecs = np.linalg.eigh(H_red)
    else:
        red_vals, red_vecs = np.linalg.eigvalsh(H_red), np.empty((0, 0))
    trD, _ = _trace_D_D2(W, Wstar)  # G restricted to S^perp is (tr D) I
    K = (2.0 * trD / (p * N)) * np.eye(p) + 4.0 * (W @ W.T) / (p * N) ** 2
    return _Decomposition(basis, red_vals, red_vecs, np.linalg.eigvalsh(K), N)


def _spectrum_of(dec: _Decomposition) -> Spectrum:
    s = dec.basis.shape[0]
    values = [dec.reduced_values]
    mult = [np.ones(dec.reduced_values.size, dtype=np.int64)]
    if dec.N > s:
        values.append(dec.complement_values)
        mult.append(np.full(dec.complement_values.size, dec.N - s, dtype=np.int64))
    v = np.concatenate(values)
    order = np.argsort(v, kind="stable")
    return Spectrum(v[order], np.concatenate(mult)[order])


def structured_spectrum(W: ArrayLike, Wstar: ArrayLike) -> Spectrum:
    """Exact Hessian spectrum with multiplicities, without forming the ``pN x pN`` matrix.

    The Hessian splits into ``R^p (x) S`` (``S`` = span of the rows of ``W`` and ``Wstar``,
    dimension ``s``) where it is diagonalised as a ``p s x p s`` matrix, and ``R^p (x) S^perp``
    where it equals ``K (x) I_{N-s}`` with ``K = (2 tr D/(pN)) I_p + 4 W W^T/(pN)^2``.

    Parameters
    ----------
    W : array_like, shape (p, N)
    Wstar : array_like, shape (pstar, N)

    Returns
    -------
    Spectrum
        ``p s`` eigenvalues of multiplicity 1 and ``p`` eigenvalues of multiplicity ``N - s``
        (omitted when ``s = N``), sorted ascending.
    """
    W, Wstar = _args.weights(W, Wstar)
    return _spectrum_of(_decompose(W, Wstar, vectors=False))


def eigen_counts(
    W: ArrayLike, Wstar: ArrayLike, *, rtol: float = DEFAULT_RTOL, method: str = "structured"
) -> SignCounts:
    """Numbers of negative, null and positive Hessian eigenvalues.

    An eigenvalue is null when ``|lambda| <= rtol * max|lambda|`` (scale-aware: the Hessian
    scales as ``1/(p N)``, so an absolute threshold would depend on the sizes).

    Parameters
    ----------
    W : array_like, shape (p, N)
    Wstar : array_like, shape (pstar, N)
    rtol : float
        Relative threshold in (0, 1), see :data:`DEFAULT_RTOL`.
    method : {"structured", "dense"}
        ``"structured"`` uses :func:`structured_spectrum`; ``"dense"`` diagonalises
        :func:`dense_hessian` (small ``p N`` only).

    Returns
    -------
    SignCounts
        ``(negative, null, positive)``, summing to ``p N``.
    """
    W, Wstar = _args.weights(W, Wstar)
    rtol = _args.rtol(rtol)
    if method == "structured":
        return structured_spectrum(W, Wstar).counts(rtol)
    if method == "dense":
        values = np.linalg.eigvalsh(dense_hessian(W, Wstar)).astype(np.float64, copy=False)  # float64 already
        return Spectrum(values, np.ones(values.size, dtype=np.int64)).counts(rtol)
    raise ValueError(f"method must be 'structured' or 'dense', got {method!r}")


def zero_error_null_split(
    W: ArrayLike, Wstar: ArrayLike, *, rtol: float = DEFAULT_RTOL, angle_tol: float = 1e-6
) -> tuple[int, int]:
    """Split the Hessian null space into directions tangent / not tangent to the solution set.

    The zero-error set ``{W : W^T W / p = Wstar^T Wstar / pstar}`` is one orbit
    ``{O W : O in O(p)}`` (two matrices with equal Gram matrices ``W^T W`` differ by a left
    orthogonal factor), so its tangent space at ``W`` is ``T = {Omega W : Omega^T = -Omega}``,
    i.e. ``sqrt(p/pstar) dU Wstar`` with ``U^T dU`` antisymmetric. Equivalently, ``T`` is the
    kernel of the differential ``dW -> dW^T W + W^T dW`` restricted to ``dW`` whose rows lie in
    the row space of ``W``. The full kernel of that differential is larger when ``p > pstar``:
    it also contains ``dW = U_perp Z`` with the rows of ``Z`` orthogonal to the teacher, which
    keep ``W^T W`` fixed only to first order (``W^T W`` changes by ``dW^T dW != 0``); at zero
    error ``G = 0`` so the kernel of the differential is exactly the Hessian null space.

    The count is done by projection: the number of principal angles between the numerical null
    space (inside ``R^p (x) S``) and ``T`` whose cosine exceeds ``1 - angle_tol`` is the tangent
    count; null directions in ``R^p (x) S^perp`` are never tangent (``T`` lies in ``R^p (x) S``).

    Parameters
    ----------
    W : array_like, shape (p, N)
        A zero-error point (ValueError if its risk is not ~0 relative to the risk at ``W = 0``).
    Wstar : array_like, shape (pstar, N)
    rtol : float
        Null threshold, as in :func:`eigen_counts`.
    angle_tol : float
        Tolerance on the cosines of the principal angles, in (0, 1).

    Returns
    -------
    (int, int)
        ``(null_tangent, null_nontangent)``; closed forms in
        :func:`quadsgd.landscape.zero_error_counts`.
    """
    W, Wstar = _args.weights(W, Wstar)
    rtol = _args.rtol(rtol)
    angle_tol = _validate.fraction("angle_tol", angle_tol)
    if population_risk(W, Wstar) > 1e-10 * population_risk(np.zeros_like(W), Wstar):
        raise ValueError("W is not a zero-error point for Wstar")
    p = W.shape[0]
    dec = _decompose(W, Wstar, vectors=True)
    spec = _spectrum_of(dec)
    thr = _null_threshold(spec.values, rtol)
    total_null = spec.counts(rtol).null
    null_red = dec.reduced_vectors[:, np.abs(dec.reduced_values) <= thr]
    if p == 1 or null_red.shape[1] == 0:
        return 0, total_null
    T = orthonormal_columns(rotation_generators(W @ dec.basis.T).T)
    cosines = np.linalg.svd(null_red.T @ T, compute_uv=False)
    tangent = int(np.sum(cosines > 1.0 - angle_tol))
    return tangent, total_null - tangent
