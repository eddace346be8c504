"""What sets the ODE's step count after the escape: the explicit integrator's stability limit.

For each (p, p*, eta/p), one member from the paper's initialization (N = 10^4, seed 0) is
integrated to alpha_1 and to alpha_2 (the same accepted steps up to alpha_1); the step size in
between is ``(alpha_2 - alpha_1) / (steps_2 - steps_1)``. Near the zero-error manifold the
largest decay rate of the linearized flow is ``theory.zero_error_fastest_rate`` and an explicit
step is stable only while ``h * rate`` stays inside the scheme's real stability interval, here
computed from the Dormand-Prince tableau of ``quadsgd.ode`` (``R(z) = 1 + z b^T (I - z A)^-1 1``).
Prints a Markdown table: measured h, h * rate against the bound, and the steps predicted from the
bound against those taken (docs/performance.md, "The paper run"). A member that has stopped by
alpha_1 (diverged, or converged to the risk floor) gets a row without a step size; ``p < p*``
has no zero-error manifold and is refused.
Usage: python scripts/tail_stiffness.py [--alpha 1e4 2e4] [--case P PSTAR ETA_OVER_P] [--case ...]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import brentq

from quadsgd import ode, theory
from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.status import Status

CASES = [(16, 1, 0.1), (16, 1, 0.1641), (16, 4, 0.1), (16, 4, 0.3), (32, 1, 0.1), (32, 4, 0.2), (32, 4, 0.3307)]


def stability_bound() -> float:
    """The real stability interval of the Dormand-Prince 5(4) solution: ``|R(-x)| = 1``."""
    A, b = ode._A[:6, :6], ode._A[6, :6]

    def R(z: float) -> float:
        return 1.0 + z * float(b @ np.linalg.solve(np.eye(6) - z * A, np.ones(6)))

    return brentq(lambda x: abs(R(-x)) - 1.0, 2.0, 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, nargs=2, default=[1e4, 2e4])
    parser.add_argument("--case", type=float, nargs=3, action="append", metavar=("P", "PSTAR", "ETA_OVER_P"),
                        help="one case (repeat the flag for more); default: the table of docs/performance.md")
    args = parser.parse_args()
    cases = [(int(p), int(s), e) for p, s, e in args.case] if args.case else CASES
    for p, s, _ in cases:
        if p < s:
            parser.error(f"--case {p} {s}: p < pstar has no zero-error manifold")
    bound = stability_bound()
    a1, a2 = args.alpha
    print(f"Dormand-Prince 5(4) real stability interval: {bound:.4f}; tail alpha {a1:g} -> {a2:g}\n")
    print("| p | p* | eta/p | status at alpha_2 | risk at alpha_2 | h | rate | h * rate | steps | predicted |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p, s, e in cases:
        Q0, M0, T = ode_initial(p, s, 10_000, 0)
        runs = [ode.integrate(Q0, M0, p * e, log_alpha_grid(a, 16), T, overlaps="final") for a in (a1, a2)]
        steps = int(runs[1].n_steps) - int(runs[0].n_steps)
        rate = float(theory.zero_error_fastest_rate(p, s, p * e))
        head = f"| {p} | {s} | {e:g} | {Status(int(runs[1].status)).name.lower()} | {float(runs[1].risk[-1]):.1e} "
        if steps == 0 or float(runs[1].alpha_stop) < a2:  # stopped before alpha_2: not a whole span of steps
            print(f"{head}| - | {rate:.4f} | - | {steps} | - |", flush=True)
            continue
        h = (a2 - a1) / steps
        print(f"{head}| {h:.4f} | {rate:.4f} | {h * rate:.4f} | {steps} | {(a2 - a1) * rate / bound:.0f} |", flush=True)


if __name__ == "__main__":
    main()
