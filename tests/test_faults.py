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
        # The scan job's output is its directory of part stores.
        return any(snakemake_recorded(workdir, p.relative_to(workdir)) for p in (results / "ode").glob("job*"))

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
    res = snakemake(workdir, "results/refine/job000", "--cores", "2", *CONFIG)
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
        res = snakemake(workdir, "results/refine/job000", "--cores", "2", *CONFIG)
        logs = "".join(p.read_text() for p in (workdir / "logs" / "refine_eta_opt").glob("*.log"))
        assert res.returncode != 0
        assert "No space left on device; could not write the zarr store" in logs, logs[-3000:]
        assert "results/refine/job000/p1_pstar1.zarr" in logs
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
         ["config error: config/bad.yaml: grid.eta_over_p.min: 0: must be > 0"]),
        (lambda c: c["grid"].update(p=[]), ["config error: config/bad.yaml: grid.p: []: must hold at least 1 item"]),
        (lambda c: c["grid"].update(N=2), ["config error: config/bad.yaml: grid.N: 2: must be at least p + pstar = 3"]),
        (lambda c: c["grid"].update(alpha_points=2),
         ["config error: config/bad.yaml: grid.alpha_points: 2: must be >= 3"]),
        (lambda c: c["grid"].update(alpha_max=0), ["config error: config/bad.yaml: grid.alpha_max: 0: must be > 0"]),
        (lambda c: c["grid"].update(alpha_max=0.005),
         ["config error: config/bad.yaml: grid.alpha_max: 0.005: no increasing alpha grid"]),
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


DAMAGE = {  # what is done to results/ode/job000/p1_pstar1_part000.zarr -> the line aggregate_sweep must stop with
    "zmetadata": ("unreadable or corrupted zarr store", None),
    "truncated-risk-chunk": ("variable 'risk': unreadable or corrupted chunk", "risk"),
    "missing-status-chunk": ("variable 'status': 1 of 1 chunks missing", "status"),
    "missing-risk-chunk": ("variable 'risk': 1 of 1 chunks missing", "risk"),
    "missing-alpha_escape-chunk": ("variable 'alpha_escape': 1 of 1 chunks missing", "alpha_escape"),
}


def _damage(store: Path, damage: str) -> None:
    if damage == "zmetadata":
        (store / ".zmetadata").write_text('{"metadata": {"truncated')
        return
    variable = DAMAGE[damage][1]
    chunk = next(p for p in (store / variable).iterdir() if not p.name.startswith("."))
    if damage.startswith("truncated"):
        chunk.write_bytes(chunk.read_bytes()[:7])
    else:  # zarr would read the missing chunk as its fill value: status 0 = "converged", risk NaN, ...
        chunk.unlink()


@pytest.mark.pipeline
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_part_store_stops_the_aggregation(done: Path, tmp_path: Path, damage: str, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    _damage(workdir / "results" / "ode" / "job000" / "p1_pstar1_part000.zarr", damage)
    # only the aggregation reruns (a moved workdir may otherwise count as changed code upstream)
    res = snakemake(workdir, "results/sweep.zarr", "--cores", "1", *CONFIG, "--forcerun", "aggregate_sweep",
                    "--rerun-triggers", "mtime")
    message = res.stdout + res.stderr
    assert res.returncode != 0
    expected = f"StoreError (aggregate_sweep): results/ode/job000/p1_pstar1_part000.zarr: {DAMAGE[damage][0]}"
    assert expected in message, message[-3000:]
    assert "Traceback" not in (workdir / "logs" / "aggregate_sweep.log").read_text()
    assert not (workdir / "results" / "sweep.zarr").exists() and not _leftovers(workdir / "results")


@pytest.mark.pipeline
def test_damaged_stores_stop_the_summary_and_the_plots(done: Path, tmp_path: Path, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    results = workdir / "results"
    (results / "refine" / "job000" / "p1_pstar1.zarr" / "eta_opt" / "0").unlink()  # summarize would read NaN
    res = snakemake(workdir, TARGET, "--cores", "1", *CONFIG, "--forcerun", "summarize", "--rerun-triggers", "mtime")
    assert res.returncode != 0
    assert ("StoreError (summarize): results/refine/job000/p1_pstar1.zarr: variable 'eta_opt': 1 of 1 chunks missing"
            in res.stdout + res.stderr), (res.stdout + res.stderr)[-3000:]
    workdir = _copy_finished(done, tmp_path / "w2")
    chunk = workdir / "results" / "summary.zarr" / "eta_opt" / "0.0"
    chunk.write_bytes(chunk.read_bytes()[:7])
    figure = "results/figures/fig2_eta_opt_vs_p.png"
    res = snakemake(workdir, figure, "--cores", "1", *CONFIG, "--rerun-triggers", "mtime")
    assert res.returncode != 0
    assert ("StoreError (plot): results/summary.zarr: variable 'eta_opt': unreadable or corrupted chunk"
            in res.stdout + res.stderr), (res.stdout + res.stderr)[-3000:]
    assert "Traceback" not in (workdir / "logs" / "plot" / "fig2_eta_opt_vs_p.log").read_text()


@pytest.mark.pipeline
def test_a_run_start_recovers_what_killed_writers_left(done: Path, tmp_path: Path, snakemake):
    import socket

    from quadsgd.storage import _HOST

    workdir = _copy_finished(done, tmp_path / "w")
    results = workdir / "results"
    dead = subprocess.run(["python3", "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    # killed inside the replace window: the sweep moved aside, the new one not yet in place
    os.rename(results / "sweep.zarr", results / f".sweep.zarr.old-{_HOST}-{pid}-0123abcd")
    shutil.copytree(done / "results" / "sweep.zarr", results / f".sweep.zarr.tmp-{_HOST}-{pid}-4567cdef")
    # killed while writing a part store
    (results / "ode" / "job000" / f".p1_pstar1_part000.zarr.tmp-{_HOST}-{pid}-89abcdef").mkdir()
    res = snakemake(workdir, "results/sweep.zarr", "--cores", "1", *CONFIG, "--rerun-triggers", "mtime")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "recovered: restored results/sweep.zarr" in res.stdout + res.stderr
    assert not _leftovers(results)
    xr.testing.assert_identical(open_store(results / "sweep.zarr"), open_store(done / "results" / "sweep.zarr"))
    assert socket.gethostname()


@pytest.mark.pipeline
def test_a_state_directory_that_is_a_file_is_named_before_any_job(done: Path, tmp_path: Path, snakemake):
    workdir = _copy_finished(done, tmp_path / "w")
    shutil.rmtree(workdir / ".snakemake")
    (workdir / ".snakemake").write_text("a file where Snakemake keeps its state")
    before = _snapshot(workdir / "results")
    res = snakemake(workdir, TARGET, "--cores", "1", *CONFIG)
    assert res.returncode != 0
    assert "[Errno 20] Not a directory (a directory belongs there): '.snakemake'" in res.stdout + res.stderr, (
        (res.stdout + res.stderr)[-3000:])
    assert _snapshot(workdir / "results") == before


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


# --- filesystem errors outside store writes: one line naming the path, nothing written lost -----

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


@pytest.fixture
def job(monkeypatch: pytest.MonkeyPatch):
    """workflow/scripts/_job.py, with sys.stderr restored after the test."""
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    return importlib.import_module("_job")


class _Smk:
    def __init__(self, log: Path):
        self.log = [str(log)]


def _run_job(job, main, log: Path, capfd) -> list[str]:
    with pytest.raises(SystemExit) as info:
        job.run(main, _Smk(log), "plot")
        raise SystemExit(0)
    assert info.value.code == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err


def test_a_log_that_cannot_be_opened_is_one_line(job, tmp_path: Path, capfd):
    (tmp_path / "logs").write_text("a file where the log directory belongs")
    ran = []
    line = _run_job(job, ran.append, tmp_path / "logs" / "plot" / "fig.log", capfd)[0]
    assert line.startswith("OSError (plot): cannot open the job's log: [Errno 20] Not a directory"), line
    assert str(tmp_path / "logs") in line and not ran


def test_a_full_disk_while_writing_a_figure_keeps_the_previous_one(job, tmp_path: Path, capfd,
                                                                   monkeypatch: pytest.MonkeyPatch):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = tmp_path / "figures" / "fig2_eta_opt_vs_p.png"
    figure.parent.mkdir()
    figure.write_bytes(b"the previous figure")
    real = Figure.savefig

    def full_disk(self, fname, *args, **kwargs):
        real(self, fname, *args, **kwargs)  # part of the file reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", full_disk)
    line = _run_job(job, lambda smk: job.save_figure(Figure(), figure, dpi=50), tmp_path / "fig.log", capfd)[0]
    assert line == (f"OSError (plot): [Errno 28] No space left on device; could not write the figure: "
                    f"'{figure}'"), line
    assert figure.read_bytes() == b"the previous figure"
    assert sorted(p.name for p in figure.parent.iterdir()) == [figure.name]  # no temporary left
    assert "could not write the figure" in (tmp_path / "fig.log").read_text()


def test_a_full_disk_while_writing_the_log_is_one_line(job, tmp_path: Path, capfd):
    import sys

    class Full:
        def write(self, s):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        flush = write

    def main(smk):
        sys.stderr.file = Full()  # the disk fills up while the job runs
        print("progress", file=sys.stderr)

    line = _run_job(job, main, tmp_path / "fig.log", capfd)[0]
    assert line == f"OSError (plot): could not write the job's log: [Errno 28] No space left on device: " \
                   f"'{tmp_path / 'fig.log'}'", line


def test_a_store_under_a_symlink_loop_is_one_line(job, tmp_path: Path, capfd):
    (tmp_path / "refine").symlink_to("refine")
    target = tmp_path / "refine" / "p1_pstar1.zarr"
    ds = _described(xr.Dataset({"a": ("x", np.arange(3.0))}))
    line = _run_job(job, lambda smk: write_zarr_atomic(ds, target), tmp_path / "job.log", capfd)[0]
    assert line == (f"OSError (plot): [Errno 40] Too many levels of symbolic links; could not write the zarr "
                    f"store: '{target}'"), line


def test_a_damaged_input_store_is_one_line(job, tmp_path: Path, capfd):
    store = write_zarr_atomic(_described(xr.Dataset({"a": ("x", np.arange(3.0))})), tmp_path / "s.zarr")
    (store / "a" / "0").unlink()
    line = _run_job(job, lambda smk: open_store(store), tmp_path / "job.log", capfd)[0]
    assert line == f"StoreError (plot): {store}: variable 'a': 1 of 1 chunks missing (first: a/0); the store is " \
                   "damaged, rerun the rule that writes it", line


# --- outcomes that are data: no learning rate lets every seed escape ----------------------------


def _summary_where_nothing_escapes(direct_scan, alpha_max: float = 0.1):
    """A summary from real scans whose recording grid ends (alpha_max tiny) before any seed escapes."""
    import warnings

    from quadsgd.eta_opt import EtaOptSearch, search_eta_opt
    from quadsgd.grids import log_alpha_grid
    from quadsgd.sweep import aggregate, drivers

    alpha, etas, seeds = log_alpha_grid(alpha_max, 8), np.geomspace(0.05, 1.0, 4), np.arange(2)
    parts, optima = [], {}
    for p in (1, 2):
        scan = direct_scan(p, 1, etas, seeds, 1000, alpha)[list(drivers.SCAN_VARIABLES)]
        scan = scan.drop_vars(["k", "l", "r"], errors="ignore")
        scan = scan.assign_coords(eta=("eta_over_p", p * etas)).assign_attrs(p=p, pstar=1, N=1000,
                                                                             escape_fraction=0.5)
        result = search_eta_opt(scan, lambda e, p=p: direct_scan(p, 1, e, seeds, 1000, alpha),
                                EtaOptSearch(max_grow=0, refine_rounds=0))
        parts.append(scan)
        optima[(p, 1)] = aggregate.optimum_dataset(result, p=p, pstar=1, N=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", aggregate.GridWarning)
        return aggregate.summarize(aggregate.combine_scans(parts), optima)


@pytest.mark.pipeline  # uses the finished run of this module
def test_no_learning_rate_lets_every_seed_escape_the_figures_say_so(direct_scan, done: Path, tmp_path: Path):
    import matplotlib

    matplotlib.use("Agg")
    from quadsgd.plots import sgd as plots

    nothing = _summary_where_nothing_escapes(direct_scan)
    assert not np.isfinite(nothing["eta_opt"].values).any() and int(nothing["n_escaped"].sum()) == 0
    partly = open_store(done / TARGET)  # the test run, with one (p, p*) made to have no optimum
    partly["eta_opt"][0, 0] = np.nan
    for summary, pairs in ((nothing, "(1, 1), (2, 1)"), (partly, f"({int(partly.p[0])}, {int(partly.pstar[0])})")):
        for plot in (plots.plot_escape_vs_eta, plots.plot_eta_opt, plots.plot_escape_at_eta_opt):
            fig = plot(summary)
            fig.savefig(tmp_path / "fig.png")  # drawing is where a log axis without positive data fails
            texts = [t.get_text() for ax in fig.axes for t in ax.texts]
            assert f"no learning rate let every seed escape for (p, p*)={pairs}" in texts, (plot.__name__, texts)


def test_parts_of_different_N_or_escape_fraction_are_not_combined():
    from quadsgd.sweep.aggregate import combine_scans
    from quadsgd.sweep.drivers import SCAN_VARIABLES

    def scan(p: int, N: int, fraction: float) -> xr.Dataset:
        ds = xr.Dataset({v: (("eta_over_p", "seed"), np.zeros((2, 2))) for v in SCAN_VARIABLES},
                        coords={"eta_over_p": [0.1, 0.2], "seed": [0, 1]})
        return ds.assign_coords(eta=("eta_over_p", [0.1 * p, 0.2 * p])).assign_attrs(
            p=p, pstar=1, N=N, escape_fraction=fraction)

    assert combine_scans([scan(1, 100, 0.5), scan(2, 100, 0.5)]).sizes["p"] == 2
    with pytest.raises(ValueError, match=r"scans were made with different N: \[100.0, 200.0\]"):
        combine_scans([scan(1, 100, 0.5), scan(2, 200, 0.5)])
    with pytest.raises(ValueError, match=r"different escape_fraction: \[0.4, 0.5\]"):
        combine_scans([scan(1, 100, 0.5), scan(2, 100, 0.4)])
