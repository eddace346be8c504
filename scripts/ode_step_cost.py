"""CPU time per member-step of the batched ODE integrator, for before/after comparisons.

For each (p, p*, eta/p): 64 members from the paper's initialization (N = 10^4, seeds 0-63)
integrated by ``quadsgd.ode.integrate`` to alpha = 10^3 (``overlaps="final"``), once on the
benchmark's 200-point grid and once with only its two ends (no grid point read from the
continuous extension), after one warm-up call; the best of three runs in CPU time
(``time.process_time``) over the accepted steps. Run it from another tree's sources with
``PYTHONPATH=OTHER/src`` to compare commits (a separate ``NUMBA_CACHE_DIR`` per tree).
Prints a Markdown table.
Usage: python scripts/ode_step_cost.py [--case P PSTAR ETA_OVER_P] [--case ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from quadsgd import ode
from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial

# eta/p of the benchmark's rows (0.5 eta_opt at N = 10^4, benchmarks/ode.py)
CASES = [(2, 1, 0.0692), (8, 4, 0.1159), (32, 1, 0.0787), (32, 4, 0.15)]


def step_cost(p: int, pstar: int, eta_over_p: float, grid: np.ndarray) -> tuple[float, float]:
    """(microseconds per member-step, mean accepted steps per member)."""
    Q0, M0, T = ode_initial(p, pstar, 10_000, np.arange(64))
    eta = eta_over_p * p
    ode.integrate(Q0[:2], M0[:2], eta, grid, T, overlaps="final")
    best = np.inf
    for _ in range(3):
        t0 = time.process_time()
        ds = ode.integrate(Q0, M0, eta, grid, T, overlaps="final")
        best = min(best, time.process_time() - t0)
    steps = ds.n_steps.values
    return 1e6 * best / steps.sum(), float(steps.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=3, type=float, action="append", metavar=("P", "PSTAR", "ETA_OVER_P"))
    args = parser.parse_args()
    cases = [(int(p), int(s), e) for p, s, e in args.case] if args.case else CASES
    full = log_alpha_grid(1e3)
    ends = np.array([0.0, 1e3])
    print("| p | p* | eta/p | steps | us per member-step, 200-point grid | same, grid ends only |")
    print("| --- | --- | --- | --- | --- | --- |")
    for p, s, e in cases:
        t_full, steps = step_cost(p, s, e, full)
        t_ends, _ = step_cost(p, s, e, ends)
        print(f"| {p} | {s} | {e:g} | {steps:.0f} | {t_full:.1f} | {t_ends:.1f} |")


if __name__ == "__main__":
    main()
