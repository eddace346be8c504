"""Scatter of finite-N SGD escape times around the ODE's, against N and eta (Gram chain).

Each seed's SGD run (method="gram") is compared with the ODE started from that run's own
measured M(0); prints a Markdown table of the ratio alpha_esc(SGD) / alpha_esc(ODE) and of the
difference, over seeds. Usage: python scripts/escape_scatter.py [--seeds 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from quadsgd import ode, sgd
from quadsgd.grids import eta_from_eta_over_p, log_alpha_grid
from quadsgd.sweep.drivers import ode_scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--N", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    seeds = np.arange(args.seeds)
    print("| p | p* | eta/p | N | ODE alpha_esc (median) | ratio median | ratio IQR | sd(SGD - ODE) | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p, pstar in [(2, 1), (4, 2)]:
        for eta_scaled in (0.05, 0.1):
            eta = float(eta_from_eta_over_p(eta_scaled, p))
            for N in args.N:
                start = time.perf_counter()
                # alpha_max from the ODE's escape times for this N's M(0) law, with margin.
                scan = ode_scan(p, pstar, eta_over_p=[eta_scaled], seeds=seeds, N=N, alpha=log_alpha_grid(1e4, 64),
                                progress=False)
                guess = np.nanmax(scan.alpha_escape.values)
                run = sgd.simulate(p, pstar, eta=eta, N=N, alpha_max=2.5 * guess, seed=seeds, method="gram")
                o = ode.integrate(run.Q.isel(alpha=0).values, run.M0.values, eta, run.alpha.values,
                                  batch_dims=("seed",), overlaps="final")
                ratio = run.alpha_escape.values / o.alpha_escape.values
                diff = run.alpha_escape.values - o.alpha_escape.values
                q1, q3 = np.nanpercentile(ratio, [25, 75])
                print(f"| {p} | {pstar} | {eta_scaled} | {N:.0e} | {np.median(o.alpha_escape.values):.1f} | "
                      f"{np.nanmedian(ratio):.3f} | {q1:.3f}-{q3:.3f} | {np.nanstd(diff, ddof=1):.2f} | "
                      f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
