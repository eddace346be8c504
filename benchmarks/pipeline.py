"""Workload 5a: share of the Snakemake sweep's wall time spent outside numerical work.

The workflow (tracked and untracked files, no results) is copied to a temporary directory and
``snakemake --cores 2 results/summary.zarr`` runs there: the ODE escape-time scan, the
refinement of eta_opt, the finite-N SGD runs and the summary (the default config; the tests'
tiny config below full size). Numerical work is counted from what the jobs stored: accepted ODE
steps of every scan and refinement member times the cost of one step at that p, measured here
on a batch of the same kind, plus Gram-chain samples (``alpha_stop * N`` per run) times their
measured cost; the ODE re-run from each SGD run's M(0) is left out (a few hundred members).
Row: baseline = numerical work spread over the cores, ours = wall time, floor = the
numerical work; ``ratio`` is the numerical share, ``1 - ratio`` the share outside it.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import Row, median_time

ROOT = Path(__file__).resolve().parents[1]
CORES = 2
TARGET = 0.15
SIZES = {"full": "config/config.yaml", "quick": "config/test.yaml", "smoke": "config/test.yaml"}


def available() -> bool:
    return (ROOT / "Snakefile").exists() and shutil.which("snakemake") is not None


def copy_workflow(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split("\n")
    for rel in filter(None, listed):
        if rel.split("/")[0] in ("results", "logs", ".snakemake") or not (ROOT / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)


def step_seconds(p: int, pstar: int) -> float:
    """Seconds per accepted step per member at width p, on a batch like the scan's."""
    from quadsgd.grids import log_alpha_grid
    from quadsgd.init import ode_initial
    from quadsgd.ode import integrate

    Q0, M0, T = ode_initial(p, pstar, 10_000, np.arange(8))
    etas = p * np.geomspace(0.01, 0.3, 4)
    out = {}

    def go():
        out["ds"] = integrate(Q0[None], M0[None], etas[:, None], log_alpha_grid(1e4, num=64), T, overlaps="final")

    seconds = median_time(go, 3)
    return seconds / float(out["ds"].n_steps.sum())


def numerical_seconds(workdir: Path) -> tuple[float, dict[str, float]]:
    import xarray as xr

    from benchmarks.sgd_gram import gram_per_sample

    steps: dict[tuple[int, int], int] = {}
    for path in glob.glob(str(workdir / "results/ode/*/*.zarr")) + glob.glob(str(workdir / "results/refine/*.zarr")):
        ds = xr.open_zarr(path)
        key = (int(ds.attrs["p"]), int(ds.attrs["pstar"]))
        steps[key] = steps.get(key, 0) + int(ds.n_steps.sum())
    ode = sum(n * step_seconds(*key) for key, n in steps.items())
    sgd = 0.0
    for path in glob.glob(str(workdir / "results/sgd/*.zarr")):
        ds = xr.open_zarr(path)
        p, pstar, N = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"])
        samples = float(ds.alpha_stop.sel(dynamics="sgd").sum()) * N
        sgd += samples * gram_per_sample(p, pstar, (N,), 100_000, 3)[N]
    return ode + sgd, {"ODE steps": sum(steps.values()), "ODE core-s": ode, "SGD core-s": sgd}


def run(size: str) -> list[Row]:
    if not available():
        print("[pipeline: no Snakefile or snakemake; not measured]")
        return []
    config = SIZES[size]
    with tempfile.TemporaryDirectory(prefix="quadsgd-pipeline-") as tmp:
        work = Path(tmp)
        copy_workflow(work)
        t0 = time.perf_counter()
        subprocess.run(["snakemake", "results/summary.zarr", "--cores", str(CORES), "--configfile", config],
                       cwd=work, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        n_jobs = sum(1 for _ in (work / "logs").rglob("*.log"))
        numerical, parts = numerical_seconds(work)
    share_outside = 1 - numerical / (CORES * wall)
    return [Row(
        workload=f"Pipeline: snakemake --cores {CORES} results/summary.zarr ({config}) "
                 "(baseline: numerical work / cores, ours: wall)",
        unit="s",
        baseline=numerical / CORES,
        ours=wall,
        floor=numerical / CORES,
        target=f"share outside numerical work < {TARGET:.0%}",
        medians={"wall": wall},
        met=share_outside < TARGET,
        details={
            "share of wall time outside numerical work": f"{share_outside:.0%}",
            "jobs (logs written)": f"{n_jobs}",
            "wall per job": f"{wall / max(n_jobs, 1):.1f} s",
            **{k: (f"{v:.3g}" if isinstance(v, float) else f"{v}") for k, v in parts.items()},
        },
    )]
