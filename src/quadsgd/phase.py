"""Finite-eta phase diagram of the ODE from the paper's initialization, and the finite-N escape law
(docs/conventions.md section 10.1-10.2; derived here).

At ``T = I``, ``Q(0) = I``, ``M(0) ~ N(0, 1/N)``: the escape law ``alpha_esc = slope * ln N + O(1)``,
and the learning rates at which the plateau, its stability, the end state and the whole
trajectory change character. Every edge is a raw learning rate ``eta`` (the pipeline divides by
``p`` for its ``eta / p`` grid). With ``e = eta / p``, ``k = (p + 4)/(p + 2)`` and
``b = 1 + 2/p*``, the plateau norm ``u = q (p + 2)/p`` solves ``g(u) = 0`` with
``g(u) = (1 - u) + e (b - 2u + k u^2)`` (section 5.1; :func:`quadsgd.theory.plateau_norm`), and
``dq/dalpha = (4 eta / p) q g(u)`` on the isotropic line ``Q = q I``, ``M = 0``.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from quadsgd import _validate, theory
from quadsgd.stationary import eta_stationary_edge

__all__ = [
    "escape_law_slope",
    "eta_plateau_edge",
    "eta_plateau_trap_edge",
    "eta_norm_blowup_edge",
    "eta_settled_edge",
    "eta_divergence_edge_numerical",
    "Phase",
    "PHASE_ATTRS",
    "classify",
]


def escape_law_slope(p: int, pstar: int, eta: ArrayLike, *, finite_eta: bool) -> NDArray[np.float64]:
    """Slope of the mean escape time against ``ln N`` (equivalently against ``ln(1/|M(0)|^2)``).

    On the plateau ``M`` grows as ``M(0) exp(r alpha)`` with the rate ``r`` of
    :func:`quadsgd.theory.escape_rate`, and ``|M(0)|^2 ~ 1/N``, so
    ``alpha_esc = ln N / (2 r) + O(1)``; the ``O(1)`` (norm phase, final descent, the law of
    ``M(0)``) does not depend on ``N``. ``finite_eta=False`` gives the small-eta prediction
    ``p p* / (8 eta)``; ``finite_eta=True`` uses the exact plateau norm, ``1 / (2 r)``.

    ``eta``: scalar or array of raw learning rates (> 0). Returns an array of its shape (units of
    alpha per unit of ``ln N``); NaN where the plateau has no fixed point or ``r <= 0``.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta_a = _validate.positive_array("eta", eta)
    if not isinstance(finite_eta, (bool, np.bool_)):
        raise ValueError(f"finite_eta must be True or False; got {finite_eta!r}")
    if not finite_eta:
        return p * pstar / (8.0 * eta_a)

    def one(e: float) -> float:
        try:
            r = theory.escape_rate(p, pstar, e, finite_eta=True)
        except ValueError:  # no plateau fixed point at this eta
            return math.nan
        return 1.0 / (2.0 * r) if r > 0 else math.nan

    return np.vectorize(one, otypes=[float])(eta_a)


def _k_b(p: int, pstar: int) -> tuple[float, float]:
    return (p + 4.0) / (p + 2.0), 1.0 + 2.0 / pstar


def eta_plateau_edge(p: int, pstar: int) -> float:
    """Largest ``eta`` at which the plateau fixed point (``M = 0``, ``Q = q I``) exists.

    The discriminant of ``g(u) = 0`` vanishes at ``e = 1 / (2 [(k - 1) + sqrt((k - 1)^2 + k b - 1)])``
    (derived here; a saddle-node of the two roots). Returns ``p e``.

    Below it the plateau (the smaller root) is stable in every norm direction: at ``M = 0`` the
    traceless perturbations of ``Q = q I`` have the eigenvalue ``2/(p + 2)`` times the isotropic
    one, ``(4 eta / p) q dg/du (p + 2)/p < 0`` (derived here from section 3.2), so both vanish
    only at this edge. The larger root is unstable.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    k, b = _k_b(p, pstar)
    return p / (2.0 * ((k - 1.0) + math.sqrt((k - 1.0) ** 2 + k * b - 1.0)))


def eta_plateau_trap_edge(p: int, pstar: int) -> float:
    """Learning rate at which the plateau's escape rate ``(2 eta/p)(b - u)`` vanishes, so ``M = 0``
    becomes stable and the run stays on the plateau (censored forever).

    ``g(b) = 0`` at ``e = p* (p + 2) / ((p* + 2)(p + p* + 4))`` (derived here); this is the plateau's
    root ``u_-`` only if ``b`` lies below the vertex ``(1 + 2e)/(2 e k)`` of ``g``. NaN otherwise
    (the rate stays positive up to :func:`eta_plateau_edge`).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    k, b = _k_b(p, pstar)
    e = pstar * (p + 2.0) / ((pstar + 2.0) * (p + pstar + 4.0))
    return p * e if b <= (1.0 + 2.0 * e) / (2.0 * e * k) else math.nan


def eta_norm_blowup_edge(p: int, pstar: int) -> float:
    """Learning rate above which the norm phase from ``Q = I`` diverges at ``M = 0``.

    On ``Q = q I`` the flow is ``dq ∝ q g(u)``, started at ``u0 = (p + 2)/p``. It blows up (in
    finite alpha: ``g ~ e k u^2``) when no root exists, or when ``u0`` lies above the larger root.
    ``g(u0) = 0`` at ``e0 = p / (p^2/p* + p + 4)`` (derived here); if ``u0`` is beyond the vertex
    of ``g`` there, ``u0`` is the larger root and the edge is ``p e0``, else it is
    :func:`eta_plateau_edge`. With a random ``M(0)`` of size ``N^(-1/2)`` the divergence edge of
    the full ODE is at or below this (the trajectory can also diverge after the escape).
    """
    p, pstar, _ = _validate.widths(p, pstar)
    k, _ = _k_b(p, pstar)
    e0 = p / (p * p / pstar + p + 4.0)
    u0 = (p + 2.0) / p
    return p * e0 if u0 >= (1.0 + 2.0 * e0) / (2.0 * e0 * k) else eta_plateau_edge(p, pstar)


def _settled_q(p: int, s: int, e: float) -> float:
    """Smaller root ``q`` of the settled state's quadratic (see :func:`eta_settled_edge`)."""
    A = 4 * e * e * s * (p - s) * (p + s + 4)
    B = -e * p * (s + 2) * (4 * e * (p + s + 4) + s * (p - s - 4))
    C = p * p * (s + 2) * (2 * e * (s + 2) - s)
    return (-B - math.sqrt(max(B * B - 4 * A * C, 0.0))) / (2 * A)


def _settled_twist(p: int, s: int, e: float) -> float:
    """Numerator (positive factor removed) of the trace of the Jacobian block ``(Q_kl, M_lk)``
    (aligned student k, orthogonal student l) at the settled state; its other eigenvalue is the
    rotation zero mode, so the state is unstable where this is negative."""
    q = _settled_q(p, s, e)
    return (4 * e * p * p * q * q + 4 * e * p * q * q * s + 24 * e * p * q * q - 8 * e * p * q * s - 16 * e * p * q
            - 8 * e * q * q * s * s - 8 * e * q * q * s + 32 * e * q * q - p * p * q * s - 4 * p * p * q + p * p * s
            + 2 * p * p + 2 * p * q * s * s + 2 * p * q * s - 8 * p * q)


def eta_settled_edge(p: int, pstar: int) -> float:
    """Largest ``eta`` at which the finite-risk fixed point with orthogonal students (the "settled"
    state, ``p > p*``) exists and is linearly stable; NaN for ``p <= p*``.

    In the family ``Q = diag(x I_{p*}, q I_{p-p*})``, ``M = [m I_{p*}; 0]`` the fixed points with
    ``q > 0`` solve ``A q^2 + B q + C = 0`` with (``s = p*``, ``e = eta/p``, derived here)
    ``A = 4 e^2 s (p - s)(p + s + 4)``, ``B = -e p (s + 2)(4 e (p + s + 4) + s (p - s - 4))``,
    ``C = p^2 (s + 2)(2 e (s + 2) - s)``. Above the zero-error edge (``C > 0``) the smaller root is
    the settled state. It is lost at the first of:

    - the saddle-node where the discriminant vanishes,
      ``e = [3 p s^2 + 6 p s - 3 s^3 - 2 s^2 + 8 s - 2 sqrt(2) (p - s) sqrt(s^3 (s + 2))]
      / (4 (p s + 2 p + s^2 + 6 s + 8))``;
    - a twist instability outside the family: the block ``(Q_kl, M_lk)`` coupling an aligned and an
      orthogonal student has a zero eigenvalue (a rotation) and one equal to its trace, which
      changes sign at the root (found by Brent's method) of the explicit polynomial of
      :func:`_settled_twist` in ``(q, e)`` along the settled branch.

    Which comes first (checked for p < 40): for ``p* = 1, 2`` the twist (``e = 0.17596`` at (2, 1),
    against the saddle-node at 0.19168); for ``p* = 3`` the saddle-node up to ``p = 31``, the twist
    beyond; for ``p* = 4, 6`` the saddle-node. From the paper's initialization the ODE diverges 0.1-2% below this
    edge (docs/science.md, "Phase diagram at finite eta").
    """
    from scipy.optimize import brentq

    p, s, _ = _validate.widths(p, pstar)
    if p <= s:
        return math.nan
    root = math.sqrt(2.0) * (p - s) * math.sqrt(s**3 * (s + 2.0))
    e_fold = (3 * p * s * s + 6 * p * s - 3 * s**3 - 2 * s * s + 8 * s - 2 * root) / (
        4.0 * (p * s + 2 * p + s * s + 6 * s + 8))
    e_zero = s / (2.0 * (s + 2.0))
    grid = np.linspace(e_zero, e_fold, 201)[1:]
    twist = np.array([_settled_twist(p, s, e) for e in grid])
    below = np.flatnonzero(twist < 0)
    if below.size == 0:
        return p * e_fold
    lo = grid[below[0] - 1] if below[0] > 0 else e_zero * (1 + 1e-12)
    return p * float(brentq(lambda e: _settled_twist(p, s, e), lo, grid[below[0]], xtol=1e-15, rtol=1e-14))


def eta_divergence_edge_numerical(
    p: int,
    pstar: int,
    *,
    N: int = 10_000,
    seeds: ArrayLike = (0, 1, 2),
    alpha_max: float = 1e4,
    rtol: float = 1e-6,
) -> float:
    """Smallest ``eta`` at which some seed's ODE from the paper's initialization diverges
    (:class:`quadsgd.status.Status` ``DIVERGED``), by bisection on :func:`quadsgd.ode.integrate`.

    The bracket starts at ``(0.01 p, 2 p)``; relative resolution ``rtol``. Initial conditions:
    :func:`quadsgd.init.ode_initial` with ``N`` and ``seeds``; grid up to ``alpha_max``. Costs a
    few seconds (about 20 batched integrations). NaN if even ``2 p`` does not diverge.
    """
    from quadsgd import init, ode
    from quadsgd.grids import log_alpha_grid
    from quadsgd.status import Status

    p, pstar, N = _validate.widths(p, pstar, N)
    rtol = _validate.fraction("rtol", rtol)
    seeds = _validate.seeds("seeds", seeds)
    if seeds.size == 0:
        raise ValueError("seeds must hold at least one seed; got none")
    Q0, M0, _ = init.ode_initial(p, pstar, N, seeds)
    Q0, M0 = Q0.reshape(-1, p, p), M0.reshape(-1, p, pstar)
    grid = log_alpha_grid(_validate.positive_real("alpha_max", alpha_max), num=20)

    def diverges(eta: float) -> bool:
        ds = ode.integrate(Q0, M0, eta, grid, overlaps="final")
        return bool((ds.status.values == Status.DIVERGED).any())

    lo, hi = 0.01 * p, 2.0 * p
    if diverges(lo):
        raise ValueError(f"the ODE diverges already at eta={lo} for p={p}, pstar={pstar}")
    if not diverges(hi):
        return math.nan
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if diverges(mid) else (mid, hi)
    return hi


class Phase(enum.IntEnum):
    """Fate of the ODE from the paper's initialization at one learning rate (docs/conventions.md 10.2)."""

    LEARNS = 0  #: escapes to the stable end state: zero error (p >= p*) or the finite-eta best fit (p < p*)
    SETTLES = 1  #: escapes, then stays at a finite-risk fixed point (p > p*, above the zero-error edge)
    TRAPPED = 2  #: the plateau attracts M (escape rate <= 0): never escapes
    DIVERGES = 3  #: the overlaps blow up


PHASE_ATTRS: dict[str, Any] = {
    "long_name": "phase of the ODE from the paper initialization",
    "units": "1",
    "flag_values": [int(x) for x in Phase],
    "flag_meanings": " ".join(x.name.lower() for x in Phase),
}


def classify(p: int, pstar: int, eta: ArrayLike, *, eta_divergence: float | None = None) -> dict[str, NDArray[Any]]:
    """Phase diagram over learning rates ``eta`` (raw, > 0, any shape) for one ``(p, p*)``.

    ``eta_divergence``: the divergence edge of the ODE from the paper's initialization (a raw
    learning rate > 0, or NaN where none was found, as :func:`eta_divergence_edge_numerical`
    returns then); by default that function with its defaults (a few seconds).

    Returns arrays of ``eta``'s shape:

    - ``plateau_exists`` (bool): ``eta < eta_plateau_edge`` (where it exists it is stable in every
      norm direction);
    - ``plateau_escapes`` (bool): the plateau's escape rate is positive;
    - ``end_state_stable`` (bool): ``eta < eta_stationary_edge`` (zero-error manifold for
      ``p >= p*``, the finite-eta best fit for ``p < p*``);
    - ``phase`` (int8, :class:`Phase`): ``DIVERGES`` at or above ``eta_divergence``, else
      ``TRAPPED`` where the plateau does not escape, else ``LEARNS`` where the end state is
      stable, else ``SETTLES``.
    """
    p, pstar, _ = _validate.widths(p, pstar)
    eta_a = _validate.positive_array("eta", eta)
    if eta_divergence is None:
        eta_divergence = eta_divergence_edge_numerical(p, pstar)
    elif not (isinstance(eta_divergence, float) and math.isnan(eta_divergence)):
        try:
            eta_divergence = _validate.positive_real("eta_divergence", eta_divergence)
        except ValueError:
            raise ValueError("eta_divergence must be a learning rate > 0, or NaN where none was found; got "
                             f"{eta_divergence!r}") from None
    trap = eta_plateau_trap_edge(p, pstar)
    exists = eta_a < eta_plateau_edge(p, pstar)
    escapes = exists & ~(eta_a >= trap)  # NaN trap edge: escapes wherever the plateau exists
    stable_end = eta_a < eta_stationary_edge(p, pstar)
    phase = np.where(stable_end, Phase.LEARNS, Phase.SETTLES)
    phase = np.where(escapes, phase, Phase.TRAPPED)
    phase = np.where(eta_a >= eta_divergence, Phase.DIVERGES, phase).astype(np.int8)
    return {
        "plateau_exists": exists,
        "plateau_escapes": escapes,
        "end_state_stable": stable_end,
        "phase": phase,
    }
