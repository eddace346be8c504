"""Is the teacher the only PSD matrix that fits the data? A convex (SDP) uniqueness test.

cvxpy is an optional dependency (the ``sdp`` extra); it is imported only when the test runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from quadsgd.empirical.instance import Array

__all__ = ["SDPResult", "sdp_uniqueness", "require_cvxpy", "CVXPY_MISSING"]

#: The one-line error when the SDP method is asked for without cvxpy.
CVXPY_MISSING = 'the SDP method needs cvxpy: pip install "quadsgd[sdp]"'


def require_cvxpy() -> ModuleType:
    """The ``cvxpy`` module; ``ModuleNotFoundError`` (:data:`CVXPY_MISSING`) if it is not installed."""
    try:
        import cvxpy
    except ImportError as err:
        raise ModuleNotFoundError(CVXPY_MISSING, name="cvxpy") from err
    return cvxpy


@dataclass(frozen=True)
class SDPResult:
    """Outcome of :func:`sdp_uniqueness`.

    Attributes
    ----------
    unique : A* is the only PSD matrix fitting the data (within ``tol``).
    gap : ``max tr(P_perp A) / tr(A*)`` over the feasible PSD set (``inf`` if unbounded,
        ``nan`` if not computed). range_injective : the measurements determine a matrix
        supported on range(A*). A_witness : (d, d) maximizer (``A*`` if not computed).
    status : solver status or a short reason; ``"undecided"`` when neither the dual bound
        nor the primal gap settles it (``unique`` is then False).
    gap_upper : rigorous upper bound on the normalized gap from the solver's dual variables
        (weak duality, exact eigenvalue correction); ``unique`` is True only if it is < tol.
    """

    unique: bool
    gap: float
    range_injective: bool
    A_witness: Array
    status: str
    gap_upper: float = float("inf")


def sdp_uniqueness(
    X: Array, y: Array, A_star: Array, *, tol: float = 1e-4, solver: str = "CLARABEL", rank_tol: float = 1e-9
) -> SDPResult:
    """Decide whether ``F = {A PSD : x_mu^T A x_mu = y_mu for all mu}`` equals ``{A*}``.

    Formulation (sound, one SDP). Let ``P`` project on range(A*) (rank r) and
    ``P_perp = I - P``. Then ``F = {A*}`` iff

    (b) no nonzero symmetric ``Delta = P Delta P`` has ``x_mu^T Delta x_mu = 0`` for all mu
        (a rank test on an ``n x r(r+1)/2`` design matrix), and
    (a) ``max_{A in F} tr(P_perp A) = 0``.

    Proof. If (b) fails, ``A* + e Delta`` is PSD for small ``e`` (A* > 0 on its range) and
    fits the data. If (a) fails, the maximizer differs from A*. Conversely, let ``A in F``
    with ``tr(P_perp A) = 0``; A PSD forces ``P_perp A P_perp = 0`` and then
    ``P_perp A = 0`` (a PSD matrix with a zero diagonal block has zero off-diagonal blocks),
    so ``Delta = A - A*`` is supported on range(A*) and vanishes by (b). ``tr(P_perp A) >= 0``
    on PSD matrices, so (a) is a linear objective over a convex set. A maximized random linear
    functional would also be sound but needs two SDPs per instance. For full-rank ``A*``
    (``m* >= d``) only (b) is needed.

    Parameters
    ----------
    X : (n, d). y : (n,). A_star : (d, d).
    tol : threshold on the normalized gap ``max tr(P_perp A) / tr(A*)``: unique iff the dual
        upper bound is below it, non-unique iff the primal gap is above it (measured gaps of
        non-unique instances are >~ 1e-3, see ``docs/empirical.md``).
    solver : first cvxpy solver; SCS (eps 1e-9, at most 2e4 iterations) is tried if it fails
        or returns an inaccurate gap within a factor 100 of ``tol``.

    Raises ``ModuleNotFoundError`` if cvxpy is not installed.
    """
    cp = require_cvxpy()

    n, d = X.shape
    evals, evecs = np.linalg.eigh(A_star)
    keep = evals > rank_tol * evals.max()
    U = evecs[:, keep]
    r = U.shape[1]
    Z = X @ U
    iu = np.triu_indices(r)
    # off-diagonal entries enter x^T Delta x twice
    design = (Z[:, iu[0]] * Z[:, iu[1]]) * np.where(iu[0] == iu[1], 1.0, 2.0)
    range_injective = bool(n >= len(iu[0]) and np.linalg.matrix_rank(design) == len(iu[0]))
    if not range_injective:
        return SDPResult(False, float("nan"), False, A_star.copy(), "range not determined")
    if r == d:
        return SDPResult(True, 0.0, True, A_star.copy(), "full rank teacher")
    P_perp = np.eye(d) - U @ U.T
    M = np.einsum("ni,nj->nij", X, X).reshape(n, d * d)
    # unit-norm constraint rows: without this Clarabel stalls at gaps ~1e-5 on unique instances
    scale = np.linalg.norm(M, axis=1)
    A = cp.Variable((d, d), PSD=True)
    fit = (M / scale[:, None]) @ cp.vec(A, order="C") == y / scale
    prob = cp.Problem(cp.Maximize(cp.trace(P_perp @ A)), [fit])
    tr_star = float(np.trace(A_star))
    # tr A <= sum(y) / lambda_min(sum_mu x x^T) on F: turns an approximate dual into a bound
    c_min = float(np.linalg.eigvalsh(X.T @ X)[0])
    tr_bound = float(y.sum()) / c_min if c_min > 1e-12 * float(np.sum(X * X)) else float("inf")

    def dual_bound(lam: Array | None) -> float:
        # weak duality: if sum_mu l_mu X_mu / s_mu >= P_perp - delta I then for every A in F
        # tr(P_perp A) <= l . (y / s) + delta tr(A); valid for any l, so both signs are tried
        if lam is None:
            return float("inf")
        best = float("inf")
        for sign in (1.0, -1.0):
            lv = sign * np.asarray(lam, dtype=float).ravel()
            Zd = ((lv / scale) @ M).reshape(d, d) - P_perp
            delta = max(0.0, -float(np.linalg.eigvalsh((Zd + Zd.T) / 2)[0]))
            extra = delta * tr_bound if delta > 0 else 0.0
            best = min(best, (float(lv @ (y / scale)) + extra) / tr_star)
        return best

    # Unique instances violate Slater (the feasible set is a point): the interior-point solver
    # may fail or stop inaccurate. A verdict needs either the dual bound below ``tol``
    # (rigorous) or an accurate primal gap above it; otherwise SCS is tried.
    status, gap, upper = "solver error", float("nan"), float("inf")
    for name, opts in ((solver, {}), ("SCS", {"eps": 1e-9, "max_iters": 20_000})):
        try:
            with warnings.catch_warnings():
                # an inaccurate solve is reported through ``status``
                warnings.simplefilter("ignore", UserWarning)
                prob.solve(solver=name, **opts)
        except cp.error.SolverError:
            continue
        status = str(prob.status)
        if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
            return SDPResult(False, float("inf"), True, A_star.copy(), status)
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or A.value is None:
            continue
        gap = float(prob.value) / tr_star
        upper = min(upper, dual_bound(fit.dual_value))
        if upper < tol or (status == cp.OPTIMAL and gap >= tol):
            break
    if np.isnan(gap):
        return SDPResult(False, gap, True, A_star.copy(), status, upper)
    Aw = np.asarray(A.value)
    if upper < tol:
        return SDPResult(True, gap, True, Aw, status, upper)
    if gap >= tol:
        return SDPResult(False, gap, True, Aw, status, upper)
    return SDPResult(False, gap, True, Aw, "undecided", upper)
