"""Linear algebra shared by the Hessian and the degrees-of-freedom modules."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def rotation_generators(W: Array) -> Array:
    """Rows ``ravel(Omega_kl W)`` for the basis ``Omega_kl = E_kl - E_lk`` (k < l) of so(p).

    They span the tangent space of the orbit ``{O W : O in O(p)}``; needs ``p >= 2``.
    """
    p = W.shape[0]
    gens = []
    for k in range(p):
        for l in range(k + 1, p):
            g = np.zeros_like(W)
            g[k] = W[l]
            g[l] = -W[k]
            gens.append(g.ravel())
    return np.array(gens)


def orthonormal_columns(M: Array) -> Array:
    """Orthonormal basis of the column space of ``M`` (rank cut as ``numpy.linalg.matrix_rank``)."""
    u, sv, _ = np.linalg.svd(M, full_matrices=False)
    if sv.size == 0 or sv[0] == 0.0:
        return u[:, :0]
    return u[:, sv > sv[0] * max(M.shape) * np.finfo(float).eps]
