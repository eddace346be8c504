"""The population gradient flow (section 5 of arXiv:2006.15459) and its late-time decay laws.

From ``A(0) = I`` the population flow stays diagonal in the teacher basis (Thm. 5.2), so it
reduces to the eigenvalue flow eq. (20); the full weight flow eq. (7) is kept to check that.
The paper's decay forms eqs. (26), (27) are given as printed; :func:`quasistatic_prefactor`
is the exact late-time law derived here (docs/empirical.md section 7).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from quadsgd.empirical.instance import Array, student_matrix

__all__ = [
    "population_eigenvalue_flow",
    "population_risk_eigs",
    "population_weight_flow",
    "paper_decay_26",
    "paper_decay_27",
    "paper_rate_29",
    "linearized_rate",
    "quasistatic_prefactor",
]


def population_eigenvalue_flow(lam_star: Array, t: Array, *, rtol: float = 1e-12, atol: float = 1e-14) -> Array:
    """Exact solution of eq. (20) from ``lambda_i(0) = 1``, shape (T, d).

    Integrated for ``u = log(lambda)`` (``du_i/dt = 2 sum_j (lam*_j - lam_j) + 4 (lam*_i - lam_i)``)
    in ``s = log(1 + t)``: the non-informative eigenvalues decay like 1/t and ``u`` keeps
    their relative accuracy, so ``E`` is resolved down to ~1e-25.
    """
    ls = np.asarray(lam_star, dtype=float)
    t = np.asarray(t, dtype=float)
    if np.any(np.diff(t) <= 0) or t[0] < 0:
        raise ValueError("t must be increasing and >= 0")
    sum_star = ls.sum()

    def rhs(s: float, u: Array) -> Array:
        lam = np.exp(u)
        return np.exp(s) * (2.0 * (sum_star - lam.sum()) + 4.0 * (ls - lam))

    def jac(s: float, u: Array) -> Array:
        lam = np.exp(u)
        return np.exp(s) * (-2.0 * np.broadcast_to(lam, (ls.size, ls.size)) - 4.0 * np.diag(lam))

    s_eval = np.log1p(t)
    sol = solve_ivp(rhs, (0.0, s_eval[-1]), np.zeros(ls.size), method="Radau", t_eval=s_eval, jac=jac,
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"eigenvalue flow failed: {sol.message}")
    return np.exp(sol.y.T)


def population_risk_eigs(lam: Array, lam_star: Array) -> Array:
    """Eq. (21): ``E = sum_j (lam_j - lam*_j)^2 + (1/2)(sum_j lam_j - lam*_j)^2``; (..., d) -> (...)."""
    dlt = np.asarray(lam) - lam_star
    return np.sum(dlt * dlt, axis=-1) + 0.5 * np.sum(dlt, axis=-1) ** 2


def population_weight_flow(W0: Array, A_star: Array, t: Array, *, rtol: float = 1e-10, atol: float = 1e-12) -> Array:
    """Population GD flow on the weights, eq. (7): ``dw_i/dt = tr(A* - A) w_i + 2 (A* - A) w_i``.

    Parameters
    ----------
    W0 : (m, d). A_star : (d, d). t : (T,) increasing output times.

    Returns
    -------
    A : (T, d, d) ``A(t) = W^T W / m`` along the flow.
    """
    m, d = W0.shape
    t = np.asarray(t, dtype=float)

    def rhs(s: float, w: Array) -> Array:
        W = w.reshape(m, d)
        D = A_star - W.T @ W / m
        return np.exp(s) * (np.trace(D) * W + 2.0 * W @ D).ravel()

    s_eval = np.log1p(t)
    sol = solve_ivp(rhs, (0.0, s_eval[-1]), W0.ravel(), method="LSODA", t_eval=s_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"weight flow failed: {sol.message}")
    return student_matrix(sol.y.T.reshape(-1, m, d))


def paper_decay_26(t: Array) -> Array:
    """Paper eq. (26): ``E ~ 1/(16 t^2)`` (m* < d, d >> 1). Its normalization matches the
    loss ``L = E/2`` of eq. (9) (exactly so, up to (d+2)/d, at m* = 0), see docs/empirical.md."""
    t = np.asarray(t, dtype=float)
    return 1.0 / (16.0 * t * t)


def paper_decay_27(t: Array, d: int, mstar: int) -> Array:
    """Paper eq. (27): ``(1/4) ((d - m*) / (1 + 2 (2 + d - m*) t))^2``."""
    k = d - mstar
    return 0.25 * (k / (1.0 + 2.0 * (2.0 + k) * np.asarray(t, dtype=float))) ** 2


def paper_rate_29(d: int, lam_star: Array) -> float:
    """Paper eq. (29): exponential decay rate ``2 (2d + 4) lam*`` of E (m* >= d), ``lam*`` the
    mean teacher eigenvalue (exact for equal eigenvalues)."""
    return 2.0 * (2 * d + 4) * float(np.mean(lam_star))


def linearized_rate(lam_star: Array) -> float:
    """Twice the slowest rate of eq. (20) linearized at the teacher (full-rank ``lam*``): the
    smallest eigenvalue of ``Lambda*^(1/2) (4 I + 2 11^T) Lambda*^(1/2)``, times 2 (E is quadratic)."""
    sq = np.sqrt(np.asarray(lam_star, dtype=float))
    d = sq.size
    J = sq[:, None] * (4.0 * np.eye(d) + 2.0) * sq[None, :]
    return 2.0 * float(np.linalg.eigvalsh(J)[0])


def quasistatic_prefactor(d: int, mstar: int) -> float:
    """Late-time ``lim t^2 E(t)`` of eq. (20) for ``0 <= m* < d`` and any positive teacher
    eigenvalues (derived here, not in the paper): ``(d - m*)(m* + 2) / (16 (d + 2))``.

    Derivation: the informative eigenvalues relax at rate ``4 lam*_i`` to the slaved values
    ``lam*_i - lam_i = (k eps - S)/2`` (``k = d - m*``, ``eps`` the non-informative eigenvalue,
    ``S = sum_inf (lam* - lam)``), giving ``S = m* k eps / (m* + 2)`` and
    ``d eps/dt = -4 (d+2) eps^2 / (m*+2)``, so ``eps ~ (m*+2) / (4 (d+2) t)`` and
    ``E = k (d+2) eps^2 / (m*+2)``.
    """
    return (d - mstar) * (mstar + 2) / (16.0 * (d + 2))
