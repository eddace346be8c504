"""Snakemake adapter: compile every numba kernel of the simulation jobs once, into the cache.

The kernels are compiled with ``cache=True``: the machine code lands in numba's cache
(``__pycache__`` next to the installed sources, or ``$NUMBA_CACHE_DIR``) and later processes
load it instead of compiling (13-26 s per process on a cold cache). This job runs the same
drivers as the simulation jobs, with tiny inputs and no Dask, before any of them starts, so the
cost is paid once per installation (and per CPU type) instead of once per job. docs/pipeline.md,
"Compile once".
"""

import logging
import os
import sys
import time
from pathlib import Path

from quadsgd.grids import log_alpha_grid
from quadsgd.sweep import drivers

from _job import run  # noqa: E402 - this folder is on sys.path in Snakemake jobs

log = logging.getLogger("warmup")


def warm_up() -> dict[str, float]:
    """Call each driver once on a tiny problem; return the seconds each call took."""
    alpha = log_alpha_grid(10.0, 8)
    calls = {
        "ode_scan": lambda: drivers.ode_scan(2, 1, eta_over_p=[0.1], seeds=[0], N=50, alpha=alpha,
                                             points_per_task=1, progress=False),
        # One seed: the one-run Gram kernel; eight seeds in one task: the kernel of runs side by side.
        "sgd_curves": lambda: drivers.sgd_curves(2, 1, N=50, eta=0.2, seeds=[0], alpha_max=2.0, alpha_points=8,
                                                 progress=False),
        "sgd_curves (lanes)": lambda: drivers.sgd_curves(2, 1, N=50, eta=0.2, seeds=range(8), alpha_max=2.0,
                                                         alpha_points=8, progress=False),
        "implicit_bias_runs": lambda: drivers.implicit_bias_runs(2, 1, N=50, eta=0.2, seeds=[0, 1], alpha=alpha,
                                                                 progress=False),
    }
    seconds = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        seconds[name] = time.perf_counter() - start
        log.info("%s: %.1f s", name, seconds[name])
    return seconds


def main(smk) -> None:
    import numba

    cache = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ next to the quadsgd sources"
    log.info("numba %s, cache: %s", numba.__version__, cache)
    seconds = warm_up()
    total = sum(seconds.values())
    log.info("kernels ready in %.1f s (compiled on a cold cache, loaded from it otherwise)", total)
    if total > 5:
        print(f"warmup: compiled the numba kernels in {total:.0f} s (once per installation)", file=sys.__stderr__)
    Path(smk.output[0]).write_text(f"numba kernels warm ({total:.1f} s; cache: {cache})\n")


if __name__ == "__main__":
    run(main, snakemake, "warmup")  # noqa: F821
