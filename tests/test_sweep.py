"""Library-level sweep: grids, task splitting, combination, refinement, summaries, clusters."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest
import xarray as xr

from quadsgd import sweep
from quadsgd.cli import main as cli_main
from quadsgd.cluster import WORKER_ENV, dask_client
from quadsgd.escape import escape_statistics, fit_power_law, scan_eta
from quadsgd.storage import StoreError, open_store, write_zarr_atomic

N = 1000
SEEDS = np.arange(3)
ALPHA = sweep.default_alpha_grid(1e3, 16)
ETAS = sweep.eta_over_p_grid(0.05, 1.0, 6)


def _scan(p: int, pstar: int, etas=ETAS, **kw) -> xr.Dataset:
    return sweep.ode_scan(p, pstar, etas, SEEDS, N, alpha=ALPHA, progress=False, **kw)


@pytest.fixture(scope="module")
def scans() -> dict[tuple[int, int], xr.Dataset]:
    return {(p, s): _scan(p, s) for p in (1, 2) for s in (1,)}


def test_eta_grid_is_reproducible_and_log_spaced():
    a = sweep.eta_over_p_grid(0.01, 1.0, 5)
    assert np.array_equal(a, sweep.eta_over_p_grid(0.01, 1.0, 5))
    np.testing.assert_allclose(a, [0.01, 0.0316227766017, 0.1, 0.316227766017, 1.0])
    with pytest.raises(ValueError):
        sweep.eta_over_p_grid(1.0, 0.1, 5)


def test_eta_blocks_cover_the_grid_with_whole_learning_rates():
    blocks = sweep.eta_blocks(25, 8, 50)
    assert [b.stop - b.start for b in blocks] == [6, 6, 6, 6, 1]
    assert sweep.eta_blocks(5, 8, 3) == [slice(i, i + 1) for i in range(5)]  # at least one eta per job
    covered = np.concatenate([np.arange(25)[b] for b in blocks])
    assert np.array_equal(covered, np.arange(25))


def test_ode_scan_matches_scan_eta_and_is_independent_of_the_task_split(scans):
    ds = scans[(2, 1)]
    assert dict(ds.sizes) == {"eta_over_p": 6, "seed": 3, "alpha": 16}
    np.testing.assert_array_equal(ds.eta.values, 2 * ETAS)
    direct = scan_eta(2, 1, 2 * ETAS, SEEDS, N, alpha=ALPHA)
    np.testing.assert_array_equal(ds.alpha_escape.values, direct.alpha_escape.values)
    np.testing.assert_array_equal(ds.status.values, direct.status.values)
    one_by_one = _scan(2, 1, points_per_task=1)
    xr.testing.assert_identical(ds, one_by_one)


def test_ode_scan_on_a_dask_client_gives_identical_numbers(scans):
    with dask_client(2, processes=False) as client:
        ds = _scan(1, 1, client=client, points_per_task=2)
    xr.testing.assert_identical(ds, scans[(1, 1)])


def test_dask_client_pins_worker_threads():
    def env() -> dict[str, str | None]:
        import os

        return {k: os.environ.get(k) for k in WORKER_ENV}

    with dask_client(1) as client:
        assert client.submit(env).result() == WORKER_ENV
        assert len(client.scheduler_info()["workers"]) == 1


@pytest.mark.skipif(importlib.util.find_spec("dask_jobqueue") is not None, reason="dask-jobqueue installed")
def test_slurm_without_dask_jobqueue_is_a_clear_error():
    with pytest.raises(RuntimeError, match="dask-jobqueue"):
        with dask_client(1, kind="slurm"):
            pass


def test_combine_scans_builds_the_full_grid(scans):
    parts = [s.isel(eta_over_p=b) for s in scans.values() for b in (slice(0, 4), slice(4, 6))]
    for part, (p, s) in zip(parts, [k for k in scans for _ in range(2)]):
        part.attrs.update(p=p, pstar=s)
    ds = sweep.combine_scans(parts[::-1], {"config": "{}"})
    assert dict(ds.sizes) == {"p": 2, "pstar": 1, "eta_over_p": 6, "seed": 3, "alpha": 16}
    np.testing.assert_array_equal(ds.eta.sel(p=2).values, 2 * ETAS)
    np.testing.assert_array_equal(ds.alpha_escape.sel(p=1, pstar=1).values, scans[(1, 1)].alpha_escape.values)
    assert ds.attrs["config"] == "{}" and "quadsgd_version" in ds.attrs
    for name in ds.variables:
        assert "long_name" in ds[name].attrs, name
    with pytest.raises(ValueError, match="different eta/p grids"):
        sweep.combine_scans(parts[:3])
    relabelled = scans[(1, 1)].assign_attrs(p=1, pstar=2)
    with pytest.raises(ValueError, match="missing \\[\\(2, 2\\)\\]"):
        sweep.combine_scans([s.assign_attrs(p=p, pstar=q) for (p, q), s in scans.items()] + [relabelled])


def test_refinement_stays_in_the_bracket_and_never_worsens(scans):
    scan = scans[(2, 1)]
    extra = sweep.refine_eta_opt(scan, lambda e: _scan(2, 1, e), points=3, rounds=2)
    assert extra is not None and extra.sizes["eta_over_p"] >= 3
    means = escape_statistics(scan)["alpha_escape_mean"].where(lambda m: np.isfinite(m))
    i = int(np.nanargmin(means.values))
    lo, hi = ETAS[max(i - 1, 0)], ETAS[min(i + 1, ETAS.size - 1)]
    assert np.all((extra.eta_over_p > lo) & (extra.eta_over_p < hi))
    combined = xr.concat([scan, extra], "eta_over_p").sortby("eta_over_p")
    assert sweep._means_if_all_escaped(combined)[np.isfinite(sweep._means_if_all_escaped(combined))].min() <= np.nanmin(
        sweep._means_if_all_escaped(scan)
    )


def test_summary_finds_eta_opt_and_fits_the_exponent(scans):
    parts = []
    for (p, s), ds in scans.items():
        parts.append(ds.assign_attrs(p=p, pstar=s))
    sw = sweep.combine_scans(parts)
    summary = sweep.summarize(sw)
    for p in (1, 2):
        grid = sw.sel(p=p, pstar=1)
        means = sweep._means_if_all_escaped(grid)
        k = int(np.nanargmin(means))
        assert float(summary.eta_opt.sel(p=p, pstar=1)) == pytest.approx(ETAS[k] * p)
        assert float(summary.alpha_escape_opt.sel(p=p, pstar=1)) == pytest.approx(means[k])
        assert int(summary.grid_reaches_instability.sel(p=p, pstar=1)) == 1
    fit = fit_power_law([1, 2], summary.eta_opt.sel(pstar=1).values)
    assert float(summary.eta_opt_exponent.sel(pstar=1)) == pytest.approx(fit["exponent"])
    for name in summary.variables:
        assert "long_name" in summary[name].attrs, name


def test_summary_warns_when_the_grid_never_reaches_instability():
    ds = _scan(1, 1, sweep.eta_over_p_grid(0.05, 0.08, 3)).assign_attrs(p=1, pstar=1)
    with pytest.warns(sweep.GridWarning, match="extend the grid"):
        summary = sweep.summarize(sweep.combine_scans([ds]))
    assert int(summary.grid_reaches_instability.sel(p=1, pstar=1)) == 0
    assert float(summary.eta_opt.sel(p=1, pstar=1)) == pytest.approx(0.08)  # still falling at the top


def test_summary_warns_when_the_optimum_is_the_smallest_stable_eta():
    ds = _scan(1, 1, sweep.eta_over_p_grid(0.13, 0.3, 3)).assign_attrs(p=1, pstar=1)
    with pytest.warns(sweep.GridWarning, match="extend the grid downwards"):
        summary = sweep.summarize(sweep.combine_scans([ds]))
    assert int(summary.eta_opt_at_grid_edge.sel(p=1, pstar=1)) == 1
    assert float(summary.eta_opt.sel(p=1, pstar=1)) == pytest.approx(0.13)


def test_sgd_curves_pair_each_run_with_its_matched_ode():
    ds = sweep.sgd_curves(2, 1, 200, 0.2, [0, 1], alpha_max=20, num=25, progress=False)
    assert list(ds.dynamics.values) == ["sgd", "ode"]
    np.testing.assert_array_equal(ds.M.sel(dynamics="ode").isel(alpha=0).values, ds.M0.values)
    np.testing.assert_array_equal(ds.M.sel(dynamics="sgd").isel(alpha=0).values, ds.M0.values)
    assert float(ds.polar_drift.sel(dynamics="ode").max()) < 1e-10
    stats = sweep._sgd_statistics([ds])
    assert set(stats.dims) == {"sgd_p", "sgd_pstar", "sgd_N"}
    assert int(stats.sgd_n_runs.squeeze()) == 2


def test_implicit_bias_matched_prediction_wins():
    ds = sweep.implicit_bias(2, 1, N, 0.2, [0, 1, 2], alpha=sweep.default_alpha_grid(300, 30), progress=False)
    final = ds.distance.isel(alpha=-1).values
    assert np.all(np.diag(final) < 0.05)
    assert np.all(final[~np.eye(3, dtype=bool)] > 0.5)
    with pytest.raises(ValueError, match="p >= pstar"):
        sweep.implicit_bias(1, 2, N, 0.1, [0], alpha=ALPHA, progress=False)


def test_cli_errors_on_missing_and_corrupted_stores(tmp_path, capsys, scans):
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "no such store" in capsys.readouterr().err
    parts = [ds.assign_attrs(p=p, pstar=s) for (p, s), ds in scans.items()]
    summary = sweep.summarize(sweep.combine_scans(parts))
    write_zarr_atomic(summary, tmp_path / "summary.zarr")
    assert cli_main(["summary", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "eta_opt" in out and "a = " in out
    meta = tmp_path / "summary.zarr" / ".zmetadata"
    meta.write_text("{ not json")
    assert cli_main(["summary", str(tmp_path)]) == 2
    assert "corrupted" in capsys.readouterr().err
    with pytest.raises(StoreError):
        open_store(tmp_path / "summary.zarr")


def test_map_tasks_keeps_task_order():
    def slow_square(x: int) -> int:
        import time

        time.sleep(0.05 * (3 - x))
        return x * x

    with dask_client(2, processes=False) as client:
        assert sweep.map_tasks(slow_square, [(i,) for i in range(4)], client, progress=False) == [0, 1, 4, 9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sweep.map_tasks(slow_square, [(2,)], None, progress=False) == [4]
