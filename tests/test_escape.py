"""Escape times, statistics and the optimal learning rate."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd import escape
from quadsgd.storage import Status


def test_escape_alpha_is_exact_for_an_exponential_and_handles_edges():
    alpha = np.linspace(0, 10, 11)
    risk = np.exp(-0.3 * alpha)
    threshold = np.exp(-0.3 * 4.37)
    got = escape.escape_alpha(alpha, np.stack([risk, np.full(11, 2.0), 0.5 * risk, np.full(11, np.nan)]), threshold)
    assert got[0] == pytest.approx(4.37, rel=1e-12)
    assert np.isnan(got[1]) and np.isnan(got[3])
    assert got[2] == pytest.approx(4.37 - np.log(2) / 0.3, rel=1e-12)
    assert escape.escape_alpha(alpha, risk, 2.0) == 0.0


def test_escape_statistics_counts_and_conditional_mean():
    status = np.array([[Status.ESCAPED, Status.CONVERGED, Status.CENSORED, Status.DIVERGED]])
    t = np.array([[10.0, 14.0, np.nan, np.nan]])
    ds = xr.Dataset({"status": (("eta", "seed"), status), "alpha_escape": (("eta", "seed"), t)})
    s = escape.escape_statistics(ds).isel(eta=0)
    assert float(s.alpha_escape_mean) == 12.0
    assert float(s.alpha_escape_sem) == pytest.approx(np.std([10, 14], ddof=1) / np.sqrt(2))
    assert (int(s.n_escaped), int(s.n_censored), int(s.n_diverged), int(s.n_runs)) == (2, 1, 1, 4)
    with pytest.raises(ValueError, match="seed"):
        escape.escape_statistics(ds.rename(seed="run"))


def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    x = np.array([1, 2, 4, 8, 16, 32.0])
    y = 0.3 * x**0.87 * np.exp(0.01 * rng.standard_normal(x.size))
    fit = escape.fit_power_law(x, y)
    assert fit["exponent"] == pytest.approx(0.87, abs=4 * fit["exponent_se"] + 1e-3)
    assert fit["prefactor"] == pytest.approx(0.3, rel=0.05)
    assert np.isnan(escape.fit_power_law([2.0], [1.0])["exponent"])


def test_eta_opt_agrees_with_a_brute_force_scan():
    """The grown-and-refined optimum against a dense independent scan of the same seeds."""
    seeds = np.arange(4)
    res = escape.find_eta_opt(1, 1, seeds, N=10_000, alpha_max=2e3)
    dense = np.geomspace(0.5 * res["eta_opt"], min(2 * res["eta_opt"], res["eta_max_stable"] * 1.2), 41)
    scan = escape.scan_eta(1, 1, dense, seeds, 10_000, alpha_max=2e3)
    stats = escape.escape_statistics(scan)
    ok = stats.n_escaped == stats.n_runs
    best = float(stats.alpha_escape_mean.where(ok).min())
    # The optimum found is at least as good as any dense-grid point, up to the grid's spacing.
    assert res["alpha_escape_opt"] <= best * (1 + 2e-3)
    assert res["eta_opt"] <= res["eta_max_stable"]
    # And the scan grew until some seed stopped escaping.
    top = escape.escape_statistics(res["scan"].isel(eta=[-1])).isel(eta=0)
    assert int(top.n_escaped) < int(top.n_runs)
