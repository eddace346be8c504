"""Degrees of freedom of ``W -> W^T W`` and the dimension of the zero-error manifold.

Convention and sources: docs/conventions.md section 8.4 (and 7.1 for the manifold); the
closed forms are checked against numerical ranks (:func:`wtw_jacobian_rank`,
:func:`orbit_dimension`) in the tests and in the degrees-of-freedom store
(:func:`quadsgd.landscape.degrees_of_freedom_dataset`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quadsgd import _validate
from quadsgd.landscape import _args
from quadsgd.landscape._linalg import rotation_generators

__all__ = ["manifold_dimension", "orbit_dimension", "wtw_degrees_of_freedom", "wtw_jacobian_rank"]


def wtw_degrees_of_freedom(p: int, N: int) -> int:
    """Dimension of the set of matrices ``W^T W`` reachable by a width-p student.

    ``p N - p (p-1)/2`` for ``p <= N`` (``W -> W^T W`` is invariant under ``W -> O W``,
    ``O in O(p)``, acting freely at full rank); ``N (N+1)/2`` for ``p > N`` (all symmetric
    PSD matrices: the map is onto). Numerical check: :func:`wtw_jacobian_rank`.
    """
    p, N = _validate.positive_int("p", p), _validate.positive_int("N", N)
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
    p, pstar, _ = _validate.widths(p, pstar)
    r = pstar if N is None else min(pstar, _validate.positive_int("N", N))
    if p < r:
        raise ValueError(f"no zero-error manifold for p={p} < rank {r} of the teacher Gram matrix")
    return p * r - r * (r + 1) // 2


def wtw_jacobian_rank(W: ArrayLike) -> int:
    """Rank of the Jacobian of ``W -> W^T W`` at ``W`` (shape ``(p, N)``), an ``N^2 x pN`` matrix.

    At a random ``W`` this is :func:`wtw_degrees_of_freedom`.
    """
    W = _args.student(W)
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
    W = _args.student(W)
    if W.shape[0] == 1:
        return 0
    return int(np.linalg.matrix_rank(rotation_generators(W)))
