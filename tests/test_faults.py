"""Injected faults and bad input: interrupted runs, unwritable or full disks, concurrent writers,
bad configurations, a results directory of another configuration, corrupted stores, divergence.

Pipeline runs use config/test.yaml in temporary copies of the workflow (helpers are fixtures of
tests/conftest.py); library-level faults are injected in-process. Nothing here assumes how long
a step takes: the tests wait on events (a store appearing, Snakemake recording it, a lock).
"""

from __future__ import annotations

import copy
import errno
import multiprocessing
import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from quadsgd.provenance import FINGERPRINT_FILE, config_fingerprint
from quadsgd.storage import StoreError, open_store, write_zarr_atomic
from quadsgd.sweep.aggregate import status_counts

TARGET = "results/summary.zarr"
CONFIG = ("--configfile", "config/test.yaml")


def _stores(results: Path) -> list[Path]:
    """Every zarr store (visible name) under ``results``."""
    return sorted(p for p in results.rglob("*.zarr") if not p.name.startswith("."))


def _leftovers(results: Path) -> list[Path]:
    """Temporary or moved-aside stores of write_zarr_atomic."""
    return sorted(p for p in results.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name)


def _described(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with long_name and units on every variable (write_zarr_atomic refuses it otherwise)."""
    for name in ds.variables:
        ds[name].attrs.update(long_name=f"test variable {name}", units="1")
    return ds


def _snapshot(results: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in _stores(results)}


def _copy_finished(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _write_config(workdir: Path, base: dict, edit, name: str = "override.yaml") -> str:
    config = copy.deepcopy(base)
    edit(config)
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return f"config/{name}"


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory, copy_workflow, snakemake) -> Path:
    """A clean run of results/summary.zarr (ODE parts, sweep, refinement, SGD, summary)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("faults"))
    res = snakemake(workdir, TARGET, "--cores", "2", *CONFIG)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return workdir


@pytest.fixture
def start(snakemake_command):
    """``start(workdir, *args)``: Snakemake on TARGET in the background, in a session of its own."""

    def run(workdir: Path, *args: str) -> subprocess.Popen:
        log = open(workdir / "run.log", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([*snakemake_command, TARGET, "--cores", "2", *CONFIG, *args], cwd=workdir,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    return run


# --- interruptions and concurrent runs -------------------------------------------------------


@pytest.mark.pipeline
def test_sigint_mid_run_keeps_no_partial_store_and_resumes_identically(
        done: Path, tmp_path: Path, copy_workflow, snakemake, start, wait_until, snakemake_recorded):
    workdir = copy_workflow(tmp_path)
    results = workdir / "results"
    proc = start(workdir)

    def a_store_is_recorded() -> bool:  # a finished store that Snakemake has recorded as done
        return any(snakemake_recorded(workdir, p.relative_to(workdir)) for p in (results / "ode").glob("*/part*.zarr"))

    try:
        wait_until(a_store_is_recorded, proc=proc, what="a finished ODE store recorded by Snakemake")
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group, as a terminal sends it
        proc.wait(timeout=600)
    assert proc.returncode != 0
    assert not (workdir / TARGET).exists(), "the run finished before it could be interrupted"
    before = _snapshot(results)
    assert before, "no store was finished before the interruption"
    for store in before:  # every visible store is complete: consolidated metadata and readable
        assert (store / ".zmetadata").exists(), store
        open_store(store, required=("status",))
    assert not _leftovers(results)
    assert not (workdir / ".snakemake" / "locks").exists() or not any((workdir / ".snakemake" / "locks").iterdir())
    # No --unlock after SIGINT. --rerun-incomplete (set in profiles/default): a job interrupted
    # after its store was renamed into place but before Snakemake recorded it is redone.
    res = snakemake(workdir, TARGET, "--cores", "2", "--rerun-incomplete", *CONFIG)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    after = _snapshot(results)
    redone = [p for p, m in before.items() if after.get(p) != m]
    # --cores 2: at most two jobs ran at the interruption, and theirs are the newest stores.
    newest = sorted(before, key=before.get)[-2:]
    assert set(redone) <= set(newest), f"finished stores were redone: {redone}"
    assert len(before) - len(redone) >= 1, "every store finished before the interruption was redone"
    finished = [s.relative_to(done) for s in _stores(done / "results")]
    assert [s.relative_to(workdir) for s in _stores(results)] == finished
    for store in _stores(done / "results"):
        rel = store.relative_to(done)
        xr.testing.assert_identical(open_store(workdir / rel).load(), open_store(store).load())


@pytest.mark.pipeline
def test_second_snakemake_in_the_same_directory_is_refused(tmp_path: Path, copy_workflow, snakemake, start,
                                                           wait_until):
    workdir = copy_workflow(tmp_path)
    locks = workdir / ".snakemake" / "locks"
    proc = start(workdir)
    try:
        wait_until(lambda: locks.exists() and any(locks.iterdir()), proc=proc, what="the first run's lock")
        # --rerun-incomplete (as in the profiles) gets past the check for the first run's running jobs
        second = snakemake(workdir, TARGET, "--cores", "2", *CONFIG, "--rerun-incomplete")
        first_still_running = proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=600)
    assert first_still_running
    assert second.returncode != 0
    assert "LockException" in second.stderr and "Directory cannot be locked" in second.stderr, second.stderr[-2000:]


ROUNDS = 4


def _writer(path: str, value: float, barrier) -> None:
    ds = _described(xr.Dataset({f"v{i}": (("x", "y"), np.full((50, 40), value + i)) for i in range(12)}))
    ds = ds.chunk({"x": 10})
    for _ in range(ROUNDS):
        barrier.wait()  # start together
        write_zarr_atomic(ds, path)
        barrier.wait()  # done


def test_concurrent_write_zarr_atomic_leaves_one_complete_store(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that already runs threads
    target = tmp_path / "agg.zarr"
    barrier = ctx.Barrier(3, timeout=120)
    procs = [ctx.Process(target=_writer, args=(str(target), v, barrier)) for v in (100.0, 200.0)]
    for p in procs:
        p.start()
    try:
        for round_ in range(ROUNDS):
            if round_ % 2:  # alternately onto an existing store and onto nothing
                write_zarr_atomic(_described(xr.Dataset({"v0": ("x", np.zeros(3))})), target)
            else:
                shutil.rmtree(target, ignore_errors=True)
            barrier.wait()
            barrier.wait()
            ds = open_store(target, required=[f"v{i}" for i in range(12)]).load()
            base = float(ds["v0"][0, 0])
            assert base in (100.0, 200.0)
            for i in range(12):  # one writer's dataset, never a mixture
                np.testing.assert_array_equal(ds[f"v{i}"].values, np.full((50, 40), base + i))
            assert not _leftovers(tmp_path)
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]


# --- unwritable results and full disks -------------------------------------------------------


@pytest.mark.pipeline
def test_unwritable_results_directory_fails_naming_it(done: Path, tmp_path: Path, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    results = workdir / "results"
    shutil.rmtree(results / "refine")
    (results / "refine").write_text("a file where the refinement stores' directory belongs\n")
    keep = {p: m for p, m in _snapshot(results).items() if "refine" not in p.parts}
    res = snakemake(workdir, "results/refine/p1_pstar1.zarr", "--cores", "2", *CONFIG)
    message = res.stdout + res.stderr
    assert res.returncode != 0
    assert "results/refine" in message, message[-3000:]
    assert _snapshot(results) == keep and not _leftovers(results)


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return res.returncode == 0


@pytest.mark.pipeline
def test_full_disk_fails_naming_the_store_and_keeps_earlier_results(done: Path, tmp_path: Path, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    results = workdir / "results"
    shutil.rmtree(results / "refine")
    if not _mount_tmpfs(results / "refine", "1m"):
        pytest.skip("needs root and a mountable tmpfs")
    try:
        try:  # fill the file system
            with open(results / "refine" / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC
        keep = {p: m for p, m in _snapshot(results).items() if "refine" not in p.parts}
        res = snakemake(workdir, "results/refine/p1_pstar1.zarr", "--cores", "2", *CONFIG)
        logs = "".join(p.read_text() for p in (workdir / "logs" / "refine_eta_opt").glob("*.log"))
        assert res.returncode != 0
        assert "No space left on device; could not write the zarr store" in logs, logs[-3000:]
        assert "results/refine/p" in logs
        assert _snapshot(results) == keep
        assert not _leftovers(results) and not _stores(results / "refine")
    finally:
        subprocess.run(["umount", str(results / "refine")], check=False)


def test_disk_full_mid_write_keeps_the_existing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "results" / "sweep.zarr"
    old = _described(xr.Dataset({"a": ("x", np.arange(5.0))}))
    write_zarr_atomic(old, target)
    real_to_zarr = xr.Dataset.to_zarr

    def full_disk(self, store, *args, **kwargs):
        real_to_zarr(self[["a"]], store, *args, **kwargs)  # part of the store reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xr.Dataset, "to_zarr", full_disk)
    with pytest.raises(OSError, match="No space left on device; could not write the zarr store") as info:
        write_zarr_atomic(_described(xr.Dataset({"a": ("x", np.ones(5)), "b": ("x", np.ones(5))})), target)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    monkeypatch.undo()
    xr.testing.assert_identical(open_store(target).load(), old)
    assert not _leftovers(tmp_path)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.pipeline
@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["grid"]["eta_over_p"].update(min=0),
         ["eta_over_p", "min", "less than or equal to the minimum of 0"]),
        (lambda c: c["grid"].update(p=[]), ["['grid']['p']", "should be non-empty"]),
        (lambda c: c["grid"].update(N=2), ["config key grid.N: N=2 must be at least p + pstar = 3"]),
        (lambda c: c["grid"].update(alpha_points=2), ["alpha_points", "2 is less than the minimum of 3"]),
        (lambda c: c["grid"].update(alpha_max=0), ["alpha_max", "less than or equal to the minimum of 0"]),
        (lambda c: c["grid"].update(alpha_max=0.005), ["config key grid.alpha_max / grid.alpha_points: no increasing"]),
    ],
    ids=["eta-min-zero", "empty-p", "N-below-p+pstar", "two-alpha-points", "alpha-max-zero", "alpha-max-tiny"],
)
def test_bad_input_fails_before_writing_anything(tmp_path: Path, edit, expected, copy_workflow, snakemake,
                                                 test_config):
    workdir = copy_workflow(tmp_path)
    config = _write_config(workdir, test_config, edit, "bad.yaml")
    res = snakemake(workdir, "--cores", "1", "--configfile", config)
    message = res.stdout + res.stderr
    assert res.returncode != 0
    for text in expected:
        assert text in message, message[-2000:]
    assert not (workdir / "results").exists()


@pytest.mark.pipeline
def test_results_of_another_configuration_are_refused(done: Path, tmp_path: Path, snakemake, test_config):
    workdir = _copy_finished(done, tmp_path / "w")
    results = workdir / "results"
    before = _snapshot(results)
    recorded = (results / FINGERPRINT_FILE).read_text()
    config = _write_config(workdir, test_config, lambda c: c["grid"].update(seeds=3))
    res = snakemake(workdir, TARGET, "--cores", "2", "--configfile", config)
    message = res.stdout + res.stderr
    assert res.returncode != 0
    for text in ("results/ holds stores from a different configuration", "differing config sections: grid",
                 "run this configuration in its own directory", "--directory OTHER_DIR", "delete results/"):
        assert text in message, message[-2000:]
    assert _snapshot(results) == before and (results / FINGERPRINT_FILE).read_text() == recorded
    # Settings that do not change any number (Dask, task size, resources) are not "another config".
    config = _write_config(workdir, test_config,
                           lambda c: (c["jobs"].update(points_per_task=1), c["dask"].update(processes=True)))
    res = snakemake(workdir, TARGET, "-n", "--configfile", config)
    assert res.returncode == 0 and "different configuration" not in res.stdout + res.stderr, res.stderr[-2000:]


def test_fingerprint_is_one_function_of_the_numerics(test_config):
    cfg = copy.deepcopy(test_config)
    fp = config_fingerprint(cfg)
    same = copy.deepcopy(cfg)
    same["grid"]["alpha_max"] = float(same["grid"]["alpha_max"])  # 1000 and 1000.0 are one setting
    same["jobs"]["points_per_task"] = 99
    same["dask"] = {"kind": "slurm"}
    assert config_fingerprint(same) == fp
    other = copy.deepcopy(cfg)
    other["escape_fraction"] = 0.4
    assert config_fingerprint(other) != fp


@pytest.mark.pipeline
@pytest.mark.parametrize("damage", ["zmetadata", "chunk"])
def test_corrupted_store_given_to_the_aggregation(done: Path, tmp_path: Path, damage: str, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    store = workdir / "results" / "ode" / "p1_pstar1" / "part000.zarr"
    if damage == "zmetadata":
        (store / ".zmetadata").write_text('{"metadata": {"truncated')
    else:  # a truncated chunk of one variable
        chunk = next(p for p in (store / "risk").iterdir() if not p.name.startswith("."))
        chunk.write_bytes(chunk.read_bytes()[:7])
    # only the aggregation reruns (a moved workdir may otherwise count as changed code upstream)
    res = snakemake(workdir, "results/sweep.zarr", "--cores", "1", *CONFIG, "--forcerun", "aggregate_sweep",
                     "--rerun-triggers", "mtime")
    message = res.stdout + res.stderr
    assert res.returncode != 0
    assert "StoreError (aggregate_sweep): results/ode/p1_pstar1/part000.zarr: unreadable or corrupted" in message, (
        message[-3000:])
    assert "Traceback" not in (workdir / "logs" / "aggregate_sweep.log").read_text()
    assert not (workdir / "results" / "sweep.zarr").exists() and not _leftovers(workdir / "results")


def test_open_store_names_a_corrupted_store(tmp_path: Path):
    target = write_zarr_atomic(_described(xr.Dataset({"a": ("x", np.arange(5.0))})), tmp_path / "s.zarr")
    (target / ".zmetadata").write_text("garbage")
    with pytest.raises(StoreError, match="s.zarr: unreadable or corrupted zarr store"):
        open_store(target, required=("a",))


# --- numerical faults are data -----------------------------------------------------------------


@pytest.mark.pipeline
def test_divergent_learning_rates_are_counted_not_fatal(done: Path):
    """config/test.yaml reaches eta/p = 1, where runs diverge: the run finishes and counts them."""
    summary = open_store(done / TARGET, required=("n_diverged", "n_runs")).load()
    sweep_ds = open_store(done / "results" / "sweep.zarr").load()
    assert int(summary["n_diverged"].sum()) > 0
    assert int(summary["n_diverged"].sum()) == status_counts(sweep_ds)["diverged"]
    assert np.all(np.isfinite(summary["eta_opt"].values))
