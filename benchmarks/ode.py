"""Workload 1: batched ODE integration against scipy's ``solve_ivp`` per initial condition.

Ours: :func:`quadsgd.ode.integrate` on a batch of seeds (``overlaps="final"`` and
``"trajectory"``), members advanced in SIMD lane blocks. Baseline: ``solve_ivp`` (RK45, the same
rtol/atol) called once per initial condition with a plain numpy right-hand side, on the first few
seeds of the same batch, with a terminal event at the same risk floor at which ours stops (scaled
to a per-member cost). Floor: the machine's, counted: our accepted steps times the multiply-adds
of one Dormand-Prince step (six right-hand sides, stage sums and error norm;
:func:`multiply_adds_per_step`) divided by the core's vector multiply-add rate, measured in the
same run by a small compiled FMA-throughput kernel (:func:`fma_rate`). ``ours / floor`` is what
the integrator spends beyond the arithmetic: memory traffic, scalar code, bookkeeping (rejected
steps, error control, events, dense output on the grid). Accuracy: the largest deviation of each
risk curve from a DOP853 solution at rtol 1e-12 on the recording grid.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from benchmarks import Row, median_time
from quadsgd._kernels import CONTIGUOUS_P, LANES, rhs_lanes, rhs_rows
from quadsgd.eta_opt import EtaOptSearch
from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.ode import DEFAULTS, integrate
from quadsgd.sweep.drivers import find_eta_opt
from quadsgd.theory import risk

N = 10_000
#: Target ratio (baseline / ours) per p (issue 20.1).
TARGET = {2: 50.0, 8: 50.0, 32: 15.0}
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


@njit(cache=False, fastmath={"contract"})
def _fma_kernel(a, c, d, n):  # pragma: no cover - compiled
    """16 dependent multiply-adds per element of ``a``; the elements are independent, so the
    vectorized loop keeps enough chains in flight to reach the FMA units' throughput."""
    for _ in range(n):
        for j in range(a.shape[0]):
            v = a[j]
            v = v * c + d; v = v * c + d; v = v * c + d; v = v * c + d  # noqa: E702
            v = v * c + d; v = v * c + d; v = v * c + d; v = v * c + d  # noqa: E702
            v = v * c + d; v = v * c + d; v = v * c + d; v = v * c + d  # noqa: E702
            v = v * c + d; v = v * c + d; v = v * c + d; v = v * c + d  # noqa: E702
            a[j] = v


def fma_rate(repeats):
    """The core's vector multiply-add rate (multiply-adds per second), best of ``repeats``: an
    array that stays in L1, fused multiply-adds (this kernel only; the library never contracts)."""
    a = np.full(512, 0.5)
    _fma_kernel(a, 0.999, 5e-4, 1)
    n = 20_000
    best = 0.0
    for _ in range(max(3, repeats)):
        t0 = time.perf_counter()
        _fma_kernel(a, 0.999, 5e-4, n)
        best = max(best, 16 * a.size * n / (time.perf_counter() - t0))
    return best


def multiply_adds_per_step(p, s):
    """Multiply-adds of one accepted Dormand-Prince step of one member: six right-hand sides as
    :func:`quadsgd._kernels.rhs_lanes` computes them, the stage sums (21 per state entry) and the
    error estimate (7 per state entry); scalars per member are not counted. Both paths compute
    the upper triangles of ``Q Q`` and ``Q (Q Q)`` (p^2 (p + 1)), ``M T`` and ``Q M``; below
    ``CONTIGUOUS_P`` the O(p^2 p*) part of dQ is built from ``M M^T``, ``(M T) M^T`` and
    ``X Q + Q X`` and a six-term sum, from it on as one rank-2 p* update of a three-term sum."""
    tri = p * (p + 1) // 2
    common = p * p * (p + 1) + p * s * s + p * p * s + 3 * p * s
    if p >= CONTIGUOUS_P:
        rhs = common + 5 * p * s + tri * (3 + 2 * s)
    else:
        rhs = common + tri * s + tri * s + 2 * tri * s + 6 * tri
    return STAGES * rhs + 28 * (p * p + p * s)


@njit(cache=False)
def _rhs_loop(y, T, eta, noise, p, s, out, w, n):  # pragma: no cover - compiled
    for _ in range(n):
        rhs_lanes(y, T, eta, noise, p, s, out, w)
    return out[0, 0]


def rhs_seconds(p, s, eta, repeats):
    """One compiled right-hand side per member, in a full block of lanes at generic states."""
    rng = np.random.default_rng(0)
    ns = p * p + p * s
    y = np.empty((ns, LANES))
    for k in range(LANES):
        A = rng.standard_normal((p, p))
        y[: p * p, k] = (A @ A.T / p + np.eye(p)).ravel()
        y[p * p :, k] = 0.3 * rng.standard_normal(p * s)
    T = np.repeat(np.eye(s).reshape(-1, 1), LANES, axis=1)
    e = np.full(LANES, eta)
    nz = np.zeros(LANES)
    out = np.empty_like(y)
    w = np.empty((rhs_rows(p, s), LANES))
    _rhs_loop(y, T, e, nz, p, s, out, w, 1)
    n = max(20, int(2e5 / (p * p * (p + s))))
    return median_time(lambda: _rhs_loop(y, T, e, nz, p, s, out, w, n), repeats) / n / LANES


#: problems, members in our batch (64 at p = 32, two blocks of lanes, to keep the run short),
#: baseline members, repeats, seeds of the eta_opt search.
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
    rate = fma_rate(repeats)
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
            madds = multiply_adds_per_step(p, s)
            floor = steps.mean() * madds / rate
            target = TARGET[p]
            rows.append(Row(
                workload=f"ODE p={p} p*={s} {mode} (per member)",
                unit="s",
                baseline=t_base,
                ours=t_ours,
                floor=floor,
                target=f"ratio >= {target:g}",
                medians={"baseline per member": t_base, "ours per member": t_ours, "compiled RHS per member": t_rhs,
                         "multiply-add rate": rate},
                met=t_base / t_ours >= target and dev_ours <= max(10 * dev_base, 1e-6),
                details={
                    "eta (0.5 eta_opt)": f"{eta:.4g}",
                    "steps/member ours (batch mean)": f"{steps.mean():.0f}",
                    "steps/member ours (baseline seeds)": f"{steps[:n_base].mean():.0f}",
                    "steps/member baseline (nfev/6)": f"{base_nfev / 6:.0f}",
                    "ours per step per member": f"{t_ours / steps.mean() * 1e6:.3g} us",
                    "baseline per step": f"{t_base / (base_nfev / 6) * 1e6:.3g} us",
                    "compiled RHS per member (block of lanes)": f"{t_rhs * 1e6:.3g} us",
                    "RHS path": "contiguous per lane" if p >= CONTIGUOUS_P else "across lanes",
                    "multiply-adds per step": f"{madds}",
                    "core multiply-add rate (FMA kernel)": f"{rate / 1e9:.3g} G/s",
                    "floor per step": f"{madds / rate * 1e6:.3g} us",
                    "max |risk - ref| ours": f"{dev_ours:.1e}",
                    "max |risk - ref| baseline": f"{dev_base:.1e}",
                    "batch / baseline members": f"{batch} / {n_base}",
                    "eta_opt search (not timed)": f"{t_eta:.1f} s",
                },
            ))
    return rows
