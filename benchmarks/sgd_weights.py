"""Workload 2: weight-space SGD per sample against its floor and a plain numpy loop.

Ours: ``quadsgd.sgd.simulate(..., method="weights")`` over a fixed number of samples ``S``
(grid ``alpha = [0, S/N]``). Its fixed costs (the QR of ``finite_n_weights``, the overlaps and
the dataset) are removed by difference: ``(t(S) - t(1)) / (S - 1)``.
Floor: drawing the ``N`` Gaussian numbers of one sample with the fastest numpy bit generator
(each timed here, in blocks as ours draws them) plus one ``(p x N)`` matrix-vector product.
Baseline: one sample at a time in numpy (draw, ``W @ x``, rank-one update).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
from numba import njit

from benchmarks import Row, median_time
from quadsgd.sgd import simulate

PSTAR = 1
TARGET = 1.5
GENERATORS = ("PCG64", "PCG64DXSM", "SFC64", "Philox", "MT19937")
BLOCK_NUMBERS = 1 << 20


@njit(cache=False)
def _numba_normals(out):  # pragma: no cover - compiled
    for i in range(out.size):
        # numba's own np.random (MT19937) is the thing measured here, not numpy's Generator.
        out[i] = np.random.standard_normal()  # noqa: NPY002


def normals_per_second(repeats: int) -> dict[str, float]:
    """Gaussian numbers per second of each generator, drawn into a preallocated block.

    The generators take turns within each repeat, so a burst of load elsewhere on the machine
    does not single one out.
    """
    buf = np.empty(BLOCK_NUMBERS)
    draws = {}
    for name in GENERATORS:
        rng = np.random.Generator(getattr(np.random, name)(0))
        draws[name] = lambda rng=rng: rng.standard_normal(out=buf)
    draws["numba (MT19937, compiled)"] = lambda: _numba_normals(buf)
    times: dict[str, list[float]] = {name: [] for name in draws}
    for draw in draws.values():
        draw()
    for _ in range(repeats):
        for name, draw in draws.items():
            times[name].append(median_time(draw, 1, warmup=0))
    return {name: BLOCK_NUMBERS / statistics.median(t) for name, t in times.items()}


def gemv_seconds(p: int, N: int, repeats: int) -> float:
    """One ``W @ x`` with W (p, N), cycling through distinct x as a run does."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((p, N))
    B = max(1, min(64, BLOCK_NUMBERS // N))
    X = rng.standard_normal((B, N))
    lam = np.empty(p)

    def go():
        for b in range(B):
            np.dot(W, X[b], out=lam)

    return median_time(go, repeats) / B


def numpy_loop(p: int, N: int, S: int, eta: float) -> None:
    """Plain one-sample-at-a-time SGD (docs/conventions.md section 1)."""
    rng = np.random.default_rng(1)
    W = np.linalg.qr(rng.standard_normal((N, p)))[0].T * math.sqrt(N)
    c = eta * (2.0 / p) / math.sqrt(N)
    for _ in range(S):
        x = rng.standard_normal(N)
        lam = W @ x / math.sqrt(N)
        e = (x[:PSTAR] @ x[:PSTAR]) / PSTAR - (lam @ lam) / p
        W += np.outer(c * e * lam, x)


def weights_per_sample(p: int, N: int, S: int, repeats: int, pstar: int = PSTAR,
                       medians: dict[str, float] | None = None) -> float:
    """Seconds per sample of ``simulate(method="weights")``, fixed costs removed by difference of
    the medians of warmed runs over ``S`` and over 1 sample (recorded in ``medians`` if given)."""
    eta = 0.1 * p

    def run(samples):
        return lambda: simulate(p, pstar, eta=eta, N=N, seed=0, method="weights", alpha=[0.0, samples / N])

    t_many, t_one = median_time(run(S), repeats), median_time(run(1), repeats)
    if medians is not None:
        medians.update({f"weights N={N}: {S} samples": t_many, f"weights N={N}: 1 sample": t_one})
    return (t_many - t_one) / (S - 1)


def one_blas_thread(fn, *args):
    """``fn(*args)`` with BLAS limited to one thread, or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    with threadpool_limits(1):
        return fn(*args)


#: widths, input dimensions, repeats, seconds per timed run.
SIZES = {
    "full": ((2, 8), (1_000, 10_000, 100_000), 5, 0.5),
    "quick": ((2, 8), (1_000, 10_000), 3, 0.2),
    "smoke": ((2,), (1_000,), 3, 0.005),
}


def samples_for(seconds: float, p: int, N: int) -> int:
    """Samples filling about ``seconds`` (a rough cost model), enough that the difference
    ``t(S) - t(1)`` is not lost in the noise of a shared machine."""
    return max(100, int(seconds / (N * (12 + 1.5 * p) * 1e-9)))


def run(size: str) -> list[Row]:
    widths, Ns, repeats, seconds = SIZES[size]
    rates = normals_per_second(repeats)
    fastest = max(rates, key=rates.get)
    rate_text = ", ".join(f"{k} {v / 1e6:.0f}" for k, v in sorted(rates.items(), key=lambda kv: -kv[1]))
    rows = []
    for p in widths:
        for N in Ns:
            S = samples_for(seconds, p, N)
            medians: dict[str, float] = {}
            t_ours = weights_per_sample(p, N, S, repeats, medians=medians)
            S_base = max(50, S // 4)
            t_base = median_time(lambda p=p, N=N, S_base=S_base: numpy_loop(p, N, S_base, 0.1 * p), repeats) / S_base
            t_draw = N / rates[fastest]
            t_gemv = gemv_seconds(p, N, repeats)
            medians.update({f"numpy loop: {S_base} samples": t_base * S_base, "W @ x": t_gemv})
            floor = t_draw + t_gemv
            t_one = one_blas_thread(weights_per_sample, p, N, S, repeats)
            rows.append(Row(
                workload=f"SGD weights p={p} p*={PSTAR} N={N:.0e} (per sample)",
                unit="s",
                baseline=t_base,
                ours=t_ours,
                floor=floor,
                target=f"ours/floor <= {TARGET:g}",
                met=0 < t_ours / floor <= TARGET,
                medians=medians,
                details={
                    "samples ours / baseline": f"{S} / {S_base}",
                    "floor: draw N normals": f"{t_draw * 1e6:.3g} us ({fastest})",
                    "floor: W @ x": f"{t_gemv * 1e6:.3g} us",
                    "normals per us by generator": rate_text,
                    "ours per 1e6 samples": f"{t_ours * 1e6:.3g} s",
                    "ours with 1 BLAS thread": "n/a (no threadpoolctl)" if t_one is None else f"{t_one * 1e6:.3g} us",
                },
            ))
    return rows
