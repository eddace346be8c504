"""The sweep's drivers against direct library calls: ODE scans, the eta_opt search, SGD curves,
implicit-bias runs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import pytest
import xarray as xr

from quadsgd import init, ode, sgd
from quadsgd.eta_opt import EtaOptOutcome, EtaOptSearch, search_eta_opt
from quadsgd.grids import log_alpha_grid, round_grid, sgd_alpha_grid
from quadsgd.sweep import drivers


def test_ode_scan_matches_direct_integration_and_is_independent_of_the_task_split(small, scans, direct_scan):
    ds = scans[(2, 1)]
    assert dict(ds.sizes) == {"eta_over_p": 6, "seed": 3, "alpha": 16}
    np.testing.assert_array_equal(ds.eta.values, 2 * small.etas)
    assert set(drivers.SCAN_VARIABLES) <= set(ds.data_vars)
    assert (ds.attrs["p"], ds.attrs["pstar"], ds.attrs["N"]) == (2, 1, small.N)
    direct = direct_scan(2, 1, small.etas, small.seeds, small.N, small.alpha)
    for name in ("alpha_escape", "status", "risk", "n_steps", "alpha_stop"):
        np.testing.assert_array_equal(ds[name].values, direct[name].values, err_msg=name)
    one_by_one = small.scan(2, 1, points_per_task=1)
    xr.testing.assert_identical(ds, one_by_one)


@pytest.mark.parametrize(
    "kwargs,name",
    [(dict(p=0), "p"), (dict(N=1), "N"), (dict(eta_over_p=[0.1, -1.0]), "eta_over_p"),
     (dict(seeds=[-1]), "seeds"), (dict(alpha=[0.0, 0.0, 1.0]), "alpha"), (dict(points_per_task=0), "points_per_task")],
)
def test_ode_scan_bad_input_names_the_argument(small, kwargs, name):
    args = dict(p=1, pstar=1, eta_over_p=[0.1], seeds=[0], N=small.N, alpha=small.alpha, progress=False)
    args.update(kwargs)
    p, pstar = args.pop("p"), args.pop("pstar")
    with pytest.raises(ValueError, match=name):
        drivers.ode_scan(p, pstar, **args)


def test_find_eta_opt_is_the_search_over_ode_scans(direct_scan, brute_force_optimum):
    seeds, N, alpha_max, points = np.arange(3), 1000, 1e3, 16
    start = np.geomspace(0.05, 1.0, 6)
    search = EtaOptSearch(refine_points=4, refine_rounds=2)
    res = drivers.find_eta_opt(1, 1, seeds=seeds, N=N, eta_over_p=start, alpha_max=alpha_max,
                               alpha_points=points, search=search)
    assert res.outcome is EtaOptOutcome.FOUND
    alpha = log_alpha_grid(alpha_max, points)
    same = search_eta_opt(direct_scan(1, 1, round_grid(start), seeds, N, alpha),  # grids are canonical floats
                          lambda e: direct_scan(1, 1, e, seeds, N, alpha), search)
    assert res.eta_over_p_opt == same.eta_over_p_opt
    np.testing.assert_array_equal(res.scan.eta_over_p.values, same.scan.eta_over_p.values)
    np.testing.assert_array_equal(res.scan.alpha_escape.values, same.scan.alpha_escape.values)
    # Against a dense independent scan: as good as any dense point, up to the dense spacing.
    dense = np.geomspace(0.03, 0.5, 81)
    _, best = brute_force_optimum(direct_scan(1, 1, dense, seeds, N, alpha))
    assert float(res.statistics().alpha_escape_mean) <= best * (1 + 1e-2)
    assert res.eta_over_p_opt <= res.eta_over_p_max_stable


def test_find_eta_opt_keyword_only():
    with pytest.raises(TypeError):
        drivers.find_eta_opt(1, 1, [0, 1])  # type: ignore[misc]


def test_sgd_curves_pair_each_run_with_its_matched_ode():
    ds = drivers.sgd_curves(2, 1, N=200, eta=0.2, seeds=[0, 1], alpha_max=20, alpha_points=25, progress=False)
    assert list(ds.dynamics.values) == ["sgd", "ode"]
    np.testing.assert_array_equal(ds.M.sel(dynamics="ode").isel(alpha=0).values, ds.M0.values)
    np.testing.assert_array_equal(ds.M.sel(dynamics="sgd").isel(alpha=0).values, ds.M0.values)
    assert float(ds.polar_drift.sel(dynamics="ode").max()) < 1e-10
    # The SGD half is simulate() of each seed (as alone); the ODE half integrate() from its M(0).
    alpha = sgd_alpha_grid(20, 200, 25)
    direct = sgd.simulate(2, 1, eta=0.2, N=200, seed=np.array([1]), alpha=alpha, method="gram")
    np.testing.assert_array_equal(ds.risk.sel(dynamics="sgd", seed=1).values, direct.risk.sel(seed=1).values)
    o = ode.integrate(np.eye(2), ds.M0.values, 0.2, ds.alpha.values, batch_dims=("seed",))
    np.testing.assert_array_equal(ds.risk.sel(dynamics="ode").values, o.risk.values)
    assert (ds.attrs["p"], ds.attrs["pstar"], ds.attrs["N"], ds.attrs["eta"]) == (2, 1, 200, 0.2)


@pytest.mark.parametrize("stop_at_escape,noise", [(True, 0.0), (False, 0.1)])
def test_sgd_seed_runs_are_each_seed_run_alone(stop_at_escape, noise):
    """Seeds batched into lanes and tasks give, per seed and case, the numbers of simulate() with
    that seed alone; 17 seeds in shuffled order cross a chunk boundary and catch a wrong order."""
    seeds = np.random.default_rng(3).permutation(40)[:17]
    alpha = np.linspace(0.0, 30.0, 7)
    etas, Ns = (0.2, 0.6), (300, 500)
    runs = drivers.sgd_seed_runs(2, 1, eta=etas, N=Ns, seeds=seeds, alpha=alpha, noise=noise,
                                 stop_at_escape=stop_at_escape, progress=False)
    assert len(runs) == 2
    escaped = 0
    for ds, eta, N in zip(runs, etas, Ns, strict=True):
        np.testing.assert_array_equal(ds.seed.values, seeds)
        assert (ds.attrs["N"], float(ds.eta)) == (N, eta)
        for i, s in enumerate(seeds):
            alone = sgd.simulate(2, 1, eta=eta, N=N, seed=int(s), alpha=alpha, noise=noise,
                                 stop_at_escape=stop_at_escape)
            for name in ("risk", "Q", "M", "status", "alpha_escape", "M0"):
                np.testing.assert_array_equal(ds[name].isel(seed=i).values, alone[name].values, err_msg=name)
            escaped += int(np.isfinite(alone.alpha_escape))
    assert 0 < escaped  # the escape times compared are numbers, not only NaN


@pytest.mark.parametrize("threads,tasks", [(0, {1: 1, 2: 2, 7: 7, 8: 1, 16: 1, 17: 2, 40: 3}),
                                           (2, {1: 1, 2: 2, 7: 7, 15: 15, 16: 2, 17: 2, 40: 3})])
def test_sgd_seed_runs_chunks(monkeypatch, threads, tasks):
    """One simulate() call per task, seeds in order: chunks of 8 to sgd.LANES seeds, at least two
    with a pool of workers, one seed per task where chunks would be smaller (docstring's rule)."""
    calls: list[list[int]] = []

    def recording(*args, **kwargs):
        calls.append(list(kwargs["seed"]))
        return sgd.simulate(*args, **kwargs)

    monkeypatch.setattr(drivers, "simulate", recording)
    with ThreadPoolExecutor(threads) if threads else nullcontext() as pool:
        for S, count in tasks.items():
            calls.clear()
            drivers.sgd_seed_runs(1, 1, eta=0.1, N=20, seeds=np.arange(S), alpha=[0.0, 0.5], client=pool,
                                  progress=False)
            assert sorted(calls) == [list(range(c[0], c[-1] + 1)) for c in sorted(calls)]
            assert sorted(sum(calls, [])) == list(range(S))
            sizes = [len(c) for c in calls]
            assert len(calls) == count and max(sizes) - min(sizes) <= 1
            assert max(sizes) == 1 or 8 <= min(sizes) <= max(sizes) <= sgd.LANES


@pytest.mark.parametrize(
    "kwargs,name",
    [(dict(seeds=[]), "seeds"), (dict(seeds=[[0, 1]]), "seeds"), (dict(N=[300, 1]), "N"),
     (dict(eta=[0.1, 0.2], N=[300, 400, 500]), "N"), (dict(noise=-1.0), "noise"), (dict(alpha=[0.0, 1e-3]), "alpha")],
)
def test_sgd_seed_runs_bad_input_names_the_argument(kwargs, name):
    args = dict(eta=0.1, N=300, seeds=[0, 1], alpha=[0.0, 1.0]) | kwargs
    with pytest.raises(ValueError, match=name):
        drivers.sgd_seed_runs(1, 1, progress=False, **args)


def test_implicit_bias_matched_prediction_wins(small):
    ds = drivers.implicit_bias_runs(2, 1, N=small.N, eta=0.2, seeds=[0, 1, 2], alpha=log_alpha_grid(300, 30),
                                    progress=False)
    final = ds.distance.isel(alpha=-1).values
    assert np.all(np.diag(final) < 0.05)
    assert np.all(final[~np.eye(3, dtype=bool)] > 0.5)
    Q0, M0, _ = init.ode_initial(2, 1, small.N, np.arange(3))
    np.testing.assert_array_equal(ds.M0.values, M0)
    with pytest.raises(ValueError, match="p >= pstar"):
        drivers.implicit_bias_runs(1, 2, N=small.N, eta=0.1, seeds=[0], alpha=small.alpha, progress=False)


def test_ode_scans_of_several_cases_equal_each_case_alone(small, scans):
    """One map over the tasks of several (p, pstar) blocks (a pipeline scan job) gives each block's
    own scan: the split into jobs changes no number."""
    halves = [small.etas[:4], small.etas[4:]]
    out = drivers.ode_scans([(2, 1, halves[0]), (1, 1, small.etas), (2, 1, halves[1])], seeds=small.seeds,
                            N=small.N, alpha=small.alpha, points_per_task=5, progress=False)
    xr.testing.assert_identical(out[1], scans[(1, 1)])
    xr.testing.assert_identical(xr.concat([out[0], out[2]], dim="eta_over_p", data_vars="all", coords="minimal",
                                          compat="override", combine_attrs="override"), scans[(2, 1)])
