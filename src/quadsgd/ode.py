"""Batched integration of the order-parameter ODEs (docs/conventions.md section 3).

Each batch member is integrated independently by an adaptive Dormand-Prince 5(4) scheme with
its own step size, compiled with numba; steps are clamped to land exactly on the requested
``alpha`` grid, so recorded values are integrator states, not interpolants. Members differ by
orders of magnitude in how long they take (a diverging member stops at once, a member near
``eta_opt`` may cross the plateau in few steps), so a per-member step size is cheaper than a
common one and keeps every member's result independent of its batch companions.

The escape time is located by an event: inside the accepted step that crosses the threshold,
the state is interpolated (cubic Hermite from the two end states and derivatives, which the
FSAL scheme provides) and the crossing is found by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from numba import njit
from numpy.typing import ArrayLike

from quadsgd import __version__, _validate
from quadsgd._kernels import flatten_batch, rhs1, risk1
from quadsgd.grids import log_alpha_grid
from quadsgd.schema import check_batch_dims, trajectory_dataset
from quadsgd.status import Status
from quadsgd.theory import plateau_risk

__all__ = ["integrate", "DEFAULTS"]

#: Default tolerances and stopping rules of :func:`integrate` (documented in the README).
DEFAULTS: dict[str, float] = {
    "rtol": 1e-8,
    "atol": 1e-11,
    "risk_floor": 1e-12,  # converged (zero error): risk below this
    "settled_risk": 1e-6,  # settled at alpha_max: risk above this and falling slower than 1/alpha
    "divergence_trace": 1e4,  # diverged: trace(Q) / p above this
    "max_steps": 2_000_000,
}

# Status codes as compile-time constants of the kernels (numba freezes module-level ints).
_CONVERGED, _ESCAPED, _CENSORED, _DIVERGED, _SETTLED, _MAX_STEPS = (
    int(s) for s in (Status.CONVERGED, Status.ESCAPED, Status.CENSORED, Status.DIVERGED, Status.SETTLED,
                     Status.MAX_STEPS))
_RUNNING = -1

# Dormand-Prince 5(4) tableau (the ODE is autonomous, so the nodes c_i are not needed).
_A = np.zeros((7, 7))
_A[1, :1] = [1 / 5]
_A[2, :2] = [3 / 40, 9 / 40]
_A[3, :3] = [44 / 45, -56 / 15, 32 / 9]
_A[4, :4] = [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729]
_A[5, :5] = [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]
_A[6, :6] = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]
_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@njit(cache=True)
def _f(y, T, eta, p, s, out, wpp, wps):  # pragma: no cover - compiled
    pp = p * p
    rhs1(y[:pp].reshape(p, p), y[pp:].reshape(p, s), T, eta,
          out[:pp].reshape(p, p), out[pp:].reshape(p, s), wpp, wps)


@njit(cache=True)
def _state_risk(y, T, p, s):  # pragma: no cover - compiled
    pp = p * p
    return risk1(y[:pp].reshape(p, p), y[pp:].reshape(p, s), T)


@njit(cache=True)
def _risk_rate(y, f, T, p, s):  # pragma: no cover - compiled
    """d(risk)/dalpha along ``f``: the gradient of the risk of section 2 (a quadratic in Q, M)
    is ``(trQ I + 2Q)/p^2 - trT I/(p p*)`` in Q and ``-4 M/(p p*)`` in M."""
    pp = p * p
    trQ = 0.0
    for k in range(p):
        trQ += y[k * p + k]
    trT = 0.0
    for r in range(s):
        trT += T[r, r]
    out = 0.0
    for k in range(p):
        for l in range(p):
            g = 2.0 * y[k * p + l] / pp
            if k == l:
                g += trQ / pp - trT / (p * s)
            out += g * f[k * p + l]
    for i in range(p * s):
        out -= 4.0 * y[pp + i] / (p * s) * f[pp + i]
    return out


@njit(cache=True)
def _hermite(y0, f0, y1, f1, h, theta, out):  # pragma: no cover - compiled
    t2 = theta * theta
    t3 = t2 * theta
    h00 = 2 * t3 - 3 * t2 + 1
    h10 = t3 - 2 * t2 + theta
    h01 = -2 * t3 + 3 * t2
    h11 = t3 - t2
    for i in range(y0.shape[0]):
        out[i] = h00 * y0[i] + h10 * h * f0[i] + h01 * y1[i] + h11 * h * f1[i]


@njit(cache=True)
def _integrate_member(
    Q0, M0, T, eta, grid, rtol, atol, risk_floor, settled_risk, div_trace, threshold,
    max_steps, keep_traj, out_Q, out_M, out_risk, A, E,
):  # pragma: no cover - compiled
    """Integrate one member; fills its output rows, returns (status, alpha_escape, alpha_stop, steps)."""
    p = Q0.shape[0]
    s = T.shape[0]
    pp = p * p
    n = pp + p * s
    G = grid.shape[0]
    wpp = np.empty((4, p, p))
    wps = np.empty((2, p, s))
    y = np.empty(n)
    y[:pp] = Q0.ravel()
    y[pp:] = M0.ravel()
    K = np.empty((7, n))
    ytmp = np.empty(n)
    ynew = np.empty(n)
    evec = np.empty(n)
    _f(y, T, eta, p, s, K[0], wpp, wps)

    def record(gi, state, r):
        out_risk[gi] = r
        if keep_traj:
            out_Q[gi] = state[:pp].reshape(p, p)
            out_M[gi] = state[pp:].reshape(p, s)

    r_now = _state_risk(y, T, p, s)
    record(0, y, r_now)
    escaped = r_now <= threshold
    alpha_escape = 0.0 if escaped else np.nan

    # Initial step: 1% of the state's scale over its rate of change.
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (K[0, i] / sc) ** 2
    d0 = math.sqrt(d0 / n)
    d1 = math.sqrt(d1 / n)
    h = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6
    h = min(h, grid[G - 1])

    t = 0.0
    gi = 1
    steps = 0
    status = _RUNNING
    while gi < G:
        if steps >= max_steps:
            status = _MAX_STEPS
            break
        target = grid[gi]
        h_try = min(h, target - t)
        lands = h_try >= target - t
        # Stage sums run along the state (contiguous rows of K), which vectorizes; each
        # element still adds its terms in stage order, so results are those of a per-element loop.
        for st in range(1, 7):
            ytmp[:] = y
            for j in range(st):
                c = h_try * A[st, j]
                for i in range(n):
                    ytmp[i] += c * K[j, i]
            _f(ytmp, T, eta, p, s, K[st], wpp, wps)
        evec[:] = 0.0
        for j in range(7):
            for i in range(n):
                evec[i] += E[j] * K[j, i]
        err = 0.0
        finite = True
        for i in range(n):
            ynew[i] = ytmp[i]  # stage 7 is evaluated at the 5th-order solution (FSAL)
            sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
            err += (h_try * evec[i] / sc) ** 2
            if not math.isfinite(ynew[i]) or not math.isfinite(K[6, i]):
                finite = False
        err = math.sqrt(err / n)
        if not finite or not math.isfinite(err):
            h = 0.2 * h_try
            if h < 1e-12 * max(t, 1.0):
                status = _DIVERGED
                break
            continue
        if err > 1.0:
            h = h_try * max(0.2, 0.9 * err ** -0.2)
            if h < 1e-12 * max(t, 1.0):
                status = _DIVERGED
                break
            continue
        # Accepted.
        steps += 1
        t_new = target if lands else t + h_try
        r_new = _state_risk(ynew, T, p, s)
        if not escaped and r_new <= threshold:
            lo = 0.0
            hi = 1.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                _hermite(y, K[0], ynew, K[6], h_try, mid, ytmp)
                if _state_risk(ytmp, T, p, s) <= threshold:
                    hi = mid
                else:
                    lo = mid
            alpha_escape = t + hi * h_try
            escaped = True
        t = t_new
        y[:] = ynew
        K[0] = K[6]
        if lands:
            record(gi, y, r_new)
            gi += 1
        trQ = 0.0
        for k in range(p):
            trQ += y[k * p + k]
        if not math.isfinite(trQ) or trQ > div_trace * p:
            status = _DIVERGED
            break
        if r_new <= risk_floor:
            status = _CONVERGED
            break
        fac = min(5.0, max(0.2, 0.9 * err ** -0.2)) if err > 0 else 5.0
        h = max(h, h_try * fac) if lands else h_try * fac

    if status == _DIVERGED:
        for g in range(gi, G):
            out_risk[g] = np.nan
            if keep_traj:
                out_Q[g] = np.nan
                out_M[g] = np.nan
        y[:] = np.nan
    elif status == _CONVERGED:
        r_last = _state_risk(y, T, p, s)
        for g in range(gi, G):
            record(g, y, r_last)
    elif status == _MAX_STEPS:
        for g in range(gi, G):
            out_risk[g] = np.nan
            if keep_traj:
                out_Q[g] = np.nan
                out_M[g] = np.nan
    elif escaped:
        # At alpha_max: still descending towards zero error if the risk falls at least as fast
        # as 1/alpha (-d log risk / d log alpha >= 1). Towards zero error it falls exponentially
        # (p = p*) or as alpha^-2 (p > p*, algebraic approach of the student noise); towards a
        # finite-risk fixed point the exponent goes to 0.
        r_last = _state_risk(y, T, p, s)
        slope = -t * _risk_rate(y, K[0], T, p, s) / r_last
        # A risk already below settled_risk is on its way to zero error whatever its slope: from a
        # tiny student noise q the algebraic decay needs alpha ~ 1/q before it shows.
        status = _SETTLED if slope < 1.0 and r_last > settled_risk else _ESCAPED
    else:
        status = _CENSORED
    if not keep_traj:
        out_Q[0] = y[:pp].reshape(p, p)
        out_M[0] = y[pp:].reshape(p, s)
    return status, alpha_escape, t, steps


@njit(cache=True, nogil=True)
def _integrate_batch(
    Q0, M0, T, eta, grid, rtol, atol, risk_floor, settled_risk, div_trace, threshold,
    max_steps, keep_traj, out_Q, out_M, out_risk, status, alpha_escape, alpha_stop, steps, A, E,
):  # pragma: no cover - compiled
    for b in range(Q0.shape[0]):
        st, ae, ast, ns = _integrate_member(
            Q0[b], M0[b], T[b], eta[b], grid, rtol, atol, risk_floor, settled_risk, div_trace,
            threshold[b], max_steps, keep_traj, out_Q[b], out_M[b], out_risk[b], A, E,
        )
        status[b] = st
        alpha_escape[b] = ae
        alpha_stop[b] = ast
        steps[b] = ns


def _default_batch_dims(ndim: int) -> tuple[str, ...]:
    return ("member",) if ndim == 1 else tuple(f"batch_{i}" for i in range(ndim))


def integrate(
    Q0: ArrayLike,
    M0: ArrayLike,
    eta: ArrayLike,
    alpha: ArrayLike | None = None,
    T: ArrayLike | None = None,
    *,
    escape_fraction: float = 0.5,
    overlaps: Literal["trajectory", "final"] = "trajectory",
    batch_dims: Sequence[str] | None = None,
    coords: Mapping[Hashable, Any] | None = None,
    chunk: int = 64,
    progress: bool = False,
    rtol: float = DEFAULTS["rtol"],
    atol: float = DEFAULTS["atol"],
    risk_floor: float = DEFAULTS["risk_floor"],
    settled_risk: float = DEFAULTS["settled_risk"],
    divergence_trace: float = DEFAULTS["divergence_trace"],
    max_steps: int = int(DEFAULTS["max_steps"]),
) -> xr.Dataset:
    """Integrate a batch of order-parameter ODEs and record them on the ``alpha`` grid.

    Parameters
    ----------
    Q0 : (..., p, p) initial student overlaps.
    M0 : (..., p, pstar) initial student-teacher overlaps.
    eta : scalar or (...) learning rates, broadcast against the batch shape.
    alpha : increasing grid starting at 0; default ``log_alpha_grid(1e3)``.
    T : (..., pstar, pstar) teacher overlaps, the identity by default.
    escape_fraction : ``f`` of the escape threshold ``f * eps_plateau``, with the plateau risk of
        each member's teacher ``T`` (:func:`quadsgd.theory.plateau_risk`).
    overlaps : ``"trajectory"`` keeps ``Q, M`` on the grid; ``"final"`` keeps only the last
        state (``Q_final, M_final``), for sweeps that need summaries (memory O(batch), not
        O(batch x grid)).
    batch_dims, coords : names (and coordinates) of the leading batch dimensions.
    chunk, progress : members per compiled call, and a tqdm bar over chunks.

    Returns
    -------
    Dataset with ``risk (..., alpha)``, ``Q (..., alpha, k, l)``, ``M (..., alpha, k, r)``,
    ``status``, ``alpha_escape``, ``alpha_stop``, ``n_steps`` (see :mod:`quadsgd.storage`).
    A member stops early once converged (later grid points hold its last state) or
    diverged (later points NaN); divergence is a status, never an exception.

    Statuses (:class:`quadsgd.status.Status`; docs/science.md, "Escaped is not learned"):
    ``converged`` once the risk falls below ``risk_floor`` (zero error); ``settled`` when, after
    the escape, the risk at ``alpha_max`` falls slower than ``1/alpha``
    (``-d log risk / d log alpha < 1``, from the exact derivative of the risk along the flow: a
    fixed point at finite risk, or the slow approach to one) while above ``settled_risk``;
    ``escaped`` when it is below ``settled_risk`` or still falls at least
    that fast (towards zero error: exponentially for p = p*, as ``alpha^-2`` for p > p*);
    ``censored`` if it never crossed the threshold; ``diverged``; ``max_steps`` when
    ``max_steps`` accepted steps did not reach ``alpha_max`` (later points NaN; ``alpha_escape``
    is kept if the crossing happened).
    """
    # [[Q0, M0], [M0^T, T]] must be a covariance: (lambda, nu) are Gaussian with it.
    Qf, Mf, Tf, etaf, batch = flatten_batch(Q0, M0, T, eta, joint_psd=True, names=("Q0", "M0", "T"))
    assert etaf is not None  # flatten_batch returns None only when no eta is given
    _validate.positive_array("eta", etaf)
    grid = log_alpha_grid(1e3) if alpha is None else _validate.alpha_grid("alpha", alpha)
    if overlaps not in ("trajectory", "final"):
        raise ValueError(f"overlaps must be 'trajectory' or 'final'; got {overlaps!r}")
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    bd = check_batch_dims(batch_dims) if batch_dims is not None else _default_batch_dims(len(batch))
    if len(bd) != len(batch):
        raise ValueError(f"batch_dims {bd} do not match the batch shape {batch}")

    n, p, s = Mf.shape
    keep = overlaps == "trajectory"
    G = grid.size
    out_Q = np.empty((n, G if keep else 1, p, p))
    out_M = np.empty((n, G if keep else 1, p, s))
    out_risk = np.empty((n, G))
    status = np.empty(n, dtype=np.int64)
    alpha_escape = np.empty(n)
    alpha_stop = np.empty(n)
    steps = np.empty(n, dtype=np.int64)
    # The plateau of each member's own teacher: T = I gives 1/p* + 1/(p+2) for every member.
    threshold = escape_fraction * plateau_risk(p, s, Tf)

    starts = range(0, n, max(1, chunk))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=math.ceil(n / max(1, chunk)), desc=f"ODE p={p} p*={s}", unit="chunk")
    for a in starts:
        sl = slice(a, min(n, a + max(1, chunk)))
        _integrate_batch(
            Qf[sl], Mf[sl], Tf[sl], etaf[sl], grid, rtol, atol, risk_floor, settled_risk,
            divergence_trace, threshold, max_steps, keep, out_Q[sl], out_M[sl], out_risk[sl],
            status[sl], alpha_escape[sl], alpha_stop[sl], steps[sl], _A, _E,
        )

    shape = lambda arr, tail=(): arr.reshape(batch + tail)  # noqa: E731
    traj = dict(Q=shape(out_Q, (G, p, p)), M=shape(out_M, (G, p, s))) if keep else dict(
        Q_final=shape(out_Q, (p, p)), M_final=shape(out_M, (p, s))
    )
    ds = trajectory_dataset(
        alpha=grid,
        risk=shape(out_risk, (G,)),
        status=shape(status),
        alpha_escape=shape(alpha_escape),
        alpha_stop=shape(alpha_stop),
        n_steps=shape(steps),
        M0=Mf.reshape(batch + (p, s)).copy(),
        eta=etaf.reshape(batch),
        batch_dims=bd,
        coords=coords,
        attrs={
            "method": "ode",
            "p": p,
            "pstar": s,
            "escape_fraction": escape_fraction,
            "escape_threshold": float(threshold[0]) if np.all(threshold == threshold[0]) else "per member",
            "rtol": rtol,
            "atol": atol,
            "quadsgd_version": __version__,
        },
        **traj,
    )
    return ds
