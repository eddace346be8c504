"""Stationary states of the order-parameter ODE at finite eta and label noise (docs/conventions.md
section 10.3-10.4; derived here).

At ``T = I`` the ODE of section 3 keeps the symmetric family

    Q = diag(x I_n, q I_{p-n}),   M = [m I_n, 0; 0, 0],   n = min(p, p*),

(``n`` students each aligned with its own teacher direction, ``p - n`` students orthogonal to the
teacher; for ``p < p*`` the last ``p* - p`` teacher directions are not learned). Its fixed points
with ``m != 0`` are the states the dynamics ends in:

- ``p < p*``: the best rank-p fit of the teacher (small eta), shifted at finite eta and noise;
- ``p = p*``: the zero-error point (noise 0), shifted by label noise;
- ``p > p*``: the zero-error manifold's point ``q = 0`` (noise 0), lifted to ``q > 0`` by noise;
  above the zero-error edge, the settled state at finite risk.

``dM = 0`` reads ``1 - tr Q / p + 2/p* - 2x/p = 0``, so ``x = (p (1 + 2/p*) - (p - n) q) / (n + 2)``
at any eta and noise; ``dQ = 0`` in the aligned block is then linear in ``m^2``, and for ``p > p*``
the orthogonal block leaves a cubic in ``q``.

All functions take raw learning rates ``eta`` (dimensionless) and the label-noise variance
``noise`` (units of the squared output); ``e = eta / p`` below.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate

__all__ = [
    "best_fit_risk",
    "best_fit_point",
    "stationary_family",
    "stationary_point",
    "stationary_risk",
    "narrow_excess_risk",
    "narrow_excess_slope",
    "noise_risk_slope",
    "eta_stationary_edge",
]


def best_fit_risk(p: int, pstar: int) -> float:
    """Minimal population risk over students of width ``p <= p*``: ``(p* - p)(p* + 2) / (p*^2 (p + 2))``.

    Derived here (docs/conventions.md section 10.3): over PSD ``A`` of rank ``<= p`` with given
    eigenvalues, ``tr(A A*)`` is largest with the eigenvectors in the teacher span (von Neumann's
    trace inequality), and the remaining convex problem in the eigenvalues is symmetric, so its
    minimum has ``p`` equal eigenvalues ``(p* + 2)/(p* (p + 2))``. Zero for ``p = p*``.
    ``ValueError`` for ``p > p*`` (the minimum is the zero-error manifold, risk 0).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p > pstar:
        raise ValueError(f"p must be <= pstar for the best rank-p fit; got p={p}, pstar={pstar}")
    return (pstar - p) * (pstar + 2.0) / (pstar**2 * (p + 2.0))


def best_fit_point(p: int, pstar: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Overlaps ``(Q, M)`` of the best rank-p fit (``p <= p*``): ``Q = x I_p``, ``M = [sqrt(x) I_p, 0]``,
    ``x = p (p* + 2) / (p* (p + 2))`` (students in the teacher span, along ``p`` teacher directions).
    Shapes ``(p, p)`` and ``(p, pstar)``; any rotation ``(O Q O^T, O M R)`` is another minimiser."""
    best_fit_risk(p, pstar)  # checks p <= pstar
    x = p * (pstar + 2.0) / (pstar * (p + 2.0))
    M = np.zeros((p, pstar))
    M[:, :p] = math.sqrt(x) * np.eye(p)
    return x * np.eye(p), M


#: Size of a rounding residue of :func:`quadsgd.theory.risk` at the stationary states (its terms are
#: O(1) at ``T = I``, so a few hundred ulps of 1).
_ROUNDING = 1e-13


def _aligned_m2(p: int, pstar: int, e, noise, q):
    """``m^2`` from ``dQ = 0`` in the aligned block, given ``q`` (``x`` eliminated by ``dM = 0``)."""
    s = pstar
    if p <= s:
        return p * (s + 2) * (e * noise * s * s * (p + 2) + 2 * e * (s + 2) * (p + s + 4) - 2 * s * (p + 2)) / (
            2 * s * (p + 2) ** 2 * (2 * e * (s + 2) - s))
    # From dQ = 0 in the orthogonal block (linear in m^2), derived with sympy from section 3.2.
    return (e * noise * p * p * s * (s + 2) + 2 * e * p * p * q * q * s - 4 * e * p * p * q * s + 4 * e * p * p * s
            + 8 * e * p * p - 2 * e * p * q * q * s * s + 12 * e * p * q * q * s + 4 * e * p * q * s * s
            - 4 * e * q * q * s * s + 16 * e * q * q * s - 2 * p * p * q * s - 4 * p * q * s) / (
        4 * e * p * s * (s + 2))


def _orthogonal_q(p: int, pstar: int, e: float, noise: float) -> float:
    """Smallest root ``q >= 0`` of the cubic left by ``dQ = 0`` (both blocks) and ``dM = 0`` (p > p*)
    that gives ``m^2 > 0``; NaN if none."""
    s = pstar
    coeffs = [
        16 * e * e * s * s * (p + 2) * (p - s) * (s + 2) ** 5 * (p + s + 4),
        -4 * e * p * s * (p + 2) * (s + 2) ** 6 * (4 * e * p + 4 * e * s + 16 * e + p * s - s * s - 4 * s),
        4 * p * p * s * (s + 2) ** 6 * (2 * e * e * noise * s * (p - s) + (p + 2) * (2 * e * (s + 2) - s)),
        2 * e * noise * p**3 * s * (s - 4 * e) * (s + 2) ** 7,
    ]
    if noise == 0.0:
        # q = 0 is a root (the zero-error manifold): the stationary state below the edge. Above it
        # the state is the smaller root of the remaining quadratic (the settled state).
        if 2 * e * (s + 2) < s:
            return 0.0
        coeffs = coeffs[:3]
    roots = np.roots(coeffs)
    real = np.sort(roots[(np.abs(roots.imag) <= 1e-9 * np.abs(roots)) & (roots.real >= 0)].real)
    for q in real:
        x = _x_of_q(p, s, q)
        if x > 0 and _aligned_m2(p, s, e, noise, q) > 0:
            return float(q)
    return math.nan


def _x_of_q(p: int, pstar: int, q):
    """``x`` from ``dM = 0``: ``1 - (n x + (p - n) q)/p + 2/p* - 2x/p = 0`` with ``n = min(p, p*)``."""
    n = min(p, pstar)
    return (p * (1.0 + 2.0 / pstar) - (p - n) * q) / (n + 2.0)


def stationary_family(
    p: int, pstar: int, eta: ArrayLike, noise: ArrayLike = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(x, m, q)`` of the stationary state in the symmetric family (module docstring).

    Parameters: widths ``p``, ``pstar``; ``eta`` (> 0) and ``noise`` (>= 0) broadcast together.
    Returns three arrays of the broadcast shape; ``q`` is 0 for ``p <= p*`` (no orthogonal
    students). For ``p > p*`` at noise 0 the state is the zero-error point (``q = 0``) below the
    zero-error edge and the settled state (``q > 0``, the smaller root of the quadratic of
    :func:`quadsgd.phase.eta_settled_edge`) above it, up to its fold; it is unstable beyond
    :func:`quadsgd.phase.eta_settled_edge`. NaN where the state does not exist: for ``p < p*``
    beyond :func:`eta_stationary_edge`, and wherever the roots leave the valid region
    (``m^2 <= 0``, or ``m^2 > x``, which is not a covariance).

    Closed forms (derived here, docs/conventions.md section 10.3-10.4), ``e = eta / p``, ``s = p*``:
    ``x = p (s + 2) / (s (p + 2))`` for ``p <= p*`` (independent of eta and noise) and
    ``m^2 = p (s+2) [e noise s^2 (p+2) + 2 e (s+2)(p+s+4) - 2 s (p+2)] / (2 s (p+2)^2 (2 e (s+2) - s))``;
    for ``p > p*`` ``q`` is the smallest admissible root of a cubic (``q = 0`` at noise 0).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta_a, noise_a = _validate.eta_and_noise(eta, noise)
    e = eta_a / p
    if p <= pstar:
        q = np.zeros_like(e)
    else:
        q = np.vectorize(lambda ee, nn: _orthogonal_q(p, pstar, float(ee), float(nn)), otypes=[float])(e, noise_a)
    x = _x_of_q(p, pstar, q)
    with np.errstate(invalid="ignore", divide="ignore"):
        m2 = _aligned_m2(p, pstar, e, noise_a, q)
    bad = ~(np.isfinite(m2) & (m2 > 0) & (m2 <= x * (1 + 1e-12)) & np.isfinite(q))
    x, m2, q = (np.where(bad, np.nan, v) for v in (x, m2, q))
    return x, np.sqrt(m2), q


def stationary_point(
    p: int, pstar: int, eta: float, noise: float = 0.0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The stationary state of :func:`stationary_family` as overlaps ``Q (p, p)``, ``M (p, pstar)``.
    ``ValueError`` if it does not exist at this ``(eta, noise)``."""
    eta = _validate.positive_real("eta", eta)
    noise = _validate.real("noise", noise, low=0.0, low_open=False)
    x, m, q = (float(v) for v in stationary_family(p, pstar, eta, noise))
    if not math.isfinite(m):
        raise ValueError(f"no stationary state of the symmetric family at p={p}, pstar={pstar}, "
                         f"eta={eta}, noise={noise}")
    n = min(p, pstar)
    Q = np.diag([x] * n + [q] * (p - n))
    M = np.zeros((p, pstar))
    M[:n, :n] = m * np.eye(n)
    return Q, M


def stationary_risk(p: int, pstar: int, eta: ArrayLike, noise: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Clean population risk (section 2) of the stationary state, broadcast over ``eta`` and ``noise``.

    For ``p <= p*`` in closed form (derived here):
    ``eps = eps_fit + e p (s+2) / ((p+2)(s - 2e(s+2))) [2 (s-p)(s+2) / (s^2 (p+2)) + noise]`` with
    ``eps_fit`` = :func:`best_fit_risk`; for ``p = p*``: ``e noise / (1 - 2 e (p+2)/p)``.
    For ``p > p*`` from the root of :func:`stationary_family` (``0`` at noise 0 below the edge).
    NaN where the state does not exist. Never negative: rounding residues of size below 1e-13
    (the O(1) terms of the risk cancelling at zero error) are returned as 0.
    """
    from quadsgd.theory import risk

    p, pstar, _ = _validate.widths(p, pstar)
    x, m, q = stationary_family(p, pstar, eta, noise)
    n = min(p, pstar)
    ok = np.isfinite(m)
    Q = np.zeros(x.shape + (p, p))
    M = np.zeros(x.shape + (p, pstar))
    idx = np.arange(n)
    Q[..., idx, idx] = x[..., None]
    Q[..., np.arange(n, p), np.arange(n, p)] = q[..., None]
    M[..., idx, idx] = m[..., None]
    out = np.full(x.shape, np.nan)
    out[ok] = risk(Q[ok], M[ok])
    # The risk is a mean square, >= 0; at the zero-error point its O(1) terms cancel to a rounding
    # residue of either sign (-4.4e-16 at (2, 1)). Only residues of that size are set to 0: a
    # larger negative value would be a real error and is returned as it is.
    out[(out < 0) & (out > -_ROUNDING)] = 0.0
    return out


def narrow_excess_risk(p: int, pstar: int, eta: ArrayLike) -> NDArray[np.float64]:
    """Excess of the finite-eta end point over the best rank-p fit (``p < p*``, no noise):

        2 e p (p* - p)(p* + 2)^2 / (p*^2 (p + 2)^2 (p* - 2 e (p* + 2))),   e = eta / p,

    derived here (section 10.3). NaN beyond :func:`eta_stationary_edge`, where the state merges
    with the plateau. ``ValueError`` for ``p >= p*``.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p >= pstar:
        raise ValueError(f"p must be < pstar for a narrow student; got p={p}, pstar={pstar}")
    e = _validate.positive_array("eta", eta) / p
    s = pstar
    with np.errstate(divide="ignore"):  # the pole lies beyond the edge, where the result is NaN
        out = 2 * e * p * (s - p) * (s + 2) ** 2 / (s**2 * (p + 2) ** 2 * (s - 2 * e * (s + 2)))
    return np.where(e * p < eta_stationary_edge(p, pstar), out, np.nan)


def narrow_excess_slope(p: int, pstar: int) -> float:
    """Small-eta slope ``d(excess)/d eta`` at ``eta = 0``: ``2 (p* - p)(p* + 2)^2 / (p*^3 (p + 2)^2)``
    (``p < p*``; the derivative of :func:`narrow_excess_risk`)."""
    p, pstar, _ = _validate.widths(p, pstar)
    if p >= pstar:
        raise ValueError(f"p must be < pstar for a narrow student; got p={p}, pstar={pstar}")
    return 2.0 * (pstar - p) * (pstar + 2.0) ** 2 / (pstar**3 * (p + 2.0) ** 2)


def noise_risk_slope(p: int, pstar: int, eta: ArrayLike) -> NDArray[np.float64]:
    """``d eps / d noise`` of the stationary risk at ``noise = 0`` (derived here, section 10.4):

        e / (1 - 2 e (p* + 2) / p*)                         for p >= p*  (exact in noise for p = p*)
        e p (p* + 2) / (p* (p + 2)) / (1 - 2 e (p* + 2)/p*)  for p < p*   (exact in noise)

    with ``e = eta / p``; so the stationary excess risk is ``~ (eta / p) noise`` at small eta.
    NaN at and beyond :func:`eta_stationary_edge`, where the noiseless state it perturbs is
    lost (the expression changes sign at ``e = p* / (2 (p* + 2))`` and means nothing there).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta_a = _validate.positive_array("eta", eta)
    e = eta_a / p
    s = pstar
    factor = 1.0 if p >= s else p * (s + 2.0) / (s * (p + 2.0))
    with np.errstate(divide="ignore"):
        slope = e * factor / (1.0 - 2.0 * e * (s + 2.0) / s)
    return np.where(eta_a < eta_stationary_edge(p, pstar), slope, np.nan)


def eta_stationary_edge(p: int, pstar: int) -> float:
    """Largest learning rate at which the noiseless stationary state of the family exists and is stable.

    ``p >= p*``: the zero-error edge ``p p* / (2 (p* + 2))`` (:func:`quadsgd.theory.eta_zero_error_edge`).
    ``p < p*``: ``p p* (p + 2) / ((p* + 2)(p + p* + 4))``, where ``m^2`` of the best-fit branch
    reaches 0 and the branch merges with the plateau (a transcritical crossing: there
    ``u = x (p + 2)/p = 1 + 2/p*``, which is the plateau norm at which the escape rate of
    theory.escape_rate vanishes). Derived here; stability below it is checked on the full
    Jacobian of theory.ode_rhs (tests/test_stationary.py).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    if p >= pstar:
        return p * pstar / (2.0 * (pstar + 2.0))
    return p * pstar * (p + 2.0) / ((pstar + 2.0) * (p + pstar + 4.0))
