"""Workload 1: batched ODE integration against scipy's ``solve_ivp`` per initial condition.

Ours: :func:`quadsgd.ode.integrate` on a batch of seeds (``overlaps="final"`` and
``"trajectory"``). Baseline: ``solve_ivp`` (RK45, the same rtol/atol) called once per initial
condition with a plain numpy right-hand side, on the first few seeds of the same batch, with a
terminal event at the same risk floor at which ours stops (scaled to a per-member cost).
Floor: our accepted steps times six evaluations of the compiled right-hand side, timed alone;
``ours / floor`` is the integrator's bookkeeping (rejected steps, error norms, events, landing
on the grid). Accuracy: the largest deviation of each risk curve from a DOP853 solution at
rtol 1e-12 on the recording grid.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from benchmarks import Row, median_time
from quadsgd._kernels import rhs1
from quadsgd.eta_opt import EtaOptSearch
from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.ode import DEFAULTS, integrate
from quadsgd.sweep.drivers import find_eta_opt
from quadsgd.theory import risk

N = 10_000
TARGET = 50.0
STAGES = 6  # right-hand side evaluations per accepted Dormand-Prince step (FSAL)


def numpy_rhs(Q, M, eta, p, s):
    """docs/conventions.md section 3 with ``T = I`` in plain numpy: what a user would write."""
    trQ = np.trace(Q)
    a = 1.0 - trQ / p
    QQ = Q @ Q
    X = M @ M.T
    trX = np.trace(X)
    XQ = X @ Q
    dM = (2 * eta / p) * (a * M + 2 * (M / s - Q @ M / p))
    e2 = a * Q + 2 * (X / s - QQ / p)
    tt = ((s * s + 2 * s) * Q + 4 * s * X + 8 * X) / s**2
    st = -2 * ((s * trQ + 2 * trX) * Q + 2 * trQ * X + 2 * s * QQ + 4 * (XQ + XQ.T)) / (p * s)
    ss = ((trQ**2 + 2 * np.trace(QQ)) * Q + 4 * trQ * QQ + 8 * Q @ QQ) / p**2
    dQ = (4 * eta / p) * e2 + (4 * eta**2 / p**2) * (tt + st + ss)
    return dQ, dM


def _flat_problem(p, s, eta):
    def f(t, y):
        dQ, dM = numpy_rhs(y[: p * p].reshape(p, p), y[p * p :].reshape(p, s), eta, p, s)
        return np.concatenate([dQ.ravel(), dM.ravel()])

    def below_floor(t, y):
        return float(risk(y[: p * p].reshape(p, p), y[p * p :].reshape(p, s))) - DEFAULTS["risk_floor"]

    below_floor.terminal = True
    return f, below_floor


def _solve(p, s, eta, Q0, M0, grid, method, rtol, atol, event=True):
    f, ev = _flat_problem(p, s, eta)
    y0 = np.concatenate([Q0.ravel(), M0.ravel()])
    return solve_ivp(f, (0.0, grid[-1]), y0, method=method, rtol=rtol, atol=atol, t_eval=grid,
                     events=ev if event else None)


def _risk_curve(sol, p, s, G):
    out = np.full(G, np.nan)
    y = sol.y.T
    out[: y.shape[0]] = risk(y[:, : p * p].reshape(-1, p, p), y[:, p * p :].reshape(-1, p, s))
    return out


@njit(cache=False)
def _rhs_loop(Q, M, T, eta, n):  # pragma: no cover - compiled
    p, s = M.shape
    dQ = np.empty((p, p))
    dM = np.empty((p, s))
    wpp = np.empty((4, p, p))
    wps = np.empty((2, p, s))
    acc = 0.0
    for _ in range(n):
        rhs1(Q, M, T, eta, dQ, dM, wpp, wps)
        acc += dQ[0, 0]
    return acc


def rhs_seconds(p, s, eta, repeats):
    """One compiled right-hand side evaluation at a generic (dense) state."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((p, p))
    Q = A @ A.T / p + np.eye(p)
    M = 0.3 * rng.standard_normal((p, s))
    T = np.eye(s)
    _rhs_loop(Q, M, T, eta, 1)
    n = max(200, int(2e6 / (p * p * (p + s))))
    return median_time(lambda: _rhs_loop(Q, M, T, eta, n), repeats) / n


#: problems, members in our batch (64 at p = 32: per-member cost does not depend on the batch,
#: the integrator being per member), baseline members, repeats, seeds of the eta_opt search.
SIZES = {
    "full": ([(2, 1), (2, 4), (8, 1), (8, 4), (32, 1), (32, 4)], 256, 4, 3, 4),
    "quick": ([(2, 1), (8, 4)], 64, 2, 2, 2),
    "smoke": ([(2, 1)], 8, 1, 3, 2),
}


def run(size: str) -> list[Row]:
    problems, batch_size, n_base, repeats, eta_seeds = SIZES[size]
    grid = log_alpha_grid(1e3)
    G = grid.size
    rtol, atol = DEFAULTS["rtol"], DEFAULTS["atol"]
    rows = []
    for p, s in problems:
        t0 = time.perf_counter()
        batch = min(batch_size, 64) if p >= 32 else batch_size
        opt = find_eta_opt(p, s, seeds=np.arange(eta_seeds), N=N, alpha_max=1e3,
                           search=EtaOptSearch(refine_points=5, refine_rounds=1))
        eta = 0.5 * p * opt.eta_over_p_opt
        t_eta = time.perf_counter() - t0
        Q0, M0, T = ode_initial(p, s, N, np.arange(batch))

        ref = []
        for m in range(n_base):
            ref.append(_risk_curve(_solve(p, s, eta, Q0[m], M0[m], grid, "DOP853", 1e-12, 1e-14, event=False), p, s, G))
        sols = []

        # The closures are timed (called) within this iteration; the defaults bind its values.
        def baseline(sols=sols, p=p, s=s, eta=eta, Q0=Q0, M0=M0):
            sols.clear()
            sols.extend(_solve(p, s, eta, Q0[m], M0[m], grid, "RK45", rtol, atol) for m in range(n_base))

        t_base = median_time(baseline, repeats) / n_base
        base = [_risk_curve(sol, p, s, G) for sol in sols]
        base_nfev = np.mean([sol.nfev for sol in sols])
        dev_base = max(np.nanmax(np.abs(b - r)) for b, r in zip(base, ref, strict=True))
        t_rhs = rhs_seconds(p, s, eta, repeats)

        for mode in ("final", "trajectory"):
            out = {}

            def ours(out=out, Q0=Q0, M0=M0, eta=eta, T=T, mode=mode):
                out["ds"] = integrate(Q0, M0, eta, grid, T, overlaps=mode)

            t_ours = median_time(ours, repeats) / batch
            ds = out["ds"]
            steps = ds.n_steps.values
            dev_ours = max(np.nanmax(np.abs(ds.risk.values[m] - ref[m])) for m in range(n_base))
            floor = steps.mean() * STAGES * t_rhs
            rows.append(Row(
                workload=f"ODE p={p} p*={s} {mode} (per member)",
                unit="s",
                baseline=t_base,
                ours=t_ours,
                floor=floor,
                target=f"ratio >= {TARGET:g}",
                medians={"baseline per member": t_base, "ours per member": t_ours, "compiled RHS": t_rhs},
                met=t_base / t_ours >= TARGET and dev_ours <= max(10 * dev_base, 1e-6),
                details={
                    "eta (0.5 eta_opt)": f"{eta:.4g}",
                    "steps/member ours (batch mean)": f"{steps.mean():.0f}",
                    "steps/member ours (baseline seeds)": f"{steps[:n_base].mean():.0f}",
                    "steps/member baseline (nfev/6)": f"{base_nfev / 6:.0f}",
                    "ours per step per member": f"{t_ours / steps.mean() * 1e6:.3g} us",
                    "baseline per step": f"{t_base / (base_nfev / 6) * 1e6:.3g} us",
                    "compiled RHS": f"{t_rhs * 1e6:.3g} us",
                    "max |risk - ref| ours": f"{dev_ours:.1e}",
                    "max |risk - ref| baseline": f"{dev_base:.1e}",
                    "batch / baseline members": f"{batch} / {n_base}",
                    "eta_opt search (not timed)": f"{t_eta:.1f} s",
                },
            ))
    return rows
