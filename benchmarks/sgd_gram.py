"""Workload 3: the exact Gram chain, per sample, against the cost of drawing its random numbers.

Ours: ``simulate(..., method="gram")`` on a batch of ``quadsgd.sgd.LANES`` seeds (the runs
advance side by side in the lanes of one kernel) over a fixed number of samples; seconds per
sample of one run are the batch's time over (samples x seeds), fixed costs removed by
difference as in :mod:`benchmarks.sgd_weights`. The same for one seed alone is in the details.
Baseline: the implementation before issue 20.3 (``src/quadsgd/sgd.py`` at commit
``BASELINE_COMMIT``, read with ``git show`` and loaded as a temporary module), one seed at a time
as it ran, per sample; the weight-space chain at N = 10^4 when git or the commit is not
available. Floor: drawing one sample's random numbers,
``p + pstar`` normals and one chi-square, in blocks of 2^14 from the generator ours uses (PCG64),
taking turns with ours in every repeat. Target: ours within 2x the floor. The details give the
same costs in process CPU time (less sensitive to other jobs on a shared machine) and the
N-independence (N = 10^6 against N = 10^3).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from benchmarks import Row
from benchmarks.sgd_weights import samples_for, weights_per_sample
from quadsgd.sgd import _GRAM_BLOCK, LANES, simulate

PAIRS = ((2, 1), (4, 4), (8, 8))
#: The last commit with the Gram chain before issue 20.3 (full Cholesky of the Gram matrix per sample).
BASELINE_COMMIT = "70195e2b95225cde6abd97c9925135eec2794a47"
TARGET = 2.0

#: Small enough that no run escapes the plateau within the timed samples, at every N: a chain
#: that reaches the zero-error manifold has a singular Gram matrix, whose Cholesky skips the
#: degenerate pivots and runs faster, which would make small N look cheaper for no reason of N.
ETA = 1e-3


def baseline_simulate():
    """``simulate`` of ``BASELINE_COMMIT`` as a temporary module, or None without git or the commit.

    Compiled without numba's on-disk cache: the cache is keyed by the module's file, which a
    temporary module does not have."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:src/quadsgd/sgd.py"], cwd=root, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("quadsgd_sgd_baseline")
    sys.modules[module.__name__] = module
    exec(compile(source.replace("cache=True", "cache=False"), f"{BASELINE_COMMIT[:7]}:src/quadsgd/sgd.py", "exec"),
         module.__dict__)
    return module.simulate


def timed(fn) -> tuple[float, float]:
    """Wall and process CPU seconds of one call of ``fn``."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def draws(n, N):
    """One block of the chain's random numbers (2^14 samples of ``n`` normals and one chi-square),
    drawn as ours draws them."""
    rng = np.random.default_rng(0)
    Z = np.empty((_GRAM_BLOCK, n))

    def draw():
        rng.standard_normal(out=Z)
        rng.chisquare(N - n, size=_GRAM_BLOCK)

    return draw


def measure(p, pstar, sims, repeats, medians):
    """Seconds per sample of one run for each entry of ``sims`` (label -> (simulate, N, S, seeds)),
    and of the floor (label "floor"), as (wall, CPU) pairs.

    A run's cost is the difference of the medians of warmed runs over ``S`` and over 1 sample,
    divided by ``(S - 1) x len(seeds)`` (fixed costs removed). All of them and the floor take
    turns within each repeat, so drifting load on the machine does not bias their ratios; the
    CPU time (``time.process_time``) is reported too because it is less sensitive to other jobs
    on a shared machine than the wall time of the table."""

    def run(sim, N, samples, seeds):
        return lambda: sim(p, pstar, eta=ETA, N=N, seed=seeds, method="gram", alpha=[0.0, samples / N])

    calls = {}
    for label, (sim, N, S, seeds) in sims.items():
        calls[label] = (run(sim, N, S, seeds), run(sim, N, 1, seeds), (S - 1) * len(seeds))
    draw = draws(p + pstar, 1_000)
    for many, one, _ in calls.values():  # warm-up: compilation, first-touch allocations
        many()
        one()
    draw()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in [*calls, *(f"{k} 1" for k in calls), "floor"]}
    for _ in range(repeats):
        for label, (many, one, _) in calls.items():
            times[label].append(timed(many))
            times[f"{label} 1"].append(timed(one))
        times["floor"].append(timed(draw))
    out = {}
    for label, (_, _, count) in calls.items():
        med = [statistics.median(t[i] for t in times[label]) for i in (0, 1)]
        med1 = [statistics.median(t[i] for t in times[f"{label} 1"]) for i in (0, 1)]
        medians.update({f"{label}: S samples": med[0], f"{label}: 1 sample": med1[0]})
        out[label] = ((med[0] - med1[0]) / count, (med[1] - med1[1]) / count)
    floor = [statistics.median(t[i] for t in times["floor"]) / _GRAM_BLOCK for i in (0, 1)]
    medians["draws of one block"] = floor[0] * _GRAM_BLOCK
    out["floor"] = (floor[0], floor[1])
    return out


#: (p, pstar) pairs, repeats, samples per run of the batch, of one seed alone, of the baseline.
SIZES = {
    "full": (PAIRS, 5, 200_000, 1_000_000, 500_000),
    "quick": (PAIRS, 3, 50_000, 300_000, 100_000),
    "smoke": (PAIRS[:1], 3, 5_000, 20_000, 5_000),
}


def run(size: str) -> list[Row]:
    pairs, repeats, S_batch, S_one, S_base = SIZES[size]
    base_sim = baseline_simulate()
    seeds = np.arange(LANES)
    rows = []
    for p, pstar in pairs:
        medians: dict[str, float] = {}
        sims = {
            "ours": (simulate, 1_000, S_batch, seeds),
            "ours N=1e6": (simulate, 1_000_000, S_batch, seeds),
            "ours, 1 seed": (simulate, 1_000, S_one, np.array([0])),
        }
        if base_sim is not None:
            sims["baseline"] = (base_sim, 1_000, S_base, np.array([0]))
            base_text = f"implementation at {BASELINE_COMMIT[:7]}, 1 seed"
        t = measure(p, pstar, sims, repeats, medians)
        if base_sim is None:
            wall = weights_per_sample(p, 10_000, samples_for(0.2, p, 10_000), repeats, pstar=pstar, medians=medians)
            t["baseline"] = (wall, float("nan"))
            base_text = "weight space N=1e4 (baseline commit not available)"
        floor, floor_cpu = t["floor"]
        cpu = " / ".join(f"{t[k][1] * 1e9:.3g} ns" for k in ("baseline", "ours", "ours, 1 seed", "floor"))
        cpu_ratio = " / ".join(f"{t[k][1] / floor_cpu:.2f}" for k in ("baseline", "ours", "ours, 1 seed"))
        for label, what in (("ours", f"{LANES} seeds side by side"), ("ours, 1 seed", "1 seed")):
            ours = t[label][0]
            rows.append(Row(
                workload=f"SGD gram p={p} p*={pstar} N=1e3, {what} (per sample; baseline: {base_text})",
                unit="s",
                baseline=t["baseline"][0],
                ours=ours,
                floor=floor,
                target=f"ours/floor <= {TARGET:g}",
                met=0 < ours / floor <= TARGET,
                medians=medians,
                details={
                    "samples per seed: batch / 1 seed / baseline": f"{S_batch} / {S_one} / {S_base}",
                    "CPU time per sample: baseline / ours batch / ours 1 seed / floor": cpu,
                    "CPU time ratio to floor: baseline / ours batch / ours 1 seed": cpu_ratio,
                    "wall: t(N=1e6) / t(N=1e3), batch": f"{t['ours N=1e6'][0] / t['ours'][0]:.3f}",
                },
            ))
    return rows
