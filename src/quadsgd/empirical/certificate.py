"""Is the end point of a run the data's only PSD fit? A constructive certificate of a second fit.

The data constraints ``x_mu^T A x_mu = y_mu`` are linear in ``A``, so the PSD fits form a convex
set ``F`` that contains ``A*``. A run "recovers" the teacher only if ``F = {A*}``: otherwise the
flow's end point is one fit among many, however close it lies to ``A*`` (issue 15, point 3;
docs/empirical.md section 2). :func:`second_fit_witness` proves ``F != {A*}`` by exhibiting a
second PSD fit, built from a candidate ``C`` (the end point, and the midpoint of the end point
and ``A*``, which lies in ``F`` when the end point does).

Construction (exact arithmetic). Let ``C = U diag(lam) U^T`` (eigenvalues decreasing), ``U_r``
its top ``r`` eigenvectors and ``C_r`` the rank-``r`` truncation. In orthonormal coordinates of
the symmetric ``r x r`` matrices ``S`` the data map ``S -> (x_mu^T U_r S U_r^T x_mu)_mu`` is an
``n x r(r+1)/2`` design ``D_r``; when it has full row rank ``n`` (smallest singular value
``sigma_r > 0``), the correction ``S = D_r^+ rho`` of the residual ``rho = y - M(C_r)`` makes
``A'' = C_r + U_r S U_r^T`` an exact fit with ``|S|_F <= |rho| / sigma_r =: delta``, and ``A''`` is
PSD when ``lam_r > delta`` (Weyl). Then

* if ``r(r+1)/2 > n``, ``D_r`` has a kernel: ``A'' + s U_r K U_r^T`` (``K`` in the kernel, unit
  norm) is a PSD fit for ``|s| <= lam_r - delta``, so ``F`` holds a segment of that half-length
  and ``F != {A*}``, whatever ``A''`` is (the witness is the point at ``|s| = (lam_r - delta)/2``
  farther from ``A*``);
* if ``r(r+1)/2 = n``, ``A''`` is a second fit when ``|C_r - A*|_F > delta``.

The certificate holds iff ``margin = max_r min(lam_r, [dist_r]) / delta_r > 1``. Every term carries
a floating-point error bound (residual rounding, eigenvalue and singular-value errors), so no
constant is tuned to data: if ``F = {A*}``, no margin can exceed 1 except through rounding beyond
those bounds. The converse is not claimed: a run whose end point and midpoint sit on a low-rank
face of ``F`` (``r(r+1)/2 < n``) is not certified non-unique here (docs/empirical.md section 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quadsgd.empirical.instance import Array

__all__ = ["Witness", "second_fit_witness", "fit_kernel_dim", "sym_design"]

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Witness:
    """Outcome of :func:`second_fit_witness`.

    Attributes
    ----------
    found : a PSD fit of the data other than ``A*`` is certified (``margin > 1``).
    margin : best ``min(lam_r, [dist_r]) / delta_r`` over candidates and ranks (0 if no rank
        qualifies); > 1 certifies a second fit, and the further above 1, the more robust.
    rank : rank ``r`` of the certified construction (0 if none).
    distance : a certified lower bound on ``|A' - A*|_F / |A*|_F`` for some PSD fit ``A'``
        (NaN if none found).
    kernel_dim : ``dim {Delta symmetric : x_mu^T Delta x_mu = 0 for all mu}``, i.e.
        ``d(d+1)/2 - rank`` of the full design (0 iff the data determine every symmetric matrix).
    fit : (d, d) the constructed second PSD fit (None if none found); not stored.
    """

    found: bool
    margin: float
    rank: int
    distance: float
    kernel_dim: int
    fit: Array | None = None


def sym_design(Z: Array) -> Array:
    """``(n, r(r+1)/2)`` design of ``S -> (z_mu^T S z_mu)_mu`` in orthonormal (Frobenius)
    coordinates of symmetric ``S`` (diagonal entries, and ``sqrt 2`` times the upper ones)."""
    r = Z.shape[1]
    iu = np.triu_indices(r)
    return Z[:, iu[0]] * Z[:, iu[1]] * np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))


def fit_kernel_dim(X: Array) -> int:
    """``d(d+1)/2 - rank`` of the design of ``Delta -> (x_mu^T Delta x_mu)_mu`` on symmetric ``Delta``."""
    D = sym_design(np.asarray(X, dtype=float))
    return int(D.shape[1] - np.linalg.matrix_rank(D))


def _construct(C: Array, X: Array, y: Array, A_star: Array, r: int, room: float, delta: float) -> Array:
    """The second fit of the construction at rank ``r`` (see the module docstring)."""
    n = X.shape[0]
    lam, U = np.linalg.eigh((C + C.T) / 2)
    Ur, lr = U[:, ::-1][:, :r], lam[::-1][:r]
    Cr = (Ur * lr) @ Ur.T
    D = sym_design(X @ Ur)
    rho = y - np.einsum("ni,ij,nj->n", X, Cr, X)
    iu = np.triu_indices(r)
    scale = np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))

    def sym(coef: Array) -> Array:
        S = np.zeros((r, r))
        S[iu] = coef / scale
        return Ur @ (S + np.triu(S, 1).T) @ Ur.T

    fit = Cr + sym(np.linalg.lstsq(D, rho, rcond=None)[0])
    if D.shape[1] > n:  # move along a kernel direction of the design, half-way to the PSD boundary
        K = sym(np.linalg.svd(D)[2][-1])
        s = (room - delta) / 2
        fit = max(fit + s * K, fit - s * K, key=lambda B: float(np.linalg.norm(B - A_star)))
    return fit


def _candidate_margin(C: Array, X: Array, y: Array, A_star: Array) -> tuple[float, int, float, float, float]:
    n, d = X.shape
    lam, U = np.linalg.eigh((C + C.T) / 2)
    lam, U = lam[::-1], U[:, ::-1]
    norm_c = max(float(np.abs(lam).max()), float(np.linalg.norm(A_star, 2)))
    sq = np.sum(X * X, axis=1)
    # rounding of a residual entry: ~d^2 products and sums, each of relative error eps
    rho_fp = np.sqrt(n) * (d * d + 2) * _EPS * float(np.max(np.abs(y) + sq * norm_c))
    lam_fp = d * _EPS * norm_c  # eigenvalue and reconstruction errors of eigh
    best, best_r, best_dist, best_room, best_delta = 0.0, 0, float("nan"), 0.0, 0.0
    for r in range(d, 0, -1):
        p = r * (r + 1) // 2
        if p < n:
            break
        Ur = U[:, :r]
        D = sym_design(X @ Ur)
        sv = np.linalg.svd(D, compute_uv=False)
        sigma = float(sv[n - 1]) - max(n, p) * _EPS * float(sv[0])
        if sigma <= 0:
            continue
        Cr = (Ur * lam[:r]) @ Ur.T
        rho = y - np.einsum("ni,ij,nj->n", X, Cr, X)
        delta = (float(np.linalg.norm(rho)) + rho_fp) / sigma
        room = float(lam[r - 1]) - lam_fp
        if p > n:
            # a segment of half-length room - delta lies in F; of the fits at half that step on either
            # side of A'' (the constructed witness) one is at least (room - delta) / 2 from A*
            value, dist = room, (room - delta) / 2
        else:
            dist_r = float(np.linalg.norm(Cr - A_star)) - lam_fp * d
            value, dist = min(room, dist_r), dist_r - delta
        margin = value / delta
        if margin > best:
            best, best_r, best_dist, best_room, best_delta = margin, r, dist, room, delta
    return best, best_r, best_dist, best_room, best_delta


def second_fit_witness(A: Array, X: Array, y: Array, A_star: Array) -> Witness:
    """Certify (or fail to certify) that the data ``(X, y)`` have a PSD fit other than ``A*``.

    ``A`` (d, d) is the end point of a run (any PSD matrix close to a fit); the candidates are
    ``A`` and ``(A + A*)/2``. See the module docstring for the construction and its guarantee:
    ``found`` is True only if a second PSD fit provably exists (up to the rounding bounds).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    A = np.asarray(A, dtype=float)
    A_star = np.asarray(A_star, dtype=float)
    best: tuple[float, int, float, float, float] = (0.0, 0, float("nan"), 0.0, 0.0)
    best_c = A
    for C in (A, (A + A_star) / 2):
        if not np.all(np.isfinite(C)):
            continue
        cand = _candidate_margin(C, X, y, A_star)
        if cand[0] > best[0]:
            best, best_c = cand, C
    margin, r, dist, room, delta = best
    if margin <= 1.0:
        return Witness(False, margin, 0, float("nan"), fit_kernel_dim(X))
    fit = _construct(best_c, X, y, A_star, r, room, delta)
    return Witness(True, margin, r, dist / float(np.linalg.norm(A_star)), fit_kernel_dim(X), fit)
