"""Population-risk landscape in weight space: Hessian spectra at the critical points.

Convention (``PHYSICS.md`` sections 1, 2, 8). Student weights ``W`` have shape ``(p, N)``
(one row per hidden unit), teacher weights ``Wstar`` have shape ``(pstar, N)``. With

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

Critical points (teacher: orthonormal rows, ``|w*_r|^2 = N``):

- ``tabula_rasa``: ``W = 0``.
- ``plateau``: students orthonormal directions orthogonal to the teacher, ``|w_k|^2 / N = p/(p+2)``.
- ``zero_error``: ``W = sqrt(p/pstar) U Wstar``, ``U^T U = I_pstar`` (needs ``p >= pstar``).
- ``aligned``: all students along teacher unit 0, ``sum_k |w_k|^2 / N = p (pstar + 2) / (3 pstar)``.

The closed-form eigenvalue counts of each point are in :func:`formula_counts`, the eigenvalues
themselves in :func:`formula_spectrum`; the derivations are summarised in ``docs/landscape.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from quadsgd.theory import plateau_norm

__all__ = [
    "POINTS",
    "SIGNS",
    "SignCounts",
    "Spectrum",
    "aligned",
    "aligned_counts",
    "critical_point",
    "dense_hessian",
    "eigen_counts",
    "formula_counts",
    "formula_spectrum",
    "hessian_counts_dataset",
    "manifold_dimension",
    "orbit_dimension",
    "plateau",
    "plateau_counts",
    "plateau_null_ratio",
    "point_applicable",
    "population_risk",
    "risk_gradient",
    "structured_spectrum",
    "tabula_rasa",
    "tabula_rasa_counts",
    "teacher",
    "wtw_degrees_of_freedom",
    "wtw_jacobian_rank",
    "zero_error",
    "zero_error_counts",
    "zero_error_null_split",
]

POINTS: tuple[str, ...] = ("tabula_rasa", "plateau", "zero_error", "aligned")
"""Names of the analysed critical points (the ``point`` dimension of the dataset)."""

SIGNS: tuple[str, ...] = ("negative", "null", "positive", "null_tangent", "null_nontangent")
"""Eigenvalue classes (the ``sign`` dimension); the last two split ``null`` at zero error."""

DEFAULT_RTOL = 1e-8
"""Default relative threshold of :func:`eigen_counts`.

At the analysed points every eigenvalue is ``c / (p N)`` with ``c`` depending on ``p, pstar``
only (:func:`formula_spectrum`), and the smallest non-zero ``|lambda|`` is at least
``max|lambda| / (3 (p + pstar + 2))`` whatever N; null eigenvalues come out at round-off level
``~1e-16 max|lambda|``. ``1e-8`` sits safely between the two up to widths of order ``1e6``.
"""

Seed = int | np.random.SeedSequence | None
Array = NDArray[np.float64]
Pair = tuple[Array, Array]


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


# ----------------------------------------------------------------------------- validation


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_sizes(p: object, pstar: object, N: object) -> tuple[int, int, int]:
    return _positive_int("p", p), _positive_int("pstar", pstar), _positive_int("N", N)


def _check_weights(W: ArrayLike, Wstar: ArrayLike) -> Pair:
    W = np.asarray(W, dtype=float)
    Wstar = np.asarray(Wstar, dtype=float)
    if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] == 0:
        raise ValueError(f"W must be a non-empty (p, N) matrix, got shape {W.shape}")
    if Wstar.ndim != 2 or Wstar.shape[0] == 0:
        raise ValueError(f"Wstar must be a non-empty (pstar, N) matrix, got shape {Wstar.shape}")
    if Wstar.shape[1] != W.shape[1]:
        raise ValueError(
            f"Wstar must have the same input dimension N as W: W has shape {W.shape}, "
            f"Wstar has shape {Wstar.shape}"
        )
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(Wstar))):
        raise ValueError("W and Wstar must be finite")
    return W, Wstar


def _check_rtol(rtol: float) -> float:
    if not (0.0 < rtol < 1.0):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
    return float(rtol)


def _null_threshold(values: Array, rtol: float) -> float:
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return _check_rtol(rtol) * scale


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
    W, Wstar = _check_weights(W, Wstar)
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
    W, Wstar = _check_weights(W, Wstar)
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


def dense_hessian(W: ArrayLike, Wstar: ArrayLike, max_dim: int = 4000) -> Array:
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
    W, Wstar = _check_weights(W, Wstar)
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
    W, Wstar = _check_weights(W, Wstar)
    dec = _decompose(W, Wstar, vectors=False)
    return _spectrum_of(dec)


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


def eigen_counts(
    W: ArrayLike, Wstar: ArrayLike, rtol: float = DEFAULT_RTOL, method: str = "structured"
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
    W, Wstar = _check_weights(W, Wstar)
    _check_rtol(rtol)
    if method == "structured":
        return structured_spectrum(W, Wstar).counts(rtol)
    if method == "dense":
        values = np.linalg.eigvalsh(dense_hessian(W, Wstar))
        return Spectrum(values, np.ones(values.size, dtype=np.int64)).counts(rtol)
    raise ValueError(f"method must be 'structured' or 'dense', got {method!r}")


def zero_error_null_split(
    W: ArrayLike, Wstar: ArrayLike, rtol: float = DEFAULT_RTOL, angle_tol: float = 1e-6
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
        Tolerance on the cosines of the principal angles.

    Returns
    -------
    (int, int)
        ``(null_tangent, null_nontangent)``; closed forms in :func:`zero_error_counts`.
    """
    W, Wstar = _check_weights(W, Wstar)
    _check_rtol(rtol)
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
    T = _orthonormal_columns(_rotation_generators(W @ dec.basis.T).T)
    cosines = np.linalg.svd(null_red.T @ T, compute_uv=False)
    tangent = int(np.sum(cosines > 1.0 - angle_tol))
    return tangent, total_null - tangent


def _rotation_generators(W: Array) -> Array:
    # Rows: ravel(Omega_kl W) for the basis Omega_kl = E_kl - E_lk (k < l) of so(p); needs p >= 2.
    p = W.shape[0]
    gens = []
    for k in range(p):
        for l in range(k + 1, p):
            g = np.zeros_like(W)
            g[k] = W[l]
            g[l] = -W[k]
            gens.append(g.ravel())
    return np.array(gens)


def _orthonormal_columns(M: Array) -> Array:
    u, sv, _ = np.linalg.svd(M, full_matrices=False)
    if sv.size == 0 or sv[0] == 0.0:
        return u[:, :0]
    return u[:, sv > sv[0] * max(M.shape) * np.finfo(float).eps]


# ---------------------------------------------------------------------- critical points


def _orthonormal_rows(
    rng: np.random.Generator, k: int, N: int, avoid: Array | None = None
) -> Array:
    # Haar-distributed orthonormal k-frame (QR with sign fix), optionally orthogonal to the
    # orthonormal rows of `avoid`.
    g = rng.standard_normal((N, k))
    if avoid is not None and avoid.size:
        g -= avoid.T @ (avoid @ g)
    q, r = np.linalg.qr(g)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if avoid is not None and avoid.size:
        q -= avoid.T @ (avoid @ q)  # remove the round-off leak back into the avoided span
        q, _ = np.linalg.qr(q)
    return q.T


def _rngs(seed: Seed) -> tuple[np.random.Generator, np.random.Generator]:
    # Teacher and student streams are independent, and the teacher does not depend on p.
    # Children are built explicitly (not with .spawn, which advances a counter on the object) so
    # that repeated calls with the same SeedSequence give the same streams.
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    t, s = (
        np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i), pool_size=ss.pool_size)
        for i in range(2)
    )
    return np.random.default_rng(t), np.random.default_rng(s)


def teacher(pstar: int, N: int, seed: Seed = None) -> Array:
    """Random teacher: orthonormal rows scaled to ``|w*_r|^2 = N`` (so ``T = I_pstar``).

    Parameters
    ----------
    pstar, N : int
        Teacher width and input dimension, ``pstar <= N``.
    seed : int, SeedSequence or None
        Seeds the teacher stream of :func:`critical_point` (same seed, same teacher).

    Returns
    -------
    ndarray, shape (pstar, N)
    """
    pstar, N = _positive_int("pstar", pstar), _positive_int("N", N)
    if pstar > N:
        raise ValueError(f"pstar = {pstar} orthonormal teacher rows need pstar <= N = {N}")
    return math.sqrt(N) * _orthonormal_rows(_rngs(seed)[0], pstar, N)


def tabula_rasa(p: int, pstar: int, N: int, seed: Seed = None) -> Pair:
    """Tabula rasa ``W = 0`` (a maximum: every Hessian eigenvalue is negative).

    Returns
    -------
    W : ndarray, shape (p, N)
        Zeros.
    Wstar : ndarray, shape (pstar, N)
        Teacher from :func:`teacher` with the same seed.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    return np.zeros((p, N)), teacher(pstar, N, seed)


def plateau(p: int, pstar: int, N: int, seed: Seed = None) -> Pair:
    """Plateau saddle: orthonormal student directions orthogonal to the teacher, ``|w_k|^2/N = q*``.

    Stationarity: with ``A = (q/p) P_W`` (``P_W`` the projector on the student rows) and
    ``tr D = q - 1``, ``W G = 0`` reads ``2 q / p + q - 1 = 0``, i.e. ``q* = p / (p + 2)``.

    Parameters
    ----------
    p, pstar, N : int
        Sizes; ``p + pstar <= N`` is required (ValueError otherwise).
    seed : int, SeedSequence or None

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    if p + pstar > N:
        raise ValueError(f"plateau needs p + pstar <= N, got p={p}, pstar={pstar}, N={N}")
    rng_t, rng_s = _rngs(seed)
    Wstar = math.sqrt(N) * _orthonormal_rows(rng_t, pstar, N)
    W = math.sqrt(N * plateau_norm(p)) * _orthonormal_rows(rng_s, p, N, avoid=Wstar / math.sqrt(N))
    return W, Wstar


def zero_error(p: int, pstar: int, N: int, seed: Seed = None) -> Pair:
    """Zero-error point ``W = sqrt(p/pstar) U Wstar`` with a random ``U`` (``U^T U = I_pstar``).

    Then ``A = A*`` so ``D = G = 0``: risk and gradient vanish.

    Parameters
    ----------
    p, pstar, N : int
        Sizes; ``p >= pstar`` (ValueError otherwise: ``U`` cannot have orthonormal columns) and
        ``pstar <= N``. ``p > N`` is allowed.
    seed : int, SeedSequence or None

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    if p < pstar:
        raise ValueError(f"zero-error points need p >= pstar, got p={p}, pstar={pstar}")
    Wstar = teacher(pstar, N, seed)
    U = _orthonormal_rows(_rngs(seed)[1], pstar, p).T
    return math.sqrt(p / pstar) * U @ Wstar, Wstar


def aligned(
    p: int, pstar: int, N: int, seed: Seed = None, unit: int = 0
) -> tuple[Array, Array]:
    """All students along one teacher unit: ``w_k = a_k w*_unit``, ``|a|^2 = p(pstar+2)/(3pstar)``.

    Derivation of the norm: with ``f = w*_unit / sqrt(N)`` and ``sigma = |a|^2 = sum_k |w_k|^2/N``,
    ``A = (sigma/p) f f^T``, ``D = (sigma/p) f f^T - P*/pstar`` and ``tr D = sigma/p - 1``.
    Since every row of ``W`` is along ``f``, ``W G = 0`` iff ``G f = 0``, i.e.
    ``2 (sigma/p - 1/pstar) + sigma/p - 1 = 0``, so ``sigma = p (pstar + 2) / (3 pstar)``
    (for ``p = pstar = 1`` this is the zero-error point ``|w|^2 = N``). Only ``|a|`` is fixed;
    its direction is drawn at random from the seed.

    Parameters
    ----------
    p, pstar, N : int
        Sizes, ``pstar <= N``.
    seed : int, SeedSequence or None
    unit : int
        Index of the teacher row the students align with.

    Returns
    -------
    W : ndarray, shape (p, N)
    Wstar : ndarray, shape (pstar, N)
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    if not 0 <= unit < pstar:
        raise ValueError(f"unit must be in [0, pstar), got {unit!r}")
    Wstar = teacher(pstar, N, seed)
    a = _rngs(seed)[1].standard_normal(p)
    a *= math.sqrt(p * (pstar + 2.0) / (3.0 * pstar)) / np.linalg.norm(a)
    return np.outer(a, Wstar[unit]), Wstar


_CONSTRUCTORS: dict[str, Callable[..., Pair]] = {
    "tabula_rasa": tabula_rasa,
    "plateau": plateau,
    "zero_error": zero_error,
    "aligned": aligned,
}


def _check_point(point: str) -> str:
    if point not in POINTS:
        raise ValueError(f"point must be one of {POINTS}, got {point!r}")
    return point


def point_applicable(point: str, p: int, pstar: int, N: int) -> bool:
    """Whether the critical point ``point`` exists for these sizes.

    All points need ``pstar <= N`` (orthonormal teacher); the plateau also needs
    ``p + pstar <= N``, zero error needs ``p >= pstar``.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    if pstar > N:
        return False
    if _check_point(point) == "plateau":
        return p + pstar <= N
    if point == "zero_error":
        return p >= pstar
    return True


def critical_point(
    point: str, p: int, pstar: int, N: int, seed: Seed = None
) -> tuple[Array, Array]:
    """Dispatch to :func:`tabula_rasa`, :func:`plateau`, :func:`zero_error` or :func:`aligned`."""
    return _CONSTRUCTORS[_check_point(point)](p, pstar, N, seed)


# -------------------------------------------------------------------------- closed forms


def tabula_rasa_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts at ``W = 0``: all ``p N`` eigenvalues negative.

    ``H = (2/(pN)) I_p (x) G`` with ``G = -2 P*/pstar - I``: eigenvalue ``-2 (1 + 2/pstar)/(pN)``
    with multiplicity ``p pstar`` and ``-2/(pN)`` with multiplicity ``p (N - pstar)``.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    return SignCounts(p * N, 0, 0)


def plateau_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts at the plateau (``p + pstar <= N``).

    - negative ``p pstar``: students rotating towards the teacher, eigenvalue ``-4/(p pstar N)``;
    - positive ``p (p+1)/2``: symmetric changes inside the student span (``8 q*/(p^2 N)``,
      and ``4/(pN)`` for the common norm);
    - null ``p (p-1)/2 + p (N - p - pstar)``: rotations inside the student span, and moves out of
      span(students, teacher) where ``K = (2/(pN)) (q* (1 + 2/p) - 1) I = 0``.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    return SignCounts(p * pstar, p * (p - 1) // 2 + p * (N - p - pstar), p * (p + 1) // 2)


def plateau_null_ratio(p: int, pstar: int, N: int) -> float:
    """Negative / null eigenvalue ratio at the plateau, ``2 pstar / (2N - p - 2 pstar - 1)``.

    Equivalently ``pstar / (N - pstar - (p+1)/2)``: ``~ pstar / N`` with p entering only at
    relative order ``p / N``; it increases with p, up to ``2 pstar / (N - pstar - 1)`` at the
    largest admissible ``p = N - pstar``.
    """
    c = plateau_counts(p, pstar, N)
    return c.negative / c.null if c.null else math.inf


def zero_error_counts(p: int, pstar: int, N: int) -> dict[str, int]:
    """Counts on the zero-error manifold (``pstar <= p``, ``pstar <= N``).

    With ``G = 0``, ``H[dW, dW] = 2 tr(dA^2) + (tr dA)^2`` is positive definite in ``dA``, so the
    null space is the kernel of ``dW -> dA``:

    - positive ``pstar (N - pstar) + pstar (pstar+1)/2``: ``K = 4 W W^T/(pN)^2`` has eigenvalue
      ``4/(p pstar N)`` (multiplicity ``pstar``) on ``R^p (x) S^perp``, and inside the teacher span
      ``dW = C F`` changes ``dA`` through ``sym(U^T C)``, which has rank ``pstar (pstar+1)/2``;
    - negative 0;
    - null ``(p - pstar)(N - pstar) + p pstar - pstar (pstar+1)/2``, of which
      ``null_tangent = p pstar - pstar (pstar+1)/2`` (the manifold dimension: ``dW = Omega W``)
      and ``null_nontangent = (p - pstar)(N - pstar)`` (``dW = U_perp Z``, rows of ``Z``
      orthogonal to the teacher; present only when ``p > pstar``).

    Returns
    -------
    dict
        Keys ``negative, null, positive, null_tangent, null_nontangent``.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    tangent = p * pstar - pstar * (pstar + 1) // 2
    nontangent = (p - pstar) * (N - pstar)
    return {
        "negative": 0,
        "null": tangent + nontangent,
        "positive": pstar * (N - pstar) + pstar * (pstar + 1) // 2,
        "null_tangent": tangent,
        "null_nontangent": nontangent,
    }


def aligned_counts(p: int, pstar: int, N: int) -> SignCounts:
    """Counts with all students along one teacher unit (``pstar <= N``).

    For ``pstar > 1``: negative ``(p-1)(N-1)``, null ``p + pstar - 2``, positive ``N - pstar + 1``.
    For ``pstar = 1`` the point is a zero-error point and the ``(p-1)(N-1)`` eigenvalue
    ``2 tr D/(pN) = -4 (pstar-1)/(3 pstar p N)`` vanishes: negative 0, null ``(p-1) N``,
    positive ``N`` (as :func:`zero_error_counts` with ``pstar = 1``).

    Families (``a`` the vector of student coefficients, ``f_r`` teacher directions):
    out of the teacher span, ``K`` has ``4/(p pstar N)`` along ``a`` and ``2 tr D/(pN)`` on the
    ``p - 1`` directions orthogonal to ``a``, each with multiplicity ``N - pstar``; along ``f_1``,
    ``12 sigma/(p^2 N)`` along ``a`` and 0 on ``a^perp``; along ``f_r`` (``r >= 2``), 0 along ``a``
    and ``-4 (pstar+2)/(3 pstar p N)`` on ``a^perp``.
    """
    p, pstar, N = _check_sizes(p, pstar, N)
    if pstar == 1:
        return SignCounts(0, (p - 1) * N, N)
    return SignCounts((p - 1) * (N - 1), p + pstar - 2, N - pstar + 1)


def formula_counts(point: str, p: int, pstar: int, N: int) -> dict[str, int]:
    """Closed-form eigenvalue counts of ``point`` for these sizes.

    Returns
    -------
    dict
        ``negative, null, positive`` for every point, plus ``null_tangent, null_nontangent`` for
        ``zero_error``. ValueError if the point does not exist (see :func:`point_applicable`).
    """
    if not point_applicable(point, p, pstar, N):
        raise ValueError(f"point {point!r} does not exist for p={p}, pstar={pstar}, N={N}")
    if point == "zero_error":
        return zero_error_counts(p, pstar, N)
    fn = {"tabula_rasa": tabula_rasa_counts, "plateau": plateau_counts, "aligned": aligned_counts}
    return fn[point](p, pstar, N)._asdict()


def formula_spectrum(point: str, p: int, pstar: int, N: int) -> Spectrum:
    """Closed-form Hessian eigenvalues and multiplicities of ``point``.

    Eigenvalues in units of ``1/(p N)`` (families with multiplicity 0 are dropped; the same
    value may appear twice, e.g. the aligned point at ``pstar = 1``):

    - tabula rasa: ``-2 (1 + 2/pstar)`` x ``p pstar``; ``-2`` x ``p (N - pstar)``.
    - plateau: ``-4/pstar`` x ``p pstar``; ``0`` x ``p (p-1)/2 + p (N - p - pstar)``;
      ``8/(p+2)`` x ``p (p+1)/2 - 1``; ``4`` x 1.
    - zero error: ``0`` x null count of :func:`zero_error_counts`; ``4/pstar`` x
      ``pstar (N - pstar)``; ``8/pstar`` x ``pstar (pstar+1)/2 - 1``; ``4 + 8/pstar`` x 1.
    - aligned: ``-4 (pstar+2)/(3 pstar)`` x ``(p-1)(pstar-1)``; ``-4 (pstar-1)/(3 pstar)`` x
      ``(p-1)(N - pstar)``; ``0`` x ``p + pstar - 2``; ``4/pstar`` x ``N - pstar``;
      ``4 (pstar+2)/pstar`` x 1.

    Returns
    -------
    Spectrum
        Values (already divided by ``p N``) and multiplicities summing to ``p N``.
    """
    if not point_applicable(point, p, pstar, N):
        raise ValueError(f"point {point!r} does not exist for p={p}, pstar={pstar}, N={N}")
    ps = float(pstar)
    families: list[tuple[float, int]]
    if point == "tabula_rasa":
        families = [(-2.0 * (1.0 + 2.0 / ps), p * pstar), (-2.0, p * (N - pstar))]
    elif point == "plateau":
        c = plateau_counts(p, pstar, N)
        families = [
            (-4.0 / ps, c.negative),
            (0.0, c.null),
            (8.0 / (p + 2.0), c.positive - 1),
            (4.0, 1),
        ]
    elif point == "zero_error":
        families = [
            (0.0, zero_error_counts(p, pstar, N)["null"]),
            (4.0 / ps, pstar * (N - pstar)),
            (8.0 / ps, pstar * (pstar + 1) // 2 - 1),
            (4.0 + 8.0 / ps, 1),
        ]
    else:
        families = [
            (-4.0 * (ps + 2.0) / (3.0 * ps), (p - 1) * (pstar - 1)),
            (-4.0 * (ps - 1.0) / (3.0 * ps), (p - 1) * (N - pstar)),
            (0.0, p + pstar - 2),
            (4.0 / ps, N - pstar),
            (4.0 * (ps + 2.0) / ps, 1),
        ]
    kept = [(v / (p * N), m) for v, m in families if m > 0]
    values = np.array([v for v, _ in kept])
    order = np.argsort(values, kind="stable")
    return Spectrum(values[order], np.array([m for _, m in kept], dtype=np.int64)[order])


# ------------------------------------------------------------------- degrees of freedom


def wtw_degrees_of_freedom(p: int, N: int) -> int:
    """Dimension of the set of matrices ``W^T W`` reachable by a width-p student.

    ``p N - p (p-1)/2`` for ``p <= N`` (``W -> W^T W`` is invariant under ``W -> O W``,
    ``O in O(p)``, acting freely at full rank); ``N (N+1)/2`` for ``p > N`` (all symmetric
    PSD matrices: the map is onto). Numerical check: :func:`wtw_jacobian_rank`.
    """
    p, N = _positive_int("p", p), _positive_int("N", N)
    return p * N - p * (p - 1) // 2 if p <= N else N * (N + 1) // 2


def manifold_dimension(p: int, pstar: int, N: int | None = None) -> int:
    """Dimension of ``{W in R^(p x N) : W^T W / p = Wstar^T Wstar / pstar}``.

    The set is the orbit ``{O W0 : O in O(p)}``; with ``r`` the rank of ``Wstar^T Wstar``
    (``r = pstar`` for the project's orthonormal teacher, ``min(pstar, N)`` for a generic one)
    its dimension is ``p (p-1)/2 - (p-r)(p-r-1)/2 = p r - r (r+1)/2`` (the rotations of the
    ``p - r`` directions orthogonal to the columns of ``U`` leave ``W`` unchanged). It needs
    ``p >= r``. For the orthonormal teacher (``pstar <= N``) it does not depend on N, also when
    ``p > N``. With ``r = min(p, N)`` (a generic fibre) it equals ``p N`` minus
    :func:`wtw_degrees_of_freedom`, i.e. ``p (p-1)/2`` for ``p <= N`` and ``p N - N (N+1)/2``
    for ``p > N``. Numerical check: :func:`orbit_dimension`.
    """
    p, pstar = _positive_int("p", p), _positive_int("pstar", pstar)
    r = pstar if N is None else min(pstar, _positive_int("N", N))
    if p < r:
        raise ValueError(f"no zero-error manifold for p={p} < rank {r} of the teacher Gram matrix")
    return p * r - r * (r + 1) // 2


def wtw_jacobian_rank(W: ArrayLike) -> int:
    """Rank of the Jacobian of ``W -> W^T W`` at ``W`` (shape ``(p, N)``), an ``N^2 x pN`` matrix.

    At a random ``W`` this is :func:`wtw_degrees_of_freedom`.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W must be a non-empty (p, N) matrix, got shape {W.shape}")
    N = W.shape[1]
    eye = np.eye(N)
    # d(W^T W)_ij / dW_km = delta_mi W_kj + W_ki delta_mj
    J = np.einsum("mi,kj->ijkm", eye, W) + np.einsum("ki,mj->ijkm", W, eye)
    return int(np.linalg.matrix_rank(J.reshape(N * N, W.size)))


def orbit_dimension(W: ArrayLike) -> int:
    """Dimension of the orbit ``{O W : O in O(p)}`` at ``W``: rank of ``Omega -> Omega W``.

    At a zero-error point this is :func:`manifold_dimension`; at a random ``W`` it is ``p N``
    minus :func:`wtw_degrees_of_freedom`.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.size == 0:
        raise ValueError(f"W must be a non-empty (p, N) matrix, got shape {W.shape}")
    if W.shape[0] == 1:
        return 0
    return int(np.linalg.matrix_rank(_rotation_generators(W)))


# ------------------------------------------------------------------------------ dataset


def hessian_counts_dataset(
    p_values: ArrayLike,
    pstar_values: ArrayLike,
    N_values: ArrayLike,
    seed: int = 0,
    numeric_max_N: int = 100_000,
    rtol: float = DEFAULT_RTOL,
) -> xr.Dataset:
    """Hessian eigenvalue counts at the critical points, numerical and closed-form.

    Parameters
    ----------
    p_values, pstar_values, N_values : array_like of int
        Grid of student widths, teacher widths and input dimensions.
    seed : int
        Base seed; the point for ``(point, p, pstar, N)`` is drawn from
        ``SeedSequence([seed, p, pstar, N, index of point])``, so values do not depend on which
        other grid values are requested.
    numeric_max_N : int
        Numerical counts (structured spectrum) are computed only for ``N <= numeric_max_N``.
    rtol : float
        Null threshold of :func:`eigen_counts`.

    Returns
    -------
    xarray.Dataset
        Dims ``point`` (:data:`POINTS`), ``sign`` (:data:`SIGNS`), ``p``, ``pstar``, ``N``.
        ``count_numeric`` and ``count_formula`` (int64) hold eigenvalue counts; the fill value
        ``-1`` marks entries that are not applicable (point does not exist for these sizes, e.g.
        zero error for ``p < pstar`` or the plateau for ``p + pstar > N``; the tangent split for
        points other than zero error) and, for ``count_numeric`` only, ``N > numeric_max_N``.
    """
    ps = [_positive_int("p_values", v) for v in np.atleast_1d(p_values).tolist()]
    pss = [_positive_int("pstar_values", v) for v in np.atleast_1d(pstar_values).tolist()]
    Ns = [_positive_int("N_values", v) for v in np.atleast_1d(N_values).tolist()]
    _positive_int("numeric_max_N", numeric_max_N)
    _check_rtol(rtol)
    shape = (len(POINTS), len(SIGNS), len(ps), len(pss), len(Ns))
    numeric = np.full(shape, -1, dtype=np.int64)
    formula = np.full(shape, -1, dtype=np.int64)
    for ip, point in enumerate(POINTS):
        for i, p in enumerate(ps):
            for j, pstar in enumerate(pss):
                for k, N in enumerate(Ns):
                    if not point_applicable(point, p, pstar, N):
                        continue
                    for name, value in formula_counts(point, p, pstar, N).items():
                        formula[ip, SIGNS.index(name), i, j, k] = value
                    if N > numeric_max_N:
                        continue
                    W, Wstar = critical_point(
                        point, p, pstar, N, np.random.SeedSequence([seed, p, pstar, N, ip])
                    )
                    counts = structured_spectrum(W, Wstar).counts(rtol)
                    numeric[ip, :3, i, j, k] = counts
                    if point == "zero_error":
                        numeric[ip, 3:, i, j, k] = zero_error_null_split(W, Wstar, rtol)
    dims = ("point", "sign", "p", "pstar", "N")
    fill = (
        "-1: not applicable (point does not exist for these sizes, "
        "or tangent split requested away from zero error)"
    )
    return xr.Dataset(
        {
            "count_numeric": (
                dims,
                numeric,
                {
                    "units": "1",
                    "long_name": "number of Hessian eigenvalues (numerical)",
                    "description": (
                        "Counts from the exact structured spectrum of the population-risk Hessian "
                        f"at a seeded critical point; null means |lambda| <= {rtol:g} max|lambda|."
                    ),
                    "fill_value_meaning": fill + "; also N > numeric_max_N (not computed)",
                },
            ),
            "count_formula": (
                dims,
                formula,
                {
                    "units": "1",
                    "long_name": "number of Hessian eigenvalues (closed form)",
                    "description": (
                        "Closed-form counts in (p, pstar, N), see quadsgd.landscape.formula_counts."
                    ),
                    "fill_value_meaning": fill,
                },
            ),
        },
        coords={
            "point": ("point", list(POINTS), {"description": "critical point of the risk"}),
            "sign": (
                "sign",
                list(SIGNS),
                {"description": "eigenvalue class; null_tangent + null_nontangent = null"},
            ),
            "p": ("p", np.array(ps, dtype=np.int64), {"units": "1", "long_name": "student width"}),
            "pstar": (
                "pstar",
                np.array(pss, dtype=np.int64),
                {"units": "1", "long_name": "teacher width p*"},
            ),
            "N": ("N", np.array(Ns, dtype=np.int64), {"units": "1", "long_name": "input dim."}),
        },
        attrs={
            "description": (
                "Hessian eigenvalue counts at critical points of the population risk "
                "(PHYSICS.md section 8)"
            ),
            "seed": seed,
            "rtol": rtol,
            "numeric_max_N": numeric_max_N,
        },
    )
