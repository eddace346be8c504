"""Accuracy of ``ode.integrate`` against a tight reference, at several tolerances.

Members of the default sweep (p in {1, 2, 4, 8}, p* in {1, 2}, N = 10^4, the paper's
initialization) at eta/p in {0.0316, 0.1, 0.147} and seeds 0-2, recorded on the default config's
64-point grid to alpha = 10^4. Reference: scipy's DOP853 at rtol 1e-12, atol 1e-14 on the same
right-hand side (``theory.ode_rhs``). Prints, per rtol, the largest |risk - reference| over the
grid and the members, and the mean accepted steps per member (docs/performance.md, section 1).
Usage: python scripts/ode_accuracy.py [--rtol 1e-8 1e-9 3e-10]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.integrate import solve_ivp

from quadsgd import init, theory
from quadsgd.grids import log_alpha_grid
from quadsgd.ode import integrate


def reference(p: int, pstar: int, eta: float, Q0: np.ndarray, M0: np.ndarray, grid: np.ndarray) -> np.ndarray:
    def f(_: float, y: np.ndarray) -> np.ndarray:
        dQ, dM = theory.ode_rhs(y[:p * p].reshape(p, p), y[p * p:].reshape(p, pstar), None, eta)
        return np.concatenate([dQ.ravel(), dM.ravel()])

    sol = solve_ivp(f, (0.0, grid[-1]), np.concatenate([Q0.ravel(), M0.ravel()]), method="DOP853",
                    t_eval=grid, rtol=1e-12, atol=1e-14)
    y = sol.y.T
    return theory.risk(y[:, :p * p].reshape(-1, p, p), y[:, p * p:].reshape(-1, p, pstar))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtol", type=float, nargs="+", default=[1e-8, 1e-9, 3e-10])
    args = parser.parse_args()
    grid = log_alpha_grid(1e4, num=64)
    worst = {rt: 0.0 for rt in args.rtol}
    steps: dict[float, list[int]] = {rt: [] for rt in args.rtol}
    for p in (1, 2, 4, 8):
        for pstar in (1, 2):
            Q0, M0, _ = init.ode_initial(p, pstar, 10_000, np.arange(3))
            for eta_over_p in (0.0316, 0.1, 0.147):
                eta = eta_over_p * p
                for seed in range(3):
                    runs = {rt: integrate(Q0[seed], M0[seed], eta, grid, rtol=rt) for rt in args.rtol}
                    stop = min(float(r.alpha_stop) for r in runs.values())
                    g = grid[grid <= stop]
                    ref = reference(p, pstar, eta, Q0[seed], M0[seed], g)
                    for rt, r in runs.items():
                        worst[rt] = max(worst[rt], float(np.abs(r.risk.values[:g.size] - ref).max()))
                        steps[rt].append(int(r.n_steps))
    print("| rtol | max abs(risk - DOP853 rtol 1e-12) | mean accepted steps per member |")
    print("|---|---|---|")
    for rt in args.rtol:
        print(f"| {rt:g} | {worst[rt]:.2e} | {np.mean(steps[rt]):.0f} |")


if __name__ == "__main__":
    main()
