"""The scan on a Dask cluster reached by address: real ``dask scheduler`` / ``dask worker``
processes on loopback, bit-identical results, and a worker killed mid-batch loses nothing.

This is what ``dask.scheduler_address`` in the pipeline config (``quadsgd.sweep.execute.dask_client``)
connects to. Only 127.0.0.1 is used; the scheduler picks a free port and reports it through its
scheduler file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from ._common import ETAS, assert_bit_identical, local_scan, slow_scan, submit_eta

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _dask_cli() -> list[str] | None:
    """The ``dask`` command of this interpreter's environment (or of PATH)."""
    exe = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    return [exe] if exe else None


def _spawn(args: list[str], log: Path, cwd: Path) -> subprocess.Popen:
    # The repository root on the path: the workers unpickle tests.cluster._common.slow_scan.
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": pythonpath}
    with open(log, "wb") as fh:
        # A session of its own: cleanup can signal the process group without touching ours.
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture
def dask_processes(tmp_path):
    """A scheduler on 127.0.0.1:<free port> and two one-thread workers, all separate processes."""
    dask = _dask_cli()
    if dask is None:
        pytest.skip("the `dask` command line is not installed")
    sched_file = tmp_path / "scheduler.json"
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["scheduler"] = _spawn(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(sched_file)],
            tmp_path / "scheduler.log", tmp_path,
        )
        deadline = time.monotonic() + 30
        while not sched_file.exists() or not sched_file.read_text().strip():
            if procs["scheduler"].poll() is not None or time.monotonic() > deadline:
                pytest.fail("dask scheduler did not start:\n" + (tmp_path / "scheduler.log").read_text())
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("w0", "w1"):
            # No nanny: the process we kill below *is* the worker, nothing restarts it.
            procs[name] = _spawn(
                [*dask, "worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                 "--no-nanny", "--host", "127.0.0.1", "--no-dashboard",
                 "--local-directory", str(tmp_path / name)],
                tmp_path / f"{name}.log", tmp_path,
            )
        yield address, procs
    finally:
        for proc in procs.values():
            _stop(proc)


def _worker_by_name(client) -> dict[str, str]:
    return {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}


@pytest.mark.timeout(120)
def test_scan_by_address_is_bit_identical_and_survives_a_killed_worker(dask_processes):
    from distributed import Client, wait

    address, procs = dask_processes
    want = local_scan()
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
        workers = _worker_by_name(client)
        assert sorted(workers) == ["w0", "w1"]
        assert all(a.startswith("tcp://127.0.0.1:") for a in workers.values())

        # 1. One learning rate per worker, pinned: the scan is split across both processes.
        futures = [
            submit_eta(client, eta, workers=[workers[name]], allow_other_workers=False)
            for eta, name in zip(ETAS, ["w0", "w1"], strict=True)
        ]
        wait(futures, timeout=60)
        assert {client.who_has(f)[f.key][0] for f in futures} == set(workers.values())
        assert_bit_identical(xr.concat(client.gather(futures), dim="eta_over_p"), want)
        del futures

        # 2. A longer batch, one task per (eta, seed), each sleeping 0.4 s before its scan;
        #    kill w1 while one of them is running there.
        etas = [0.05, 0.1, 0.15, 0.2]
        seeds = list(range(4))
        want_batch = local_scan(etas=etas, seeds=seeds)
        batch = {
            (eta, s): client.submit(slow_scan, eta, [s], 0.4, pure=False) for eta in etas for s in seeds
        }
        victim = workers["w1"]
        deadline = time.monotonic() + 60
        while True:
            done = sum(f.done() for f in batch.values())
            on_victim = len(client.processing([victim]).get(victim, ()))
            if done >= 2 and on_victim > 0:
                break
            if done == len(batch) or time.monotonic() > deadline:
                pytest.fail(f"could not catch w1 busy (done={done}, on w1={on_victim})")
            time.sleep(0.02)
        procs["w1"].kill()
        procs["w1"].wait(timeout=10)
        lost_in_flight = on_victim
        wait(list(batch.values()), timeout=90)
        assert all(f.status == "finished" for f in batch.values())
        assert list(client.scheduler_info()["workers"]) == [workers["w0"]]
        # Results w1 had computed (held only in its memory) were recomputed on w0 as well.
        assert {a for f in batch.values() for a in client.who_has(f)[f.key]} == {workers["w0"]}
        results = client.gather(batch)
    assert lost_in_flight > 0
    got = xr.concat(
        [xr.concat([results[(eta, s)] for s in seeds], dim="seed") for eta in etas], dim="eta_over_p"
    )
    assert_bit_identical(got, want_batch)
