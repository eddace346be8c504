"""Population risk, order-parameter ODEs and the closed forms of docs/conventions.md sections 2-5.

Shapes: ``Q`` is ``(..., p, p)``, ``M`` is ``(..., p, pstar)``, ``T`` is ``(..., pstar, pstar)``;
leading batch dimensions broadcast against each other and against ``eta`` (scalar or ``(...)``).
Derivatives are with respect to ``alpha = samples / N``.

The risk and the right-hand side are computed by the compiled per-member kernels of
:mod:`quadsgd._kernels` (one home per formula), broadcast here over batch dimensions.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate
from quadsgd._kernels import flat_noise, flatten_batch, rhs_batch, risk_batch

__all__ = [
    "risk",
    "ode_rhs",
    "plateau_norm",
    "plateau_risk",
    "initial_risk",
    "escape_rate",
    "escape_time_estimate",
    "teacher_overlap",
    "eta_zero_error_edge",
    "zero_error_fastest_rate",
    "zero_error_point",
    "zero_error_transverse_spectrum",
    "zero_error_edge_numerical",
]


def risk(Q: ArrayLike, M: ArrayLike, T: ArrayLike | None = None) -> NDArray[np.float64]:
    """Population risk ``eps = E[(y - yhat)^2] / 2`` in order parameters (docs/conventions.md section 2).

    Parameters
    ----------
    Q : (..., p, p) student-student overlaps ``W W^T / N``.
    M : (..., p, pstar) student-teacher overlaps ``W W*^T / N``.
    T : (..., pstar, pstar), optional. Teacher overlaps; the identity by default.

    Returns
    -------
    (...) array of risks.
    """
    Q, M, T, _, batch = flatten_batch(Q, M, T)
    out = np.empty(Q.shape[0])
    risk_batch(Q, M, T, out)
    return out.reshape(batch)


def ode_rhs(
    Q: ArrayLike, M: ArrayLike, T: ArrayLike | None = None, eta: ArrayLike = 1.0, noise: ArrayLike = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Right-hand side ``(dQ/dalpha, dM/dalpha)`` of the order-parameter ODEs (section 3).

    ``dM = (2 eta/p) E[(y-yhat) lambda nu^T]`` and
    ``dQ = (4 eta/p) E[(y-yhat) lambda lambda^T] + (4 eta^2/p^2) E[(y_noisy-yhat)^2 lambda lambda^T]``,
    with the Gaussian expectations in closed form. With label noise (teacher labels
    ``y + sqrt(noise) xi``, ``xi ~ N(0, 1)`` independent of the inputs) the last expectation gains
    ``noise Q``, so ``dQ`` gains ``(4 eta^2/p^2) noise Q``; the first two are unchanged.
    ``eta`` (learning rate) and ``noise`` (label-noise variance, >= 0) are scalars or broadcast
    against the batch shape of ``Q``, ``M``, ``T``.

    Returns
    -------
    dQ : (..., p, p), dM : (..., p, pstar)

    ``ValueError`` for bad shapes or overlaps (:func:`quadsgd._kernels.flatten_batch`), or a
    ``noise`` that is negative, not finite or does not broadcast.
    """
    eta_b, noise_arr = _validate.eta_and_noise(eta, noise)
    Q, M, T, eta_flat, batch = flatten_batch(Q, M, T, eta_b)
    assert eta_flat is not None  # flatten_batch returns None only when no eta is given
    n, p, s = M.shape
    dQ = np.empty((n, p, p))
    dM = np.empty((n, p, s))
    rhs_batch(Q, M, T, eta_flat, dQ, dM, flat_noise(noise_arr, batch))
    return dQ.reshape(batch + (p, p)), dM.reshape(batch + (p, s))


def plateau_norm(p: int, pstar: int | None = None, eta: float | None = None) -> float:
    """Fixed point ``q`` of the student norms at ``M = 0``, ``Q = q I``, ``T = I``.

    Without ``eta``: the small-eta value ``q* = p / (p + 2)``. With ``eta`` (and ``pstar``): the
    exact fixed point including the ``eta^2`` term of ``dQ``. Writing ``u = q (p + 2) / p`` and
    ``e = eta / p``, ``dQ = 0`` reads ``(1 - u) + e [(1 + 2/p*) - 2u + u^2 (p + 4)/(p + 2)] = 0``;
    the root continuous with ``u = 1`` at ``eta -> 0`` is returned. ``ValueError`` if none exists
    (the norm phase has no fixed point: the learning rate is beyond the plateau's stability).
    """
    if eta is None:
        p = _validate.positive_int("p", p)
        return p / (p + 2.0)
    if pstar is None:
        raise ValueError("pstar is required with eta")
    p, pstar, _ = _validate.widths(p, pstar)
    eta = _validate.positive_real("eta", eta)
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


@overload
def plateau_risk(p: int, pstar: int, T: None = None) -> float: ...


@overload
def plateau_risk(p: int, pstar: int, T: ArrayLike) -> NDArray[np.float64]: ...


def plateau_risk(p: int, pstar: int, T: ArrayLike | None = None) -> NDArray[np.float64] | float:
    """Risk on the plateau: ``M = 0`` and the small-eta norm fixed point ``Q = q I``.

    With ``T = I`` (default) this is ``1/p* + 1/(p + 2)``. For a general teacher overlap ``T``
    ((..., pstar, pstar), symmetric positive semi-definite) the fixed point of ``dQ`` at
    ``M = 0`` and small eta is ``q = (tr T / p*) p / (p + 2)`` (docs/conventions.md section 5,
    derived here), and the risk of section 2 there is
    ``(1/2) [(tr(T)^2 + 2 tr(T T)) / p*^2 + q^2 (p + 2) / p - 2 q tr(T) / p*]``.
    Returns a float for ``T = None``, else an array of the batch shape of ``T``.
    ``ValueError`` if ``T`` is not of shape (..., pstar, pstar), not finite or not symmetric.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if T is None:
        return 1.0 / pstar + 1.0 / (p + 2.0)
    Ta = np.asarray(T, dtype=np.float64)
    if Ta.ndim < 2 or Ta.shape[-2:] != (pstar, pstar):
        raise ValueError(f"T must have shape (..., {pstar}, {pstar}); got {Ta.shape}")
    if not np.all(np.isfinite(Ta)) or not np.allclose(Ta, np.swapaxes(Ta, -1, -2), rtol=1e-12, atol=0.0):
        raise ValueError("T must be finite and symmetric (teacher overlaps W* W*^T / N)")
    trT = np.trace(Ta, axis1=-2, axis2=-1)
    trTT = np.einsum("...ij,...ij->...", Ta, Ta)
    q = trT / pstar * p / (p + 2.0)
    general = 0.5 * ((trT**2 + 2.0 * trTT) / pstar**2 + q**2 * (p + 2.0) / p - 2.0 * q * trT / pstar)
    # Members with T = I get the closed form itself, not its rounding through the general one.
    identity = np.all(Ta == np.eye(pstar), axis=(-2, -1))
    return np.where(identity, 1.0 / pstar + 1.0 / (p + 2.0), general)


def initial_risk(p: int, pstar: int) -> float:
    """Risk at ``Q = I``, ``M = 0``, ``T = I``: ``1/p* + 1/p``."""
    p, pstar, _ = _validate.widths(p, pstar)
    return 1.0 / pstar + 1.0 / p


def escape_rate(p: int, pstar: int, eta: float, finite_eta: bool = False) -> float:
    """Exponential growth rate of ``M`` on the plateau (per unit alpha).

    Small-eta form ``4 eta / (p p*)``. With ``finite_eta`` the plateau norm is the exact fixed
    point ``q`` of :func:`plateau_norm` and the rate is ``(2 eta / p)(1 + 2/p* - q (p + 2)/p)``
    (linearising ``dM`` at ``Q = q I``, ``M = 0``).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta = _validate.positive_real("eta", eta)
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
    pstar = _validate.positive_int("pstar", pstar)
    return np.eye(pstar)


# --------------------------------------------------------------------- zero-error manifold stability
def eta_zero_error_edge(p: int, pstar: int) -> float:
    """Learning rate at which the zero-error manifold loses linear stability: ``p p* / (2 (p* + 2))``.

    Derived here (docs/science.md, "Escaped is not learned"). At ``T = I`` the ODE keeps the
    symmetric family ``Q = diag(x I_{p*}, q I_{p-p*})``, ``M = [m I_{p*}; 0]``, which meets the
    manifold at ``x = p/p*``, ``m = sqrt(p/p*)``, ``q = 0``. There, with ``e = eta / p``, the
    Jacobian of ``(x, m)`` has the eigenvalues

        -4 e (p* + 2) / p*    and    -(8 e / p*) (1 - 2 e (p* + 2) / p*),

    (the second is the norm of the teacher-aligned students: the ``eta^2`` term of ``dQ``
    injects it, the ``eta`` term removes it); ``q`` has no linear term (its decay is algebraic,
    ``dq/dalpha = -8 e (p + 2) q^2 / (p (p* + 2))`` on the slow manifold, so the risk falls as
    ``alpha^-2`` for p > p*). The second eigenvalue vanishes at ``e = p* / (2 (p* + 2))``; every
    other transverse eigenvalue of the full Jacobian stays negative beyond it
    (:func:`zero_error_edge_numerical` checks this numerically on the whole ``(Q, M)`` space).
    Above the edge the ODE goes to a fixed point at finite risk (p > p*) or diverges (p = p*).

    Returns NaN for ``p < pstar`` (no zero-error manifold).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p < pstar:
        return math.nan
    return p * pstar / (2.0 * (pstar + 2.0))


def zero_error_fastest_rate(p: int, pstar: int, eta: ArrayLike) -> NDArray[np.float64]:
    """Largest decay rate of the ODE linearized at the zero-error manifold: ``4 e (p* + 2) / p*``
    with ``e = eta / p`` (1 / alpha).

    It is the first eigenvalue of :func:`eta_zero_error_edge` (the teacher-aligned students'
    overlap ``x`` relaxing at fixed norm), and the largest in magnitude of the whole transverse
    spectrum for ``eta`` below the edge (checked against :func:`zero_error_transverse_spectrum`,
    tests/test_stability.py). It equals ``2 eta / eta_zero_error_edge``, between 0 and 2 where
    the manifold is stable, and does not depend on p at fixed ``eta / p``. An explicit
    integrator's step near the manifold is bounded by its stability limit over this rate
    (Dormand-Prince 5(4): ``3.307 / rate``), whatever accuracy the slow approach needs
    (docs/performance.md, "The paper run"). Raises ``ValueError`` for ``p < pstar`` (no
    zero-error manifold), widths or ``eta`` invalid.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p < pstar:
        raise ValueError(f"p={p} < pstar={pstar}: no zero-error manifold")
    e = _validate.positive_array("eta", eta) / p
    return 4.0 * e * (pstar + 2.0) / pstar


def zero_error_point(p: int, pstar: int, U: ArrayLike | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A point ``(Q, M) = ((p/p*) U U^T, sqrt(p/p*) U)`` of the zero-error manifold (``T = I``).

    ``U`` (p x p*) must have orthonormal columns; default ``U = [I_{p*}; 0]``.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p < pstar:
        raise ValueError(f"p={p} < pstar={pstar}: no zero-error manifold")
    Ua = np.eye(p, pstar) if U is None else np.asarray(U, dtype=np.float64)
    if Ua.shape != (p, pstar) or not np.allclose(Ua.T @ Ua, np.eye(pstar), atol=1e-10):
        raise ValueError(f"U must be a ({p}, {pstar}) matrix with orthonormal columns")
    return (p / pstar) * Ua @ Ua.T, math.sqrt(p / pstar) * Ua


def _packed_jacobians(Q: NDArray[np.float64], M: NDArray[np.float64], h: float = 1e-5):
    """``J1, J2`` with ``d(rhs)/d(state) = eta J1 + eta^2 J2`` (the right-hand side of
    :func:`ode_rhs`, ``T = I``), by central differences on the
    independent entries (upper triangle of Q, then M); the state's columns for an off-diagonal
    ``Q_kl`` move ``Q_kl`` and ``Q_lk`` together."""
    p, s = M.shape
    iu = np.triu_indices(p)
    nq = iu[0].size
    n = nq + p * s

    def field(x, eta):
        Qx = np.zeros((p, p))
        Qx[iu] = x[:nq]
        Qx = Qx + np.triu(Qx, 1).T
        # The compiled kernel of ode_rhs, without its check that (Q, M) is a covariance: half of
        # the perturbed points leave the positive cone of the manifold (Q - M M^T = 0 there).
        dQ, dM = np.empty((1, p, p)), np.empty((1, p, s))
        rhs_batch(Qx[None], x[nq:].reshape(1, p, s), np.eye(s)[None], np.array([eta]), dQ, dM)
        return np.concatenate([dQ[0][iu], dM[0].ravel()])

    x0 = np.concatenate([Q[iu], M.ravel()])
    J = {}
    for eta in (1.0, 2.0):
        J[eta] = np.empty((n, n))
        for i in range(n):
            d = np.zeros(n)
            d[i] = h
            J[eta][:, i] = (field(x0 + d, eta) - field(x0 - d, eta)) / (2 * h)
    J2 = (J[2.0] - 2.0 * J[1.0]) / 2.0
    return J[1.0] - J2, J2


def _null_basis(A: NDArray[np.float64], tol: float) -> NDArray[np.float64]:
    """Orthonormal basis (columns) of the null space of ``A``."""
    _, sv, vh = np.linalg.svd(A)
    rank = int(np.sum(sv > tol * max(1.0, sv[0] if sv.size else 1.0)))
    return vh[rank:].T


def zero_error_transverse_spectrum(
    p: int, pstar: int, eta: float | None = None, U: ArrayLike | None = None, tol: float = 1e-7
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | NDArray[np.complex128]:
    """Eigenvalues of the ODE's Jacobian at a zero-error point, with the structural zeros removed.

    The Jacobian on the independent entries of ``(Q, M)`` is ``eta J1 + eta^2 J2``. It vanishes
    on the tangent space of the manifold (``p p* - p*(p*+1)/2`` directions) and has zero rows for
    the ``(p-p*)(p-p*+1)/2`` entries of Q orthogonal to ``U`` (no linear term; see
    :func:`eta_zero_error_edge`). Both are removed exactly, by repeatedly restricting to the
    complement of the common left null space of ``(J1, J2)`` (an invariant subspace) and taking
    the quotient by their common right null space. Returns the reduced ``(Y1, Y2)`` without
    ``eta``, else the eigenvalues of ``eta Y1 + eta^2 Y2``.
    """
    Q, M = zero_error_point(p, pstar, U)
    J1, J2 = _packed_jacobians(Q, M)
    while True:
        n = J1.shape[0]
        left = _null_basis(np.hstack([J1, J2]).T, tol)
        if left.shape[1]:
            B = _null_basis(left.T, tol)  # complement of the left null space: range of J in it
            J1, J2 = B.T @ J1 @ B, B.T @ J2 @ B
        right = _null_basis(np.vstack([J1, J2]), tol)
        if right.shape[1]:
            C = _null_basis(right.T, tol)
            J1, J2 = C.T @ J1 @ C, C.T @ J2 @ C
        if J1.shape[0] == n:
            break
    if eta is None:
        return J1, J2
    return np.linalg.eigvals(eta * J1 + eta**2 * J2)


def zero_error_edge_numerical(p: int, pstar: int, U: ArrayLike | None = None, eta_max: float | None = None) -> float:
    """Smallest ``eta > 0`` at which the largest real part of :func:`zero_error_transverse_spectrum`
    crosses zero (scan of ``eta / p`` on a fine grid, then bisection to machine precision).

    The independent check of :func:`eta_zero_error_edge`: it uses only :func:`ode_rhs` and sees
    every transverse direction, not just the symmetric family. NaN for ``p < pstar`` or if no
    crossing below ``eta_max`` (default ``2 p``).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p < pstar:
        return math.nan
    Y1, Y2 = zero_error_transverse_spectrum(p, pstar, None, U)

    def g(eta: float) -> float:  # eigenvalues of J / eta
        return float(np.max(np.linalg.eigvals(Y1 + eta * Y2).real))

    top = 2.0 * p if eta_max is None else float(eta_max)
    grid = np.linspace(0.0, top, 2001)[1:]
    values = np.array([g(e) for e in grid])
    if values[0] >= 0:
        raise ValueError(f"the zero-error manifold is not stable at small eta for p={p}, pstar={pstar}")
    cross = np.flatnonzero(values >= 0)
    if cross.size == 0:
        return math.nan
    lo, hi = grid[cross[0] - 1], grid[cross[0]]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)
