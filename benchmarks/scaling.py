"""Workload 5b: strong scaling of a fixed ODE batch from one to two Dask workers.

The batch is split into equal tasks of whole seeds and mapped over a ``LocalCluster`` of
single-threaded worker processes (BLAS and numba pinned to one thread, as the sweep's workers
are). Workers first integrate a one-member problem, so numba's compilation (from its cache)
is not timed. Row: baseline = one worker, ours = two workers, ``ratio`` = the speedup,
floor = one worker's time halved (perfect scaling).
"""

from __future__ import annotations

import numpy as np

from benchmarks import Row, median_time

TARGET = 1.8
ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _task(p, pstar, etas, seeds):
    from quadsgd.grids import log_alpha_grid
    from quadsgd.init import ode_initial
    from quadsgd.ode import integrate

    Q0, M0, T = ode_initial(p, pstar, 10_000, np.asarray(seeds))
    ds = integrate(Q0[None], M0[None], np.asarray(etas)[:, None], log_alpha_grid(1e4, num=64), T,
                   overlaps="final", batch_dims=("eta", "seed"))
    return int(ds.n_steps.sum())


def _warm():
    return _task(2, 1, [0.2], [0])


def timed_batch(n_workers, p, pstar, etas, seed_blocks, repeats):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=ENV) as cluster, Client(cluster) as client:
        client.run(_warm)
        steps = {}

        def go():
            futures = client.map(_task, [p] * len(seed_blocks), [pstar] * len(seed_blocks),
                                 [etas] * len(seed_blocks), seed_blocks, pure=False)
            steps["n"] = sum(client.gather(futures))

        return median_time(go, repeats), steps["n"]


#: learning rates, seeds, tasks, repeats.
SIZES = {"full": (8, 64, 16, 3), "quick": (8, 16, 8, 2), "smoke": (2, 2, 2, 1)}


def run(size: str) -> list[Row]:
    p, pstar = 8, 2
    n_eta, n_seeds, n_tasks, repeats = SIZES[size]
    etas = list(p * np.geomspace(0.02, 0.3, n_eta))
    seed_blocks = [list(b) for b in np.array_split(np.arange(n_seeds), n_tasks)]
    t1, steps = timed_batch(1, p, pstar, etas, seed_blocks, repeats)
    t2, _ = timed_batch(2, p, pstar, etas, seed_blocks, repeats)
    return [Row(
        workload=f"Dask strong scaling: ODE {len(etas)} etas x {n_seeds} seeds p={p} p*={pstar} "
                 "(baseline: 1 worker, ours: 2 workers)",
        unit="s",
        baseline=t1,
        ours=t2,
        floor=t1 / 2,
        target=f"speedup >= {TARGET:g}",
        medians={"1 worker": t1, "2 workers": t2},
        met=t1 / t2 >= TARGET,
        details={"tasks": f"{n_tasks}", "accepted steps": f"{steps}", "speedup": f"{t1 / t2:.2f}"},
    )]
