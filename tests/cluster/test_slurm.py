"""The sweep on a real SLURM cluster: Dask workers as SLURM jobs, Snakemake's SLURM executor.

Run against the one-node cluster of ``tests/cluster/slurm_harness.sh``::

    bash tests/cluster/slurm_harness.sh up
    QUADSGD_SLURM_TESTS=1 python -m pytest tests/cluster -m slurm
    bash tests/cluster/slurm_harness.sh down

Skipped unless ``QUADSGD_SLURM_TESTS=1`` or ``sinfo`` answers. With ``QUADSGD_SLURM_TESTS=1``
and no cluster the tests fail instead of skipping, so a broken harness cannot pass silently.
The partition is ``$QUADSGD_SLURM_PARTITION`` (default: the cluster's default partition).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from ._common import ETAS, assert_bit_identical, local_scan, submit_eta

REPO = Path(__file__).resolve().parents[2]
PARTITION = os.environ.get("QUADSGD_SLURM_PARTITION") or None


def _sinfo_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("QUADSGD_SLURM_TESTS") != "1" and not _sinfo_answers(),
        reason="no SLURM cluster (set QUADSGD_SLURM_TESTS=1 or start tests/cluster/slurm_harness.sh)",
    ),
]

#: One BLAS/OpenMP/numba thread per worker, as quadsgd.sweep.execute does for its SLURM workers.
PROLOGUE = [
    f"export {k}=1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
]


def _squeue_names() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture
def slurm_cluster(tmp_path):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    job_name = f"quadsgd-test-{os.getpid()}"
    cluster = dask_jobqueue.SLURMCluster(
        cores=1,
        processes=1,
        memory="1GB",
        queue=PARTITION,
        walltime="00:10:00",
        job_name=job_name,
        python=sys.executable,
        local_directory=str(tmp_path / "scratch"),
        log_directory=str(tmp_path / "logs"),
        # The harness has one node and no accounting: one task on one node, and run the job in
        # the test's temp dir so nothing lands in the working directory.
        job_extra_directives=["--nodes=1", "--ntasks=1", f"--chdir={tmp_path}"],
        job_script_prologue=PROLOGUE,
        # Loopback only: the single node of the harness is this host.
        scheduler_options={"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
        worker_extra_args=["--host", "127.0.0.1"],
    )
    try:
        yield cluster, job_name
    finally:
        cluster.close()
        # Jobs are cancelled by close(); make sure none outlives the test either way.
        subprocess.run(["scancel", "--name", job_name], capture_output=True)


@pytest.mark.timeout(400)
def test_dask_slurmcluster_matches_local(slurm_cluster, tmp_path):
    from distributed import Client, wait

    cluster, job_name = slurm_cluster
    want = local_scan()
    script = cluster.job_script()
    assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH --mem=" in script
    cluster.scale(2)
    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=180)
        # Both workers are SLURM jobs of this test.
        assert _squeue_names().count(job_name) == 2
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        # One learning rate per worker, pinned, so the scan really is split across both jobs.
        futures = [
            submit_eta(client, eta, workers=[w], allow_other_workers=False)
            for eta, w in zip(ETAS, workers, strict=True)
        ]
        wait(futures, timeout=180)
        parts = client.gather(futures)
        assert {client.who_has(f)[f.key][0] for f in futures} == set(workers)
    got = xr.concat(parts, dim="eta_over_p")
    assert_bit_identical(got, want)
    # close() cancels the jobs; squeue forgets them (or shows them completing) shortly after.
    cluster.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = subprocess.run(
            ["squeue", "-h", "-n", job_name, "-t", "PD,R,CG"], capture_output=True, text=True
        ).stdout.split()
        if not running:
            break
        time.sleep(1)
    else:
        pytest.fail(f"SLURM jobs {job_name} still queued/running after cluster.close()")


@pytest.mark.timeout(400)
def test_quadsgd_dask_client_kind_slurm(tmp_path):
    """The pipeline's own entry point, ``dask_client(threads, kind="slurm")``, as the config's
    ``dask: {kind: slurm, cluster_kwargs: {...}}`` reaches it from a Snakemake rule."""
    pytest.importorskip("dask_jobqueue")
    from distributed import wait

    from quadsgd.sweep.execute import dask_client

    job_name = f"quadsgd-client-{os.getpid()}"
    cluster_kwargs = {
        "queue": PARTITION,
        "memory": "1GB",
        "walltime": "00:10:00",
        "job_name": job_name,
        "python": sys.executable,
        "log_directory": str(tmp_path / "logs"),
        "job_extra_directives": ["--nodes=1", "--ntasks=1", f"--chdir={tmp_path}"],
        "scheduler_options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
        "worker_extra_args": ["--host", "127.0.0.1"],
    }
    want = local_scan()
    try:
        with dask_client(2, kind="slurm", local_directory=tmp_path / "scratch",
                         cluster_kwargs=cluster_kwargs) as client:
            client.wait_for_workers(2, timeout=180)
            assert _squeue_names().count(job_name) == 2
            futures = [submit_eta(client, eta) for eta in ETAS]
            wait(futures, timeout=180)
            got = xr.concat(client.gather(futures), dim="eta_over_p")
    finally:
        subprocess.run(["scancel", "--name", job_name], capture_output=True)
    assert_bit_identical(got, want)


# --------------------------------------------------------------------------------------------
# Snakemake with the SLURM executor vs. a local run

PIPELINE_FILES = ["Snakefile", "workflow", "config/test.yaml", "profiles/slurm/config.yaml"]


def _copy_pipeline(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ["Snakefile", "workflow", "config", "profiles"]:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _snakemake(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(workdir / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config/test.yaml"),
        "--cores", "2", *args,
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} failed ({proc.returncode})\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-8000:]}"
        )
    return proc


def _zarr_stores(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / "results").rglob("*.zarr"))


@pytest.mark.skipif(
    not all((REPO / f).exists() for f in PIPELINE_FILES),
    reason="pipeline not present (needs " + ", ".join(PIPELINE_FILES) + ")",
)
@pytest.mark.timeout(1800)
def test_snakemake_slurm_executor_matches_local(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    slurm_dir = _copy_pipeline(tmp_path / "slurm")
    local_dir = _copy_pipeline(tmp_path / "local")
    # The local run picks up profiles/default as the workflow profile, as a user's run would.
    _snakemake(local_dir)
    # `--workflow-profile none`: otherwise profiles/default is loaded as the workflow profile
    # and overrides profiles/slurm (including its whole default-resources list).
    _snakemake(
        slurm_dir, "--executor", "slurm", "--profile", str(slurm_dir / "profiles/slurm"),
        "--workflow-profile", "none",
        # Poll squeue every few seconds instead of the profile's 10+ s: the test's jobs are short.
        "--slurm-init-seconds-before-status-checks", "3",
    )
    # Every rule ran as a SLURM job (the executor keeps the logs with slurm-keep-successful-logs).
    assert list((slurm_dir / ".snakemake/slurm_logs").rglob("*.log")), "no SLURM job logs"

    stores = _zarr_stores(local_dir)
    assert stores, "the local run produced no zarr store"
    assert _zarr_stores(slurm_dir) == stores
    for rel in stores:
        with xr.open_zarr(local_dir / rel) as a, xr.open_zarr(slurm_dir / rel) as b:
            a, b = a.load(), b.load()
            assert set(a.data_vars) == set(b.data_vars), rel
            for name in a.data_vars:
                assert a[name].identical(b[name]), f"{rel}:{name} differs between local and SLURM"
            # Attributes may record run-specific details (e.g. paths); the numbers may not differ.
            assert a.drop_attrs().equals(b.drop_attrs()), rel
