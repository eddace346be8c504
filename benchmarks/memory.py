"""Workload 4: peak memory of one paper-size ODE job, ``overlaps="final"`` vs ``"trajectory"``.

Each job runs in a fresh interpreter. The child imports the library and integrates a
one-member problem first (numba loads or compiles the integrator); its resident set then is the
fixed cost of any job. The peak is then reset (``/proc/self/clear_refs``), so the reported peak
(``VmHWM``) is the job's own, not the compiler's; where Linux's interface is missing the
lifetime ``ru_maxrss`` is used. Floor: the fixed cost plus the bytes of the arrays the job
returns (what must be held at the end). ``tracemalloc`` reports the peak of the Python-visible
allocations (numpy arrays included) during the job alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks import Row

CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from quadsgd.grids import log_alpha_grid
from quadsgd.init import ode_initial
from quadsgd.ode import integrate

p, pstar, n_eta, n_seed, points, alpha_max, mode = sys.argv[1:]
p, pstar, n_eta, n_seed, points = int(p), int(pstar), int(n_eta), int(n_seed), int(points)
grid = log_alpha_grid(float(alpha_max), num=points)
Q0, M0, T = ode_initial(p, pstar, 10_000, np.arange(n_seed))
integrate(Q0[:1], M0[:1], 0.1 * p, grid[:3], T, overlaps=mode)


def status_bytes(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_bytes("VmRSS")
    peak_of = lambda: status_bytes("VmHWM")
except OSError:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
etas = p * np.geomspace(0.005, 2.0, n_eta)
tracemalloc.start()
t0 = time.perf_counter()
ds = integrate(Q0[None], M0[None], etas[:, None], grid, T, overlaps=mode, batch_dims=("eta", "seed"))
seconds = time.perf_counter() - t0
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
peak = peak_of()
print(json.dumps(dict(before=before, peak=peak, traced=traced, nbytes=int(ds.nbytes), seconds=seconds,
                      steps=int(ds.n_steps.sum()))))
"""


def measure(p, pstar, n_eta, n_seed, points, alpha_max, mode) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(p), str(pstar), str(n_eta), str(n_seed), str(points), str(alpha_max), mode],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


#: etas, seeds, recorded alphas, alpha_max (the paper config's 128 points; the default alpha_max).
SIZES = {"full": (64, 32, 128, 1e4), "quick": (16, 8, 128, 1e4), "smoke": (2, 2, 16, 1e3)}


def run(size: str) -> list[Row]:
    p, pstar = 8, 2
    n_eta, n_seed, points, alpha_max = SIZES[size]
    res = {mode: measure(p, pstar, n_eta, n_seed, points, alpha_max, mode) for mode in ("trajectory", "final")}
    tr, fi = res["trajectory"], res["final"]
    return [Row(
        workload=f"Memory: ODE job {n_eta} etas x {n_seed} seeds p={p} p*={pstar}, {points} alphas "
                 "(peak RSS; baseline: trajectory, ours: final)",
        unit="B",
        baseline=tr["peak"],
        ours=fi["peak"],
        floor=fi["before"] + fi["nbytes"],
        target="final O(batch), not O(batch x alpha)",
        medians={"peak trajectory": tr["peak"], "peak final": fi["peak"], "fixed cost final": fi["before"]},
        met=(fi["peak"] - fi["before"] < 0.1 * (tr["peak"] - tr["before"])
             or fi["peak"] < 1.1 * (fi["before"] + fi["nbytes"])),
        details={
            "RSS after import + compile (final / trajectory)":
                f"{fi['before'] / 2**20:.0f} / {tr['before'] / 2**20:.0f} MiB",
            "returned arrays (final / trajectory)": f"{fi['nbytes'] / 2**20:.2f} / {tr['nbytes'] / 2**20:.1f} MiB",
            "tracemalloc peak (final / trajectory)": f"{fi['traced'] / 2**20:.2f} / {tr['traced'] / 2**20:.1f} MiB",
            "trajectory peak / its floor": f"{tr['peak'] / (tr['before'] + tr['nbytes']):.3f}",
            "job wall time (final / trajectory)": f"{fi['seconds']:.1f} / {tr['seconds']:.1f} s",
            "accepted steps (all members)": f"{fi['steps']}",
            "alpha_max": f"{alpha_max:g}",
        },
    )]
