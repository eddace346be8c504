"""The Snakemake pipeline end to end on config/test.yaml, in temporary copies of the workflow."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from quadsgd.escape import escape_statistics
from quadsgd.grids import eta_over_p_grid, log_alpha_grid
from quadsgd.storage import open_store
from quadsgd.sweep import aggregate, drivers

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, copy_workflow, snakemake) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("pipeline"))
    res = snakemake(workdir, "--cores", "2", "--configfile", "config/test.yaml")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return workdir


def test_stores_have_the_schema(finished: Path, test_config):
    ds = open_store(finished / "results" / "sweep.zarr", required=("risk", "alpha_escape", "status"))
    grid = test_config["grid"]
    assert dict(ds.sizes) == {
        "p": len(grid["p"]), "pstar": len(grid["pstar"]), "eta_over_p": grid["eta_over_p"]["num"],
        "seed": grid["seeds"], "alpha": grid["alpha_points"],
    }
    assert ds.eta.dims == ("p", "eta_over_p")
    assert ds.N.dims == () and int(ds.N) == grid["N"]  # N is a coordinate of the sweep
    assert "config" in ds.attrs and "quadsgd_version" in ds.attrs
    assert yaml.safe_load(ds.attrs["config"])["grid"]["N"] == grid["N"]
    summary = open_store(finished / "results" / "summary.zarr", required=("eta_opt", "eta_opt_exponent"))
    for store in (ds, summary):
        for name in store.variables:
            assert {"long_name", "units"} <= set(store[name].attrs), name
    assert set(summary["eta_opt"].dims) == {"p", "pstar"}
    assert summary["eta_opt_exponent"].dims == ("pstar",)
    assert "sgd_alpha_escape_mean" in summary and summary["sgd_alpha_escape_mean"].dims == (
        "sgd_p", "sgd_pstar", "sgd_N")
    assert int(summary["grid_reaches_instability"].min()) == 1


def test_values_match_direct_library_calls(finished: Path, test_config, direct_scan):
    grid = test_config["grid"]
    ds = open_store(finished / "results" / "sweep.zarr").load()
    etas = eta_over_p_grid(grid["eta_over_p"]["min"], grid["eta_over_p"]["max"], grid["eta_over_p"]["num"])
    alpha = log_alpha_grid(grid["alpha_max"], grid["alpha_points"])
    for p in grid["p"]:
        direct = direct_scan(p, 1, etas, np.arange(grid["seeds"]), grid["N"], alpha)
        got = ds.sel(p=p, pstar=1)
        np.testing.assert_array_equal(got.alpha_escape.values, direct.alpha_escape.values)
        np.testing.assert_array_equal(got.status.values, direct.status.values)
        np.testing.assert_array_equal(got.risk.values, direct.risk.values)
    summary = open_store(finished / "results" / "summary.zarr").load()
    expected = escape_statistics(ds, "seed")
    np.testing.assert_array_equal(summary.alpha_escape_mean.values, expected.alpha_escape_mean.values)
    assert np.all(np.isfinite(summary.eta_opt.values))
    # The summary's optimum is the one the refine job stored (not selected again).
    for p in grid["p"]:
        [store] = (finished / "results" / "refine").glob(f"job*/p{p}_pstar1.zarr")
        opt = open_store(store, required=aggregate.OPTIMUM_VARIABLES)
        for name in aggregate.OPTIMUM_VARIABLES:
            np.testing.assert_equal(float(summary[name].sel(p=p, pstar=1)), float(opt[name]), err_msg=name)
    sgd = test_config["sgd"]
    run = open_store(finished / "results" / f"sgd/p{sgd['p'][0]}_pstar{sgd['pstar'][0]}/N{sgd['N'][0]}.zarr")
    direct_sgd = drivers.sgd_curves(sgd["p"][0], sgd["pstar"][0], N=sgd["N"][0], eta=sgd["eta_over_p"] * sgd["p"][0],
                                    seeds=np.arange(sgd["seeds"]), alpha_max=sgd["alpha_max"],
                                    alpha_points=sgd["alpha_points"], progress=False)
    np.testing.assert_array_equal(run.risk.values, direct_sgd.risk.values)


def test_figures_exist(finished: Path):
    figures = finished / "results" / "figures"
    names = {p.name for p in figures.iterdir()}
    for stem in ("fig1_sgd_vs_ode_p2_pstar1_N200", "fig4_polar_factor_p2_pstar1_N200", "fig2_escape_vs_eta",
                 "fig2_eta_opt_vs_p", "fig2_escape_at_eta_opt", "fig3_implicit_bias"):
        for ext in ("png", "pdf"):
            assert f"{stem}.{ext}" in names
            assert (figures / f"{stem}.{ext}").stat().st_size > 5000


def test_cli_summary(finished: Path):
    res = subprocess.run(["quadsgd", "summary", "results"], cwd=finished, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "eta_opt" in res.stdout and "p*=1: a = " in res.stdout
    broken = finished / "broken"
    shutil.copytree(finished / "results" / "summary.zarr", broken / "summary.zarr")
    (broken / "summary.zarr" / ".zmetadata").write_text("garbage")
    res = subprocess.run(["quadsgd", "summary", str(broken)], capture_output=True, text=True)
    assert res.returncode == 2 and "corrupted" in res.stderr
    res = subprocess.run(["quadsgd", "summary", str(finished / "nowhere")], capture_output=True, text=True)
    assert res.returncode == 2 and "no such store" in res.stderr


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (lambda c: c.update(colour="blue"),
         "config error: config/bad.yaml: colour: 'blue': unknown key; allowed keys here: beyond, dask, empirical"),
        (lambda c: c["grid"].update(seeds="eight"),
         "config error: config/bad.yaml: grid.seeds: 'eight': must be an integer"),
        (lambda c: c["grid"].update(p=[0, 2]), "config error: config/bad.yaml: grid.p[0]: 0: must be >= 1"),
    ],
    ids=["unknown-key", "wrong-type", "non-positive-p"],
)
def test_bad_config_fails_before_any_job(tmp_path: Path, edit, line, copy_workflow, snakemake):
    workdir = copy_workflow(tmp_path)
    config = yaml.safe_load((workdir / "config" / "test.yaml").read_text())
    edit(config)
    (workdir / "config" / "bad.yaml").write_text(yaml.safe_dump(config))
    res = snakemake(workdir, "--cores", "1", "--configfile", "config/bad.yaml")
    message = res.stdout + res.stderr
    assert res.returncode != 0
    assert line in message, message[-2000:]
    assert len(message.strip().splitlines()) < 5, message  # one line, no schema dump
    assert not (workdir / "results").exists()


def test_interrupted_run_resumes_with_identical_numbers(finished: Path, tmp_path: Path, copy_workflow, snakemake,
                                                       snakemake_command, wait_until, snakemake_recorded):
    workdir = copy_workflow(tmp_path)
    target = "results/summary.zarr"
    cmd = [*snakemake_command, target, "--cores", "2", "--configfile", "config/test.yaml"]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    ode = workdir / "results" / "ode"

    def a_store_is_recorded() -> bool:  # written and recorded by Snakemake as finished
        return any(snakemake_recorded(workdir, p.relative_to(workdir)) for p in ode.glob("job*"))

    try:
        wait_until(a_store_is_recorded, proc=proc, what="a finished ODE store recorded by Snakemake")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a hard kill: no cleanup, stale lock and all
        proc.wait()
    assert not (workdir / target).exists(), "the run finished before it could be interrupted"
    done_before = {p: p.stat().st_mtime_ns for p in ode.glob("job*/*.zarr")}
    assert done_before
    assert snakemake(workdir, "--unlock", "--configfile", "config/test.yaml").returncode == 0
    res = snakemake(workdir, target, "--cores", "2", "--rerun-incomplete", "--configfile", "config/test.yaml")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # A job killed between writing its store and being recorded is rerun; the others must not be.
    kept = [p for p, mtime in done_before.items() if p.stat().st_mtime_ns == mtime]
    assert kept, "every job finished before the interruption was redone"
    for name in ("sweep.zarr", "summary.zarr"):
        resumed = open_store(workdir / "results" / name).load()
        reference = open_store(finished / "results" / name).load()
        xr.testing.assert_identical(resumed, reference)


def test_dry_run_of_a_finished_workflow_has_nothing_to_do(finished: Path, snakemake):
    res = snakemake(finished, "-n", "--configfile", "config/test.yaml")
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr
