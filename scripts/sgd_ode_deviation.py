"""Pre-escape deviation of finite-N SGD from the ODE: what it depends on, measured as such.

For each (p, p*), eta/p and N, S seeds of the exact Gram chain are compared with the ODE started
from each run's own M(0), on a uniform recording grid of spacing ``--dalpha``. Observables:
``D_risk = sqrt(N) (risk_SGD - risk_ODE)`` and ``D_Q = sqrt(N) (Q_kk,SGD - Q_kk,ODE)`` (max over k).
For each window ``alpha <= c * alpha_esc(ODE, own seed)`` the per-seed maximum over the window
is summarised over seeds (median, 90% quantile, max), on the full grid and on every 10th point.

The prediction is the linear-noise approximation (LNA, van Kampen) of the Gram chain around the
plateau trajectory (M = 0): ``delta = sqrt(N)(Q_SGD - Q_ODE)`` obeys ``d delta = J delta dalpha
+ D^{1/2} dW`` with J the Jacobian of the ODE's dQ/dalpha and D the covariance of one sample's
``N dQ``, both taken along the ODE. D is proportional to eta^2 and J to eta, so the standard
deviation grows like ``eta sqrt(D_1 alpha)`` at first and saturates at ``~ sqrt(eta)``
(Ornstein-Uhlenbeck). The predicted window maxima are read off simulated LNA paths on the
same grid. The LNA ignores M, so it is meant for windows that end well before escape (c <~ 0.5);
beyond, the growth of M makes sqrt(N) D grow with N (measured: the fitted exponent of N).

Usage: python scripts/sgd_ode_deviation.py [--seeds 32] [--N 1000 10000 100000] [--quick]
Prints Markdown tables; ``--json FILE`` also stores every number.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy import stats

from quadsgd.init import finite_n_overlaps
from quadsgd.ode import integrate
from quadsgd.sgd import simulate
from quadsgd.theory import risk as theory_risk

#: eta_opt / p at N = 1e4 (docs/science.md, table of the plateau section)
ETA_OPT_OVER_P = {(2, 1): 0.1427, (4, 2): 0.1945, (8, 2): 0.2168}
WINDOWS = (0.25, 0.5, 0.8, 1.0)


# ----------------------------------------------------------------------------- measurement
def ode_escape_times(p: int, pstar: int, eta: float, N: int, seeds: np.ndarray) -> np.ndarray:
    """ODE escape time of each seed, started from the Gram chain's own M(0)."""
    M0 = np.stack([finite_n_overlaps(p, pstar, N, int(s)) for s in seeds])
    grid = np.linspace(0.0, 400.0, 4001)
    o = integrate(np.broadcast_to(np.eye(p), (len(seeds), p, p)), M0, eta, grid, batch_dims=("seed",),
                  overlaps="final")
    return o.alpha_escape.values


def measure(p: int, pstar: int, eta: float, N: int, seeds: np.ndarray, dalpha: float,
            c_max: float = 1.0) -> dict:
    """SGD and its own-M(0) ODE on a uniform grid up to c_max * (latest ODE escape time)."""
    ae = ode_escape_times(p, pstar, eta, N, seeds)
    amax = c_max * np.nanmax(ae)
    grid = np.round(np.arange(0.0, amax + dalpha, dalpha) * N) / N
    t0 = time.perf_counter()
    s = simulate(p, pstar, eta=eta, N=N, seed=seeds, alpha=grid)
    wall = time.perf_counter() - t0
    o = integrate(np.broadcast_to(np.eye(p), (len(seeds), p, p)), s.M0.values, eta, s.alpha.values,
                  batch_dims=("seed",))
    a = s.alpha.values
    dr = math.sqrt(N) * (s.risk.values - o.risk.values)
    qs = np.diagonal(s.Q.values, axis1=-2, axis2=-1)
    qo = np.diagonal(o.Q.values, axis1=-2, axis2=-1)
    dq = math.sqrt(N) * (qs - qo)  # (S, G, p)
    return dict(alpha=a, d_risk=dr, d_q=dq, alpha_esc=o.alpha_escape.values, sgd_seconds=wall)


def window_max(alpha: np.ndarray, d: np.ndarray, alpha_esc: np.ndarray, c: float, every: int = 1) -> np.ndarray:
    """Per-seed max of |d| over grid points alpha <= c alpha_esc (every ``every``-th point)."""
    idx = np.arange(0, alpha.size, every)
    a = alpha[idx]
    x = np.abs(d[:, idx]) if d.ndim == 2 else np.abs(d[:, idx]).max(axis=-1)
    m = a[None, :] <= c * alpha_esc[:, None]
    return np.nanmax(np.where(m, x, -np.inf), axis=1)


def summary(mx: np.ndarray) -> tuple[float, float, float]:
    return float(np.median(mx)), float(np.quantile(mx, 0.9)), float(np.max(mx))


# ---------------------------------------------------------------------------- LNA prediction
def _tri(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(p)


def _sym(v: np.ndarray, p: int) -> np.ndarray:
    i, j = _tri(p)
    Q = np.zeros(v.shape[:-1] + (p, p))
    Q[..., i, j] = v
    Q[..., j, i] = v
    return Q


def _drift(v: np.ndarray, p: int, pstar: int, eta: float) -> np.ndarray:
    from quadsgd.theory import ode_rhs

    dQ, _ = ode_rhs(_sym(v, p), np.zeros((p, pstar)), np.eye(pstar), eta)
    i, j = _tri(p)
    return dQ[i, j]


def lna(p: int, pstar: int, eta: float, alpha: np.ndarray, *, n_paths: int = 4000, n_mc: int = 40_000,
        substeps: int = 5, seed: int = 12345) -> dict:
    """Linear-noise approximation of sqrt(N)(Q_SGD - Q_ODE) around the plateau trajectory (M = 0).

    Returns the standard deviations ``sd_risk``, ``sd_q`` (one diagonal entry) on ``alpha`` and
    simulated Gaussian paths ``risk`` (n_paths, G) and ``q`` (n_paths, G, p) on the same grid.
    """
    rng = np.random.default_rng(seed)
    i, j = _tri(p)
    m = i.size
    ref = integrate(np.eye(p), np.zeros((p, pstar)), eta, alpha)
    Qref = ref.Q.values  # (G, p, p)
    z = rng.standard_normal((n_mc, p + pstar))  # common random numbers for D at every alpha
    paths = np.zeros((n_paths, m))
    Sigma = np.zeros((m, m))
    G = alpha.size
    out_r = np.zeros((n_paths, G))
    out_q = np.zeros((n_paths, G, p))
    sd_r = np.zeros(G)
    sd_q = np.zeros(G)
    diag_idx = np.array([np.flatnonzero((i == k) & (j == k))[0] for k in range(p)])
    Q_done = None
    for g in range(G):
        Q = Qref[g]
        v = Q[i, j]
        # Linearize afresh where Q has moved; on the plateau the last linearization serves.
        if Q_done is None or not np.max(np.abs(Q - Q_done)) < 1e-5:
            Q_done = Q
            # gradient of the risk (M = 0, T = I) in the upper-triangular coordinates
            h = 1e-6
            grad = np.empty(m)
            J = np.empty((m, m))
            for a_ in range(m):
                e = np.zeros(m)
                e[a_] = h
                grad[a_] = (theory_risk(_sym(v + e, p), np.zeros((p, pstar))) -
                            theory_risk(_sym(v - e, p), np.zeros((p, pstar)))) / (2 * h)
                J[:, a_] = (_drift(v + e, p, pstar, eta) - _drift(v - e, p, pstar, eta)) / (2 * h)
            # covariance of one sample's N dQ: h = (lambda, nu) ~ N(0, diag(Q, I)), g = eta (2/p) e lambda
            L = np.linalg.cholesky(Q)
            lam = z[:, :p] @ L.T
            nu = z[:, p:]
            err = (nu**2).sum(1) / pstar - (lam**2).sum(1) / p
            gg = eta * (2.0 / p) * err[:, None] * lam
            inc = lam[:, i] * gg[:, j] + gg[:, i] * lam[:, j] + gg[:, i] * gg[:, j]
            D = np.cov(inc, rowvar=False)
            w, V = np.linalg.eigh(D)
            Dhalf = V * np.sqrt(np.clip(w, 0, None))
        # record before stepping (delta(0) = 0: Q(0) = I is exact for both)
        out_r[:, g] = paths @ grad
        out_q[:, g, :] = paths[:, diag_idx]
        sd_r[g] = math.sqrt(max(grad @ Sigma @ grad, 0.0))
        sd_q[g] = math.sqrt(np.mean(np.diag(Sigma)[diag_idx]))
        if g == G - 1:
            break
        dt = (alpha[g + 1] - alpha[g]) / substeps
        for _ in range(substeps):
            Sigma = Sigma + dt * (J @ Sigma + Sigma @ J.T + D)
            paths = paths + dt * paths @ J.T + math.sqrt(dt) * rng.standard_normal((n_paths, m)) @ Dhalf.T
    return dict(sd_risk=sd_r, sd_q=sd_q, risk=out_r, q=out_q)


def predicted_max(alpha: np.ndarray, paths: np.ndarray, a_end: float, S: int, every: int = 1) -> tuple:
    """Median and 90% quantile of the per-path window max, and the median of the max over S paths."""
    idx = np.arange(0, alpha.size, every)
    idx = idx[alpha[idx] <= a_end]
    x = np.abs(paths[:, idx]) if paths.ndim == 2 else np.abs(paths[:, idx]).max(axis=-1)
    mx = x.max(axis=1)
    return (float(np.median(mx)), float(np.quantile(mx, 0.9)), float(np.quantile(mx, 0.5 ** (1.0 / S))))


# -------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--seeds", type=int, default=32, help="seeds S per setting (default 32)")
    parser.add_argument("--N", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--widths", nargs="+", default=["2,1", "4,2", "8,2"], help="p,p* pairs")
    parser.add_argument("--eta-over-p", nargs="+", default=["0.05", "0.1", "opt"],
                        help="eta/p values; 'opt' is eta_opt/p of the pair (docs/science.md)")
    parser.add_argument("--dalpha", type=float, default=0.1, help="recording grid spacing in alpha")
    parser.add_argument("--paths", type=int, default=4000, help="LNA paths for the predicted maxima")
    parser.add_argument("--json", default=None, help="store all numbers in this JSON file")
    parser.add_argument("--quick", action="store_true", help="(2,1) only, N = 1e3 1e4, 16 seeds")
    args = parser.parse_args()
    if args.quick:
        args.widths, args.N, args.seeds = ["2,1"], [1_000, 10_000], 16
    seeds = np.arange(args.seeds)
    S = seeds.size
    start = time.perf_counter()
    rows, fits, lna_rows, seed_rows, plateau_rows = [], [], [], [], []
    for wp in args.widths:
        p, pstar = (int(x) for x in wp.split(","))
        for e in args.eta_over_p:
            eop = ETA_OPT_OVER_P[(p, pstar)] if e == "opt" else float(e)
            eta = eop * p
            per_n = {}
            for N in args.N:
                per_n[N] = measure(p, pstar, eta, N, seeds, args.dalpha)
            a_long = max(per_n.values(), key=lambda r: r["alpha"].size)["alpha"]
            pred = lna(p, pstar, eta, a_long, n_paths=args.paths)
            # LNA check at fixed alpha: sd over seeds (pooled over N) against the LNA sd
            for a_chk in (0.5, 2.0, 5.0):
                ae_min = min(np.nanmin(r["alpha_esc"]) for r in per_n.values())
                if a_chk > 0.5 * ae_min:
                    continue
                gi = int(np.argmin(np.abs(a_long - a_chk)))
                xr_ = np.concatenate([r["d_risk"][:, gi] for r in per_n.values()])
                xq_ = np.concatenate([r["d_q"][:, gi, :].ravel() for r in per_n.values()])
                lna_rows.append(dict(p=p, pstar=pstar, eta_over_p=eop, alpha=float(a_long[gi]),
                                     sd_risk=float(np.std(xr_, ddof=1)), lna_risk=float(pred["sd_risk"][gi]),
                                     sd_q=float(np.std(xq_, ddof=1)), lna_q=float(pred["sd_q"][gi]),
                                     early_q=float(pred["sd_q"][gi] / (eta * math.sqrt(a_long[gi])))))
            plateau_rows.append(dict(p=p, pstar=pstar, eta_over_p=eop, alpha=float(a_long[-1]),
                                     lna_q=float(pred["sd_q"][-1]), lna_risk=float(pred["sd_risk"][-1])))
            for c in WINDOWS:
                for obs in ("risk", "q"):
                    meds = []
                    for N, r in per_n.items():
                        d = r["d_risk"] if obs == "risk" else r["d_q"]
                        fine = summary(window_max(r["alpha"], d, r["alpha_esc"], c))
                        coarse = summary(window_max(r["alpha"], d, r["alpha_esc"], c, every=10))
                        a_end = c * float(np.median(r["alpha_esc"]))
                        pf = predicted_max(a_long, pred[obs], a_end, S)
                        pc = predicted_max(a_long, pred[obs], a_end, S, every=10)
                        rows.append(dict(p=p, pstar=pstar, eta_over_p=eop, N=N, c=c, obs=obs,
                                         alpha_end=a_end, fine=fine, coarse=coarse, lna_fine=pf, lna_coarse=pc,
                                         sgd_seconds=r["sgd_seconds"]))
                        meds.append(fine[0])
                    if len(args.N) > 1:
                        fit = stats.linregress(np.log10(args.N), np.log10(meds))
                        fits.append(dict(p=p, pstar=pstar, eta_over_p=eop, c=c, obs=obs, slope=fit.slope,
                                         slope_se=fit.stderr))
                # max over S' seeds as S' grows (disjoint blocks of the 32 seeds, pooled over N)
                if c in (0.25, 0.5):
                    for obs in ("risk", "q"):
                        for Sb in (1, 4, 8, 16, 32):
                            if Sb > S:
                                continue
                            vals = []
                            for r in per_n.values():
                                d = r["d_risk"] if obs == "risk" else r["d_q"]
                                mx = window_max(r["alpha"], d, r["alpha_esc"], c)
                                vals += [mx[k:k + Sb].max() for k in range(0, S - Sb + 1, Sb)]
                            a_end = c * float(np.median(next(iter(per_n.values()))["alpha_esc"]))
                            seed_rows.append(dict(p=p, pstar=pstar, eta_over_p=eop, obs=obs, c=c, S=Sb,
                                                  measured=float(np.median(vals)),
                                                  lna=predicted_max(a_long, pred[obs], a_end, Sb)[2]))
            print(f"# done p={p} p*={pstar} eta/p={eop:g} ({time.perf_counter() - start:.0f} s)", flush=True)
    wall = time.perf_counter() - start
    _print_tables(rows, fits, lna_rows, seed_rows, plateau_rows, S, wall)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(rows=rows, fits=fits, lna=lna_rows, seeds=seed_rows, plateau=plateau_rows, wall=wall,
                           args=vars(args)), fh, indent=1)


def _print_tables(rows, fits, lna_rows, seed_rows, plateau_rows, S, wall) -> None:
    f = lambda t: "/".join(f"{x:.2f}" for x in t)  # noqa: E731
    print(f"\n### Window maxima of sqrt(N)|SGD - ODE| over S = {S} seeds: median / q90 / max over seeds")
    print("(fine = grid step dalpha, coarse = every 10th point; LNA = predicted median / q90 / median of max "
          "over S; ratio = measured/LNA of the median, fine grid)\n")
    print("| obs | p | p* | eta/p | c | alpha_end | N | fine | coarse | LNA fine | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["fine"][0] / r["lna_fine"][0] if r["lna_fine"][0] > 0 else float("nan")
        print(f"| {r['obs']} | {r['p']} | {r['pstar']} | {r['eta_over_p']:.3g} | {r['c']} | {r['alpha_end']:.1f} | "
              f"{r['N']:.0e} | {f(r['fine'])} | {f(r['coarse'])} | {f(r['lna_fine'])} | {ratio:.2f} |")
    print("\n### Exponent b of N in median(window max) ~ N^b (scipy.stats.linregress on log10)\n")
    print("| obs | p | p* | eta/p | " + " | ".join(f"c={c}" for c in WINDOWS) + " |")
    print("|---|---|---|---|" + "---|" * len(WINDOWS))
    keys = sorted({(x["obs"], x["p"], x["pstar"], x["eta_over_p"]) for x in fits})
    for k in keys:
        cells = [next(x for x in fits if (x["obs"], x["p"], x["pstar"], x["eta_over_p"], x["c"]) == k + (c,))
                 for c in WINDOWS]
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]:.3g} | " + " | ".join(f"{x['slope']:+.2f} +- {x['slope_se']:.2f}"
                                                                     for x in cells) + " |")
    print("\n### Standard deviation at fixed alpha (seeds pooled over N) against the LNA\n")
    print("| p | p* | eta/p | alpha | sd risk | LNA | ratio | sd Q_kk | LNA | ratio | LNA sd Q_kk/(eta sqrt alpha) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in lna_rows:
        print(f"| {r['p']} | {r['pstar']} | {r['eta_over_p']:.3g} | {r['alpha']:.1f} | {r['sd_risk']:.3f} | "
              f"{r['lna_risk']:.3f} | {r['sd_risk'] / r['lna_risk']:.2f} | {r['sd_q']:.3f} | {r['lna_q']:.3f} | "
              f"{r['sd_q'] / r['lna_q']:.2f} | {r['early_q']:.2f} |")
    print("\n### Max over S seeds of the window max (median over disjoint blocks and N), measured (LNA)\n")
    print("| obs | p | p* | eta/p | c | " + " | ".join(f"S={s}" for s in sorted({x['S'] for x in seed_rows})) + " |")
    print("|---|---|---|---|---|" + "---|" * len({x['S'] for x in seed_rows}))
    keys = sorted({(x["obs"], x["p"], x["pstar"], x["eta_over_p"], x["c"]) for x in seed_rows})
    for k in keys:
        cells = [x for x in seed_rows if (x["obs"], x["p"], x["pstar"], x["eta_over_p"], x["c"]) == k]
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]:.3g} | {k[4]} | " +
              " | ".join(f"{x['measured']:.2f} ({x['lna']:.2f})" for x in cells) + " |")
    print("\n### LNA on the plateau (end of the longest grid): sd of sqrt(N) dQ_kk and of sqrt(N) d risk\n")
    print("| p | p* | eta/p | alpha | sd Q_kk | sd Q_kk / sqrt(eta) | sd risk |")
    print("|---|---|---|---|---|---|---|")
    for r in plateau_rows:
        eta = r["eta_over_p"] * r["p"]
        print(f"| {r['p']} | {r['pstar']} | {r['eta_over_p']:.3g} | {r['alpha']:.0f} | {r['lna_q']:.3f} | "
              f"{r['lna_q'] / math.sqrt(eta):.3f} | {r['lna_risk']:.3f} |")
    print(f"\nwall time {wall:.0f} s")


if __name__ == "__main__":
    main()
