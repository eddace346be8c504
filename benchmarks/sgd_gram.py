"""Workload 3: the exact Gram chain, per sample, at N = 10^3 and 10^6.

Ours: ``simulate(..., method="gram")`` over a fixed number of samples, fixed costs removed by
difference as in :mod:`benchmarks.sgd_weights`. Baseline: weight-space SGD at N = 10^4 for the
same ``(p, pstar)`` (target: ours at least 100x cheaper). Floor: drawing the chain's random
numbers of one sample (``p + pstar`` normals and one chi-square, in blocks as ours draws them).
The N-independence target (N = 10^6 within 10% of N = 10^3) is in the details.
"""

from __future__ import annotations

import statistics

import numpy as np

from benchmarks import Row, median_time
from benchmarks.sgd_weights import samples_for, weights_per_sample
from quadsgd.sgd import simulate

PAIRS = ((2, 1), (4, 4), (8, 8))
TARGET_RATIO = 100.0
TARGET_FLAT = 1.10


#: Small enough that no run escapes the plateau within the timed samples, at every N: a chain
#: that reaches the zero-error manifold has a singular Gram matrix, whose Cholesky skips the
#: degenerate pivots and runs faster, which would make small N look cheaper for no reason of N.
ETA = 1e-3


def gram_per_sample(p, pstar, Ns, S, repeats, medians=None):
    """Seconds per sample at each N, fixed costs removed by difference of the medians of warmed
    runs over ``S`` and over 1 sample (recorded in ``medians`` if given); the N take turns
    within each repeat, so drifting load on the machine does not bias their ratio."""
    eta = ETA

    def run(N, samples):
        return lambda: simulate(p, pstar, eta=eta, N=N, seed=0, method="gram", alpha=[0.0, samples / N])

    times = {N: ([], []) for N in Ns}
    for N in Ns:  # warm-up: compilation, first-touch allocations
        run(N, S)()
        run(N, 1)()
    for _ in range(repeats):
        for N in Ns:
            times[N][0].append(median_time(run(N, S), 1, warmup=0))
            times[N][1].append(median_time(run(N, 1), 1, warmup=0))
    out = {}
    for N, (a, b) in times.items():
        t_many, t_one = statistics.median(a), statistics.median(b)
        if medians is not None:
            medians.update({f"gram N={N}: {S} samples": t_many, f"gram N={N}: 1 sample": t_one})
        out[N] = (t_many - t_one) / (S - 1)
    return out


def draws_per_sample(n, N, repeats):
    block = 1 << 14
    rng = np.random.default_rng(0)

    def draw():
        rng.standard_normal((block, n))
        rng.chisquare(N - n, size=block)

    return median_time(draw, repeats) / block


#: (p, pstar) pairs, repeats, Gram-chain samples, seconds per timed weight-space run.
SIZES = {
    "full": (PAIRS, 5, 1_000_000, 0.5),
    "quick": (PAIRS[:2], 3, 300_000, 0.2),
    "smoke": (PAIRS[:1], 3, 20_000, 0.005),
}


def run(size: str) -> list[Row]:
    pairs, repeats, S, seconds = SIZES[size]
    rows = []
    for p, pstar in pairs:
        medians: dict[str, float] = {}
        t_w = weights_per_sample(p, 10_000, samples_for(seconds, p, 10_000), repeats, pstar=pstar, medians=medians)
        t_N = gram_per_sample(p, pstar, (1_000, 1_000_000), S, repeats, medians=medians)
        t_small, t_large = t_N[1_000], t_N[1_000_000]
        floor = draws_per_sample(p + pstar, 1_000_000, repeats)
        flat = t_large / t_small if t_small > 0 else float("nan")
        medians["draws of one block"] = floor * (1 << 14)
        for N, t in ((1_000, t_small), (1_000_000, t_large)):
            rows.append(Row(
                workload=f"SGD gram p={p} p*={pstar} N={N:.0e} (per sample; baseline: weights N=1e4)",
                unit="s",
                baseline=t_w,
                ours=t,
                floor=floor,
                target=f"ratio >= {TARGET_RATIO:g}, t(1e6)/t(1e3) <= {TARGET_FLAT:g}",
                met=t > 0 and t_w / t >= TARGET_RATIO and flat <= TARGET_FLAT,
                medians=dict(medians),
                details={
                    "samples": f"{S}",
                    "t(N=1e6) / t(N=1e3)": f"{flat:.3f}",
                    "ours per 1e6 samples": f"{t * 1e6:.3g} s",
                    "weights N=1e4 per 1e6 samples": f"{t_w * 1e6:.3g} s",
                },
            ))
    return rows
