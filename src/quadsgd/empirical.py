"""Empirical-risk gradient descent in the quadratic network of the second source paper.

Source: Sarao Mannelli, Vanden-Eijnden, Zdeborova, "Optimization and generalization of
shallow neural networks with quadratic activation functions" (NeurIPS 2020), ``seeds/004``.
``PHYSICS.md`` section 9 lists the claims; this module measures them rather than assuming them.

Convention (the paper's, eqs. (1)-(9))
--------------------------------------
* Inputs ``x ~ N(0, I_d)``; ``n`` samples, ``alpha = n / d``.
* Teacher ``A* = (1/m*) sum_j w*_j w*_j^T`` (eq. 4), labels ``y = x^T A* x`` (eq. 1).
* Student weights ``W`` of shape ``(m, d)`` (row ``i`` is ``w_i``), ``A = W^T W / m`` (eq. 4).
* Empirical loss ``L_n(W) = (1/4) E_nu_n (y - x^T A x)^2`` (eq. 2); the paper's flow is
  ``dw_i/dt = -m dL_n/dw_i`` (eq. 3), which induces eq. (5) on ``A``.
* Every *error* reported here is in the paper's "E" normalisation, twice the loss:
  training error ``E_n(A) = (1/2) E_nu_n (x^T (A - A*) x)^2 = 2 L_n`` (eq. 6) and
  generalization error ``E(A) = (1/2) E_x (x^T D x)^2 = tr(D^2) + (tr D)^2 / 2`` with
  ``D = A - A*`` (eq. 9), using ``E_x (x^T D x)^2 = 2 tr(D^2) + (tr D)^2`` for Gaussian ``x``.
  ``E`` equals the project's ``eps`` of ``PHYSICS.md`` section 2; the loss is ``E / 2``.

Teacher normalisation
---------------------
``teacher="gaussian"`` (the paper's Fig. 1 teacher): ``w*_j ~ N(0, I_d)`` i.i.d., so
``E[A*] = I_d``, the same scale as the student at initialization (``w_i(0) ~ N(0, I_d)``,
``A(0) -> I_d``, the initial condition of the population flow, Thm. 5.2); labels are O(d).
``teacher="equal"`` (the paper's "orthonormal" teacher): unit-norm orthonormal ``w*_j`` (for
``m* > d`` an equal-norm tight frame), so ``A*`` has ``min(m*, d)`` equal eigenvalues
``1 / min(m*, d)``. The paper's section 5.1 instead sets those eigenvalues to 1; with
``A(0) = I`` and ``m* >= d`` that teacher equals the initial condition and nothing moves, so
the literal choice cannot be the one behind its eq. (29); we keep eq. (4) and rescale the
paper's rate by the eigenvalue.

Recovery
--------
For ``m >= d`` the student represents every PSD matrix, so the flow always reaches zero
training error (Thm. 4.1); the observable is whether ``A_inf = A*``:
``rel_error = |A - A*|_F / |A*|_F < tol`` (default ``tol = 1e-2``; the measured distribution
is bimodal, see ``docs/empirical.md``). The flow is integrated in ``s = log(1 + t)`` with an
implicit solver and an analytic Jacobian, because the approach to a rank-deficient teacher
is algebraic (null-space eigenvalues ~ 1/t) while the stiff directions relax at rates O(d).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

__all__ = [
    "Instance",
    "FlowResult",
    "SDPResult",
    "make_teacher",
    "make_instance",
    "student_matrix",
    "empirical_loss_and_grad",
    "training_error",
    "generalization_error",
    "gradient_flow",
    "gradient_descent",
    "sdp_uniqueness",
    "recovery_sweep",
    "recovery_summary",
    "flow_curves_dataset",
    "alpha_c_paper",
    "population_eigenvalue_flow",
    "population_weight_flow",
    "population_risk_eigs",
    "paper_decay_26",
    "paper_decay_27",
    "quasistatic_prefactor",
    "fit_power_law",
    "fit_exponential",
    "population_flow_dataset",
]

Array = NDArray[np.float64]
Teacher = Literal["gaussian", "equal"]


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _check_pos_int(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_width(d: int, mstar: int, m: int | None) -> int:
    d = _check_pos_int("d", d)
    mstar = _check_pos_int("mstar", mstar)
    m = d if m is None else _check_pos_int("m", m)
    if m < mstar:
        raise ValueError(f"m must be >= mstar (student at least as wide as teacher), got m={m}, mstar={mstar}")
    return m


def _check_alphas(alphas: Sequence[float] | Array) -> Array:
    a = np.asarray(alphas, dtype=float).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"alpha values must be finite and > 0, got {alphas!r}")
    return a


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One teacher-student problem.

    Attributes
    ----------
    X : (n, d) inputs, rows ``x_mu ~ N(0, I_d)``.
    y : (n,) labels ``x_mu^T A* x_mu``.
    A_star : (d, d) teacher matrix (eq. 4).
    W0 : (m, d) student initialization, entries i.i.d. N(0, 1) (so ``A(0) -> I``).
    """

    X: Array
    y: Array
    A_star: Array
    W0: Array


def make_teacher(d: int, mstar: int, teacher: Teacher = "gaussian", rng: np.random.Generator | int = 0) -> Array:
    """Teacher matrix ``A* = (1/m*) sum_j w*_j w*_j^T`` (eq. 4), shape (d, d).

    ``"gaussian"``: ``w*_j ~ N(0, I_d)``. ``"equal"``: orthonormal unit ``w*_j`` (tight frame
    if ``m* > d``), i.e. ``A*`` = projector onto a random ``min(m*, d)``-dimensional subspace
    divided by ``min(m*, d)``. See the module docstring for why.
    """
    d = _check_pos_int("d", d)
    mstar = _check_pos_int("mstar", mstar)
    gen = np.random.default_rng(rng)
    if teacher == "gaussian":
        Ws = gen.standard_normal((mstar, d))
        return Ws.T @ Ws / mstar
    if teacher == "equal":
        r = min(mstar, d)
        q, _ = np.linalg.qr(gen.standard_normal((d, r)))
        return q @ q.T / r
    raise ValueError(f"teacher must be 'gaussian' or 'equal', got {teacher!r}")


def make_instance(
    d: int, mstar: int, n: int, seed: int, m: int | None = None, teacher: Teacher = "gaussian"
) -> Instance:
    """Seeded instance; every ``(seed, d, mstar, n, m)`` draws independent data, teacher and init.

    Independence across ``n`` (rather than nested data sets) keeps the instances of a
    recovery sweep independent, which the bootstrap of :func:`recovery_summary` assumes.
    """
    m = _check_width(d, mstar, m)
    n = _check_pos_int("n", n)
    gen = np.random.default_rng(np.random.SeedSequence([int(seed), d, mstar, n, m]))
    A_star = make_teacher(d, mstar, teacher, gen)
    X = gen.standard_normal((n, d))
    y = np.einsum("ni,ij,nj->n", X, A_star, X)
    W0 = gen.standard_normal((m, d))
    return Instance(X=X, y=y, A_star=A_star, W0=W0)


# --------------------------------------------------------------------------------------
# losses and gradients (batched over leading axes)
# --------------------------------------------------------------------------------------


def student_matrix(W: Array) -> Array:
    """``A = W^T W / m`` (eq. 4); ``W`` of shape (..., m, d) -> (..., d, d)."""
    W = np.asarray(W, dtype=float)
    return np.einsum("...ki,...kj->...ij", W, W) / W.shape[-2]


def _residual(W: Array, X: Array, y: Array) -> tuple[Array, Array]:
    P = np.einsum("...nd,...md->...nm", X, W)
    r = y - np.einsum("...nm,...nm->...n", P, P) / W.shape[-2]
    return P, r


def empirical_loss_and_grad(W: Array, X: Array, y: Array) -> tuple[Array, Array]:
    """Empirical loss ``L_n`` (eq. 2, prefactor 1/4) and its gradient w.r.t. ``W``.

    Parameters
    ----------
    W : (..., m, d) student weights. X : (..., n, d). y : (..., n).

    Returns
    -------
    loss : (...) ``L_n = (1/4n) sum_mu (y_mu - x_mu^T A x_mu)^2``.
    grad : (..., m, d) ``dL_n/dw_i = -(1/(m n)) sum_mu r_mu (x_mu . w_i) x_mu``; the flow
        (eq. 3) is ``dW/dt = -m grad``.
    """
    W = np.asarray(W, dtype=float)
    n, m = X.shape[-2], W.shape[-2]
    P, r = _residual(W, X, y)
    loss = np.einsum("...n,...n->...", r, r) / (4.0 * n)
    grad = -np.einsum("...n,...nm,...nd->...md", r, P, X) / (m * n)
    return loss, grad


def training_error(A: Array, X: Array, y: Array) -> Array:
    """``E_n(A) = (1/2n) sum_mu (x_mu^T A x_mu - y_mu)^2`` (eq. 6, twice eq. 2); A (..., d, d)."""
    pred = np.einsum("...ni,...ij,...nj->...n", X, A, X)
    res = pred - y
    return 0.5 * np.mean(res * res, axis=-1)


def generalization_error(A: Array, A_star: Array) -> Array:
    """``E(A) = tr(D^2) + (tr D)^2 / 2``, ``D = A - A*`` (eq. 9).

    This is ``(1/2) E_x (x^T D x)^2`` for ``x ~ N(0, I_d)`` (twice the population loss);
    shapes (..., d, d) -> (...).
    """
    D = np.asarray(A, dtype=float) - A_star
    trD = np.trace(D, axis1=-2, axis2=-1)
    return np.einsum("...ij,...ji->...", D, D) + 0.5 * trD * trD


def _rel_error(A: Array, A_star: Array) -> Array:
    return np.linalg.norm(A - A_star, axis=(-2, -1)) / np.linalg.norm(A_star)


# --------------------------------------------------------------------------------------
# gradient flow (stiff, log time) and discrete gradient descent
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowResult:
    """Trajectory of the empirical gradient flow / descent on one instance.

    Attributes
    ----------
    t : (T,) times (flow time; for GD ``t = k * eta``).
    train_error : (T,) ``E_n(A(t))`` (eq. 6). gen_error : (T,) ``E(A(t))`` (eq. 9).
    rel_error : (T,) ``|A - A*|_F / |A*|_F``. W_final : (m, d). success : solver status.
    nfev : right-hand-side evaluations.
    """

    t: Array
    train_error: Array
    gen_error: Array
    rel_error: Array
    W_final: Array
    success: bool
    nfev: int


def _flow_rhs(W: Array, X: Array, y: Array) -> Array:
    P, r = _residual(W, X, y)
    return (P * r[:, None]).T @ X / X.shape[0]


def _flow_jac(W: Array, X: Array, y: Array) -> Array:
    # dF_{ia}/dW_{kb} = -(2/(mn)) sum_mu p_{mu i} x_{mu a} p_{mu k} x_{mu b}
    #                   + delta_ik (1/n) sum_mu r_mu x_{mu a} x_{mu b}
    n, m, d = X.shape[0], W.shape[0], W.shape[1]
    P, r = _residual(W, X, y)
    Z = (P[:, :, None] * X[:, None, :]).reshape(n, m * d)
    J = -(2.0 / (m * n)) * (Z.T @ Z)
    C = (X * r[:, None]).T @ X / n
    J4 = J.reshape(m, d, m, d)
    idx = np.arange(m)
    J4[idx, :, idx, :] += C
    return J


def gradient_flow(
    W0: Array,
    X: Array,
    y: Array,
    A_star: Array,
    t_max: float = 1e8,
    *,
    n_eval: int = 60,
    method: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> FlowResult:
    """Integrate the empirical flow ``dW/dt = -m grad L_n`` (eq. 3) from ``W0`` to ``t_max``.

    Solved in ``s = log(1 + t)`` (``dW/ds = (1 + t) dW/dt``) so that one adaptive implicit
    solver covers many decades; the analytic Jacobian keeps each implicit step at one
    ``(md x md)`` factorization.

    Parameters
    ----------
    W0 : (m, d). X : (n, d). y : (n,). A_star : (d, d) (only for the errors recorded).
    t_max : final time. n_eval : log-spaced output times (plus ``t = 0``).
    method : a ``solve_ivp`` stiff method ("LSODA", "BDF" or "Radau"); LSODA is ~1.5x
        faster than BDF here and agrees with it to ~1e-9 in ``rel_error``.
    """
    if not t_max > 0:
        raise ValueError(f"t_max must be > 0, got {t_max!r}")
    m, d = W0.shape
    s_max = np.log1p(t_max)
    s_eval = np.concatenate([[0.0], np.log1p(np.logspace(-3, np.log10(t_max), n_eval))])
    s_eval[-1] = s_max

    def rhs(s: float, w: Array) -> Array:
        return np.exp(s) * _flow_rhs(w.reshape(m, d), X, y).ravel()

    def jac(s: float, w: Array) -> Array:
        return np.exp(s) * _flow_jac(w.reshape(m, d), X, y)

    sol = solve_ivp(rhs, (0.0, s_max), W0.ravel(), method=method, t_eval=s_eval, jac=jac, rtol=rtol, atol=atol)
    Ws = sol.y.T.reshape(-1, m, d)
    A = student_matrix(Ws)
    return FlowResult(
        t=np.expm1(sol.t),
        train_error=training_error(A, X, y),
        gen_error=generalization_error(A, A_star),
        rel_error=_rel_error(A, A_star),
        W_final=Ws[-1],
        success=bool(sol.success),
        nfev=int(sol.nfev),
    )


def gradient_descent(
    W0: Array, X: Array, y: Array, A_star: Array, eta: float, n_steps: int, record_every: int = 1
) -> FlowResult | list[FlowResult]:
    """Discrete GD ``W <- W - eta * m * grad L_n`` (Euler step of eq. 3; time ``t = k eta``).

    Vectorized over seeds: ``W0`` (S, m, d), ``X`` (S, n, d), ``y`` (S, n), ``A_star``
    (S, d, d) give a list of S results; unbatched inputs give one result. Stability needs
    ``eta`` below ``2 / lambda_max`` of the Hessian of ``m L_n`` (O(1/d^2) for these labels).
    """
    if not eta > 0:
        raise ValueError(f"eta must be > 0, got {eta!r}")
    n_steps = _check_pos_int("n_steps", n_steps)
    batched = np.ndim(W0) == 3
    W = np.array(W0, dtype=float, ndmin=3)
    Xb = np.array(X, dtype=float, ndmin=3)
    yb = np.array(y, dtype=float, ndmin=2)
    As = np.array(A_star, dtype=float, ndmin=3)
    m = W.shape[-2]
    ts, Wrec = [0.0], [W.copy()]
    for k in range(1, n_steps + 1):
        _, g = empirical_loss_and_grad(W, Xb, yb)
        W = W - eta * m * g
        if k % record_every == 0 or k == n_steps:
            ts.append(k * eta)
            Wrec.append(W.copy())
    Wt = np.stack(Wrec, axis=1)  # (S, T, m, d)
    A = student_matrix(Wt)
    tr = training_error(A, Xb[:, None], yb[:, None])
    ge = generalization_error(A, As[:, None])
    re = np.linalg.norm(A - As[:, None], axis=(-2, -1)) / np.linalg.norm(As, axis=(-2, -1))[:, None]
    out = [
        FlowResult(np.asarray(ts), tr[i], ge[i], re[i], Wt[i, -1], bool(np.all(np.isfinite(Wt[i, -1]))), k)
        for i in range(W.shape[0])
    ]
    return out if batched else out[0]


# --------------------------------------------------------------------------------------
# SDP uniqueness test
# --------------------------------------------------------------------------------------


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
    """
    import cvxpy as cp

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
            Z = ((lv / scale) @ M).reshape(d, d) - P_perp
            delta = max(0.0, -float(np.linalg.eigvalsh((Z + Z.T) / 2)[0]))
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


# --------------------------------------------------------------------------------------
# recovery sweep and summary
# --------------------------------------------------------------------------------------


def alpha_c_paper(d: int, mstar: int) -> float:
    """Paper's ``n_c / d`` from eq. (13): ``(m*+1) - m*(m*+1)/(2d)`` for ``m* < d``,
    ``(d+1)/2`` for ``m* >= d``."""
    if mstar >= d:
        return (d + 1) / 2.0
    return (mstar + 1) - mstar * (mstar + 1) / (2.0 * d)


def _one_instance(args: tuple[Any, ...]) -> tuple[bool, float, float, float, bool, float]:
    d, mstar, n, seed, m, method, teacher, t_max, tol, solver, rtol, atol, sdp_tol = args
    inst = make_instance(d, mstar, n, seed, m, teacher)
    t0 = time.perf_counter()
    if method == "flow":
        res = gradient_flow(inst.W0, inst.X, inst.y, inst.A_star, t_max, n_eval=2, method=solver, rtol=rtol, atol=atol)
        rel = float(res.rel_error[-1])
        return rel < tol, rel, float(res.train_error[-1]), time.perf_counter() - t0, res.success, float("nan")
    sres = sdp_uniqueness(inst.X, inst.y, inst.A_star, tol=sdp_tol)
    rel = float(_rel_error(sres.A_witness, inst.A_star)) if np.isfinite(sres.gap) else float("nan")
    train = float(training_error(sres.A_witness, inst.X, inst.y))
    # a non-uniqueness verdict from an inaccurate solve is not certified
    ok = sres.status not in ("undecided", "solver error") and not (
        (np.isnan(sres.gap) and sres.range_injective) or (not sres.unique and sres.status == "optimal_inaccurate")
    )
    return sres.unique, rel, train, time.perf_counter() - t0, ok, sres.gap


def recovery_sweep(
    d: int,
    mstar: int,
    alphas: Sequence[float] | Array,
    seeds: Sequence[int] | Array,
    m: int | None = None,
    method: Literal["flow", "sdp"] = "flow",
    *,
    teacher: Teacher = "gaussian",
    t_max: float = 1e8,
    tol: float = 1e-2,
    solver: str = "LSODA",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    sdp_tol: float = 1e-4,
    n_jobs: int = 1,
) -> xr.Dataset:
    """Recovery of the teacher as a function of ``alpha = n/d`` over seeds.

    ``n = round(alpha * d)`` (the ``n`` coordinate); one independent instance per
    ``(alpha, seed)`` (:func:`make_instance`). ``method="flow"``: gradient flow to ``t_max``,
    recovered iff ``rel_error < tol``. ``method="sdp"``: :func:`sdp_uniqueness`, recovered iff
    A* is the unique PSD fit; ``rel_error`` is then that of the SDP witness.

    Returns
    -------
    xarray.Dataset with dims ``(alpha, seed)`` and variables ``recovered`` (bool),
    ``rel_error``, ``train_loss_final`` (``L_n = E_n / 2`` at the end, eq. 2), ``solver_ok``,
    ``wall_time`` and ``sdp_gap``; attrs hold the parameters and the paper's ``alpha_c``.
    """
    m = _check_width(d, mstar, m)
    a = _check_alphas(alphas)
    if method not in ("flow", "sdp"):
        raise ValueError(f"method must be 'flow' or 'sdp', got {method!r}")
    seeds_arr = np.asarray(seeds, dtype=int).ravel()
    ns = np.maximum(1, np.rint(a * d).astype(int))
    jobs = [
        (d, mstar, int(n), int(s), m, method, teacher, t_max, tol, solver, rtol, atol, sdp_tol)
        for n in ns
        for s in seeds_arr
    ]
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as ex:
            results = list(ex.map(_one_instance, jobs, chunksize=max(1, len(jobs) // (4 * n_jobs))))
    else:
        results = [_one_instance(j) for j in jobs]
    shape = (len(a), len(seeds_arr))
    arr = np.array(results, dtype=float).reshape(*shape, 6)
    crit = f"rel_error < {tol} after flow to t_max={t_max:g}" if method == "flow" else "SDP: A* unique PSD fit"
    ds = xr.Dataset(
        {
            "recovered": (("alpha", "seed"), arr[..., 0].astype(bool), {"units": "1", "description": f"teacher recovered ({crit})"}),
            "rel_error": (("alpha", "seed"), arr[..., 1], {"units": "1", "description": "|A - A*|_F / |A*|_F at the end (SDP: of the witness)"}),
            "train_loss_final": (("alpha", "seed"), arr[..., 2] / 2, {"units": "1", "description": "empirical loss L_n = E_n/2 = (1/4n) sum (x^T A x - y)^2 (eq. 2) at the end"}),
            "solver_ok": (("alpha", "seed"), arr[..., 4].astype(bool), {"units": "1", "description": "flow: ODE solver success; SDP: verdict certified (dual bound < tol, or accurate primal gap >= tol)"}),
            "wall_time": (("alpha", "seed"), arr[..., 3], {"units": "s", "description": "wall-clock time of the instance"}),
            "sdp_gap": (("alpha", "seed"), arr[..., 5], {"units": "1", "description": "SDP: max tr(P_perp A)/tr(A*) over PSD fits (NaN for the flow or if not solved)"}),
        },
        coords={
            "alpha": ("alpha", a, {"units": "1", "description": "requested n/d"}),
            "seed": ("seed", seeds_arr, {"units": "1", "description": "instance seed"}),
            "n": ("alpha", ns, {"units": "1", "description": "number of samples round(alpha d)"}),
        },
        attrs={
            "d": d, "mstar": mstar, "m": m, "method": method, "teacher": teacher, "t_max": t_max,
            "tol": tol, "solver": solver, "rtol": rtol, "atol": atol, "sdp_tol": sdp_tol,
            "alpha_c_paper": alpha_c_paper(d, mstar),
            "description": "teacher recovery by empirical-risk gradient flow / SDP uniqueness (paper 004, eqs. 3, 6, 13)",
        },
    )
    return ds


def _first_crossing(x: Array, p: Array, level: float = 0.5) -> float:
    above = np.nonzero(p >= level)[0]
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(x[0]) if p[0] == level else float("nan")
    x0, x1, p0, p1 = x[i - 1], x[i], p[i - 1], p[i]
    return float(x0 + (level - p0) * (x1 - x0) / (p1 - p0))


def recovery_summary(ds: xr.Dataset, n_boot: int = 1000, seed: int = 0, onset_level: float = 0.1) -> xr.Dataset:
    """Recovery probability per alpha and the alpha where it first crosses 1/2.

    The x-axis is the realized ``n/d`` (not the requested alpha). ``p_recover_err`` and the
    ``*_err`` of the crossings are bootstrap standard deviations (seeds resampled
    independently at each alpha, since instances are independent); crossings are linearly
    interpolated between the grid points bracketing the first crossing (NaN if none).
    ``alpha_onset`` is the first crossing of ``onset_level``: Thm. 3.1 of the paper claims
    only P(recovery) > 0 above ``alpha_c``, which the 1/2 crossing need not track.
    """
    rec = ds["recovered"].values.astype(float)
    x = ds["n"].values / ds.attrs["d"]
    order = np.argsort(x)
    x, rec = x[order], rec[order]
    p = rec.mean(axis=1)
    gen = np.random.default_rng(seed)
    S = rec.shape[1]
    idx = gen.integers(0, S, size=(n_boot, rec.shape[0], S))
    pb = np.take_along_axis(np.broadcast_to(rec, (n_boot, *rec.shape)), idx, axis=2).mean(axis=2)

    def crossing(level: float) -> tuple[float, float, float]:
        boot = np.array([_first_crossing(x, pb[b], level) for b in range(n_boot)])
        ok = np.isfinite(boot)
        err = float(np.std(boot[ok], ddof=1)) if ok.sum() > 1 else float("nan")
        return _first_crossing(x, p, level), err, float(ok.mean())

    half, half_err, half_def = crossing(0.5)
    onset, onset_err, _ = crossing(onset_level)
    d, mstar = int(ds.attrs["d"]), int(ds.attrs["mstar"])
    return xr.Dataset(
        {
            "p_recover": ("alpha", p, {"units": "1", "description": "fraction of seeds recovering the teacher"}),
            "p_recover_err": ("alpha", pb.std(axis=0, ddof=1), {"units": "1", "description": "bootstrap std of p_recover"}),
            "alpha_threshold": ((), half, {"units": "1", "description": "n/d where p_recover first crosses 1/2 (linear interpolation)"}),
            "alpha_threshold_err": ((), half_err, {"units": "1", "description": "bootstrap std of alpha_threshold"}),
            "alpha_threshold_boot_defined": ((), half_def, {"units": "1", "description": "fraction of bootstrap replicates with a crossing"}),
            "alpha_onset": ((), onset, {"units": "1", "description": f"n/d where p_recover first crosses {onset_level}"}),
            "alpha_onset_err": ((), onset_err, {"units": "1", "description": "bootstrap std of alpha_onset"}),
            "alpha_c_paper": ((), alpha_c_paper(d, mstar), {"units": "1", "description": "paper eq. (13): n_c/d = (m*+1) - m*(m*+1)/(2d)"}),
            "alpha_c_limit": ((), float(mstar + 1) if mstar < d else float("nan"), {"units": "1", "description": "paper eq. (14): alpha_c = m*+1 (d -> inf)"}),
        },
        coords={"alpha": ("alpha", x, {"units": "1", "description": "realized n/d"}), "n": ("alpha", ds["n"].values[order], {"units": "1", "description": "samples"})},
        attrs={k: ds.attrs[k] for k in ("d", "mstar", "m", "method", "teacher")} | {"n_seeds": S, "n_boot": n_boot, "onset_level": onset_level},
    )


def flow_curves_dataset(
    d: int,
    mstar: int,
    alphas: Sequence[float] | Array,
    seeds: Sequence[int] | Array,
    m: int | None = None,
    *,
    teacher: Teacher = "gaussian",
    t_max: float = 1e8,
    n_eval: int = 60,
) -> xr.Dataset:
    """Training and generalization error along the empirical flow (the paper's Fig. 3).

    Returns a Dataset with dims ``(alpha, seed, time)``: ``train_error`` (``E_n``, eq. 6),
    ``gen_error`` (``E``, eq. 9) and ``rel_error``; ``time`` is ``[0, logspace(-3, log10 t_max)]``.
    """
    m = _check_width(d, mstar, m)
    a = _check_alphas(alphas)
    seeds_arr = np.asarray(seeds, dtype=int).ravel()
    ns = np.maximum(1, np.rint(a * d).astype(int))
    res = [
        gradient_flow(*_inst_args(make_instance(d, mstar, int(n), int(s), m, teacher)), t_max, n_eval=n_eval)
        for n in ns
        for s in seeds_arr
    ]
    shape = (len(a), len(seeds_arr), res[0].t.size)
    dims = ("alpha", "seed", "time")

    def stack(name: str) -> Array:
        return np.array([getattr(r, name) for r in res]).reshape(shape)

    return xr.Dataset(
        {
            "train_error": (dims, stack("train_error"), {"units": "1", "description": "E_n(A(t)) (eq. 6), twice the empirical loss"}),
            "gen_error": (dims, stack("gen_error"), {"units": "1", "description": "E(A(t)) = tr D^2 + (tr D)^2/2 (eq. 9), twice the population loss"}),
            "rel_error": (dims, stack("rel_error"), {"units": "1", "description": "|A - A*|_F / |A*|_F"}),
        },
        coords={
            "alpha": ("alpha", a, {"units": "1", "description": "requested n/d"}),
            "seed": ("seed", seeds_arr, {"units": "1", "description": "instance seed"}),
            "time": ("time", res[0].t, {"units": "1", "description": "gradient-flow time t (eq. 3)"}),
            "n": ("alpha", ns, {"units": "1", "description": "samples round(alpha d)"}),
        },
        attrs={"d": d, "mstar": mstar, "m": m, "teacher": teacher, "t_max": t_max, "description": "empirical gradient flow curves (paper 004 eq. 3)"},
    )


def _inst_args(inst: Instance) -> tuple[Array, Array, Array, Array]:
    return inst.W0, inst.X, inst.y, inst.A_star


# --------------------------------------------------------------------------------------
# population gradient flow (Sec. 5)
# --------------------------------------------------------------------------------------


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
    sol = solve_ivp(rhs, (0.0, s_eval[-1]), np.zeros(ls.size), method="Radau", t_eval=s_eval, jac=jac, rtol=rtol, atol=atol)
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
    loss ``L = E/2`` of eq. (9) (exactly so, up to (d+2)/d, at m* = 0), see ``docs``."""
    t = np.asarray(t, dtype=float)
    return 1.0 / (16.0 * t * t)


def paper_decay_27(t: Array, d: int, mstar: int) -> Array:
    """Paper eq. (27): ``(1/4) ((d - m*) / (1 + 2 (2 + d - m*) t))^2``."""
    k = d - mstar
    return 0.25 * (k / (1.0 + 2.0 * (2.0 + k) * np.asarray(t, dtype=float))) ** 2


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


def fit_power_law(t: Array, E: Array) -> tuple[float, float]:
    """Least-squares ``log E = log C + p log t``; returns ``(p, C)``."""
    p, logc = np.polyfit(np.log(t), np.log(E), 1)
    return float(p), float(np.exp(logc))


def fit_exponential(t: Array, E: Array) -> tuple[float, float]:
    """Least-squares ``log E = log C - r t``; returns ``(r, C)``."""
    slope, logc = np.polyfit(t, np.log(E), 1)
    return float(-slope), float(np.exp(logc))


def population_flow_dataset(
    cases: Sequence[tuple[int, int, str]] = (
        (8, 1, "gaussian"), (8, 1, "equal"), (8, 2, "gaussian"), (8, 4, "gaussian"), (32, 1, "gaussian"),
        (8, 8, "equal"), (8, 8, "gaussian"), (8, 16, "gaussian"),
    ),
    t: Array | None = None,
    *,
    seed: int = 0,
    t_weight_max: float = 10.0,
) -> xr.Dataset:
    """Exact population flow (eq. 20 from ``A(0) = I``) per case, with the paper's laws.

    Parameters
    ----------
    cases : ``(d, m*, teacher)`` triples; the teacher matrix is :func:`make_teacher` with
        ``rng = seed``.
    t : (T,) output times, default ``logspace(-3, 6, 361)``.
    t_weight_max : times up to this are also integrated with the full weight flow (eq. 7,
        ``W(0) = sqrt(d) I`` so ``A(0) = I``, ``m = d``) to check eq. (20).

    Returns
    -------
    Dataset with dims ``(case, time)``: ``E`` (eq. 9 risk, twice the loss), ``L = E/2``,
    ``E_paper_27`` and ``E_paper_26`` (paper's formulas as printed), ``E_quasistatic``,
    ``E_weight_flow`` (NaN beyond ``t_weight_max``), and per-case fits: late-time
    ``exponent``/``prefactor`` (power law of E over the last two decades, for m* < d;
    ``prefactor = t^2 E`` at the last time) or ``rate`` (exponential fit of E where
    ``1e-16 < E/E(0) < 1e-6``, for m* >= d) beside ``rate_paper = 2 (2d+4) lam*``.
    """
    t = np.logspace(-3, 6, 361) if t is None else np.asarray(t, dtype=float)
    if t[0] <= 0:
        raise ValueError("t must be > 0 (log-time grid)")
    tt = np.concatenate([[0.0], t])
    C = len(cases)
    out = {k: np.full((C, t.size), np.nan) for k in ("E", "E_paper_27", "E_paper_26", "E_quasi", "E_weight", "eps")}
    sc = {k: np.full(C, np.nan) for k in ("exponent", "prefactor", "prefactor_paper26", "prefactor_paper27", "prefactor_quasi", "rate", "rate_paper", "rate_linear", "weight_flow_maxdev")}
    for c, (d, mstar, teacher) in enumerate(cases):
        A_star = make_teacher(d, mstar, teacher, seed)  # type: ignore[arg-type]
        lam_star, U = np.linalg.eigh(A_star)
        lam_star = np.where(lam_star > 1e-12 * lam_star.max(), lam_star, 0.0)
        lam = population_eigenvalue_flow(lam_star, tt)
        E = population_risk_eigs(lam, lam_star)[1:]
        out["E"][c] = E
        out["eps"][c] = lam[1:, lam_star == 0].mean(axis=1) if np.any(lam_star == 0) else np.nan
        out["E_paper_26"][c] = paper_decay_26(t)
        out["E_paper_27"][c] = paper_decay_27(t, d, mstar)
        nw = int(np.sum(t <= t_weight_max))
        A_t = population_weight_flow(np.sqrt(d) * np.eye(d), A_star, tt[: nw + 1])[1:]
        Ew = generalization_error(A_t, A_star)
        out["E_weight"][c, :nw] = Ew
        lam_w = np.einsum("ia,tij,ja->ta", U, A_t, U)
        sc["weight_flow_maxdev"][c] = float(np.max(np.abs(lam_w - lam[1 : nw + 1])))
        if mstar < d:
            q = quasistatic_prefactor(d, mstar)
            out["E_quasi"][c] = q / t**2
            win = t >= t[-1] / 100
            sc["exponent"][c], _ = fit_power_law(t[win], E[win])
            sc["prefactor"][c] = float(t[-1] ** 2 * E[-1])
            sc["prefactor_paper26"][c] = 1.0 / 16.0
            sc["prefactor_paper27"][c] = 0.25 * (d - mstar) ** 2 / (4.0 * (2.0 + d - mstar) ** 2)
            sc["prefactor_quasi"][c] = q
        else:
            e0 = population_risk_eigs(np.ones(d), lam_star)
            win = (E > 1e-16 * e0) & (E < 1e-6 * e0)
            if win.sum() >= 3:
                sc["rate"][c], _ = fit_exponential(t[win], E[win])
            sc["rate_paper"][c] = 2.0 * (2 * d + 4) * float(np.mean(lam_star))
            sq = np.sqrt(lam_star)
            J = sq[:, None] * (4.0 * np.eye(d) + 2.0) * sq[None, :]
            sc["rate_linear"][c] = 2.0 * float(np.linalg.eigvalsh(J)[0])
    ds = xr.Dataset(
        {
            "E": (("case", "time"), out["E"], {"units": "1", "description": "exact population risk E(A(t)) (eq. 9/21, twice the loss) from eq. (20)"}),
            "L": (("case", "time"), out["E"] / 2, {"units": "1", "description": "population loss L = E/2"}),
            "eps": (("case", "time"), out["eps"], {"units": "1", "description": "non-informative eigenvalue (eq. 23), NaN if m* >= d"}),
            "E_paper_26": (("case", "time"), out["E_paper_26"], {"units": "1", "description": "paper eq. (26): 1/(16 t^2)"}),
            "E_paper_27": (("case", "time"), out["E_paper_27"], {"units": "1", "description": "paper eq. (27): (1/4)((d-m*)/(1+2(2+d-m*)t))^2"}),
            "E_quasistatic": (("case", "time"), out["E_quasi"], {"units": "1", "description": "late-time asymptote (d-m*)(m*+2)/(16(d+2) t^2) of E (derived here)"}),
            "E_weight_flow": (("case", "time"), out["E_weight"], {"units": "1", "description": "E from the full weight flow eq. (7), W(0)=sqrt(d) I (NaN for t > t_weight_max)"}),
            "exponent": ("case", sc["exponent"], {"units": "1", "description": "fitted d log E / d log t over the last two decades (m* < d)"}),
            "prefactor": ("case", sc["prefactor"], {"units": "1", "description": "t^2 E(t) at the last time (m* < d)"}),
            "prefactor_paper26": ("case", sc["prefactor_paper26"], {"units": "1", "description": "paper eq. (26) prefactor 1/16"}),
            "prefactor_paper27": ("case", sc["prefactor_paper27"], {"units": "1", "description": "t -> inf limit of t^2 x eq. (27)"}),
            "prefactor_quasistatic": ("case", sc["prefactor_quasi"], {"units": "1", "description": "(d-m*)(m*+2)/(16(d+2)), for E"}),
            "rate": ("case", sc["rate"], {"units": "1/time", "description": "fitted exponential decay rate of E (m* >= d)"}),
            "rate_paper": ("case", sc["rate_paper"], {"units": "1/time", "description": "paper eq. (29): 2(2d+4) lam*, lam* = mean teacher eigenvalue"}),
            "rate_linear": ("case", sc["rate_linear"], {"units": "1/time", "description": "2 x slowest rate of eq. (20) linearized at the teacher"}),
            "weight_flow_maxdev": ("case", sc["weight_flow_maxdev"], {"units": "1", "description": "max |diag(U*^T A U*) - lambda| between weight flow and eq. (20)"}),
        },
        coords={
            "time": ("time", t, {"units": "1", "description": "gradient-flow time t (eq. 8)"}),
            "case": ("case", np.arange(C), {"units": "1", "description": "case index"}),
            "d": ("case", np.array([c[0] for c in cases]), {"units": "1", "description": "input dimension"}),
            "mstar": ("case", np.array([c[1] for c in cases]), {"units": "1", "description": "teacher width m*"}),
            "teacher": ("case", np.array([c[2] for c in cases]), {"units": "", "description": "teacher kind (gaussian / equal eigenvalues)"}),
        },
        attrs={"description": "population gradient flow, paper 004 eqs. (8), (20), (26), (27), (29); A(0) = I", "seed": seed, "t_weight_max": t_weight_max},
    )
    return ds

