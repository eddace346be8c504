"""Escape times and their statistics over seeds."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from quadsgd import escape
from quadsgd.status import Status


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



def test_means_if_all_escaped_is_nan_where_any_run_failed():
    status = np.array([
        [Status.ESCAPED, Status.CONVERGED],  # all escaped: the mean counts
        [Status.ESCAPED, Status.DIVERGED],  # one diverged: no mean
        [Status.CENSORED, Status.ESCAPED],  # one stayed on the plateau: no mean
    ])
    t = np.array([[3.0, 5.0], [1.0, np.nan], [np.nan, 2.0]])
    ds = xr.Dataset({"status": (("eta", "seed"), status), "alpha_escape": (("eta", "seed"), t)})
    got = escape.means_if_all_escaped(ds)
    assert got[0] == 4.0 and np.isnan(got[1]) and np.isnan(got[2])
