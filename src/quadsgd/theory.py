"""Population risk, order-parameter ODEs and the closed forms of docs/conventions.md sections 2-5.

Shapes: ``Q`` is ``(..., p, p)``, ``M`` is ``(..., p, pstar)``, ``T`` is ``(..., pstar, pstar)``;
leading batch dimensions broadcast against each other and against ``eta`` (scalar or ``(...)``).
Derivatives are with respect to ``alpha = samples / N``.

The risk and the right-hand side are computed by the compiled per-member kernels of
:mod:`quadsgd._kernels` (one home per formula), broadcast here over batch dimensions.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate
from quadsgd._kernels import flatten_batch, rhs_batch, risk_batch

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
    Q, M, T, eta_flat, batch = flatten_batch(Q, M, T, eta)
    n, p, s = M.shape
    dQ = np.empty((n, p, p))
    dM = np.empty((n, p, s))
    rhs_batch(Q, M, T, eta_flat, dQ, dM)
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
