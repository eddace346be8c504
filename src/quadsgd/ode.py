"""Batched integration of the order-parameter ODEs (docs/conventions.md section 3).

Members are integrated by an adaptive Dormand-Prince 5(4) scheme, compiled with numba, in
blocks of :data:`quadsgd._kernels.LANES` members advanced together: the state of a block is
stored with the member index innermost, so the right-hand side and the stage sums run in SIMD
lanes. Every member still has its own step size, error control, status and stopping time (members
differ by orders of magnitude in how long they take: a diverging member stops at once, a member
near ``eta_opt`` may cross the plateau in few steps); a member that stops frees its lane for the
next member of the batch. No arithmetic mixes lanes, so a member's numbers are bit-identical alone
or in any batch, in any lane.

Steps are not cut at the recording grid: grid points and the escape crossing are read from the
scheme's continuous extension (the 4th-order dense output of Dormand and Prince, as in Hairer,
Norsett and Wanner, "Solving ODEs I", section II.6, and scipy's ``RK45``) inside each accepted
step; only the last step ends exactly at ``alpha_max``. The crossing of the escape threshold is
located by bisection on that extension.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from quadsgd import __version__, _validate
from quadsgd._jit import njit
from quadsgd._kernels import (
    LANES,
    flat_noise,
    flatten_batch,
    pack_lanes,
    rhs_lanes,
    rhs_rows,
    risk_lane,
    risk_lanes,
)
from quadsgd.grids import log_alpha_grid
from quadsgd.schema import check_batch_dims, trajectory_dataset
from quadsgd.status import Status
from quadsgd.theory import plateau_risk

__all__ = ["integrate", "DEFAULTS"]

#: Default tolerances and stopping rules of :func:`integrate` (documented in the README).
DEFAULTS: dict[str, float] = {
    # 2e-10, not 1e-8: with dense output the steps no longer end on every grid point, and at 1e-8
    # the risk's error against a DOP853 reference grew from 7.8e-9 to 1.3e-7 on default-sweep
    # members; at 2e-10 it is 5.8e-9, for 5% more steps than before (scripts/ode_accuracy.py;
    # docs/performance.md, section 1).
    "rtol": 2e-10,
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
# Dense output: y(t + theta h) = y(t) + h sum_j K_j sum_m _P[j, m] theta^(m+1), 4th order in h.
_P = np.array([
    [1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0.0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0.0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632],
    [0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
])


@njit(cache=True)
def _risk_rate(y, f, T, k, p, s):  # pragma: no cover - compiled
    """d(risk)/dalpha of lane ``k`` along ``f``: the gradient of the risk of section 2 (a quadratic
    in Q, M) is ``(trQ I + 2Q)/p^2 - trT I/(p p*)`` in Q and ``-4 M/(p p*)`` in M."""
    pp = p * p
    trQ = 0.0
    for i in range(p):
        trQ += y[i * p + i, k]
    trT = 0.0
    for r in range(s):
        trT += T[r * s + r, k]
    out = 0.0
    for i in range(p):
        for j in range(p):
            g = 2.0 * y[i * p + j, k] / pp
            if i == j:
                g += trQ / pp - trT / (p * s)
            out += g * f[i * p + j, k]
    for i in range(p * s):
        out -= 4.0 * y[pp + i, k] / (p * s) * f[pp + i, k]
    return out


@njit(cache=True, inline="always")
def _dense_weight(P, j, theta):  # pragma: no cover - compiled
    """Weight of stage ``j`` in the continuous extension at ``theta``: ``sum_m P[j, m] theta^(m+1)``."""
    return theta * (P[j, 0] + theta * (P[j, 1] + theta * (P[j, 2] + theta * P[j, 3])))


@njit(cache=True)
def _dense(y, K, h, theta, k, P, out):  # pragma: no cover - compiled
    """Lane ``k`` of the continuous extension at ``t + theta h`` into lane ``k`` of ``out``."""
    b0, b2, b3 = _dense_weight(P, 0, theta), _dense_weight(P, 2, theta), _dense_weight(P, 3, theta)
    b4, b5, b6 = _dense_weight(P, 4, theta), _dense_weight(P, 5, theta), _dense_weight(P, 6, theta)
    for i in range(y.shape[0]):
        out[i, k] = y[i, k] + h * (b0 * K[0, i, k] + b2 * K[2, i, k] + b3 * K[3, i, k] + b4 * K[4, i, k]
                                   + b5 * K[5, i, k] + b6 * K[6, i, k])


@njit(cache=True)
def _dense_lanes(y, K, hs, theta, P, out):  # pragma: no cover - compiled
    """:func:`_dense` for every lane at once, lane ``k`` at ``theta[k]`` with step ``hs[k]`` (the
    same operations per entry, so the same numbers)."""
    ns, L = y.shape
    b = np.empty((7, L))
    for k in range(L):
        for j in range(7):
            b[j, k] = _dense_weight(P, j, theta[k])
    b0, b2, b3, b4, b5, b6 = b[0], b[2], b[3], b[4], b[5], b[6]
    K0, K2, K3, K4, K5, K6 = K[0], K[2], K[3], K[4], K[5], K[6]
    for i in range(ns):
        for k in range(L):
            out[i, k] = y[i, k] + hs[k] * (b0[k] * K0[i, k] + b2[k] * K2[i, k] + b3[k] * K3[i, k]
                                           + b4[k] * K4[i, k] + b5[k] * K5[i, k] + b6[k] * K6[i, k])


@njit(cache=True)
def _record(b, g, state, k, r, keep_traj, p, s, out_Q, out_M, out_risk):  # pragma: no cover - compiled
    pp = p * p
    out_risk[b, g] = r
    if keep_traj:
        for i in range(p):
            for j in range(p):
                out_Q[b, g, i, j] = state[i * p + j, k]
            for j in range(s):
                out_M[b, g, i, j] = state[pp + i * s + j, k]


@njit(cache=True)
def _stage_sum(y, K, c, st, out):  # pragma: no cover - compiled
    """``out = y + sum_{j < st} c[j] K[j]`` (``c`` per lane), each element adding its terms in
    stage order. One pass per stage with every term in one expression: a loop per term would
    store and reload ``out`` once per term (this runs at about half the cost)."""
    ns, L = y.shape
    c0, c1, c2, c3, c4, c5 = c[0], c[1], c[2], c[3], c[4], c[5]
    K0, K1, K2, K3, K4, K5 = K[0], K[1], K[2], K[3], K[4], K[5]
    if st == 1:
        for i in range(ns):
            for k in range(L):
                out[i, k] = y[i, k] + c0[k] * K0[i, k]
    elif st == 2:
        for i in range(ns):
            for k in range(L):
                out[i, k] = y[i, k] + c0[k] * K0[i, k] + c1[k] * K1[i, k]
    elif st == 3:
        for i in range(ns):
            for k in range(L):
                out[i, k] = y[i, k] + c0[k] * K0[i, k] + c1[k] * K1[i, k] + c2[k] * K2[i, k]
    elif st == 4:
        for i in range(ns):
            for k in range(L):
                out[i, k] = (y[i, k] + c0[k] * K0[i, k] + c1[k] * K1[i, k] + c2[k] * K2[i, k]
                             + c3[k] * K3[i, k])
    elif st == 5:
        for i in range(ns):
            for k in range(L):
                out[i, k] = (y[i, k] + c0[k] * K0[i, k] + c1[k] * K1[i, k] + c2[k] * K2[i, k]
                             + c3[k] * K3[i, k] + c4[k] * K4[i, k])
    else:
        for i in range(ns):
            for k in range(L):
                out[i, k] = (y[i, k] + c0[k] * K0[i, k] + c1[k] * K1[i, k] + c2[k] * K2[i, k]
                             + c3[k] * K3[i, k] + c4[k] * K4[i, k] + c5[k] * K5[i, k])


# error_model="numpy": a division is the IEEE one, without Python's zero-divisor check, whose
# branch keeps a loop with a division (the error norm) from vectorizing. No divisor is zero with
# the arguments integrate() admits: atol > 0 in the error scale, a risk above risk_floor >= 0.
@njit(cache=True, nogil=True, error_model="numpy")
def _integrate_block(
    Q0, M0, T, eta, noise, threshold, grid, rtol, atol, risk_floor, settled_risk, div_trace,
    max_steps, keep_traj, out_Q, out_M, out_risk, status, alpha_escape, alpha_stop, steps, A, E, P,
):  # pragma: no cover - compiled
    """Integrate every member of the flat batch, ``L`` at a time; fills the output rows."""
    n, p, s = M0.shape
    pp = p * p
    ns = pp + p * s
    G = grid.shape[0]
    tmax = grid[G - 1]
    L = max(1, min(LANES, n))  # no idle lanes for a batch smaller than a block
    y = np.zeros((ns, L))
    K = np.zeros((7, ns, L))
    ytmp = np.zeros((ns, L))
    yint = np.zeros((ns, L))
    y1 = np.zeros((ns, 1))  # one lane, contiguous: the escape bisection
    K1 = np.zeros((7, ns, 1))
    T1 = np.zeros((s * s, 1))
    yint1 = np.zeros((ns, 1))
    theta = np.zeros(L)
    t_start = np.zeros(L)
    r_grid = np.zeros(L)
    racc = np.zeros((5, L))
    r_new = np.zeros(L)
    accepted = np.zeros(L, dtype=np.bool_)
    Tl = np.zeros((s * s, L))
    et = np.zeros(L)
    nz = np.zeros(L)
    w = np.zeros((rhs_rows(p, s), L))
    member = np.full(L, -1)
    t = np.zeros(L)
    h = np.zeros(L)
    hs = np.zeros(L)
    c = np.zeros((6, L))
    err = np.zeros(L)
    fin = np.zeros(L)
    gi = np.zeros(L, dtype=np.int64)
    nst = np.zeros(L, dtype=np.int64)
    escaped = np.zeros(L, dtype=np.bool_)
    fresh = np.zeros(L, dtype=np.bool_)
    lane_status = np.full(L, _RUNNING)
    nxt = 0
    active = 0
    while True:
        # Free lanes take the next members; their first derivative comes from one block evaluation.
        any_fresh = False
        for k in range(L):
            fresh[k] = False
            if member[k] < 0 and nxt < n:
                b = nxt
                nxt += 1
                member[k] = b
                active += 1
                pack_lanes(Q0, M0, T, b, k, y, Tl)
                et[k] = eta[b]
                nz[k] = noise[b]
                t[k] = 0.0
                gi[k] = 1
                nst[k] = 0
                lane_status[k] = _RUNNING
                r0 = risk_lane(y, Tl, k, p, s)
                _record(b, 0, y, k, r0, keep_traj, p, s, out_Q, out_M, out_risk)
                escaped[k] = r0 <= threshold[b]
                alpha_escape[b] = 0.0 if escaped[k] else np.nan
                fresh[k] = True
                any_fresh = True
        if any_fresh:
            rhs_lanes(y, Tl, et, nz, p, s, ytmp, w)
            for k in range(L):
                if fresh[k]:
                    # Initial step: 1% of the state's scale over its rate of change.
                    d0 = 0.0
                    d1 = 0.0
                    for i in range(ns):
                        K[0, i, k] = ytmp[i, k]
                        sc = atol + rtol * abs(y[i, k])
                        d0 += (y[i, k] / sc) ** 2
                        d1 += (K[0, i, k] / sc) ** 2
                    d0 = math.sqrt(d0 / ns)
                    d1 = math.sqrt(d1 / ns)
                    h[k] = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6
                    h[k] = min(h[k], tmax)
                    if G == 1:
                        lane_status[k] = _CENSORED  # nothing to integrate; decided at the end below
                    elif max_steps <= 0:
                        lane_status[k] = _MAX_STEPS
        if active == 0:
            break

        for k in range(L):
            hs[k] = min(h[k], tmax - t[k]) if member[k] >= 0 and lane_status[k] == _RUNNING else 0.0
        for st in range(1, 7):
            for j in range(st):
                for k in range(L):
                    c[j, k] = hs[k] * A[st, j]
            _stage_sum(y, K, c, st, ytmp)
            rhs_lanes(ytmp, Tl, et, nz, p, s, K[st], w)
        for k in range(L):
            err[k] = 0.0
            fin[k] = 0.0
        for i in range(ns):
            for k in range(L):
                ev = 0.0
                for j in range(7):
                    ev += E[j] * K[j, i, k]
                # stage 7 is evaluated at the 5th-order solution (FSAL)
                sc = atol + rtol * max(abs(y[i, k]), abs(ytmp[i, k]))
                d = hs[k] * ev / sc
                err[k] += d * d
                fin[k] += 0.0 * ytmp[i, k] + 0.0 * K[6, i, k]  # NaN unless all finite

        # The risk at every lane's 5th-order solution, for its events (one pass over the block).
        risk_lanes(ytmp, Tl, p, s, 0, L, racc, r_new)

        # Each lane's own decision; y still holds the step's start, ytmp its end.
        for k in range(L):
            accepted[k] = False
            b = member[k]
            if b < 0 or lane_status[k] != _RUNNING:
                continue
            e = math.sqrt(err[k] / ns)
            if fin[k] != 0.0 or not math.isfinite(e):
                h[k] = 0.2 * hs[k]
                if h[k] < 1e-12 * max(t[k], 1.0):
                    lane_status[k] = _DIVERGED
                continue
            if e > 1.0:
                h[k] = hs[k] * max(0.2, 0.9 * e ** -0.2)
                if h[k] < 1e-12 * max(t[k], 1.0):
                    lane_status[k] = _DIVERGED
                continue
            accepted[k] = True
            nst[k] += 1
            t_new = tmax if hs[k] >= tmax - t[k] else t[k] + hs[k]
            t_start[k] = t[k]
            if not escaped[k] and r_new[k] <= threshold[b]:
                # Bisection on one lane's continuous extension: on a contiguous copy of the
                # lane (its entries are a stride of the block apart), the same numbers.
                for i in range(ns):
                    y1[i, 0] = y[i, k]
                    for j in range(7):
                        K1[j, i, 0] = K[j, i, k]
                for i in range(s * s):
                    T1[i, 0] = Tl[i, k]
                lo = 0.0
                hi = 1.0
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    _dense(y1, K1, hs[k], mid, 0, P, yint1)
                    if risk_lane(yint1, T1, 0, p, s) <= threshold[b]:
                        hi = mid
                    else:
                        lo = mid
                alpha_escape[b] = t[k] + hi * hs[k]
                escaped[k] = True
            t[k] = t_new
            trQ = 0.0
            for i in range(p):
                trQ += ytmp[i * p + i, k]
            if not math.isfinite(trQ) or trQ > div_trace * p:
                lane_status[k] = _DIVERGED
            elif r_new[k] <= risk_floor:
                lane_status[k] = _CONVERGED
            elif t_new >= tmax:
                lane_status[k] = _CENSORED  # the end: escaped, settled or censored, decided below
            elif nst[k] >= max_steps:
                lane_status[k] = _MAX_STEPS
            fac = min(5.0, max(0.2, 0.9 * e ** -0.2)) if e > 0 else 5.0
            h[k] = hs[k] * fac

        # Grid points inside the accepted steps, from the continuous extension: all lanes at
        # once while two or more have one pending (a lane alone strides through the block).
        while True:
            pending = 0
            for k in range(L):
                theta[k] = -1.0
                if not accepted[k]:
                    continue
                b = member[k]
                if gi[k] < G and grid[gi[k]] == t[k]:  # the step's end: its own state and risk
                    _record(b, gi[k], ytmp, k, r_new[k], keep_traj, p, s, out_Q, out_M, out_risk)
                    gi[k] += 1
                if gi[k] < G and grid[gi[k]] < t[k]:
                    theta[k] = (grid[gi[k]] - t_start[k]) / hs[k]
                    pending += 1
            if pending == 0:
                break
            if pending == 1:
                for k in range(L):
                    if theta[k] >= 0.0:
                        _dense(y, K, hs[k], theta[k], k, P, yint)
                        r_grid[k] = risk_lane(yint, Tl, k, p, s)
            else:
                _dense_lanes(y, K, hs, theta, P, yint)
                risk_lanes(yint, Tl, p, s, 0, L, racc, r_grid)
            for k in range(L):
                if theta[k] >= 0.0:
                    _record(member[k], gi[k], yint, k, r_grid[k], keep_traj, p, s, out_Q, out_M, out_risk)
                    gi[k] += 1

        # Accepted lanes move to the step's end, row by row over the block (FSAL: K1 <- K7).
        for i in range(ns):
            for k in range(L):
                if accepted[k]:
                    y[i, k] = ytmp[i, k]
                    K[0, i, k] = K[6, i, k]

        for k in range(L):
            b = member[k]
            st_k = lane_status[k]
            if b < 0 or st_k == _RUNNING:
                continue

            # The member stops: fill its remaining grid points and summaries, free the lane.
            if st_k == _DIVERGED or st_k == _MAX_STEPS:
                for g in range(gi[k], G):
                    out_risk[b, g] = np.nan
                    if keep_traj:
                        out_Q[b, g] = np.nan
                        out_M[b, g] = np.nan
                if st_k == _DIVERGED:
                    for i in range(ns):
                        y[i, k] = np.nan
            elif st_k == _CONVERGED:
                r_last = risk_lane(y, Tl, k, p, s)
                for g in range(gi[k], G):
                    _record(b, g, y, k, r_last, keep_traj, p, s, out_Q, out_M, out_risk)
            elif escaped[k]:
                # At alpha_max: still descending towards zero error if the risk falls at least as
                # fast as 1/alpha (-d log risk / d log alpha >= 1). Towards zero error it falls
                # exponentially (p = p*) or as alpha^-2 (p > p*, algebraic approach of the student
                # noise); towards a finite-risk fixed point the exponent goes to 0.
                r_last = risk_lane(y, Tl, k, p, s)
                slope = -t[k] * _risk_rate(y, K[0], Tl, k, p, s) / r_last
                # A risk already below settled_risk is on its way to zero error whatever its slope:
                # from a tiny student noise q the algebraic decay needs alpha ~ 1/q before it shows.
                st_k = _SETTLED if slope < 1.0 and r_last > settled_risk else _ESCAPED
            if not keep_traj:
                for i in range(p):
                    for j in range(p):
                        out_Q[b, 0, i, j] = y[i * p + j, k]
                    for j in range(s):
                        out_M[b, 0, i, j] = y[pp + i * s + j, k]
            status[b] = st_k
            alpha_stop[b] = t[k]
            steps[b] = nst[k]
            member[k] = -1
            active -= 1
            # An empty lane computes on zeros (finite, no denormals) until it is refilled.
            for i in range(ns):
                y[i, k] = 0.0
                K[0, i, k] = 0.0
            for i in range(s * s):
                Tl[i, k] = 0.0
            et[k] = 0.0
            nz[k] = 0.0
            lane_status[k] = _RUNNING


def _default_batch_dims(ndim: int) -> tuple[str, ...]:
    return ("member",) if ndim == 1 else tuple(f"batch_{i}" for i in range(ndim))


def integrate(
    Q0: ArrayLike,
    M0: ArrayLike,
    eta: ArrayLike,
    alpha: ArrayLike | None = None,
    T: ArrayLike | None = None,
    *,
    noise: ArrayLike = 0.0,
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
    noise : scalar or (...) label-noise variances (>= 0), broadcast like ``eta``: teacher labels
        ``y + sqrt(noise) xi``, which adds ``(4 eta^2/p^2) noise Q`` to ``dQ/dalpha``
        (:func:`quadsgd.theory.ode_rhs`). ``risk`` stays the clean population risk (the noisy
        test loss is ``risk + noise / 2``).
    escape_fraction : ``f`` of the escape threshold ``f * eps_plateau``, with the plateau risk of
        each member's teacher ``T`` (:func:`quadsgd.theory.plateau_risk`).
    overlaps : ``"trajectory"`` keeps ``Q, M`` on the grid; ``"final"`` keeps only the last
        state (``Q_final, M_final``), for sweeps that need summaries (memory O(batch), not
        O(batch x grid)).
    batch_dims, coords : names (and coordinates) of the leading batch dimensions.
    chunk, progress : members per compiled call, and a tqdm bar over chunks. Within a call the
        members travel in blocks of up to ``quadsgd._kernels.LANES`` (32) lanes.

    Returns
    -------
    Dataset with ``risk (..., alpha)``, ``Q (..., alpha, k, l)``, ``M (..., alpha, k, r)``,
    ``status``, ``alpha_escape``, ``alpha_stop``, ``n_steps`` (see :mod:`quadsgd.storage`).
    Grid values are read from the integrator's 4th-order continuous extension inside its
    steps (the value at ``alpha_max`` is a step end). A member stops early once converged
    (later grid points hold its last state) or diverged (later points NaN); divergence is a
    status, never an exception.

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
    eta_b, noise_arr = _validate.eta_and_noise(eta, noise)
    Qf, Mf, Tf, etaf, batch = flatten_batch(Q0, M0, T, eta_b, joint_psd=True, names=("Q0", "M0", "T"))
    assert etaf is not None  # flatten_batch returns None only when no eta is given
    _validate.positive_array("eta", etaf)
    grid = log_alpha_grid(1e3) if alpha is None else _validate.alpha_grid("alpha", alpha)
    if overlaps not in ("trajectory", "final"):
        raise ValueError(f"overlaps must be 'trajectory' or 'final'; got {overlaps!r}")
    escape_fraction = _validate.fraction("escape_fraction", escape_fraction)
    rtol = _validate.positive_real("rtol", rtol)
    atol = _validate.positive_real("atol", atol)  # > 0: the error scale atol + rtol |y| divides
    risk_floor = _validate.real("risk_floor", risk_floor, low=0.0, low_open=False)
    settled_risk = _validate.real("settled_risk", settled_risk, low=0.0, low_open=False)
    divergence_trace = _validate.positive_real("divergence_trace", divergence_trace)
    max_steps = _validate.integer("max_steps", max_steps, minimum=0)
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
    noisef = flat_noise(noise_arr, batch)

    starts = range(0, n, max(1, chunk))
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=math.ceil(n / max(1, chunk)), desc=f"ODE p={p} p*={s}", unit="chunk")
    for a in starts:
        sl = slice(a, min(n, a + max(1, chunk)))
        _integrate_block(
            Qf[sl], Mf[sl], Tf[sl], etaf[sl], noisef[sl], threshold[sl], grid, rtol, atol, risk_floor,
            settled_risk, divergence_trace, max_steps, keep, out_Q[sl], out_M[sl], out_risk[sl],
            status[sl], alpha_escape[sl], alpha_stop[sl], steps[sl], _A, _E, _P,
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
            "noise": float(noisef[0]) if n and np.all(noisef == noisef[0]) else "per member",
            "rtol": rtol,
            "atol": atol,
            "quadsgd_version": __version__,
        },
        **traj,
    )
    return ds
