"""Aggregation: combined scans, the optimum as a stored dataset, and the summary read from it."""

from __future__ import annotations

import numpy as np
import pytest

from quadsgd.escape import escape_statistics
from quadsgd.eta_opt import EtaOptSearch, search_eta_opt
from quadsgd.fits import fit_power_law
from quadsgd.grids import eta_over_p_grid
from quadsgd.schema import missing_attrs
from quadsgd.sweep import aggregate, drivers


def _parts(scans):
    return [ds.assign_attrs(p=p, pstar=s) for (p, s), ds in scans.items()]


_SMALL_SEARCH = EtaOptSearch(refine_points=2, refine_rounds=1)


def _optima(small, scans, search=_SMALL_SEARCH):
    out = {}
    for (p, s), scan in scans.items():
        result = search_eta_opt(scan, lambda e, p=p, s=s: small.scan(p, s, e), search)
        out[(p, s)] = aggregate.optimum_dataset(result, p=p, pstar=s, N=small.N)
    return out


def test_combine_scans_builds_the_full_grid(small, scans):
    parts = [s.isel(eta_over_p=b) for s in scans.values() for b in (slice(0, 4), slice(4, 6))]
    for part, (p, s) in zip(parts, [k for k in scans for _ in range(2)], strict=True):
        part.attrs.update(p=p, pstar=s)
    ds = aggregate.combine_scans(parts[::-1], {"config": "{}"})
    assert dict(ds.sizes) == {"p": 2, "pstar": 1, "eta_over_p": 6, "seed": 3, "alpha": 16}
    assert int(ds.N) == small.N and ds.N.dims == ()  # N is a coordinate
    np.testing.assert_array_equal(ds.eta.sel(p=2).values, 2 * small.etas)
    np.testing.assert_array_equal(ds.alpha_escape.sel(p=1, pstar=1).values, scans[(1, 1)].alpha_escape.values)
    assert ds.attrs["config"] == "{}" and "quadsgd_version" in ds.attrs
    assert missing_attrs(ds) == []
    with pytest.raises(ValueError, match="different eta/p grids"):
        aggregate.combine_scans(parts[:3])
    relabelled = scans[(1, 1)].assign_attrs(p=1, pstar=2)
    with pytest.raises(ValueError, match="missing \\[\\(2, 2\\)\\]"):
        aggregate.combine_scans(_parts(scans) + [relabelled])
    with pytest.raises(ValueError, match="different N"):
        aggregate.combine_scans([parts[0], parts[1].assign_attrs(N=small.N + 1)])


def test_optimum_dataset_stores_the_search_result(small, scans, brute_force_optimum):
    scan = scans[(2, 1)]
    result = search_eta_opt(scan, lambda e: small.scan(2, 1, e), EtaOptSearch(refine_points=3, refine_rounds=2))
    opt = aggregate.optimum_dataset(result, p=2, pstar=1, N=small.N)
    assert set(aggregate.OPTIMUM_VARIABLES) <= set(opt.data_vars)
    assert missing_attrs(opt) == []
    # Independent: the brute-force optimum over every point scanned (grid and added).
    eta_best, mean_best = brute_force_optimum(result.scan)
    assert float(opt.eta_opt_over_p) == eta_best and float(opt.eta_opt) == pytest.approx(2 * eta_best)
    assert float(opt.alpha_escape_opt) == pytest.approx(mean_best, rel=1e-12)
    # The added learning rates are stored (and only those).
    np.testing.assert_array_equal(opt.eta_over_p.values, result.added.eta_over_p.values)
    assert not np.isin(opt.eta_over_p.values, scan.eta_over_p.values).any()
    np.testing.assert_array_equal(opt.eta.values, 2 * opt.eta_over_p.values)
    assert opt.attrs["outcome"] == "found" and (opt.attrs["p"], opt.attrs["pstar"]) == (2, 1)


def test_summary_reads_the_stored_optima_and_fits_the_exponent(small, scans):
    sw = aggregate.combine_scans(_parts(scans))
    optima = _optima(small, scans)
    summary = aggregate.summarize(sw, optima)
    for (p, s), opt in optima.items():
        for name in aggregate.OPTIMUM_VARIABLES:
            np.testing.assert_equal(float(summary[name].sel(p=p, pstar=s)), float(opt[name]), err_msg=name)
        assert int(summary.grid_reaches_instability.sel(p=p, pstar=s)) == 1
        m = opt.sizes["eta_over_p"]
        np.testing.assert_array_equal(summary.refine_eta_over_p.sel(p=p, pstar=s).values[:m], opt.eta_over_p.values)
    # The summary does not re-select: a stored optimum is taken as it is.
    tampered = {k: v.copy() for k, v in optima.items()}
    tampered[(1, 1)]["eta_opt"] = ((), 0.123)
    assert float(aggregate.summarize(sw, tampered).eta_opt.sel(p=1, pstar=1)) == 0.123
    expected = escape_statistics(sw, "seed")
    np.testing.assert_array_equal(summary.alpha_escape_mean.values, expected.alpha_escape_mean.values)
    fit = fit_power_law([1, 2], summary.eta_opt.sel(pstar=1).values)
    assert float(summary.eta_opt_exponent.sel(pstar=1)) == pytest.approx(fit.exponent)
    assert missing_attrs(summary) == []
    with pytest.raises(ValueError, match="no stored optimum"):
        aggregate.summarize(sw, {(1, 1): optima[(1, 1)]})


def _one_pair(small, etas):
    scan = small.scan(1, 1, etas)
    result = search_eta_opt(scan, lambda e: small.scan(1, 1, e), EtaOptSearch(max_grow=0, refine_rounds=0))
    sw = aggregate.combine_scans([scan.assign_attrs(p=1, pstar=1)])
    return sw, {(1, 1): aggregate.optimum_dataset(result, p=1, pstar=1, N=small.N)}


def test_summary_warns_when_the_grid_never_reaches_instability(small):
    sw, optima = _one_pair(small, eta_over_p_grid(0.05, 0.08, 3))
    with pytest.warns(aggregate.GridWarning, match="extend the grid"):
        summary = aggregate.summarize(sw, optima)
    assert int(summary.grid_reaches_instability.sel(p=1, pstar=1)) == 0
    assert float(summary.eta_opt.sel(p=1, pstar=1)) == pytest.approx(0.08)  # still falling at the top


def test_summary_warns_when_the_optimum_is_the_smallest_stable_eta(small):
    sw, optima = _one_pair(small, eta_over_p_grid(0.13, 0.3, 3))
    with pytest.warns(aggregate.GridWarning, match="extend the grid downwards"):
        summary = aggregate.summarize(sw, optima)
    assert int(summary.eta_opt_at_grid_edge.sel(p=1, pstar=1)) == 1
    assert float(summary.eta_opt.sel(p=1, pstar=1)) == pytest.approx(0.13)


def test_summary_carries_sgd_statistics_on_their_own_dims(small, scans):
    runs = drivers.sgd_curves(2, 1, N=200, eta=0.2, seeds=[0, 1], alpha_max=20, alpha_points=25, progress=False)
    summary = aggregate.summarize(aggregate.combine_scans(_parts(scans)), _optima(small, scans), [runs])
    assert summary.sgd_alpha_escape_mean.dims == ("sgd_p", "sgd_pstar", "sgd_N")
    assert int(summary.sgd_n_runs.squeeze()) == 2
    st = escape_statistics(runs.sel(dynamics="sgd"), "seed")
    assert float(summary.sgd_alpha_escape_mean.squeeze()) == float(st.alpha_escape_mean)
    assert missing_attrs(summary) == []


def test_status_counts(scans):
    counts = aggregate.status_counts(scans[(1, 1)])
    assert set(counts) == {"converged", "escaped", "censored", "diverged", "settled", "max_steps"}
    assert sum(counts.values()) == scans[(1, 1)].status.size
    assert counts["diverged"] > 0  # the grid reaches eta/p = 1
