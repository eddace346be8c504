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

Workload ``paper`` (only with ``--only paper``; never in the default list or the tests' sizes):
the whole ``config/laptop.yaml`` run (the paper sweep reduced to a laptop; ``config/paper.yaml``
is cluster-sized), ``snakemake --cores 2 --configfile config/laptop.yaml`` in
``$QUADSGD_PAPER_DIR`` (default ``/tmp/quadsgd-paper``; the workflow is copied there unless a
Snakefile is there already). The run writes ``paper_timing.json`` there (wall time, peak memory
of the whole process tree sampled every second, disk use of ``results/``); a later
``--only paper`` reads that file instead of running again. Row: baseline = the 30-minute
budget, ours = wall time, floor = the numerical work counted from the stores over the cores.
"""

from __future__ import annotations

import functools
import json
import os
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


PAPER_CONFIG = "config/laptop.yaml"
PAPER_BUDGET = 30 * 60.0


def _env(root: Path) -> dict[str, str]:
    """The environment of a benchmarked run: this tree's sources first on ``PYTHONPATH``, so the
    jobs import the library being measured whether or not it is installed."""
    paths = [str(root / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


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


@functools.lru_cache
def gram_seconds(p: int, pstar: int) -> float:
    """Seconds per Gram-chain sample at ``(p, pstar)`` (independent of N), on one 200,000-sample run."""
    from quadsgd.sgd import simulate

    N = 1000
    out = {}

    def go():
        out["ds"] = simulate(p, pstar, eta=0.1 * p, N=N, seed=0, alpha_max=200.0, method="gram")

    seconds = median_time(go, 3)
    return seconds / (float(out["ds"].alpha_stop.sum()) * N)


def numerical_seconds(workdir: Path) -> tuple[float, dict[str, float]]:
    import xarray as xr

    steps: dict[tuple[int, int], int] = {}
    scans = [*sorted((workdir / "results/ode").rglob("*.zarr")), *sorted((workdir / "results/refine").rglob("*.zarr"))]
    for path in scans:
        ds = xr.open_zarr(path)
        key = (int(ds.attrs["p"]), int(ds.attrs["pstar"]))
        steps[key] = steps.get(key, 0) + int(ds.n_steps.sum())
    ode = sum(n * step_seconds(*key) for key, n in steps.items())
    sgd = 0.0
    for path in sorted((workdir / "results/sgd").rglob("*.zarr")):
        ds = xr.open_zarr(path)
        p, pstar, N = int(ds.attrs["p"]), int(ds.attrs["pstar"]), int(ds.attrs["N"])
        samples = float(ds.alpha_stop.sel(dynamics="sgd").sum()) * N
        sgd += samples * gram_seconds(p, pstar)
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
                       cwd=work, check=True, capture_output=True, text=True, env=_env(ROOT))
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


def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants (0 once it has ended)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for q in procs:
        try:
            total += q.memory_info().rss
        except psutil.Error:
            pass
    return total


def _disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (as ``du`` counts them)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def run_paper_config(work: Path, log_path: Path | None = None) -> dict[str, float]:
    """Run ``snakemake --cores 2 --configfile config/laptop.yaml`` in ``work`` (the workflow copied
    there first if it has no Snakefile); write and return its timing (``paper_timing.json``)."""
    import threading

    work.mkdir(parents=True, exist_ok=True)
    if not (work / "Snakefile").exists():
        copy_workflow(work)
    log_path = log_path or work / "paper_run.log"
    peak = [0]
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(["snakemake", "--cores", str(CORES), "--configfile", PAPER_CONFIG], cwd=work,
                                stdout=log, stderr=subprocess.STDOUT, env=_env(ROOT))
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                peak[0] = max(peak[0], _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    if code:
        raise RuntimeError(f"the paper run failed (exit status {code}); see {log_path}")
    timing = {"wall_s": wall, "peak_rss_bytes": float(peak[0]),
              "results_disk_bytes": float(_disk_bytes(work / "results")),
              "jobs": float(sum(1 for _ in (work / "logs").rglob("*.log"))), "cores": float(CORES),
              "load_average_at_end": os.getloadavg()[0]}
    (work / "paper_timing.json").write_text(json.dumps(timing, indent=1))
    return timing


def paper_row(work: Path, timing: dict[str, float]) -> Row:
    """The paper run as a row: baseline = the budget, ours = wall, floor = numerical work / cores."""
    numerical, parts = numerical_seconds(work)
    wall = timing["wall_s"]
    return Row(
        workload=f"Paper run: snakemake --cores {CORES} --configfile {PAPER_CONFIG} "
                 "(baseline: 30 min budget, ours: wall, floor: numerical work / cores)",
        unit="s",
        baseline=PAPER_BUDGET,
        ours=wall,
        floor=numerical / CORES,
        target="wall <= 30 min",
        met=wall <= PAPER_BUDGET,
        medians={"wall": wall},
        details={
            "peak memory (process tree)": f"{timing['peak_rss_bytes'] / 2**20:.0f} MiB",
            "results/ on disk": f"{timing['results_disk_bytes'] / 2**20:.0f} MiB",
            "jobs (logs written)": f"{timing['jobs']:.0f}",
            "share of wall time outside numerical work": f"{1 - numerical / (CORES * wall):.0%}",
            "load average at the end": f"{timing['load_average_at_end']:.1f}",
            **{k: (f"{v:.3g}" if isinstance(v, float) else f"{v}") for k, v in parts.items()},
        },
    )


def run_paper(size: str) -> list[Row]:
    """``--only paper``: the paper run's row, from ``paper_timing.json`` in ``$QUADSGD_PAPER_DIR``
    if an earlier run wrote it, else after running it there (``size`` is not used: the paper
    config has one size)."""
    if not available():
        print("[paper: no Snakefile or snakemake; not measured]")
        return []
    work = Path(os.environ.get("QUADSGD_PAPER_DIR", "/tmp/quadsgd-paper"))
    timing_file = work / "paper_timing.json"
    if timing_file.exists():
        timing = json.loads(timing_file.read_text())
    else:
        timing = run_paper_config(work)
    return [paper_row(work, timing)]
